"""Classifiers built on a CLIP image encoder: what a method returns to the protocol."""

from __future__ import annotations

import torch
from torch import nn

from .backbone import LOGIT_SCALE, ClipBackbone
from .features import image_embeddings


class FeatureHead(nn.Module):
    """A classifier whose logits depend on an image only through its CLIP image embedding
    ``normalize(model.encode_image(x))``: logits = logits_from_features(features(x)).

    Subclasses implement :meth:`logits_from_features`. When the image tower is still the
    loaded weights (nothing trained it), the protocol evaluates such a classifier on the
    evaluation set's cached features instead of re-encoding the pixels; the logits are the
    same either way. Override ``forward`` or ``features`` and it no longer does.

    ``frozen_encoder=True`` is for a head over an encoder nothing trains (zero-shot, a linear
    probe): the encoder is then not a submodule (not in ``parameters()`` or ``state_dict()``),
    and a backbone not built yet (``ClipBackbone.deferred``) is built only if pixels must be
    encoded, so a run whose features are all cached never loads the weights. A method that
    trains the encoder through this head keeps the default, which registers it.
    """

    def __init__(self, backbone: ClipBackbone, frozen_encoder: bool = False):
        super().__init__()
        #: The backbone whose image tower a frozen-encoder head reads (None: ``model`` is a submodule).
        self.frozen_backbone = backbone if frozen_encoder else None
        if not frozen_encoder:
            self.model = backbone.model

    def __getattr__(self, name: str):
        if name == "model" and self.__dict__.get("frozen_backbone") is not None:
            return self.__dict__["frozen_backbone"].model
        return super().__getattr__(name)

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return image_embeddings(self.model, images)

    def logits_from_features(self, features: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        f = self.features(images)
        # The head runs in fp32 even under autocast: bf16 logits near 25 step by 0.125, which
        # turns near-ties into ties that argmax settles by class index.
        with torch.autocast(device_type=f.device.type, enabled=False):
            return self.logits_from_features(f)


class FeatureClassifier(FeatureHead):
    """logits = head( normalize( image_encoder(x) ) ).

    Zero-shot CLIP is the case head.weight = 100 * text classifier, no bias;
    a linear probe and CLIP-FT use the same form with a trained head.
    """

    def __init__(self, backbone: ClipBackbone, head: nn.Linear, frozen_encoder: bool = False):
        super().__init__(backbone, frozen_encoder)
        self.head = head

    def logits_from_features(self, features: torch.Tensor) -> torch.Tensor:
        return self.head(features)


def text_head(text_classifier: torch.Tensor, scale: float = LOGIT_SCALE, bias: bool = False) -> nn.Linear:
    """A linear head initialised to ``scale`` x the (C, D) text classifier: zero-shot CLIP as a layer."""
    c, d = text_classifier.shape
    head = nn.Linear(d, c, bias=bias).to(text_classifier.device)
    with torch.no_grad():
        head.weight.copy_(scale * text_classifier.float())
        if bias:
            head.bias.zero_()
    return head
