"""Tests of the example plugin. Run them with the plugin installed:

    pip install -e examples/udabench-entropy-min
    python -m pytest examples/udabench-entropy-min/tests -q
"""

from __future__ import annotations

import math

import pytest
import torch

from udabench.cli import main
from udabench import Registry
from udabench.testing import check_dataset, check_method
from udabench_entropy_min.dataset import ShapesMini
from udabench_entropy_min.method import EntropyMin, entropy
from udabench_entropy_min.validator import MeanConfidence, mean_confidence


def test_the_method_and_the_dataset_register_through_the_entry_point_group():
    reg = Registry()
    reg.load_entry_points()
    assert reg.methods["entropy-min"] is EntropyMin
    assert reg.datasets["shapes-mini"] is ShapesMini
    assert reg.origin[("method", "entropy-min")].distribution == "udabench-entropy-min"
    assert reg.origin[("dataset", "shapes-mini")].distribution == "udabench-entropy-min"
    assert reg.validators["mean-confidence"] is MeanConfidence
    assert not reg.failed()


def test_entropy_against_a_hand_worked_value():
    # [0, 0] -> p = (1/2, 1/2): H = ln 2.  [0, ln 3] -> p = (1/4, 3/4): H = 1/4 ln 4 + 3/4 ln 4/3.
    h1, h2 = math.log(2), 0.25 * math.log(4) + 0.75 * math.log(4 / 3)
    logits = torch.tensor([[0.0, 0.0], [0.0, math.log(3)]])
    assert entropy(logits).item() == pytest.approx((h1 + h2) / 2, abs=1e-6)  # 0.62773
    assert entropy(torch.tensor([[50.0, 0.0, 0.0]])).item() == pytest.approx(0.0, abs=1e-6)


def test_the_method_keeps_the_contract():
    check_method(EntropyMin)


def test_the_dataset_keeps_the_contract():
    check_dataset(ShapesMini)


def test_the_dataset_is_deterministic_and_balanced():
    a, b = ShapesMini().load("filled", "train"), ShapesMini().load("filled", "train")
    assert (a.labels == b.labels).all() and (a.source.load(5).tobytes() == b.source.load(5).tobytes())
    assert sorted(set(a.labels.tolist())) == [0, 1, 2]


def test_a_run_through_the_cli(tmp_path):
    """entropy-min is source-free: the unlabeled target is allowed, so this package's validator
    (registered like the built-in ones) chooses an epoch in the run, beside them."""
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path}/m.db"
    assert main(["run", "--method", "entropy-min", "--dataset", "digits", "--task", "printed2handwritten",
                 "--seeds", "0", "--tracking-uri", uri, "--no-progress"]) == 0
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("digits")
    (run,) = [r for r in client.search_runs([exp.experiment_id]) if r.data.tags.get("udabench.kind") == "task"]
    assert {"top1_mean-confidence", "top1_entropy", "top1_oracle"} <= set(run.data.metrics)


def test_mean_confidence_against_a_hand_worked_value():
    import numpy as np

    from udabench import SelectionView

    probs = np.array([[0.9, 0.1], [0.4, 0.6]])  # max: 0.9 and 0.6 -> mean 0.75
    assert mean_confidence(probs) == pytest.approx(0.75)
    assert MeanConfidence().score(SelectionView(target_probs=probs)) == pytest.approx(0.75)
