"""ReCLIP's label propagation at N = 1k, 10k, 50k synthetic features (C = 345, d = 512):
time, peak memory and how both grow with N (the exponent of a log-log fit)."""

from __future__ import annotations

import time

import numpy as np
import torch
import torch.nn.functional as F

from udabench.protocol.measure import PeakMemory
from udabench_plugins.methods.reclip_graph import label_propagation, text_span_projection

SIZES = (1_000, 10_000, 50_000)
C, D = 345, 512


def clustered_features(n: int, anchors: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Features scattered around the class anchors, like CLIP features around their text embeddings."""
    labels = torch.randint(0, C, (n,), generator=gen)
    return F.normalize(anchors[labels] + 0.8 * torch.randn(n, D, generator=gen) / D ** 0.5, dim=-1)


def test_label_propagation_scaling(benchmark):
    gen = torch.Generator().manual_seed(0)
    anchors = F.normalize(torch.randn(C, D, generator=gen), dim=-1)
    projection = text_span_projection(anchors, 768)  # the code's default cut; it uses 250 only when C > 500
    rows = []

    def run_all():
        rows.clear()
        for n in SIZES:
            feats = clustered_features(n, anchors, gen)
            with PeakMemory("cpu") as mem:
                t0 = time.perf_counter()
                label_propagation(anchors, feats, projection, k=20, alpha=0.99, maxiter=20)
                rows.append((n, time.perf_counter() - t0, mem.mb))

    benchmark.pedantic(run_all, rounds=1, iterations=1)
    n, secs, mb = (np.array(c, dtype=float) for c in zip(*rows))
    time_exp = float(np.polyfit(np.log(n), np.log(secs), 1)[0])
    mem_growth = mb - mb[0]
    benchmark.extra_info.update({f"n{int(a)}": {"seconds": round(b, 2), "peak_rss_mb": round(c, 1)}
                                 for a, b, c in rows})
    benchmark.extra_info["time_exponent"] = round(time_exp, 2)
    print("\nlabel propagation, C=345, d=512, k=20")
    for a, b, c in rows:
        print(f"  N={int(a):>6}: {b:7.2f} s   peak RSS {c:8.1f} MB")
    print(f"  time ~ N^{time_exp:.2f}; peak RSS grew by {mem_growth[-1]:.0f} MB from 1k to 50k")
