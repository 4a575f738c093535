"""What the harness costs in training: ``source-ft``'s adaptation loop, as ``udabench run`` drives
it (RunContext loader, autocast, ``ctx.step``, metrics buffered into a real MLflow run every
step, the throughput meter), against a bare PyTorch loop doing the same forward, backward and
optimiser step on the same model, data, augmentation, batch size and schedule. Interleaved
rounds, ratio of medians, measured in one run."""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F

from udabench import FeatureClassifier, RunContext, load_backbone, text_head
from udabench.protocol.task import build_adapt_data
from udabench.contract.registry import get_registry
from udabench_plugins.datasets.digits import Digits

ROUNDS = 5
EPOCHS = 2


def test_training_step_overhead(benchmark, tmp_path):
    from udabench.tracking.tracker import Tracker

    backbone = load_backbone("toyclip")
    method_cls = get_registry().method("source-ft")
    config = method_cls.resolve_config(Digits, set_overrides={"epochs": EPOCHS})
    dataset = Digits()
    task = dataset.task("printed2handwritten")
    data, _ = build_adapt_data(method_cls, config, dataset, task, seed=0)
    tracker = Tracker(f"sqlite:///{tmp_path / 'mlflow.db'}")

    def harness():
        with tracker.start_run("bench", "source-ft", {}) as run:
            ctx = RunContext(device="cpu", seed=0, show_progress=False, log_metrics=run.log_metrics)
            torch.manual_seed(0)
            copy = backbone.fresh_copy()
            t0 = time.perf_counter()
            method_cls(config).adapt(ctx, copy, data)
            return time.perf_counter() - t0, ctx.meter.images

    def bare():
        torch.manual_seed(0)
        b = backbone.fresh_copy()
        t0 = time.perf_counter()
        text = b.text_classifier(data.prompt_names, data.templates)
        clf = FeatureClassifier(b, text_head(text, bias=True))
        b.model.requires_grad_(False).visual.requires_grad_(True)
        train_set = data.source.dataset(b.train_transform((config.aug_scale_min, 1.0), data.hflip_ok))
        loader = torch.utils.data.DataLoader(train_set, batch_size=config.batch_size, shuffle=True, drop_last=True)
        opt = torch.optim.AdamW([{"params": list(b.model.visual.parameters()), "lr": config.lr_encoder},
                                 {"params": clf.head.parameters(), "lr": config.lr_head}],
                                weight_decay=config.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=EPOCHS * len(loader))
        clf.train()
        images = 0
        for _ in range(EPOCHS):
            for x, y in loader:
                loss = F.cross_entropy(clf(x), y)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
                images += len(x)
        return time.perf_counter() - t0, images

    bare_s, ours_s = [], []
    for _ in range(ROUNDS):  # interleaved, so drift hits both alike
        s, n_bare = bare()
        bare_s.append(s)
        s, n_ours = harness()
        ours_s.append(s)
    assert n_bare == n_ours, (n_bare, n_ours)  # the same work
    benchmark.pedantic(harness, rounds=1, iterations=1)
    b, o = statistics.median(bare_s), statistics.median(ours_s)
    benchmark.extra_info.update({"bare_s": b, "udabench_s": o, "throughput_ratio": round(b / o, 3),
                                 "images": n_ours, "bare_images_per_s": n_bare / b, "udabench_images_per_s": n_ours / o})
    print(f"\nsource-ft, {EPOCHS} epochs, {n_ours} training images: bare {b:.2f} s ({n_bare / b:.0f} img/s), "
          f"udabench {o:.2f} s ({n_ours / o:.0f} img/s), throughput ratio {b / o:.3f} (target >= 0.95)")
