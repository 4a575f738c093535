"""Frozen image features of a whole image set, in one pass, cached on disk when they can be.

``image_embeddings`` is the one definition of "the CLIP image feature" in udabench: the
classifiers built on it (``FeatureHead``) and the feature cache both use it, so a classifier
scored on cached features gives exactly the logits it gives on pixels.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .backbone import ClipBackbone
from .feature_cache import image_fingerprint, transform_key

# ``ImageList`` (udabench.data), ``RunContext`` and ``ThroughputMeter`` (udabench.protocol) are
# named in annotations only: the model layer imports nothing above the contract.


def image_embeddings(model, images: torch.Tensor) -> torch.Tensor:
    """L2-normalised image embeddings in float32 (normalised after the cast, also under autocast)."""
    return F.normalize(model.encode_image(images).float(), dim=-1)


def extract_features(backbone: ClipBackbone, images: ImageList, ctx: RunContext, desc: str = "features",
                     meter: ThroughputMeter | None = None) -> tuple[torch.Tensor, np.ndarray]:
    """L2-normalised image embeddings (N, D) on the CPU, float32, with their labels.

    Eval preprocessing, no gradients, the run's precision; counted in ``meter`` (the run's
    adaptation meter by default). Read from the feature cache when the backbone has one and
    its image tower is the loaded weights, unchanged.
    """
    feats = _features(backbone, images, ctx, None, 1, None, desc, meter or ctx.meter, True)
    return feats, images.labels


def augmented_features(backbone: ClipBackbone, images: ImageList, ctx: RunContext, transform, views: int,
                       seed: int, desc: str = "augmented features",
                       normalize: bool = True) -> tuple[torch.Tensor, np.ndarray]:
    """``views`` passes of a random ``transform`` over ``images``: (views·N, D) embeddings, view by
    view, with their labels. The augmentations are drawn from ``seed`` alone (the run's random
    state is neither read nor advanced), so the same call gives the same features, cached or not.
    ``normalize=False``: the encoder's raw outputs (float32), for a method that averages views
    before normalising (Tip-Adapter's cache keys)."""
    feats = _features(backbone, images, ctx, transform, views, seed, desc, ctx.meter, normalize)
    return feats, np.tile(images.labels, views)


def _features(backbone, images, ctx, transform, views, seed, desc, meter, normalize) -> torch.Tensor:
    """``transform`` None: the backbone's eval preprocessing (named without building the model when
    the backbone is deferred and its facts are recorded)."""
    def compute() -> dict[str, torch.Tensor]:
        return {"features": _compute(backbone, images, ctx, backbone.preprocess if transform is None else transform,
                                     views, seed, desc, meter, normalize)}

    cache = getattr(backbone, "feature_cache", None)
    if cache is None:
        return compute()["features"]
    transform_id = backbone.preprocess_key() if transform is None else transform_key(transform)
    if transform_id is None or not backbone.is_pristine("visual"):
        return compute()["features"]
    # With workers, which worker (so which random stream) augments an image depends on the batch size.
    augmented = {"workers": ctx.workers, "batch_size": ctx.eval_batch_size} if seed is not None else {}
    parts = {"kind": "image-features", **backbone.cache_key("visual"), "images": image_fingerprint(images.source),
             "n": len(images), "transform": transform_id, "views": views, "seed": seed, **augmented,
             "precision": ctx.precision, **({} if normalize else {"normalized": False})}
    expect = {"features": ((views * len(images), backbone.embed_dim), torch.float32)}
    return cache.fetch(parts, compute, expect)["features"]


def _compute(backbone, images, ctx, transform, views, seed, desc, meter, normalize=True) -> torch.Tensor:
    """Run the encoder; under a forked random state, so that a cache hit (which runs nothing)
    and a miss leave the run's random numbers in the same place."""
    devices = [backbone.device] if backbone.device.type == "cuda" else []
    out = []
    with torch.random.fork_rng(devices=devices):
        if seed is not None:
            torch.manual_seed(seed)
        backbone.model.eval()
        for _ in range(views):
            loader = ctx.loader(images.dataset(transform), batch_size=ctx.eval_batch_size)
            with torch.inference_mode(), ctx.autocast():
                for x, _ in ctx.progress(meter.iterate(loader), desc=desc, total=len(loader)):
                    x = ctx.to_device(x)
                    f = image_embeddings(backbone.model, x) if normalize else backbone.model.encode_image(x).float()
                    out.append(f.cpu())
    # A normal tensor, not an inference tensor: methods train on these features.
    return torch.cat(out).clone() if out else torch.zeros(0, backbone.embed_dim)
