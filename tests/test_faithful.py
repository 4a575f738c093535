"""The code-faithful methods behave like their official code by default (docs/methods.md, dapl and
reclip): each test pins one behaviour against values worked out by hand from the official code
(LeapLabTHU/DAPrompt on KaiyangZhou/Dassl.pytorch; michiganleon/ReCLIP_WACV)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from udabench import ImageList, ImageSource
from udabench.contract.registry import get_registry
from udabench.data.images import TargetView
from udabench.protocol.context import RunContext
from udabench.protocol.task import build_adapt_data
from udabench_plugins.datasets.digits import Digits
from udabench_plugins.datasets.minidomainnet import MiniDomainNet
from udabench_plugins.datasets.officehome import OfficeHome, OfficeHomeTllib
from udabench_plugins.datasets.visda2017 import VisDA2017
from udabench_plugins.methods import prompt_learner
from udabench_plugins.methods import reclip as reclip_module
from udabench_plugins.methods.dapl import DAPL, dapl_lr, dassl_iter_lr, per_epoch_lr
from udabench_plugins.methods.reclip import ReClip, masked_mean, trained_epochs

DIGITS_TASK = Digits.task("printed2handwritten")


# -- DAPL: the domain words of the prompt ----------------------------------------------------------
def test_domain_prompt_words_are_the_names_dapl_feeds_its_prompts():
    """Dassl's domain names, which DAPL's PromptLearner formats into ", a {} image." unchanged."""
    assert VisDA2017.domain_prompt_names == {"train": "synthetic", "validation": "real"}
    for office_home in (OfficeHome, OfficeHomeTllib):
        assert [office_home.domain_prompt_name(d) for d in office_home.domains] == \
            ["art", "clipart", "product", "real_world"]  # underscore kept, as the code's prompt reads
    assert [MiniDomainNet.domain_prompt_name(d) for d in MiniDomainNet.domains] == \
        ["clipart", "painting", "real", "sketch"]


class _FakeVisDA(VisDA2017):
    """visda2017 itself (name, domains, classes, prompt words), two images a class from memory."""

    def load(self, domain, split):
        pixels = np.random.default_rng(0).integers(0, 256, (24, 32, 32, 3), dtype=np.uint8)
        return ImageList(ImageSource(array=pixels), np.arange(24) % 12, 12)


class _Built(Exception):
    pass


def test_dapl_on_visda_prompts_synthetic_and_real_with_class_specific_context(toy_backbone, tmp_path, monkeypatch):
    dapl = get_registry().method("dapl")
    cfg = dapl.resolve_config(_FakeVisDA)
    assert cfg.csc is True and cfg.sources["csc"] == "dataset"  # DAPL's ep25-32-csc config for VisDA
    assert dapl.resolve_config(OfficeHome).csc is False
    data, _ = build_adapt_data(dapl, cfg, _FakeVisDA(tmp_path), VisDA2017.task("train2val"), seed=0)
    seen = {}

    def record(model, tokenizer, class_names, domain_names, n_ctx, n_dmx, csc, suffix):
        seen.update(texts=prompt_learner.prompt_texts(class_names, domain_names, n_ctx + n_dmx, suffix), csc=csc)
        raise _Built

    monkeypatch.setattr(prompt_learner, "DomainPromptLearner", record)
    with pytest.raises(_Built):
        dapl(cfg).adapt(RunContext(device="cpu", seed=0, show_progress=False), toy_backbone.fresh_copy(), data)
    x32 = " ".join(["X"] * 32)  # n_ctx 16 + n_dmx 16 placeholders
    assert seen["csc"] is True
    assert seen["texts"][0] == f"{x32} aeroplane, a synthetic image.."  # source prompts first
    assert seen["texts"][12] == f"{x32} aeroplane, a real image.."      # then the target's
    assert f"{x32} train, a real image.." in seen["texts"]  # "train" is a class, never a domain word
    assert not any("a train image" in t or "validation image" in t for t in seen["texts"])


def test_dapl_checks_the_prompts_it_will_build(toy_backbone, monkeypatch):
    dapl = get_registry().method("dapl")
    checked = []
    monkeypatch.setattr(prompt_learner, "overlong_prompts", lambda tok, prompts, limit: checked.extend(prompts) or [])
    dapl(dapl.resolve_config(VisDA2017)).check_backbone(toy_backbone, VisDA2017())
    assert len(checked) == 24 and all(p.endswith((", a synthetic image..", ", a real image..")) for p in checked)
    checked.clear()
    dapl(dapl.resolve_config(OfficeHome)).check_backbone(toy_backbone, OfficeHome())
    assert sum(p.endswith(", a real_world image..") for p in checked) == 65


# -- DAPL: the learning-rate schedule --------------------------------------------------------------
def eta(j, lr=3e-3, t_max=25):
    """CosineAnnealingLR's closed form, η(j) = ½·lr·(1 + cos(π j / T))."""
    return 0.5 * lr * (1 + math.cos(math.pi * j / t_max))


@pytest.mark.parametrize("k, expected", [
    (0, 1e-5),            # Dassl's warm-up: WARMUP_MIN_LR while the scheduler has not stepped
    (1, 3e-3),            # η(0): the cosine starts at lr once the warm-up hands over
    (2, 2.98817205e-3),   # η(1) = 1.5e-3 · (1 + cos(7.2°)) = 1.5e-3 · 1.99211470
    (13, 1.59418578e-3),  # η(12) = 1.5e-3 · (1 + cos(86.4°)) = 1.5e-3 · 1.06279052
    (26, 0.0),            # η(25) = 0: T_max = 25 iterations in, the bottom
    (38, 1.40581422e-3),  # η(37) = 1.5e-3 · (1 − cos(86.4°)): climbing back
    (51, 3e-3),           # η(50) = lr: the cosine has period 2T = 50 iterations and never anneals
    (1001, 3e-3),         # η(1000) = lr again
])
def test_dassl_schedule_of_the_official_configs(k, expected):
    """DAPL's ep25-32 configs: SGD lr 3e-3, MAX_EPOCH 25, linear warm-up of 1 from 1e-5, stepped
    every iteration."""
    assert dassl_iter_lr(k, 3e-3, 1e-5, 1, 25) == pytest.approx(expected, abs=1e-11)


def test_dassl_linear_warmup_over_several_steps():
    """LinearWarmupScheduler: min_lr at step 0, then lr · k / W, then the cosine from η(0)."""
    got = [dassl_iter_lr(k, 3e-3, 1e-5, 4, 25) for k in range(6)]
    assert got == pytest.approx([1e-5, 0.75e-3, 1.5e-3, 2.25e-3, 3e-3, eta(1)], abs=1e-12)
    assert dassl_iter_lr(7, 3e-3, 1e-5, 0, 25) == pytest.approx(eta(7))  # no warm-up: η(k)


def test_dassl_schedule_matches_torch_cosine_annealing_stepped_past_t_max():
    """η is torch's CosineAnnealingLR (its recursive form, which cycles past T_max), one step behind."""
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=3e-3)
    cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, 25.0)
    for k in range(1, 160):
        assert dassl_iter_lr(k, 3e-3, 1e-5, 1, 25) == pytest.approx(opt.param_groups[0]["lr"], abs=1e-9), k
        opt.step()
        cosine.step()


def test_dapl_defaults_to_the_code_schedule_and_keeps_the_per_epoch_reading():
    dapl = get_registry().method("dapl")
    cfg = dapl.resolve_config(OfficeHome)
    assert cfg.lr_step == "iter"
    assert [dapl_lr(k, 100, cfg) for k in (0, 1, 2)] == pytest.approx([1e-5, 3e-3, eta(1)])
    per_epoch = dapl.resolve_config(OfficeHome, set_overrides={"lr_step": "epoch"})
    assert dapl_lr(50, 100, per_epoch) == pytest.approx(per_epoch_lr(50, 100, 3e-3, 1e-5, 1, 25))
    assert per_epoch_lr(50, 100, 3e-3, 1e-5, 1, 25) == pytest.approx(1e-5 + 0.5 * (3e-3 - 1e-5))  # mid-ramp
    assert per_epoch_lr(250, 100, 3e-3, 1e-5, 1, 25) == pytest.approx(eta(2))  # epoch 2, all of it


def _small_dapl(overrides):
    cls = get_registry().method("dapl")
    cfg = cls.resolve_config(Digits, set_overrides={"batch_size": 32, "min_steps": 0, **overrides})
    data, _ = build_adapt_data(cls, cfg, Digits(), DIGITS_TASK, seed=0)
    data.source = data.source.subset(range(0, 1330, 10))  # 133 images: 4 steps an epoch
    return cls(cfg), data


def test_dapl_trains_with_the_dassl_rates_step_by_step(toy_backbone):
    """Two epochs of 4 steps (T_max = 2): lr(0) = 1e-5, then η(k − 1) with η(j) = 1.5e-3 · (1 + cos(π j / 2))."""
    method, data = _small_dapl({"epochs": 2})
    logged = {}
    ctx = RunContext(device="cpu", seed=0, show_progress=False,
                     log_metrics=lambda m, step=None: logged.__setitem__(step, m["train/lr"]))
    method.adapt(ctx, toy_backbone.fresh_copy(), data)
    rates = [logged[s] for s in sorted(logged)]  # the rate each step ran with
    assert rates == pytest.approx([1e-5, 3e-3, 1.5e-3, 0.0, 1.5e-3, 3e-3, 1.5e-3, 0.0], abs=1e-12)


@pytest.mark.parametrize("mode, steps", [("zero", 4), ("skip", 0)])
def test_dapl_empty_mask_trains_on_the_source_or_skips_as_the_code(toy_backbone, monkeypatch, mode, steps):
    method, data = _small_dapl({"epochs": 1, "empty_mask": mode})
    assert get_registry().method("dapl").resolve_config(None).empty_mask == "zero"  # udabench's guard stays

    def nothing_kept(self, zero_shot_logits, target_prompt_logits):
        return zero_shot_logits.argmax(-1), torch.zeros(len(zero_shot_logits))

    monkeypatch.setattr(DAPL, "pseudo_labels", nothing_kept)
    ctx = RunContext(device="cpu", seed=0, show_progress=False)
    taken = []
    step = ctx.step
    ctx.step = lambda loss, opt: taken.append(float(loss.detach())) or step(loss, opt)
    method.adapt(ctx, toy_backbone.fresh_copy(), data)
    assert len(taken) == steps and all(math.isfinite(v) for v in taken)


# -- ReCLIP ----------------------------------------------------------------------------------------
def test_masked_mean_has_the_official_one_over_b():
    ce, m = torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([1.0, 0.0, 1.0, 1.0])
    assert float(masked_mean(ce, m, False)) == pytest.approx(8 / 3)      # Σ(CE·m)/Σm = (1 + 3 + 4) / 3
    assert float(masked_mean(ce, m, True)) == pytest.approx(8 / 4 / 3)   # mean(CE·m)/Σm: an extra 1/B, B = 4
    assert float(masked_mean(ce, torch.zeros(4), True)) == 0.0
    assert float(masked_mean(ce, m, True, batch=8)) == pytest.approx(8 / 8 / 3)  # B: the global batch under DDP
    assert ReClip.resolve_config(None).loss_1_over_b is True


@pytest.mark.parametrize("n, epochs, state, trained", [
    (4357, 0, "last-evaluated", 1),    # Office-Home Rw: E = 2 rounds, the code's last score after 1 epoch
    (4357, 0, "last-trained", 2),
    (2817, 0, "last-evaluated", 1),    # Office-31 A
    (55388, 0, "last-evaluated", 12),  # VisDA-2017 validation: E = ⌊55388 / 5000⌋ + 2 = 13
    (10_000_000, 0, "last-evaluated", 99),  # E capped at 100
    (4357, 3, "last-evaluated", 3),    # an explicit count is the count
    (4357, 3, "last-trained", 3),
])
def test_trained_epochs_of_the_scored_state(n, epochs, state, trained):
    assert trained_epochs(n, epochs, state) == trained


def _bn_state(model):
    return {k: v.clone() for k, v in model.visual.state_dict().items()
            if k.endswith(("running_mean", "running_var", "num_batches_tracked"))}


def _bn_affine(model):
    return [m.weight.detach().clone() for m in model.visual.modules() if isinstance(m, torch.nn.BatchNorm2d)]


def _reclip_run(backbone, monkeypatch, overrides):
    cls = get_registry().method("reclip")
    cfg = cls.resolve_config(Digits, set_overrides=overrides)
    data, _ = build_adapt_data(cls, cfg, Digits(), DIGITS_TASK, seed=0)
    target = Digits().load(DIGITS_TASK.target, Digits.adapt_split)
    data.target = TargetView(target.source.subset(range(0, len(target), len(target) // 192)), DIGITS_TASK.target)
    rounds, losses = [], []
    features = ReClip._features
    monkeypatch.setattr(ReClip, "_features", staticmethod(lambda *a: rounds.append(1) or features(*a)))
    mean = reclip_module.masked_mean
    monkeypatch.setattr(reclip_module, "masked_mean", lambda ce, m, b, *n: losses.append(b) or mean(ce, m, b, *n))
    cls(cfg).adapt(RunContext(device="cpu", seed=0, show_progress=False), backbone, data)
    return len(rounds), losses


def test_reclip_defaults_keep_batchnorm_statistics_and_score_the_last_evaluated_state(toy_backbone, monkeypatch):
    bb = toy_backbone.fresh_copy()
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in bb.model.visual.modules()) > 0  # a ResNet tower
    stats, affine = _bn_state(bb.model), _bn_affine(bb.model)
    epochs, losses = _reclip_run(bb, monkeypatch, {})
    assert epochs == 1  # 192 target images: E = 2 rounds, the code last scores after one trained epoch
    after = _bn_state(bb.model)
    assert all(torch.equal(stats[k], after[k]) for k in stats), "BatchNorm running statistics moved"
    assert any(not torch.equal(a, b) for a, b in zip(affine, _bn_affine(bb.model))), "BatchNorm weights did not train"
    assert losses and losses[0::2] == [True] * (len(losses) // 2) and losses[1::2] == [False] * (len(losses) // 2)


def test_reclip_switches_back_to_train_mode_and_every_epoch(toy_backbone, monkeypatch):
    bb = toy_backbone.fresh_copy()
    stats = _bn_state(bb.model)
    epochs, losses = _reclip_run(bb, monkeypatch, {"v_train_mode": True, "scored_state": "last-trained",
                                                   "loss_1_over_b": False})
    assert epochs == 2
    after = _bn_state(bb.model)
    assert any(not torch.equal(stats[k], after[k]) for k in stats if "running_mean" in k)
    assert losses and not any(losses)
