"""The protocol's data rules: what each setting receives, label-free targets, few-shot shots,
and repeatable runs."""

from __future__ import annotations

import gc

import numpy as np
import pytest

from udabench import HParam, Method, Setting
from udabench.contract.config import resolve
from udabench.protocol.context import RunContext
from udabench.data.images import ImageList, TargetView
from udabench.protocol.task import build_adapt_data, run_task
from udabench_plugins.datasets.digits import Digits

TASK = Digits.task("printed2handwritten")


def method_for(setting: Setting, shots: int = 4) -> type[Method]:
    class Probe(Method):
        name = f"probe-{setting.value}"
        hparams = (HParam("shots", shots),) if setting == Setting.FEW_SHOT else ()

    Probe.setting = setting
    return Probe


def adapt_data(setting: Setting, dataset=None, shots: int = 4):
    cls = method_for(setting, shots)
    return build_adapt_data(cls, resolve(cls.name, cls.hparams), dataset or Digits(), TASK, seed=0)


@pytest.mark.parametrize("setting,source,target,shots", [
    (Setting.ZERO_SHOT, False, False, False),
    (Setting.SOURCE_ONLY, True, False, False),
    (Setting.UDA, True, True, False),
    (Setting.SOURCE_FREE, False, True, False),
    (Setting.FEW_SHOT, False, False, True),
])
def test_each_setting_gets_exactly_its_data(setting, source, target, shots):
    data, evaluation = adapt_data(setting)
    assert (data.source is not None, data.target is not None, data.shots is not None) == (source, target, shots)
    assert data.source_domain == ("printed" if source else None)
    assert len(evaluation.images) == 599  # handwritten's test split, whatever the setting
    if source:
        assert isinstance(data.source, ImageList) and len(data.source) == 1330


def _reachable(root, limit=20000):
    """Every object reachable from ``root`` through references (what a method could get at)."""
    seen, stack, out = set(), [root], []
    while stack and len(out) < limit:
        obj = stack.pop()
        if id(obj) in seen or isinstance(obj, type):
            continue
        seen.add(id(obj))
        out.append(obj)
        stack.extend(gc.get_referents(obj))
    return out


def test_the_target_view_carries_no_labels():
    data, _ = adapt_data(Setting.UDA)
    view = data.target
    assert isinstance(view, TargetView)
    labels = Digits().load("handwritten", "train").labels
    for attempt in ("labels", "_labels", "targets", "y", "__dict__"):
        assert not hasattr(view, attempt)
    arrays = [o for o in _reachable(view) if isinstance(o, np.ndarray)]
    assert arrays, "the view should reach its image array"
    assert all(a.ndim == 4 and a.dtype == np.uint8 for a in arrays)  # images only
    assert not any(a.shape == labels.shape for a in arrays)
    ds = view.dataset(lambda im: np.asarray(im))
    items = [ds[i][1] for i in range(len(ds))]
    assert items == list(range(len(view)))  # the second element is the index, not a label
    assert not np.array_equal(np.asarray(items), labels)


def test_a_target_view_cannot_be_built_from_labeled_images():
    with pytest.raises(TypeError, match="carries no labels"):
        TargetView(Digits().load("handwritten", "train"), "handwritten")


class TransductiveDigits(Digits):
    """Digits with the Office-31 protocol: adapt on and evaluate on the whole domain."""

    name = "digits-transductive"
    train_split = adapt_split = eval_split = "all"


@pytest.mark.parametrize("dataset,pool", [(Digits(), "train"), (TransductiveDigits(), "all")])
def test_few_shot_gets_k_per_class_and_none_of_them_is_evaluated(dataset, pool):
    data, evaluation = adapt_data(Setting.FEW_SHOT, dataset, shots=5)
    assert len(data.shots) == 50 and np.bincount(data.shots.labels).tolist() == [5] * 10
    shot_pixels = {data.shots.source.load(i).tobytes() for i in range(len(data.shots))}
    eval_pixels = {evaluation.images.source.load(i).tobytes() for i in range(len(evaluation.images))}
    assert not shot_pixels & eval_pixels
    whole = dataset.load("handwritten", dataset.eval_split)
    assert len(evaluation.images) == len(whole) - evaluation.excluded
    assert evaluation.excluded == (50 if pool == "all" else 0)


def test_shots_are_drawn_by_seed():
    cls = method_for(Setting.FEW_SHOT, 3)
    cfg = resolve(cls.name, cls.hparams)
    a = build_adapt_data(cls, cfg, Digits(), TASK, seed=0)[0].shots
    b = build_adapt_data(cls, cfg, Digits(), TASK, seed=0)[0].shots
    c = build_adapt_data(cls, cfg, Digits(), TASK, seed=1)[0].shots
    assert np.array_equal(a.source.load(0), b.source.load(0))
    assert not all(np.array_equal(np.asarray(a.source.load(i)), np.asarray(c.source.load(i))) for i in range(30))


@pytest.mark.parametrize("method,overrides", [("linear-probe", {}), ("source-ft", {"epochs": 1})])
def test_the_same_seed_gives_the_same_metrics(toy_backbone, method, overrides, small_digits):
    from udabench.contract.registry import get_registry

    small_digits(30)  # 300 images per split: repeatability does not need the whole domain
    cls = get_registry().method(method)
    cfg = cls.resolve_config(Digits, set_overrides=overrides)

    def once(seed):
        ctx = RunContext(device="cpu", seed=seed, show_progress=False)
        return run_task(cls, cfg, Digits(), TASK, seed, toy_backbone, ctx)

    a, b = once(0), once(0)
    assert a.metrics["top1"] == b.metrics["top1"]
    assert np.array_equal(a.confusion, b.confusion)


def test_reclip_gets_no_source_and_dac_exactly_k_per_class():
    from udabench.contract.registry import get_registry

    reg = get_registry()
    reclip, dac = reg.method("reclip"), reg.method("dac")
    data, _ = build_adapt_data(reclip, resolve("reclip", reclip.hparams), Digits(), TASK, seed=0)
    assert data.source is None and data.shots is None and data.source_domain is None
    assert isinstance(data.target, TargetView) and len(data.target) == 1198
    cfg = resolve("dac", dac.hparams, set_overrides={"shots": 16})
    data, evaluation = build_adapt_data(dac, cfg, TransductiveDigits(), TASK, seed=2)
    assert data.source is None and data.target is None
    assert len(data.shots) == 16 * 10 and evaluation.excluded == 160
    assert len(evaluation.images) == 1797 - 160
