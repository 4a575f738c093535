"""DAPL's losses (docs/methods.md, dapl; read in LeapLabTHU/DAPrompt `trainers/dapl.py`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def source_loss(source_prompt_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """L_s = CE( logits_x[:, 0:C], y_s ): the softmax runs over the C source-domain prompts only. [docs/methods.md, dapl]"""
    return F.cross_entropy(source_prompt_logits, labels)


def zero_shot_pseudo_labels(zero_shot_logits: torch.Tensor, tau: float = 0.5,
                            temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """q = softmax( logits_u[:, 2C:3C] / T ); ŷ = argmax q; mask = 1[max q ≥ τ]. [docs/methods.md, dapl]

    The zero-shot CLIP logits come from the fixed naive prompt "a photo of a {class}.";
    DAPL's released config uses τ = 0.5 and T = 1.
    """
    q = F.softmax(zero_shot_logits.float() / temperature, dim=-1)
    conf, pseudo = q.max(dim=-1)
    return pseudo, (conf >= tau).float()


def masked_target_loss(target_prompt_logits: torch.Tensor, pseudo: torch.Tensor,
                       mask: torch.Tensor) -> torch.Tensor:
    """L_u = Σ_i mask_i · CE( logits_u[i, C:2C], ŷ_i ) / Σ_i mask_i, and 0 when Σ mask = 0. [docs/methods.md, dapl]

    The guard against an empty mask is ours: the official code divides by zero then.
    """
    ce = F.cross_entropy(target_prompt_logits, pseudo, reduction="none")
    return (ce * mask).sum() / mask.sum().clamp(min=1.0)  # an empty mask gives 0, with no host sync
