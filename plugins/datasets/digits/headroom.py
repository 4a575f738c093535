"""Is ``digits`` an honest benchmark for the shipped toy CLIP? Measure it.

    python -m udabench_plugins.datasets.digits.headroom [--backbone toyclip] [--json out.json]

Per target domain, on its test split:

* ``zeroshot``  - the prompt-ensemble zero-shot classifier (what ``udabench run --method zeroshot`` does);
* ``oracle``    - a logistic regression on frozen features fitted on the target's *labeled* train
  split: a ceiling no label-free method is expected to reach;
* ``adabn``     - zero-shot after re-estimating the image tower's BatchNorm statistics on the
  target's unlabeled train images (Li et al., AdaBN): the simplest label-free adaptation;
* ``adabn_kmeans`` - AdaBN, then k-means on the target's train features started from the text
  classifier, and nearest-centroid prediction.

Zero-shot and the two label-free baselines do not depend on the source, so the average over the
six standard tasks equals the average over the three targets. Target labels are used here only to
score, and for the oracle (by definition).
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
import torch.nn.functional as F

from udabench import RunContext, extract_features

from . import Digits
from .domains import TARGET_DOMAINS


def adabn(backbone, images, ctx: RunContext):
    """A copy of the backbone whose BatchNorm statistics are those of ``images`` (cumulative average)."""
    bb = backbone.fresh_copy()
    bns = [m for m in bb.model.visual.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    bb.model.eval()
    for m in bns:
        m.train()
    loader = ctx.loader(images.dataset(bb.preprocess), batch_size=ctx.eval_batch_size)
    with torch.no_grad():
        for x, _ in loader:
            bb.model.encode_image(x)
    bb.model.eval()
    return bb


def kmeans_from(init: torch.Tensor, feats: torch.Tensor, iters: int = 20) -> torch.Tensor:
    """Spherical k-means on L2-normalised ``feats`` starting from the centroids ``init``."""
    centroids = init.clone()
    for _ in range(iters):
        assign = (feats @ centroids.T).argmax(1)
        for c in range(len(centroids)):
            members = feats[assign == c]
            if len(members):
                centroids[c] = F.normalize(members.mean(0), dim=-1)
    return centroids


def accuracy(feats: torch.Tensor, classifier: torch.Tensor, labels: np.ndarray) -> float:
    return 100.0 * float(((feats @ classifier.T).argmax(1).numpy() == labels).mean())


def measure(backbone, seed: int = 0) -> dict:
    from sklearn.linear_model import LogisticRegression

    ds = Digits()
    ctx = RunContext(device="cpu", seed=seed, show_progress=False)
    text = backbone.text_classifier(ds.class_prompt_names(), ds.templates).float()
    out = {}
    for target in TARGET_DOMAINS:
        train, test = ds.load(target, "train"), ds.load(target, "test")
        f_train, y_train = extract_features(backbone, train, ctx)
        f_test, y_test = extract_features(backbone, test, ctx)
        oracle = LogisticRegression(C=10.0, max_iter=3000).fit(f_train.numpy(), y_train)
        bn = adabn(backbone, train, ctx)
        g_train, _ = extract_features(bn, train, ctx)
        g_test, _ = extract_features(bn, test, ctx)
        out[target] = {
            "zeroshot": accuracy(f_test, text, y_test),
            "oracle": 100.0 * float((oracle.predict(f_test.numpy()) == y_test).mean()),
            "adabn": accuracy(g_test, text, y_test),
            "adabn_kmeans": accuracy(g_test, kmeans_from(text, g_train), y_test),
        }
    keys = next(iter(out.values())).keys()
    out["average"] = {k: float(np.mean([out[t][k] for t in TARGET_DOMAINS])) for k in keys}
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description="zero-shot, oracle and label-free baselines on digits")
    p.add_argument("--backbone", default="toyclip")
    p.add_argument("--json", default=None, help="also write the numbers to this file")
    args = p.parse_args(argv)
    from tabulate import tabulate

    from udabench import load_backbone

    backbone = load_backbone(args.backbone)
    result = measure(backbone)
    rows = [[name, *[f"{v:.1f}" for v in r.values()]] for name, r in result.items()]
    print(tabulate(rows, headers=["target", *next(iter(result.values())).keys()]))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
