"""CoOp (``coop``) and Tip-Adapter / Tip-Adapter-F (``tip-adapter``, ``tip-adapter-f``): their equations
by hand, CoOp's schedule by shot count, Tip-Adapter's search grid and rule, the data they read, the
conformance kit and an end-to-end run on digits."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
import torch.nn.functional as F

import udabench
import udabench.cli
from udabench import Dataset
from udabench.contract.config import resolve
from udabench.data.folders import CountMismatchWarning
from udabench.protocol.context import RunContext
from udabench.protocol.task import build_adapt_data
from udabench.testing import check_method
from udabench.tracking.tracker import Tracker
from udabench_plugins.datasets.digits import Digits
from udabench_plugins.datasets.fewshot.caltech101 import Caltech101
from udabench_plugins.methods.coop import COOP_EPOCHS, CoOp, coop_epochs, coop_lr, prompt_logits
from udabench_plugins.methods.heads import cache_logits
from udabench_plugins.methods.prompt_learner import DomainPromptLearner, class_token_order
from udabench_plugins.methods.tip_adapter import TipAdapter, TipAdapterF, search_grid, search_hp

from miniatures import caltech101


def t(*rows):
    return torch.tensor(rows, dtype=torch.float32)


# -- CoOp: equations and schedule -----------------------------------------------------------------
def test_coop_logits_by_hand():
    # f = (3, 4) -> (0.6, 0.8); w = rows (1, 0) and (0, 2) -> (1, 0), (0, 1); s = 10
    assert torch.allclose(prompt_logits(t([3, 4]), t([1, 0], [0, 2]), 10.0), t([6.0, 8.0]))


@pytest.mark.parametrize("shots,epochs", [(1, 50), (2, 100), (4, 100), (8, 200), (16, 200)])
def test_coop_epochs_follow_the_shot_count(shots, epochs):
    cfg = CoOp.resolve_config(Caltech101, set_overrides={"shots": shots})
    assert cfg.epochs == 0 and coop_epochs(cfg.shots, cfg.epochs) == epochs == COOP_EPOCHS[shots]
    assert coop_epochs(shots, 7) == 7  # a set number of epochs wins


def test_coop_imagenet_runs_50_epochs_for_every_shot_count():
    class ImageNetLike(Dataset):  # the name is what the override keys on
        name = "imagenet"

    for shots in (1, 2, 4, 8, 16):
        cfg = CoOp.resolve_config(ImageNetLike, set_overrides={"shots": shots})
        assert cfg.sources["epochs"] == "dataset" and coop_epochs(cfg.shots, cfg.epochs) == 50


def test_coop_lr_warms_up_at_1e5_then_cosine_from_0002():
    lr, e_max = 0.002, 50
    assert coop_lr(0, lr, 1e-5, 1, e_max) == 1e-5
    assert coop_lr(1, lr, 1e-5, 1, e_max) == pytest.approx(0.002)
    assert coop_lr(26, lr, 1e-5, 1, e_max) == pytest.approx(0.001)  # halfway: cos(π/2) = 0
    assert coop_lr(49, lr, 1e-5, 1, e_max) == pytest.approx(0.001 * (1 + math.cos(math.pi * 48 / 50)))
    # epochs 1.. are torch's CosineAnnealingLR(T_max = E) stepped once an epoch from 0.002
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, e_max)
    for e in range(1, e_max):
        assert coop_lr(e, lr, 1e-5, 1, e_max) == pytest.approx(opt.param_groups[0]["lr"], rel=1e-9)
        opt.step()
        sched.step()


def test_coop_trains_with_those_rates_and_hands_every_epoch_over(toy_backbone, small_digits):
    small_digits(4)
    cfg = CoOp.resolve_config(Digits, set_overrides={"shots": 2, "epochs": 3})
    data, _ = build_adapt_data(CoOp, cfg, Digits(), Digits.task("printed2handwritten"), seed=0)
    logged, handed = {}, []
    ctx = RunContext(device="cpu", seed=0, show_progress=False,
                     log_metrics=lambda m, step=None: logged.setdefault(step, {}).update(m))
    ctx.on_epoch_end = lambda clf, epoch: handed.append(epoch)
    bb = toy_backbone.fresh_copy()
    clf = CoOp(cfg).adapt(ctx, bb, data)
    assert [logged[e]["train/lr"] for e in (1, 2, 3)] == pytest.approx([1e-5, 0.002, 0.001 * 1.5])
    assert handed == [1, 2, 3]
    assert clf(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    assert all(p.grad is None for p in bb.model.parameters())  # CLIP stays frozen


def test_coop_refuses_a_context_the_text_encoder_cannot_hold(toy_backbone):
    from udabench import ConfigError

    with pytest.raises(ConfigError, match=r"16 context vectors do not fit .* reads 16 tokens.*--set n_ctx=4"):
        CoOp(CoOp.resolve_config(Digits, set_overrides={"n_ctx": 16})).check_backbone(toy_backbone, Digits())
    CoOp(CoOp.resolve_config(Digits)).check_backbone(toy_backbone, Digits())  # the profile's 4 fit
    CoOp(CoOp.resolve_config(Digits, set_overrides={"ctx_init": "a photo of a"})).check_backbone(toy_backbone, Digits())


# -- CoOp: the prompt learner's options ------------------------------------------------------------
@pytest.mark.parametrize("position,expected", [
    ("end", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
    ("middle", [0, 1, 2, 5, 6, 3, 4, 7, 8, 9]),  # [SOS] v1 v2 name1 name2 v3 v4 . [EOS] pad
    ("front", [0, 5, 6, 1, 2, 3, 4, 7, 8, 9]),
])
def test_class_token_order_by_hand(position, expected):
    assert class_token_order([2], 4, 0, 10, position).tolist() == [expected]


@pytest.mark.parametrize("position", ["middle", "front"])
def test_middle_and_front_prompts_are_coops_concatenations(toy_backbone, position):
    names = ("seven", "nine")
    bb = toy_backbone
    learner = DomainPromptLearner(bb.model, bb.tokenizer, names, ("",), 4, 0, False, False,
                                  class_token_position=position)
    got = learner.prompt_embeddings()
    for i, name in enumerate(names):
        n = len(bb.tokenizer.encode(name))
        pre, ctx, suf = learner.prefix[i:i + 1], learner.ctx.unsqueeze(0), learner.suffix[i:i + 1]
        parts = ([pre, ctx[:, :2], suf[:, :n], ctx[:, 2:], suf[:, n:]] if position == "middle"
                 else [pre, suf[:, :n], ctx, suf[:, n:]])
        assert torch.equal(got[i], torch.cat(parts, dim=1)[0])  # CoOp's PromptLearner.forward
    end = DomainPromptLearner(bb.model, bb.tokenizer, names, ("",), 4, 0, False, False)
    with torch.no_grad():
        end.ctx.copy_(learner.ctx)
        assert not torch.allclose(end(), learner())  # the order reaches the text encoder


def test_ctx_init_starts_from_the_phrase(toy_backbone):
    bb = toy_backbone
    learner = DomainPromptLearner(bb.model, bb.tokenizer, ("zero", "one"), ("",), 16, 0, True, False,
                                  ctx_init="a photo of a")
    assert learner.ctx.shape == (4, bb.model.token_embedding.weight.shape[1])  # 4 tokens, shared despite csc
    with torch.no_grad():
        ours = learner()
        theirs = F.normalize(bb.model.encode_text(bb.tokenize(["a photo of a zero.", "a photo of a one."])), dim=-1)
    assert torch.allclose(ours, theirs, atol=1e-5)  # at init: the hand-written prompt itself


# -- Tip-Adapter: equations, grid, search ----------------------------------------------------------
def test_tip_adapter_logits_by_hand():
    # v = (1, 0); text = I; keys = I; values = I; α = 2, β = 3: affinity (1, 0),
    # cache = (e^0, e^-3), logits = 100 · (1, 0) + 2 · (1, e^-3) = (102, 2e^-3)
    got = cache_logits(t([1, 0]), torch.nn.Identity(), torch.eye(2), torch.eye(2), torch.eye(2), 2.0, 3.0)
    assert torch.allclose(got, t([102.0, 2 * math.exp(-3)]))


def test_search_grid_is_200_betas_in_01_to_scale():
    betas = search_grid(7.0, 200)
    assert len(betas) == 200 and betas[0] == 0.1 and max(betas) < 7.0
    assert betas[-1] == pytest.approx(0.1 + 199 * 6.9 / 200) and betas[1] - betas[0] == pytest.approx(6.9 / 200)
    assert search_grid(3.0, 20) == pytest.approx([0.1 + i * 0.145 for i in range(20)])


def test_search_takes_beta_outer_and_the_first_maximum():
    # sample 0 is right for every setting; sample 1 iff α(1 − e^-β) > 1: with β = 0.5 only α = 4,
    # with β = 2 already α = 2. Both reach 2 correct; β = 0.5 comes first and keeps the win.
    clip = t([1, 0], [1, 0])
    affinity, values, labels = t([1, 0], [0, 1]), torch.eye(2), torch.tensor([0, 1])
    assert search_hp(clip, affinity, values, labels, [0.5, 2.0], [1.0, 2.0, 4.0]) == (0.5, 4.0, 2)
    assert search_hp(clip, affinity, values, labels, [2.0, 0.5], [1.0, 2.0, 4.0]) == (2.0, 2.0, 2)
    # nothing right anywhere: the code's initial (0, 0)
    assert search_hp(clip, affinity, values, torch.tensor([1, 1]), [0.5], [0.1]) == (0.0, 0.0, 0)


def test_search_equals_the_codes_double_loop():
    g = torch.Generator().manual_seed(0)
    feats = F.normalize(torch.randn(40, 8, generator=g), dim=-1)
    keys = F.normalize(torch.randn(12, 8, generator=g), dim=-1)
    text = F.normalize(torch.randn(3, 8, generator=g), dim=-1)
    values, labels = F.one_hot(torch.arange(12) % 3, 3).float(), torch.randint(0, 3, (40,), generator=g)
    betas, alphas = search_grid(7.0, 30), search_grid(3.0, 10)
    best = (0, 0, 0.0)  # utils.py:search_hp, transcribed: accuracy in %, strict >
    for beta in betas:
        for alpha in alphas:
            logits = 100 * feats @ text.T + alpha * torch.exp(-beta * (1 - feats @ keys.T)) @ values
            acc = 100 * float((logits.argmax(1) == labels).float().mean())
            if acc > best[2]:
                best = (beta, alpha, acc)
    beta, alpha, correct = search_hp(100 * feats @ text.T, feats @ keys.T, values, labels, betas, alphas)
    assert (beta, alpha) == (best[0], best[1]) and 100 * correct / 40 == pytest.approx(best[2])


def test_tip_adapter_configs_per_dataset():
    for name, alpha, scale, epochs in [("eurosat", 2.0, (12.0, 10.0), 100), ("fgvc_aircraft", 5.0, (30.0, 30.0), 20),
                                       ("oxford_flowers", 10.0, (50.0, 50.0), 20), ("imagenet", 1.17, (7.0, 3.0), 20)]:
        cfg = resolve(TipAdapterF.name, TipAdapterF.hparams, name, TipAdapterF.dataset_overrides)
        assert (cfg.init_alpha, cfg.search_scale, cfg.train_epoch, cfg.init_beta) == (alpha, scale, epochs, 1.0)
    cfg = resolve(TipAdapterF.name, TipAdapterF.hparams, "digits", TipAdapterF.dataset_overrides)
    assert (cfg.init_alpha, cfg.search_scale, cfg.search_step, cfg.train_epoch) == (1.17, (7.0, 3.0), (200, 20), 20)
    assert (cfg.lr, cfg.eps, cfg.batch_size, cfg.augment_epoch, cfg.aug_scale_min) == (1e-3, 1e-4, 256, 10, 0.5)


def test_raw_augmented_features_normalise_to_the_normalised_ones(toy_backbone, small_digits):
    small_digits(2)
    images = Digits().load("handwritten", "train")
    ctx = RunContext(device="cpu", seed=0, show_progress=False)
    tf = toy_backbone.train_transform((0.5, 1.0), False)
    raw, _ = udabench.augmented_features(toy_backbone, images, ctx, tf, 2, seed=3, normalize=False)
    unit, labels = udabench.augmented_features(toy_backbone, images, ctx, tf, 2, seed=3)
    assert raw.shape == unit.shape == (40, toy_backbone.embed_dim) and labels.tolist() == images.labels.tolist() * 2
    assert not torch.allclose(raw.norm(dim=-1), torch.ones(40)) and torch.allclose(F.normalize(raw, dim=-1), unit,
                                                                                   atol=1e-6)


# -- Tip-Adapter-F: the data it reads --------------------------------------------------------------
@pytest.mark.filterwarnings("ignore::udabench.data.folders.CountMismatchWarning")
def test_tip_adapter_f_searches_on_val_and_never_reads_the_test_split(toy_backbone, tmp_path, monkeypatch):
    ds = Caltech101(caltech101(tmp_path / "data"))
    cfg = TipAdapterF.resolve_config(Caltech101, set_overrides={"shots": 1, "augment_epoch": 1, "train_epoch": 2,
                                                                "search_step": [20, 5]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CountMismatchWarning)
        data, evaluation = build_adapt_data(TipAdapterF, cfg, ds, Caltech101.tasks[0], seed=0)
    encoded = set()

    def recording(helper):
        def wrapped(backbone, images, *args, **kwargs):
            encoded.update(images.source.paths)
            return helper(backbone, images, *args, **kwargs)
        return wrapped

    monkeypatch.setattr(udabench, "extract_features", recording(udabench.extract_features))
    monkeypatch.setattr(udabench, "augmented_features", recording(udabench.augmented_features))
    logged, by_step = {}, {}

    def log(metrics, step=None):
        logged.update(metrics)
        by_step.setdefault(step, {}).update(metrics)

    ctx = RunContext(device="cpu", seed=0, show_progress=False, log_metrics=log)
    bb = toy_backbone.fresh_copy()
    clf = TipAdapterF(cfg).adapt(ctx, bb, data)
    # 100 shots: one batch an epoch; the cosine runs over 2 steps, 1e-3 -> 5e-4 -> 0
    assert [by_step[e]["train/lr"] for e in (1, 2)] == pytest.approx([5e-4, 0.0], abs=1e-12)
    val = set(data.val.source.paths)
    assert val <= encoded and set(data.shots.source.paths) <= encoded
    assert not encoded & set(evaluation.images.source.paths)  # the test split is never encoded
    # the α, β kept are the search's on the val features with the trained keys
    feats, labels = udabench.extract_features(bb, data.val, ctx)
    beta, alpha, correct = search_hp(100 * feats @ clf.classes.T, feats @ clf.keys.T, clf.values,
                                     torch.as_tensor(labels), search_grid(12.0, 20), search_grid(5.0, 5))
    assert (clf.alpha, clf.beta) == (alpha, beta) == (logged["search/alpha"], logged["search/beta"])
    assert logged["search/val_acc"] == pytest.approx(correct)  # 100 val images: % = count
    assert not torch.allclose(clf.keys, F.normalize(clf.keys, dim=-1))  # the keys were trained


def test_without_a_val_split_tip_adapter_keeps_the_initial_alpha_beta(toy_backbone, small_digits):
    small_digits(4)
    cfg = TipAdapter.resolve_config(Digits, set_overrides={"shots": 2, "augment_epoch": 2})
    data, _ = build_adapt_data(TipAdapter, cfg, Digits(), Digits.task("printed2handwritten"), seed=0)
    assert data.val is None
    clf = TipAdapter(cfg).adapt(RunContext(device="cpu", seed=0, show_progress=False), toy_backbone.fresh_copy(), data)
    assert (clf.alpha, clf.beta) == (1.17, 1.0)
    assert torch.allclose(clf.keys.norm(dim=-1), torch.ones(len(data.shots)))  # untrained: unit keys


# -- conformance and end to end --------------------------------------------------------------------
@pytest.mark.parametrize("cls,overrides", [
    (CoOp, {"shots": 2, "epochs": 2}),
    (TipAdapter, {"shots": 4, "augment_epoch": 2}),
    (TipAdapterF, {"shots": 4, "augment_epoch": 2, "train_epoch": 2}),
])
def test_conformance(toy_backbone, cls, overrides):
    metrics = check_method(cls, backbone=toy_backbone, overrides=overrides)
    assert 0.0 <= metrics["top1"] <= 100.0


@pytest.mark.parametrize("method,sets", [
    ("coop", ["shots=1", "epochs=2"]),
    ("tip-adapter-f", ["shots=2", "augment_epoch=2", "train_epoch=3"]),
])
def test_end_to_end_on_digits(small_digits, mlflow_uri, method, sets):
    small_digits(6)
    argv = ["run", "--method", method, "--dataset", "digits", "--backbone", "toyclip", "--task",
            "printed2handwritten", "--seeds", "0", "--device", "cpu", "--no-progress", "--tracking-uri", mlflow_uri]
    assert udabench.cli.main(argv + [a for kv in sets for a in ("--set", kv)]) == 0
    (run,) = Tracker(mlflow_uri).task_runs("digits")
    assert run.data.tags["udabench.method"] == method and run.data.tags["udabench.fidelity"] == "code-faithful"
    assert 0 <= run.data.metrics["top1"] <= 100 and run.data.metrics["epochs_scored"] >= 2
