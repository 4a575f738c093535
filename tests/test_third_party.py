"""A lab's own 32-px dataset (tests/third_party_dataset.py, outside plugins/): every built-in method
finishes on it with its defaults, on toyclip, as it does on udabench's own digits."""

from __future__ import annotations

import pytest

from udabench import get_registry
from udabench.contract.registry import PluginInfo
from udabench.protocol.options import RunOptions
from udabench.protocol.runner import RunRequest, _warn_undeclared_small_images, execute

import third_party_dataset as tp

TASK = "marker2noisy"
METHODS = ("zeroshot", "linear-probe", "source-ft", "dapl", "dampl", "clipdiv", "reclip", "dac", "fewshot-probe",
           "coop", "tip-adapter", "tip-adapter-f")
#: In the slow run: CoOp's default 16-shot schedule is 200 epochs (about 30 s on the toy backbone);
#: DAPL's and DAMPL's default schedules take about 20 s each.
SLOW = {"coop", "dapl", "dampl"}


@pytest.fixture(scope="module")
def lab_dataset(tmp_path_factory):
    """tp-digits registered as a plugin is, through a hook implementation, for this module."""
    reg = get_registry()
    cls = tp.make_dataset_class(tmp_path_factory.mktemp("tp-store"))
    plugin = type("LabPlugin", (), {"register_datasets": staticmethod(
        tp.hookimpl(lambda register: register(cls)))})()
    reg.add_plugin(plugin, PluginInfo("tp-digits-test", "third_party_dataset"))
    assert reg.datasets["tp-digits"] is cls, reg.plugins["tp-digits-test"].error
    yield cls
    reg.pm.unregister(plugin)
    del reg.datasets["tp-digits"], reg.plugins["tp-digits-test"], reg.origin[("dataset", "tp-digits")]


@pytest.mark.parametrize("method", [pytest.param(m, marks=pytest.mark.slow) if m in SLOW else m for m in METHODS])
def test_every_built_in_method_finishes_with_its_defaults(method, lab_dataset, mlflow_uri):
    assert get_registry().methods.keys() >= {method}
    (record,) = execute(RunRequest(method=method, dataset="tp-digits", tasks=[TASK], seeds=[0],
                                   backbone="toyclip", options=RunOptions(progress=False)), echo=lambda line: None)
    top1 = record.result.metrics["top1"]
    assert 10.0 < top1 <= 100.0, f"{method}: top-1 {top1} is chance or worse"


def test_every_built_in_method_is_covered():
    builtin = {n for n, c in get_registry().methods.items() if c.__module__.startswith("udabench_plugins.")}
    assert builtin <= set(METHODS), f"built-in methods the third-party test does not run: {sorted(builtin - set(METHODS))}"


def test_a_dataset_that_does_not_declare_its_small_size_is_told_how(lab_dataset):
    undeclared = type("Undeclared", (lab_dataset,), {"image_size": None})
    lines: list[str] = []
    method = get_registry().method("source-ft")
    _warn_undeclared_small_images(method, undeclared(), undeclared.tasks[0], lines.append)
    assert len(lines) == 1 and "declares no image_size" in lines[0] and "32x32" in lines[0]
    assert "`image_size = 32`" in lines[0] and "lr_encoder=0.0001" in lines[0]
    lines.clear()
    _warn_undeclared_small_images(method, lab_dataset(), lab_dataset.tasks[0], lines.append)
    assert lines == []  # declared: the profile applies, nothing to say
