"""Each loss against a value worked out by hand (ln 3 logits give 0.75/0.25 and so on)."""

from __future__ import annotations

import math

import pytest
import torch

from udabench_plugins.methods.losses.clipdiv import (absolute_divergence, kl, kl_to_student,
                                                     language_guided_pseudo_labels, relative_divergence,
                                                     relative_divergence_marginal)
from udabench_plugins.methods.losses.dampl import fused_pseudo_labels
from udabench_plugins.methods.losses.dapl import masked_target_loss, source_loss, zero_shot_pseudo_labels
from udabench_plugins.methods.losses.shot import information_maximization_loss

LN3, LN15, LN4 = math.log(3), math.log(1.5), math.log(4)
# softmax rows: [0.75, 0.25] and [0.4, 0.6]
LOGITS = torch.tensor([[LN3, 0.0], [0.0, LN15]])


def t(*rows):
    return torch.tensor(rows, dtype=torch.float32)


def test_dapl_source_loss_is_ce_over_source_prompts():
    assert source_loss(LOGITS, torch.tensor([0, 1])).item() == pytest.approx((-math.log(0.75) - math.log(0.6)) / 2,
                                                                            abs=1e-6)


def test_dapl_pseudo_labels_threshold_the_zero_shot_confidence():
    pseudo, mask = zero_shot_pseudo_labels(LOGITS, tau=0.5)
    assert pseudo.tolist() == [0, 1] and mask.tolist() == [1.0, 1.0]
    _, mask = zero_shot_pseudo_labels(LOGITS, tau=0.7)  # 0.75 stays, 0.6 goes
    assert mask.tolist() == [1.0, 0.0]
    _, mask = zero_shot_pseudo_labels(LOGITS, tau=0.7, temperature=0.5)  # sharper: 0.9 and 0.69
    assert mask.tolist() == [1.0, 0.0]


def test_dapl_masked_target_loss_and_its_empty_mask_guard():
    pseudo = torch.tensor([0, 0])
    assert masked_target_loss(LOGITS, pseudo, t(1, 0)).item() == pytest.approx(-math.log(0.75), abs=1e-6)
    assert masked_target_loss(LOGITS, pseudo, t(1, 1)).item() == pytest.approx(
        (-math.log(0.75) - math.log(0.4)) / 2, abs=1e-6)
    logits = LOGITS.clone().requires_grad_(True)
    empty = masked_target_loss(logits, pseudo, t(0, 0))
    assert empty.item() == 0.0 and not math.isnan(empty.item())
    empty.backward()
    assert torch.all(logits.grad == 0)


def test_shot_information_maximisation():
    # p1 = [.75, .25], p2 = [.25, .75]: mean entropy 0.562335, mean [.5, .5] -> L_div = -ln 2.
    diverse = t([LN3, 0], [0, LN3])
    assert information_maximization_loss(diverse).item() == pytest.approx(0.562335 - math.log(2), abs=1e-4)
    # Both [.75, .25]: the mean has the same entropy as each row, so L_IM = 0.
    collapsed = t([LN3, 0], [LN3, 0])
    assert information_maximization_loss(collapsed).item() == pytest.approx(0.0, abs=1e-4)


def test_dampl_fuses_zero_shot_and_target_prompt_predictions():
    zs, tgt = t([LN3, 0]), t([0, LN4])  # [.75, .25] and [.2, .8]
    pseudo, mask = fused_pseudo_labels(zs, tgt, lam=0.5, tau=0.5)  # [.475, .525]
    assert pseudo.tolist() == [1] and mask.tolist() == [1.0]
    assert fused_pseudo_labels(zs, tgt, lam=0.5, tau=0.6)[1].tolist() == [0.0]
    assert fused_pseudo_labels(zs, tgt, lam=1.0, tau=0.5)[0].tolist() == [0]  # DAPL's pseudo-label


def test_kl_by_hand():
    assert kl(t(0.5, 0.5), t(0.25, 0.75)).item() == pytest.approx(0.5 * math.log(2) + 0.5 * math.log(2 / 3), abs=1e-6)


# Student logits: [0, 0] is p = [.5, .5]; [0, ln 3] is p = [.25, .75].
HALF_Z, QAG_Z = t([0.0, 0.0]), t([0.0, LN3])


def test_clipdiv_absolute_divergence():
    q = t([0.25, 0.75])
    # KL([.25,.75] || [.5,.5]) = .25 ln .5 + .75 ln 1.5 = 0.130812; the target term is KL(q||q) = 0.
    assert absolute_divergence(q, HALF_Z, q, QAG_Z).item() == pytest.approx(0.130812, abs=1e-5)


def test_clipdiv_relative_divergence_both_forms():
    half, qag = t([0.5, 0.5]), t([0.25, 0.75])
    # source: |KL(q_s||q_ag) - KL(p||q_ag)| = |0.143841 - 0|; target: all equal -> 0.
    assert relative_divergence(half, qag, QAG_Z, qag, qag, QAG_Z).item() == pytest.approx(0.143841, abs=1e-5)
    assert relative_divergence_marginal(qag, HALF_Z, qag, QAG_Z).item() == pytest.approx(0.143841, abs=1e-5)
    assert relative_divergence_marginal(qag, HALF_Z, qag, HALF_Z).item() == pytest.approx(0.0, abs=1e-6)


def test_a_confident_student_still_gets_the_exact_distillation_gradient():
    # d KL(q || softmax(z)) / dz = softmax(z) - q; with z = [30, 5, 0], softmax(z) ≈ [1, 1e-11, 1e-13].
    z = t([30.0, 5.0, 0.0]).requires_grad_(True)
    kl_to_student(t([0.5, 0.4, 0.1]), z).sum().backward()
    assert torch.allclose(z.grad, t([0.5, -0.4, -0.1]), atol=1e-5)


def test_clipdiv_language_guided_pseudo_labels():
    pseudo, mask = language_guided_pseudo_labels(t([0.2, 0.8]), t([0.9, 0.1]), tau=0.5)  # fused [.55, .45]
    assert pseudo.tolist() == [0] and mask.tolist() == [1.0]
    assert language_guided_pseudo_labels(t([0.2, 0.8]), t([0.9, 0.1]), tau=0.6)[1].tolist() == [0.0]


def test_supcon_on_four_embeddings():
    from udabench_plugins.methods.losses.supcon import supervised_contrastive_loss

    # v1 = v2 = e1 (class 0), v3 = v4 = e2 (class 1), τ = 1: each anchor sees its positive at
    # similarity 1 and two negatives at 0, so every term is -log(e / (e + 2)).
    v = t([1, 0], [1, 0], [0, 1], [0, 1])
    expected = -math.log(math.e / (math.e + 2))
    assert supervised_contrastive_loss(v, torch.tensor([0, 0, 1, 1]), 1.0).item() == pytest.approx(expected, abs=1e-6)
    # Swapping the labels of v2 and v3 makes each positive orthogonal: -log(1 / (e + 2)).
    swapped = supervised_contrastive_loss(v, torch.tensor([0, 1, 0, 1]), 1.0).item()
    assert swapped == pytest.approx(-math.log(1 / (math.e + 2)), abs=1e-6)


def test_dac_cache_logits_by_hand():
    from udabench_plugins.methods.heads import cache_logits

    # v = e1; identity adapter; class embeddings t'0 = e1, t'1 = e2; keys: e1 (class 0), e2 (class 1).
    # text: 100·[1, 0]; cache: exp(−β(1 − [1, 0])) · L = [1, e^−β]; α = 2, β = ln 2: [2, 1].
    v = t([1, 0])
    eye = torch.nn.Linear(2, 2, bias=False)
    with torch.no_grad():
        eye.weight.copy_(torch.eye(2))
    got = cache_logits(v, eye, t([1, 0], [0, 1]), t([1, 0], [0, 1]), torch.eye(2), alpha=2.0, beta=math.log(2))
    assert got.tolist()[0] == pytest.approx([102.0, 1.0], abs=1e-5)


def _dac(**overrides):
    from udabench.contract.config import resolve
    from udabench_plugins.methods.dac import DAC

    return DAC(resolve("dac", DAC.hparams, set_overrides={"epochs": 3, **overrides}))


def test_dac_search_picks_the_cache_when_the_text_side_is_wrong():
    """Class texts that lean by about 9 logits towards the wrong class. The cache sums over the 6
    fitting shots of a class, so it outvotes them by about 6α: the default α = 1 misclassifies the
    held-out shots, α ≥ 2 does not, and the search leaves the default. With one shot per class, or
    no grid, the defaults stay."""
    from udabench import RunContext

    torch.manual_seed(0)
    c, d, k = 4, 16, 8
    centres = torch.nn.functional.normalize(torch.randn(c, d), dim=-1)
    clean_labels = torch.arange(c).repeat_interleave(k)
    clean = torch.nn.functional.normalize(centres[clean_labels] + 0.02 * torch.randn(c * k, d), dim=-1)
    common = torch.nn.functional.normalize(torch.randn(d), dim=0)
    text = torch.nn.functional.normalize(common + 0.1 * centres.roll(-1, 0), dim=-1)  # class i's text: i+1's images
    ctx = RunContext(device="cpu", seed=0, show_progress=False)
    dac = _dac(epochs=1, search_epochs=(1,), lr=0.0)  # nothing learnt: α and β alone decide
    assert dac.search(ctx, clean, clean_labels, clean, clean_labels, text, c)[1] >= 2.0
    one_shot = torch.arange(c)
    assert dac.search(ctx, clean[:c], one_shot, clean[:c], one_shot, text, c) == (1, 1.0, 5.5)
    assert _dac(epochs=1, search_alphas=()).search(ctx, clean, clean_labels, clean, clean_labels,
                                                   text, c) == (1, 1.0, 5.5)
