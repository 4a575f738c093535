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

    A backbone made with :meth:`deferred` builds its model (and imports open_clip) at the first
    use of ``model``, ``preprocess`` or ``tokenizer``. Until then it answers what the feature
    cache asks (the weights' digests, the embedding size, the preprocessing's identity) from the
    facts a previous build recorded in that cache (:meth:`FeatureCache.backbone_facts`), so a run
    whose features and text classifiers are all cached never builds the model.
    """

    def __init__(self, model, preprocess: Callable, tokenizer: Callable, spec: str, weights_id: str):
        self._model = model
        self._preprocess = preprocess
        self._tokenizer = tokenizer
        self._build: Callable[[], tuple] | None = None  # set by ``deferred`` until the model is built
        self._facts_id: dict | None = None  # what, besides the weights' bytes, the recorded facts depend on
        self._device = "cpu"  # the device the model is built on (``deferred``)
        self.spec = spec
        #: Identifies the weights (a file hash, or the pretrained tag): keys caches and run tags.
        self.weights_id = weights_id
        self._text_cache: dict = {}
        #: The on-disk cache of frozen-encoder outputs (a ``FeatureCache``), or None: the runner
        #: sets it unless ``--no-cache``. It is used only while the weights are the loaded ones.
        self.feature_cache = None
        self._origin: ClipBackbone | None = None  # the loaded backbone this one was copied from

    @classmethod
    def deferred(cls, build: Callable[[], tuple], spec: str, weights_id: str, device: str = "cpu",
                 facts_id: dict | None = None) -> "ClipBackbone":
        """A backbone whose ``build()`` (returning ``(model, preprocess, tokenizer)``, the model in
        eval mode on ``device``) runs at the first use of any of the three.

        ``weights_id`` must name the weights' bytes (a digest of the file ``build`` reads, not a
        name that could point to other bytes tomorrow): with ``facts_id`` (whatever else the built
        model depends on, e.g. an architecture file's digest) it keys the facts recorded in the
        feature cache, which stand in for the model until it is built."""
        self = cls(None, None, None, spec, weights_id)
        self._build, self._device, self._facts_id = build, str(device), dict(facts_id or {})
        return self

    # -- the model, built at first use ---------------------------------------------------------
    @property
    def built(self) -> bool:
        """Whether the model exists (always, but for a :meth:`deferred` backbone not used yet)."""
        return self._build is None

    def _materialize(self) -> None:
        if self._build is None:
            return
        model, preprocess, tokenizer = self._build()
        self._model, self._build = model, None
        if self._preprocess is None:
            self._preprocess = preprocess
        if self._tokenizer is None:
            self._tokenizer = tokenizer
        if self._origin is None:
            self._record_facts()

    @property
    def model(self):
        self._materialize()
        return self._model

    @model.setter
    def model(self, value) -> None:
        self._model, self._build = value, None

    @property
    def preprocess(self) -> Callable:
        self._materialize()
        return self._preprocess

    @preprocess.setter
    def preprocess(self, value: Callable) -> None:
        self._preprocess = value

    @property
    def tokenizer(self) -> Callable:
        self._materialize()
        return self._tokenizer

    @tokenizer.setter
    def tokenizer(self, value: Callable) -> None:
        self._tokenizer = value

    def build_unless_known(self) -> "ClipBackbone":
        """Build the model now, unless an earlier build of the same bytes recorded its facts in the
        feature cache (so they are known to load): unusable weights then fail the command before
        any run starts, as an eager load does, and only a rerun skips the build."""
        if not self.built and self._facts() is None:
            self._materialize()
        return self

    def eval(self) -> "ClipBackbone":
        """The model in eval mode; an unbuilt model is left unbuilt (it is built in eval mode)."""
        if self.built:
            self._model.eval()
        return self

    # -- facts that stand in for an unbuilt model ----------------------------------------------
    def _facts_key(self) -> dict:
        from importlib.metadata import version

        return {"spec": self.spec, "weights": self.weights_id, "device": self._device, **(self._facts_id or {}),
                "torch": version("torch"), "open_clip": version("open_clip_torch"),
                "torchvision": version("torchvision")}

    def _facts(self) -> dict | None:
        """The recorded facts of the loaded weights, when this backbone is not built and a previous
        build recorded them; None otherwise (then the model is asked)."""
        ref = self._origin or self
        if self.built or ref.built or ref.feature_cache is None or ref._facts_id is None:
            return None
        if "_facts_read" not in ref.__dict__:
            ref._facts_read = ref.feature_cache.backbone_facts(ref._facts_key())
        return ref._facts_read

    def _record_facts(self) -> None:
        """After a deferred build with a feature cache: record what the next run needs to know
        without building the model. Never fails the run (the cache is disposable)."""
        if self._facts_id is None or self.feature_cache is None:
            return
        from .feature_cache import transform_key

        facts = {"model": type(self._model).__name__, "embed_dim": self.embed_dim,
                 "visual": self.weights_digest("visual"), "text": self.weights_digest("text"),
                 "preprocess": transform_key(self._preprocess)}
        self.feature_cache.save_backbone_facts(self._facts_key(), facts)

    def preprocess_key(self) -> str | None:
        """The eval preprocessing's identity for the feature cache (``transform_key``)."""
        from .feature_cache import transform_key

        facts = self._facts()
        return facts["preprocess"] if facts is not None else transform_key(self.preprocess)

    # -- geometry ------------------------------------------------------------------------------
    def _reference_model(self):
        """This copy's model when built, else the loaded one's (built if need be: one build, not
        two, for what a copy computes exactly as the loaded weights do until it is built)."""
        return self._model if self.built else (self._origin or self).model

    @property
    def device(self) -> "torch.device":
        ref = self._origin or self
        if not self.built and not ref.built:
            import torch

            return torch.device(ref._device)
        return next(self._reference_model().parameters()).device

    @property
    def image_size(self) -> int:
        size = self.model.visual.image_size
        return size[0] if isinstance(size, (tuple, list)) else int(size)

    @property
    def embed_dim(self) -> int:
        facts = self._facts()
        if facts is not None:
            return int(facts["embed_dim"])
        model = self._reference_model()
        return int(model.text_projection.shape[1]) if hasattr(model, "text_projection") else \
            int(model.visual.output_dim)

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
        """A deep copy of the weights (and an empty text cache) for one run. Of a backbone not
        built yet, the copy is made when the run first uses its model."""
        clone = copy.copy(self)
        clone._text_cache = {}
        clone._origin = self._origin or self
        if not self.built:
            clone._model = clone._preprocess = clone._tokenizer = None
            clone._build = lambda: _copy_parts(self)
            return clone
        clone.model, clone.preprocess, _ = _copy_parts(self)
        return clone

    def is_copy_of(self, loaded: "ClipBackbone") -> bool:
        """Whether this is ``loaded`` or a run's copy of it (:meth:`fresh_copy`)."""
        return self is loaded or self._origin is loaded

    def is_pristine(self, tower: str = "visual") -> bool:
        """Whether this copy's image tower (``"visual"``) or everything else (``"text"``) still
        holds the loaded weights and buffers, bit for bit: what makes a cached output valid.
        Compares against the backbone this one was copied from (a loaded backbone is its own
        reference: the protocol never hands it to a method; a copy whose model was never built
        was never changed)."""
        origin = self._origin
        if origin is None or origin is self or not self.built:
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

        facts = self._facts()
        if facts is not None:  # not built, so neither compiled nor channels-last (``prepare_model`` builds)
            digest, model, compiled, channels_last = facts[tower], facts["model"], False, False
        else:
            reference = self._reference_model()
            digest, model = self.weights_digest(tower), type(reference).__name__
            compiled, channels_last = is_compiled(reference), is_channels_last(reference)
        return {"spec": self.spec, "weights": self.weights_id, "tower": tower, "digest": digest,
                "model": model, "embed_dim": self.embed_dim, "device": torch.device(self.device).type,
                "torch": torch.__version__, "compiled": compiled, "channels_last": channels_last}

    def to(self, device) -> "ClipBackbone":
        self.model.to(device)
        self._text_cache = {}
        return self


def _copy_parts(backbone: ClipBackbone) -> tuple:
    """(model, preprocess, tokenizer) of a run's copy: deep copies of the weights (compiled where
    the original is) and of the preprocessing; the tokenizer holds no state and is shared."""
    model = copy.deepcopy(backbone.model)
    compile_like(backbone.model, model)
    return model, copy.deepcopy(backbone.preprocess), backbone.tokenizer


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
