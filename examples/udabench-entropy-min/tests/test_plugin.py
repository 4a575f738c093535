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


def test_the_method_and_the_dataset_register_through_the_entry_point_group():
    reg = Registry()
    reg.load_entry_points()
    assert reg.methods["entropy-min"] is EntropyMin
    assert reg.datasets["shapes-mini"] is ShapesMini
    assert reg.origin[("method", "entropy-min")].distribution == "udabench-entropy-min"
    assert reg.origin[("dataset", "shapes-mini")].distribution == "udabench-entropy-min"
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
    assert main(["run", "--method", "entropy-min", "--dataset", "digits", "--task", "printed2handwritten",
                 "--seeds", "0", "--tracking-uri", f"sqlite:///{tmp_path}/m.db", "--no-progress"]) == 0
