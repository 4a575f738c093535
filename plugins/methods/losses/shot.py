"""SHOT's information-maximisation loss (docs/methods.md, dampl; read in tim-learn/SHOT)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

EPS = 1e-5


def information_maximization_loss(logits: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """L_IM = L_ent + L_div, with p_i = softmax(f(x_i)) over the batch and p̄ = (1/B) Σ_i p_i: [docs/methods.md, dampl]

        L_ent = −(1/B) Σ_i Σ_c p_ic · log(p_ic + ε)      (mean entropy: confident predictions)
        L_div =        Σ_c p̄_c · log(p̄_c + ε)            (negative entropy of the mean: diverse ones)

    Its negative estimates the mutual information I(X; Ŷ).
    """
    p = F.softmax(logits.float(), dim=-1)
    ent = -(p * torch.log(p + eps)).sum(dim=-1).mean()
    p_bar = p.mean(dim=0)
    div = (p_bar * torch.log(p_bar + eps)).sum()
    return ent + div
