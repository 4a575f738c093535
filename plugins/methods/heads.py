"""The classifiers ReCLIP and DAC return: nn.Modules, kept apart from the plugin modules so
that registering a method (``udabench list``) does not import torch."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from udabench import LOGIT_SCALE


class ReClipClassifier(nn.Module):
    """½(logits_T + logits_V): ReCLIP's inference (METHODS.md §3.4)."""

    def __init__(self, v_model, t_model, w_v, w_t):
        super().__init__()
        self.v_model, self.t_model = v_model, t_model
        self.register_buffer("w_v", w_v)
        self.register_buffer("w_t", w_t)

    def forward(self, x):
        fv = F.normalize(self.v_model.encode_image(x).float(), dim=-1)
        ft = F.normalize(self.t_model.encode_image(x).float(), dim=-1)
        return 0.5 * LOGIT_SCALE * (fv @ self.w_v.T + ft @ self.w_t.T)


class CacheClassifier(nn.Module):
    """DAC's classifier: logits = 100 · v · t'ᵀ + α · exp(−β(1 − normalize(g(v)) · K'ᵀ)) · L."""

    def __init__(self, backbone, adapter, classes, keys, values, alpha: float, beta: float):
        super().__init__()
        self.model, self.adapter = backbone.model, adapter
        self.register_buffer("classes", classes)
        self.register_buffer("keys", keys)
        self.register_buffer("values", values)
        self.alpha, self.beta = alpha, beta

    def forward(self, x):
        v = F.normalize(self.model.encode_image(x).float(), dim=-1)
        with torch.autocast(device_type=v.device.type, enabled=False):
            affinity = F.normalize(self.adapter(v), dim=-1) @ self.keys.T
            cache = torch.exp(-self.beta * (1 - affinity)) @ self.values
            return LOGIT_SCALE * v @ self.classes.T + self.alpha * cache
