"""CLIP-Div's divergences and language-guided pseudo-labels (docs/methods.md, clipdiv: a reconstruction
consistent with the abstract, not the paper's equations, which were not available).

Notation: z = student logits, p_θ = softmax(z); q_ag = CLIP's domain-agnostic distribution
(prompt "a photo of a {c}."); q_d = CLIP's domain-specific distribution (prompt
"a {d} photo of a {c}."). All KL terms are per sample and averaged over the batch. The
student enters as logits, so its log-probabilities come from log_softmax: a confident
student (p ≈ 1e-11 on rejected classes) still gets the exact gradient p − q.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

EPS = 1e-8


def kl(p: torch.Tensor, q: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """KL(p ‖ q) = Σ_c p_c (log p_c − log q_c) along the last axis, for two distributions."""
    return (p * (torch.log(p + eps) - torch.log(q + eps))).sum(dim=-1)


def kl_to_student(q: torch.Tensor, student_logits: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """KL(q ‖ p_θ) = Σ_c q_c (log q_c − log_softmax(z)_c)."""
    return (q * (torch.log(q + eps) - F.log_softmax(student_logits.float(), dim=-1))).sum(dim=-1)


def kl_from_student(student_logits: torch.Tensor, q: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """KL(p_θ ‖ q) = Σ_c p_c (log_softmax(z)_c − log q_c)."""
    log_p = F.log_softmax(student_logits.float(), dim=-1)
    return (log_p.exp() * (log_p - torch.log(q + eps))).sum(dim=-1)


def absolute_divergence(q_ag_source, z_source, q_ag_target, z_target) -> torch.Tensor:
    """L_abs = E_{x∈S} KL(q_ag(x) ‖ p_θ(x)) + E_{x∈T} KL(q_ag(x) ‖ p_θ(x)). [docs/methods.md, clipdiv]

    Distils CLIP's domain-agnostic distribution into the student on both domains.
    """
    return kl_to_student(q_ag_source, z_source).mean() + kl_to_student(q_ag_target, z_target).mean()


def relative_divergence(q_dom_source, q_ag_source, z_source,
                        q_dom_target, q_ag_target, z_target) -> torch.Tensor:
    """L_rel = E_S |KL(q_s‖q_ag) − KL(p_θ‖q_ag)| + E_T |KL(q_t‖q_ag) − KL(p_θ‖q_ag)|. [docs/methods.md, clipdiv, first reading]

    The student's divergence from the domain-agnostic view should match the one CLIP itself
    shows between the domain-specific and domain-agnostic views: as domain-specific as CLIP
    is, and no more.
    """
    src = (kl(q_dom_source, q_ag_source) - kl_from_student(z_source, q_ag_source)).abs().mean()
    tgt = (kl(q_dom_target, q_ag_target) - kl_from_student(z_target, q_ag_target)).abs().mean()
    return src + tgt


def relative_divergence_marginal(q_ag_source, z_source, q_ag_target, z_target) -> torch.Tensor:
    """L_rel^marginal = | KL(p̄_S ‖ q̄_ag,S) − KL(p̄_T ‖ q̄_ag,T) |, bars = batch means. [docs/methods.md, clipdiv, second reading]

    The harness's own reading of "batch-level matching of the mean source prediction against
    the mean target prediction, each taken relative to q_ag": the student's class marginal
    departs from CLIP's by as much on the target as on the source (``rel_form: marginal``).
    """
    p_source, p_target = F.softmax(z_source.float(), -1), F.softmax(z_target.float(), -1)
    return (kl(p_source.mean(0), q_ag_source.mean(0)) - kl(p_target.mean(0), q_ag_target.mean(0))).abs()


def language_guided_pseudo_labels(p_target: torch.Tensor, q_target_specific: torch.Tensor,
                                  tau: float = 0.6) -> tuple[torch.Tensor, torch.Tensor]:
    """ŷ_t = argmax_c( ½·p_θ(x_t) + ½·q_t(x_t) ), kept when the fused maximum is ≥ τ. [docs/methods.md, clipdiv, stage 2]"""
    fused = 0.5 * p_target.detach() + 0.5 * q_target_specific
    conf, pseudo = fused.max(dim=-1)
    return pseudo, (conf >= tau).float()
