"""DAPL, DAMPL and CLIP-Div train only what docs/methods.md says they train."""

from __future__ import annotations

import pytest
import torch

from udabench.protocol.context import RunContext
from udabench.protocol.task import build_adapt_data
from udabench.contract.registry import get_registry
from udabench_plugins.datasets.digits import Digits

TASK = Digits.task("printed2handwritten")


@pytest.fixture
def digits(small_digits):
    """Digits cut to 14 images per class and split: 140 source and 140 target images, a few steps."""
    return small_digits(14)


def small_run(name, backbone, **overrides):
    cls = get_registry().method(name)
    cfg = cls.resolve_config(Digits, set_overrides=overrides)
    data, _ = build_adapt_data(cls, cfg, Digits(), TASK, seed=0)
    assert len(data.source) == 140 and len(data.target) == 140
    ctx = RunContext(device="cpu", seed=0, show_progress=False)
    return cls(cfg), ctx, data


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("name", ["dapl", "dampl"])
def test_dapl_trains_the_context_vectors_alone(toy_backbone, digits, name):
    bb = toy_backbone.fresh_copy()
    before = snapshot(bb.model)
    method, ctx, data = small_run(name, bb, epochs=2, min_steps=0, batch_size=32)  # 10 steps, not 400
    clf = method.adapt(ctx, bb, data)
    after = snapshot(bb.model)
    assert all(torch.equal(before[k], after[k]) for k in before), "CLIP's weights must stay frozen"
    with torch.no_grad():
        zero_shot = bb.text_classifier(data.prompt_names, ("a photo of a {}.",))
    assert not torch.allclose(clf.head.weight / 100, zero_shot, atol=1e-3)  # the prompts moved
    assert clf.head.weight.shape == (10, bb.embed_dim)


def test_clipdiv_trains_the_student_never_the_teacher(toy_backbone, digits, monkeypatch):
    from udabench_plugins.methods.clipdiv import ClipDiv

    teachers = []
    make = ClipDiv.make_teacher
    monkeypatch.setattr(ClipDiv, "make_teacher", staticmethod(lambda b: teachers.append(make(b)) or teachers[-1]))
    bb = toy_backbone.fresh_copy()
    before = snapshot(bb.model)
    method, ctx, data = small_run("clipdiv", bb, epochs=1, self_train_epochs=1, batch_size=32)
    method.adapt(ctx, bb, data)
    (teacher,) = teachers
    assert all(torch.equal(before[f"visual.{k}"], v) for k, v in snapshot(teacher).items()), "the teacher changed"
    after = snapshot(bb.model)
    visual = [k for k in before if k.startswith("visual.") and before[k].is_floating_point()
              and "running" not in k]
    assert any(not torch.equal(before[k], after[k]) for k in visual), "the student did not train"
    text = [k for k in before if k.startswith(("transformer.", "token_embedding", "ln_final"))]
    assert all(torch.equal(before[k], after[k]) for k in text), "the text tower must stay frozen"
