"""What udabench's image loading costs: a folder dataset read through its plugin
(``ImageList.dataset`` + ``RunContext.loader``) against a bare ``torchvision.datasets.ImageFolder``
+ ``DataLoader`` over the same tree, with the same transform, batch size and workers.
Also: the cost per image of ``--skip-bad-images``' check (``ImageList.without_unreadable``)."""

from __future__ import annotations

import statistics
import time
import warnings

import numpy as np
from PIL import Image

from udabench import RunContext, load_backbone
from udabench.data.folders import CountMismatchWarning
from udabench_plugins.datasets.office31 import Office31

ROUNDS = 5
PER_CLASS = 20  # x 31 Office-31 classes = 620 images
SIZE = 64
BATCH = 64


def build_tree(root):
    """office31/amazon/images/<class>/frame_XXXX.jpg: 64x64 JPEGs, the layout the plugin reads."""
    rng = np.random.default_rng(0)
    folder = root / "office31" / "amazon" / "images"
    for cls in Office31.classes:
        (folder / cls).mkdir(parents=True)
        for i in range(PER_CLASS):
            pixels = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / cls / f"frame_{i + 1:04d}.jpg", quality=90)
    return folder


def load_amazon(root):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CountMismatchWarning)  # 620 images, not the benchmark's 2,817
        return Office31(root).load("amazon", "all")


def _images_per_s(loader) -> tuple[float, int]:
    t0 = time.perf_counter()
    n = sum(len(y) for _, y in loader)
    return time.perf_counter() - t0, n


def test_loader_throughput(benchmark, tmp_path):
    from torch.utils.data import DataLoader
    from torchvision.datasets import ImageFolder

    folder = build_tree(tmp_path)
    transform = load_backbone("toyclip").preprocess
    images = load_amazon(tmp_path)
    assert len(images) == 31 * PER_CLASS

    results, lines = {}, []
    for workers in (0, 2):
        ctx = RunContext(device="cpu", seed=0, show_progress=False, workers=workers)

        def ours():
            return _images_per_s(ctx.loader(images.dataset(transform), batch_size=BATCH))

        def bare():
            return _images_per_s(DataLoader(ImageFolder(str(folder), transform=transform), batch_size=BATCH,
                                            num_workers=workers))

        bare_s, ours_s = [], []
        for _ in range(ROUNDS):  # interleaved, so drift hits both alike
            s, n = bare(); bare_s.append(s)  # noqa: E702
            assert n == len(images)
            s, n = ours(); ours_s.append(s)  # noqa: E702
            assert n == len(images)
        b, o = statistics.median(bare_s), statistics.median(ours_s)
        ratio = b / o
        results[f"workers{workers}"] = {"bare_images_per_s": round(len(images) / b, 1),
                                        "udabench_images_per_s": round(len(images) / o, 1),
                                        "throughput_ratio": round(ratio, 3)}
        lines.append(f"workers={workers}: ImageFolder {len(images) / b:,.0f} img/s, udabench "
                     f"{len(images) / o:,.0f} img/s, throughput ratio {ratio:.3f}")

    check_s = []
    for _ in range(ROUNDS):  # a fresh plugin each time: the check's result is cached on the ImageList
        fresh = load_amazon(tmp_path)
        t0 = time.perf_counter()
        kept, bad = fresh.without_unreadable()
        check_s.append(time.perf_counter() - t0)
        assert not bad
    check_ms = 1e3 * statistics.median(check_s) / len(images)

    ctx0 = RunContext(device="cpu", seed=0, show_progress=False, workers=0)
    benchmark.pedantic(lambda: _images_per_s(ctx0.loader(images.dataset(transform), batch_size=BATCH)),
                       rounds=1, iterations=1)
    benchmark.extra_info.update({**results, "images": len(images), "image_size": SIZE, "batch_size": BATCH,
                                 "skip_bad_images_check_ms_per_image": round(check_ms, 4)})
    print(f"\nloading {len(images)} {SIZE}x{SIZE} JPEGs, batch {BATCH}, median of {ROUNDS} interleaved rounds:")
    print("\n".join(lines))
    print(f"--skip-bad-images check: {check_ms:.3f} ms per image")
