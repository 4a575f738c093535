"""A classifier's logits on an image set: the one way the protocol runs a classifier, for the
evaluation and for model selection alike."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..contract.errors import DataError, PluginError
from ..data.images import ImageList
from ..model.backbone import ClipBackbone
from .context import RunContext
from .measure import ThroughputMeter, timed


@dataclass(frozen=True)
class ClassSubset:
    """The classifier outputs (labels of the dataset's full class list) a target domain is scored
    on: the classifier predicts among these only, as CoOp and Tip-Adapter score ImageNet-A and -R."""

    labels: tuple[int, ...]
    num_classes: int  # the classifier's output width (the dataset's class count)

    def relabel(self, images: ImageList) -> ImageList:
        """``images`` with labels made positions in the subset (all must be in it)."""
        position = np.full(self.num_classes, -1, np.int64)
        position[list(self.labels)] = np.arange(len(self.labels))
        labels = position[images.labels]
        if (labels < 0).any():
            bad = int(images.labels[np.flatnonzero(labels < 0)[0]])
            raise DataError(f"an image has label {bad}, which is not among the {len(self.labels)} classes "
                            f"this domain declares (Dataset.domain_classes)")
        return ImageList(images.source, labels, len(self.labels))


def predict(classifier: Callable, images: ImageList, backbone: ClipBackbone, ctx: RunContext,
            meter: ThroughputMeter) -> np.ndarray:
    """Argmax predictions of ``classifier`` on ``images`` (eval preprocessing, no gradients)."""
    return logits_of(classifier, images, backbone, ctx, meter).argmax(1).numpy()


def logits_of(classifier: Callable, images: ImageList, backbone: ClipBackbone, ctx: RunContext,
              meter: ThroughputMeter, desc: str = "evaluate", keep: ClassSubset | None = None) -> "torch.Tensor":
    """The logits (N, C) of ``classifier`` on ``images``, float32 on the CPU (eval preprocessing,
    no gradients, the classifier in eval mode). ``keep``: only those outputs, in its order (the
    classifier returns ``keep.num_classes``; ``images`` is labeled in the subset)."""
    if keep is not None:
        full = ImageList(images.source, np.asarray(keep.labels, np.int64)[images.labels], keep.num_classes)
        return logits_of(classifier, full, backbone, ctx, meter, desc)[:, list(keep.labels)]
    import torch

    if isinstance(classifier, torch.nn.Module):
        classifier.eval()
    if scores_on_features(classifier, backbone):
        return _logits_from_features(classifier, images, backbone, ctx, meter, desc)
    loader = ctx.loader(images.dataset(backbone.preprocess), batch_size=ctx.eval_batch_size)
    out = []
    with torch.inference_mode(), ctx.autocast(), timed(meter):
        for x, _ in ctx.progress(meter.iterate(loader), desc=desc, total=len(loader)):
            logits = classifier(ctx.to_device(x))
            _check_logits(logits, images.num_classes)
            out.append(logits.float().cpu())
    return torch.cat(out) if out else torch.zeros(0, images.num_classes)


def scores_on_features(classifier: Callable, backbone: ClipBackbone) -> bool:
    """Whether ``classifier`` may be scored on the loaded backbone's image features (from the
    feature cache when there is one): a ``FeatureHead`` that keeps its ``forward`` and
    ``features``, over an image tower that is the loaded one, unchanged (``same_tower``)."""
    from ..model.backbone import same_tower
    from ..model.classifiers import FeatureHead

    if not isinstance(classifier, FeatureHead):
        return False
    kind = type(classifier)
    if kind.forward is not FeatureHead.forward or kind.features is not FeatureHead.features:
        return False
    frozen = classifier.frozen_backbone
    if frozen is not None:  # a copy of the loaded weights, unchanged (never built counts), or them
        return frozen.is_copy_of(backbone) and frozen.is_pristine("visual")
    return same_tower(classifier.model, backbone.model, "visual")


def _logits_from_features(classifier, images: ImageList, backbone: ClipBackbone, ctx: RunContext,
                          meter: ThroughputMeter, desc: str) -> "torch.Tensor":
    """``logits_of`` for a FeatureHead on the frozen tower: embed once (or read the cache), then
    the head, batch by batch as ``forward`` would see them: the same logits, bit for bit."""
    import torch

    from ..model.features import extract_features

    encoding = ThroughputMeter(ctx.device)
    cache = backbone.feature_cache
    hits = cache.hits if cache is not None else 0
    with timed(meter):
        feats, _ = extract_features(backbone, images, ctx, desc=desc, meter=encoding)
        meter.from_cache = cache is not None and cache.hits > hits
        meter.data_wait_s += encoding.data_wait_s
        out = []
        with torch.inference_mode():
            for start in range(0, len(feats), ctx.eval_batch_size):
                f = ctx.to_device(feats[start:start + ctx.eval_batch_size])
                logits = classifier.logits_from_features(f)
                _check_logits(logits, images.num_classes)
                meter.add(len(f))
                out.append(logits.float().cpu())
    return torch.cat(out) if out else torch.zeros(0, images.num_classes)


def _check_logits(logits, num_classes: int) -> None:
    if logits.ndim != 2 or logits.shape[1] != num_classes:
        raise PluginError(f"the classifier returned logits of shape {tuple(logits.shape)}; "
                          f"expected (batch, {num_classes})")
