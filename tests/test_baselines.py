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


# Every (method, task) is its own test. The default run checks all of zero-shot and the linear
# probe (features shared through the session's feature cache: seconds) and source-ft, the one that
# trains an encoder (about 20 s a task), on its first task; the other five source-ft tasks run with
# `python -m pytest -m slow`.
DEFAULT_SOURCE_FT = {TASKS[0]}
CASES = [pytest.param(method, i, id=f"{method}-{task}",
                      marks=[pytest.mark.slow] if method == "source-ft" and task not in DEFAULT_SOURCE_FT else [])
         for method in sorted(MEASURED) for i, task in enumerate(TASKS)]


@pytest.mark.parametrize("method,index", CASES)
def test_baseline_accuracy_on_digits(toy_backbone, method, index):
    cls = get_registry().method(method)
    cfg = cls.resolve_config(Digits)
    task = Digits.tasks[index]
    ctx = RunContext(device="cpu", seed=0, show_progress=False)
    got = round(run_task(cls, cfg, Digits(), task, 0, toy_backbone, ctx).metrics["top1"], 2)
    expected = MEASURED[method][index]
    assert abs(got - expected) <= TOLERANCE[method], \
        f"{method} on {task.name}: measured now {got}, recorded {expected} (tolerance {TOLERANCE[method]})"
