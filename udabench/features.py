"""Frozen image features of a whole image set, in one pass."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .backbone import ClipBackbone
from .context import RunContext
from .data import ImageList


def extract_features(backbone: ClipBackbone, images: ImageList, ctx: RunContext,
                     desc: str = "features") -> tuple[torch.Tensor, np.ndarray]:
    """L2-normalised image embeddings (N, D) on the CPU, float32, with their labels.

    Eval preprocessing, no gradients, the run's precision; counted in the run's
    adaptation throughput.
    """
    backbone.model.eval()
    loader = ctx.loader(images.dataset(backbone.preprocess), batch_size=ctx.eval_batch_size)
    out = []
    with torch.inference_mode(), ctx.autocast():
        for x, _ in ctx.progress(ctx.meter.iterate(loader), desc=desc, total=len(loader)):
            out.append(F.normalize(backbone.encode_image(ctx.to_device(x)).float(), dim=-1).cpu())
    feats = torch.cat(out) if out else torch.zeros(0, backbone.embed_dim)
    return feats, images.labels
