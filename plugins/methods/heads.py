"""The classifiers ReCLIP, DAC and Tip-Adapter return: nn.Modules, kept apart from the plugin modules so
that registering a method (``udabench list``) does not import torch."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from udabench import LOGIT_SCALE, FeatureHead


class ReClipClassifier(nn.Module):
    """½(logits_T + logits_V): ReCLIP's inference (docs/methods.md, reclip)."""

    def __init__(self, v_model, t_model, w_v, w_t):
        super().__init__()
        self.v_model, self.t_model = v_model, t_model
        self.register_buffer("w_v", w_v)
        self.register_buffer("w_t", w_t)

    def forward(self, x):
        fv = F.normalize(self.v_model.encode_image(x).float(), dim=-1)
        ft = F.normalize(self.t_model.encode_image(x).float(), dim=-1)
        return 0.5 * LOGIT_SCALE * (fv @ self.w_v.T + ft @ self.w_t.T)


class CacheClassifier(FeatureHead):
    """DAC's classifier: logits = 100 · v · t'ᵀ + α · exp(−β(1 − normalize(g(v)) · K'ᵀ)) · L.

    Tip-Adapter's is the case g = identity (``nn.Identity()``), t' = the text classifier, K' = its
    cache keys (Tip-Adapter-F: the trained keys). A function of the frozen image embedding v
    alone, so the protocol scores it on cached features (``FeatureHead``)."""

    def __init__(self, backbone, adapter, classes, keys, values, alpha: float, beta: float):
        super().__init__(backbone)
        self.adapter = adapter
        self.register_buffer("classes", classes)
        self.register_buffer("keys", keys)
        self.register_buffer("values", values)
        self.alpha, self.beta = alpha, beta

    def logits_from_features(self, v):
        return cache_logits(v, self.adapter, self.classes, self.keys, self.values, self.alpha, self.beta)


def cache_logits(v, adapter, classes, keys, values, alpha: float, beta: float):
    """DAC's logits of normalised image embeddings v: 100 · v · t'ᵀ + α · exp(−β(1 − g(v)·K'ᵀ)) · L
    (g(v) normalised; Tip-Adapter's with g the identity, K' its keys: a Parameter while it trains them)."""
    affinity = F.normalize(adapter(v), dim=-1) @ keys.T
    cache = torch.exp(-beta * (1 - affinity)) @ values
    return LOGIT_SCALE * v @ classes.T + alpha * cache
