"""The image-text backbone every method works with: an open_clip model, its
preprocessing and tokenizer, and the text side's prompt ensembling."""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Callable, Sequence

from .fast_paths import compile_like, is_channels_last, is_compiled

if TYPE_CHECKING:  # pragma: no cover
    import torch

#: CLIP's zero-shot logit scale (CLIP_benchmark and DAPL use a fixed 100, not the learned value).
LOGIT_SCALE = 100.0
#: Prompts per forward pass of the text tower when building a text classifier (ImageNet's 1,000 classes
#: encoded one class at a time cost a thousand small passes).
TEXT_BATCH = 256


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
        #: The on-disk cache of frozen-encoder outputs (a ``FeatureCache``), or None: the runner
        #: sets it unless ``--no-cache``. It is used only while the weights are the loaded ones.
        self.feature_cache = None
        self._origin: ClipBackbone | None = None  # the loaded backbone this one was copied from

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
        if cache and key in self._text_cache:
            return self._text_cache[key]

        def compute() -> dict:
            with torch.no_grad():  # every prompt embedded (in batches across classes), then per class
                prompts = [t.format(name) for name in class_names for t in templates]
                emb = torch.cat([self.encode_text(prompts[i:i + TEXT_BATCH], normalize=True).float()
                                 for i in range(0, len(prompts), TEXT_BATCH)])
                per_class = emb.view(len(class_names), len(templates), -1).mean(1)
                return {"classifier": F.normalize(per_class, dim=-1)}

        if cache and self.feature_cache is not None and self.is_pristine("text"):
            parts = {"kind": "text-classifier", **self.cache_key("text"), "names": list(class_names),
                     "templates": list(templates)}
            expect = {"classifier": ((len(class_names), self.embed_dim), torch.float32)}
            weights = self.feature_cache.fetch(parts, compute, expect)["classifier"].to(self.device)
        else:
            weights = compute()["classifier"]
        self._text_cache[key] = weights
        return weights

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
        compile_like(self.model, clone.model)
        clone.preprocess = copy.deepcopy(self.preprocess)
        clone._text_cache = {}
        clone._origin = self._origin or self
        return clone

    def is_pristine(self, tower: str = "visual") -> bool:
        """Whether this copy's image tower (``"visual"``) or everything else (``"text"``) still
        holds the loaded weights and buffers, bit for bit: what makes a cached output valid.
        Compares against the backbone this one was copied from (a loaded backbone is its own
        reference: the protocol never hands it to a method)."""
        origin = self._origin
        if origin is None or origin is self:
            return True
        return same_tower(self.model, origin.model, tower)

    def weights_digest(self, tower: str = "visual") -> str:
        """A digest of the bytes of one tower's loaded weights and buffers (``"visual"`` or
        ``"text"``), computed once per loaded backbone (a copy answers with its origin's: the
        feature cache asks only while ``is_pristine``)."""
        import hashlib

        import torch

        ref = self._origin or self
        digests = ref.__dict__.setdefault("_digests", {})
        if tower not in digests:
            h = hashlib.blake2b(digest_size=16)
            for name, t in sorted(_tower_state(ref.model, tower).items()):
                h.update(f"{name}|{t.dtype}|{tuple(t.shape)}".encode())
                h.update(t.detach().reshape(-1).view(torch.uint8).cpu().numpy().data)
            digests[tower] = h.hexdigest()
        return digests[tower]

    def cache_key(self, tower: str) -> dict:
        """What identifies one tower's outputs, for the feature cache: its weights (their bytes,
        not only their name: a checkpoint rewritten in place or an updated hub repository is
        another key), the architecture, and the runtime (device type, torch version, compiled,
        memory format)."""
        import torch

        return {"spec": self.spec, "weights": self.weights_id, "tower": tower,
                "digest": self.weights_digest(tower), "model": type(self.model).__name__,
                "embed_dim": self.embed_dim, "device": torch.device(self.device).type,
                "torch": torch.__version__, "compiled": is_compiled(self.model),
                "channels_last": is_channels_last(self.model)}

    def to(self, device) -> "ClipBackbone":
        self.model.to(device)
        self._text_cache = {}
        return self


def same_tower(model, reference, tower: str = "visual") -> bool:
    """Whether ``model``'s image tower (``"visual"``) or the rest (``"text"``) computes what
    ``reference``'s does: the same parameters and buffers, bit for bit, on the same device,
    and no forward hooks or patched ``forward`` on any of its modules."""
    import torch

    if model is reference:
        return True
    mine, theirs = _tower_state(model, tower), _tower_state(reference, tower)
    if mine.keys() != theirs.keys():
        return False
    for k, a in mine.items():
        b = theirs[k]
        if a.device != b.device or a.shape != b.shape or a.dtype != b.dtype or not torch.equal(a, b):
            return False
    modules = model.visual.modules() if tower == "visual" else model.modules()
    encode = "encode_image" if tower == "visual" else "encode_text"
    return encode not in vars(model) and not any(
        m._forward_hooks or m._forward_pre_hooks or "forward" in vars(m) for m in modules)


def _tower_state(model, tower: str) -> dict:
    """The parameters and buffers of the image tower, or of everything but it."""
    state = {**dict(model.named_parameters()), **dict(model.named_buffers())}
    visual = {k: v for k, v in state.items() if k.startswith("visual.")}
    return visual if tower == "visual" else {k: v for k, v in state.items() if k not in visual}
