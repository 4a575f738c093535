"""Classifiers built on a CLIP image encoder: what a method returns to the protocol."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .backbone import LOGIT_SCALE, ClipBackbone


class FeatureClassifier(nn.Module):
    """logits = head( normalize( image_encoder(x) ) ).

    Zero-shot CLIP is the case head.weight = 100 * text classifier, no bias;
    a linear probe and CLIP-FT use the same form with a trained head.
    """

    def __init__(self, backbone: ClipBackbone, head: nn.Linear):
        super().__init__()
        self.model = backbone.model
        self.head = head

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.model.encode_image(images), dim=-1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        f = self.features(images).float()
        # The head runs in fp32 even under autocast: bf16 logits near 25 step by 0.125, which
        # turns near-ties into ties that argmax settles by class index.
        with torch.autocast(device_type=f.device.type, enabled=False):
            return self.head(f)


def text_head(text_classifier: torch.Tensor, scale: float = LOGIT_SCALE, bias: bool = False) -> nn.Linear:
    """A linear head initialised to ``scale`` x the (C, D) text classifier: zero-shot CLIP as a layer."""
    c, d = text_classifier.shape
    head = nn.Linear(d, c, bias=bias).to(text_classifier.device)
    with torch.no_grad():
        head.weight.copy_(scale * text_classifier.float())
        if bias:
            head.bias.zero_()
    return head
