"""The image-text backbone every method works with: an open_clip model, its
preprocessing and tokenizer, and the text side's prompt ensembling."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Callable, ClassVar, Sequence

from .errors import PluginError

if TYPE_CHECKING:  # pragma: no cover
    import torch

#: CLIP's zero-shot logit scale (CLIP_benchmark and DAPL use a fixed 100, not the learned value).
LOGIT_SCALE = 100.0


class ClipBackbone:
    """An open_clip model with its eval preprocessing and tokenizer.

    Methods that fine-tune weights get their own copy per run (the protocol
    calls :meth:`fresh_copy`), so one run never leaks into the next.
    """

    def __init__(self, model, preprocess: Callable, tokenizer: Callable, spec: str, weights_id: str):
        self.model = model
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.spec = spec
        #: Identifies the weights (a file hash, or the pretrained tag): keys caches and run tags.
        self.weights_id = weights_id
        self._text_cache: dict = {}

    # -- geometry ------------------------------------------------------------------------------
    @property
    def device(self) -> "torch.device":
        return next(self.model.parameters()).device

    @property
    def image_size(self) -> int:
        size = self.model.visual.image_size
        return size[0] if isinstance(size, (tuple, list)) else int(size)

    @property
    def embed_dim(self) -> int:
        return int(self.model.text_projection.shape[1]) if hasattr(self.model, "text_projection") else \
            int(self.model.visual.output_dim)

    @property
    def normalization(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        cfg = getattr(self.model.visual, "preprocess_cfg", {}) or {}
        from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

        return tuple(cfg.get("mean", OPENAI_DATASET_MEAN)), tuple(cfg.get("std", OPENAI_DATASET_STD))

    # -- encoders ------------------------------------------------------------------------------
    def encode_image(self, images: "torch.Tensor", normalize: bool = True) -> "torch.Tensor":
        return self.model.encode_image(images, normalize=normalize)

    def tokenize(self, texts: Sequence[str]) -> "torch.Tensor":
        return self.tokenizer(list(texts)).to(self.device)

    def encode_text(self, texts: Sequence[str], normalize: bool = True) -> "torch.Tensor":
        return self.model.encode_text(self.tokenize(texts), normalize=normalize)

    def text_classifier(self, class_names: Sequence[str], templates: Sequence[str],
                        cache: bool = True) -> "torch.Tensor":
        """The prompt-ensemble classifier (C, D): per class, embed every template, L2-normalise
        each, average, re-normalise (CLIP's recipe). Computed without gradients and cached
        for this copy of the weights; ``cache=False`` recomputes it, for a method that is
        training the text encoder."""
        import torch
        import torch.nn.functional as F

        key = (tuple(class_names), tuple(templates))
        if not cache or key not in self._text_cache:
            with torch.no_grad():
                rows = []
                for name in class_names:
                    emb = self.encode_text([t.format(name) for t in templates], normalize=True)
                    rows.append(F.normalize(emb.float().mean(0), dim=-1))
                self._text_cache[key] = torch.stack(rows)
        return self._text_cache[key]

    # -- transforms ----------------------------------------------------------------------------
    def train_transform(self, scale: tuple[float, float] = (0.08, 1.0), hflip: bool = True) -> Callable:
        """DAPL's training augmentation: random-resized-crop (bicubic) + optional flip + CLIP normalisation."""
        from torchvision import transforms as T

        mean, std = self.normalization
        steps = [T.RandomResizedCrop(self.image_size, scale=tuple(scale),
                                     interpolation=T.InterpolationMode.BICUBIC)]
        if hflip:
            steps.append(T.RandomHorizontalFlip())
        steps += [T.ToTensor(), T.Normalize(mean, std)]  # ImageSource.load already gives RGB
        return T.Compose(steps)

    # -- life cycle ----------------------------------------------------------------------------
    def fresh_copy(self) -> "ClipBackbone":
        """A deep copy of the weights (and an empty text cache) for one run."""
        clone = copy.copy(self)
        clone.model = copy.deepcopy(self.model)
        clone.preprocess = copy.deepcopy(self.preprocess)
        clone._text_cache = {}
        return clone

    def to(self, device) -> "ClipBackbone":
        self.model.to(device)
        self._text_cache = {}
        return self


class Backbone:
    """A backbone plugin: turns a spec string into a loaded :class:`ClipBackbone`."""

    name: ClassVar[str]
    summary: ClassVar[str] = ""

    @classmethod
    def handles(cls, spec: str) -> bool:
        """Whether this plugin can load ``spec`` (by default: only its own name)."""
        return spec == cls.name

    def load(self, spec: str, device: str = "cpu") -> ClipBackbone:
        raise NotImplementedError

    @classmethod
    def check_contract(cls, where: str) -> None:
        if cls.load is Backbone.load:
            raise PluginError(f"{where} must implement load(spec, device)")
