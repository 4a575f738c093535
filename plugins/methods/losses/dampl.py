"""DAMPL's semantic-guided pseudo-label correction (docs/methods.md, dampl:
a reconstruction; the paper's own formula was not available)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def fused_pseudo_labels(zero_shot_logits: torch.Tensor, target_prompt_logits: torch.Tensor,
                        lam: float = 0.5, tau: float = 0.5) -> tuple[torch.Tensor, torch.Tensor]:
    """ŷ = argmax( λ·q_zs + (1−λ)·p_tgt ), kept when that fused maximum is ≥ τ. [docs/methods.md, dampl]

    q_zs = softmax(zero-shot CLIP logits) (fixed), p_tgt = softmax(target-prompt logits) (learned,
    detached here: a pseudo-label is a target, not a path for gradients). λ = 1 is DAPL's
    pseudo-label; λ = 0 is pure self-training.
    """
    q = F.softmax(zero_shot_logits.float(), dim=-1)
    p = F.softmax(target_prompt_logits.detach().float(), dim=-1)
    fused = lam * q + (1.0 - lam) * p
    conf, pseudo = fused.max(dim=-1)
    return pseudo, (conf >= tau).float()
