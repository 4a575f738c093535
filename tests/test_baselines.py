"""Each baseline's top-1 on digits (seed 0) against the numbers measured with the shipped
toyclip weights (README, "Results on digits"). The tolerances allow for other torch,
scikit-learn and BLAS builds and thread counts, not for a change of behaviour."""

from __future__ import annotations

import pytest

from udabench.protocol.context import RunContext
from udabench.protocol.task import run_task
from udabench.contract.registry import get_registry
from udabench_plugins.datasets.digits import Digits

TASKS = [t.name for t in Digits.tasks]
MEASURED = {  # method -> top-1 (%) per standard task, seed 0, in Digits.tasks order
    "zeroshot": [33.06, 62.09, 62.54, 33.06, 62.09, 62.54],
    "linear-probe": [40.40, 59.40, 54.78, 47.58, 57.16, 61.94],
    "source-ft": [47.91, 61.49, 53.13, 47.08, 61.64, 60.45],
}
TOLERANCE = {"zeroshot": 0.5, "linear-probe": 1.5, "source-ft": 3.0}


@pytest.mark.parametrize("method", sorted(MEASURED))
def test_baseline_accuracy_on_digits(toy_backbone, method):
    cls = get_registry().method(method)
    cfg = cls.resolve_config(Digits)
    got = []
    for task in Digits.tasks:
        ctx = RunContext(device="cpu", seed=0, show_progress=False)
        got.append(round(run_task(cls, cfg, Digits(), task, 0, toy_backbone, ctx).metrics["top1"], 2))
    off = {t: (g, e) for t, g, e in zip(TASKS, got, MEASURED[method]) if abs(g - e) > TOLERANCE[method]}
    assert not off, f"{method}: (measured now, recorded) per task: {off}"
