"""What the harness costs: its evaluation loop against a bare loop over the same DataLoader,
and the CLI's start-up against a bare Python start-up. Ratios measured in one run."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from udabench import FeatureClassifier, RunContext, load_backbone, text_head
from udabench.protocol.measure import ThroughputMeter
from udabench.protocol.task import predict
from udabench_plugins.datasets.digits import Digits

ROUNDS = 5


def test_evaluation_overhead(benchmark):
    backbone = load_backbone("toyclip")
    images = Digits().load("handwritten", "all")
    ctx = RunContext(device="cpu", seed=0, show_progress=False, eval_batch_size=256)
    ds = Digits()
    w = backbone.text_classifier(ds.class_prompt_names(), ds.templates)

    clf = FeatureClassifier(backbone, text_head(w))

    def bare():
        loader = ctx.loader(images.dataset(backbone.preprocess), batch_size=256)
        preds = []
        with torch.inference_mode():
            for x, _ in loader:
                f = F.normalize(backbone.model.encode_image(x), dim=-1)
                preds.append((100 * f @ w.T).argmax(1))
        return torch.cat(preds)

    def harness():
        return predict(clf, images, backbone, ctx, ThroughputMeter("cpu"))

    bare_s, ours_s = [], []
    for _ in range(ROUNDS):  # interleaved, so drift hits both alike
        t0 = time.perf_counter(); bare(); bare_s.append(time.perf_counter() - t0)  # noqa: E702
        t0 = time.perf_counter(); harness(); ours_s.append(time.perf_counter() - t0)  # noqa: E702
    benchmark.pedantic(harness, rounds=1, iterations=1)
    ratio = statistics.median(bare_s) / statistics.median(ours_s)
    benchmark.extra_info.update({"bare_s": statistics.median(bare_s), "udabench_s": statistics.median(ours_s),
                                 "throughput_ratio": round(ratio, 3), "images": len(images)})
    print(f"\nevaluation of {len(images)} images: bare {statistics.median(bare_s):.3f} s, "
          f"udabench {statistics.median(ours_s):.3f} s, throughput ratio {ratio:.3f} (target >= 0.95)")


def _wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, capture_output=True, check=True)
    return time.perf_counter() - t0


def test_cli_startup(benchmark):
    python = [sys.executable, "-c", "pass"]
    helps = [sys.executable, "-m", "udabench", "--help"]
    lists = [sys.executable, "-m", "udabench", "list"]
    base = statistics.median(_wall(python) for _ in range(ROUNDS))
    help_s = statistics.median(_wall(helps) for _ in range(ROUNDS))
    list_s = statistics.median(_wall(lists) for _ in range(ROUNDS))
    benchmark.pedantic(lambda: _wall(helps), rounds=1, iterations=1)
    benchmark.extra_info.update({"python_s": base, "help_s": help_s, "list_s": list_s})
    print(f"\nstart-up: python {base:.3f} s, udabench --help {help_s:.3f} s (target < 0.5), "
          f"udabench list {list_s:.3f} s (target < 2)")
