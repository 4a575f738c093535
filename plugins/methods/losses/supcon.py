"""The supervised contrastive loss DAC's image adapter is trained with (docs/methods.md, dac)."""

from __future__ import annotations

import torch


def supervised_contrastive_loss(embeddings: torch.Tensor, labels: torch.Tensor,
                                temperature: float = 0.07) -> torch.Tensor:
    """L_intra = −(1/|I|) Σ_i 1/|P(i)| Σ_{p∈P(i)} log[ exp(v_i·v_p/τ) / Σ_{a≠i} exp(v_i·v_a/τ) ]. [docs/methods.md, dac]

    ``embeddings`` are L2-normalised (B, d); P(i) = the other samples of i's class; anchors with
    no positive in the batch are left out of the mean (I = anchors with |P(i)| > 0).
    """
    sim = embeddings @ embeddings.T / temperature
    n = len(labels)
    self_mask = torch.eye(n, dtype=torch.bool, device=embeddings.device)
    sim = sim.masked_fill(self_mask, float("-inf"))  # a ≠ i in the denominator
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    positives = (labels[:, None] == labels[None, :]) & ~self_mask
    count = positives.sum(1)
    has = count > 0
    if not bool(has.any()):
        return embeddings.sum() * 0.0
    per_anchor = -(log_prob.masked_fill(~positives, 0.0).sum(1)[has] / count[has])
    return per_anchor.mean()
