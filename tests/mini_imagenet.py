"""Miniatures of ImageNet and its four shifts as CoOp's DATASETS.md lays them out: the real folder names
(WordNet-id class folders, ImageNet-V2's numbered ones), the real file naming schemes, one tiny image
per class and split. ``imagenet`` writes all five sets (4,400 images); each shift's builder writes
only its own set."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

from udabench_plugins.datasets.fewshot.imagenet import SHELVES, class_table

from miniatures import seed_of, write_image

#: (domain, split) -> the file name of image k of the class with WordNet id ``wnid`` and ImageNet label ``label``.
FILE_NAMES: dict[tuple[str, str], Callable[[str, int, int], str]] = {
    ("imagenet", "train"): lambda wnid, label, k: f"{wnid}_{1000 + k}.JPEG",
    ("imagenet", "test"): lambda wnid, label, k: f"ILSVRC2012_val_{50 * label + k + 1:08d}.JPEG",
    ("imagenet-v2", "test"): lambda wnid, label, k: hashlib.sha1(f"{label}-{k}".encode()).hexdigest() + ".jpeg",
    ("imagenet-sketch", "test"): lambda wnid, label, k: f"sketch_{k}.JPEG",
    ("imagenet-a", "test"): lambda wnid, label, k: f"0.{label:06d}_{wnid} _ {wnid}_0.{k}5.jpg",
    ("imagenet-r", "test"): lambda wnid, label, k: f"art_{k}.jpg",
}


def write_set(root: Path, domain: str, split: str, per_class: int = 1) -> Path:
    """The images of one (domain, split) under ``root``, where the plugins look for them; returns
    the folder of its class folders."""
    shelf = SHELVES[(domain, split)]
    table = class_table()
    label_of = {w: i for i, w in enumerate(table.wnids)}
    folder = root / shelf.folder / shelf.image_dir
    for name in shelf.class_folders():
        wnid = shelf.wnid_of(name)
        for k in range(per_class):
            path = folder / name / FILE_NAMES[(domain, split)](wnid, label_of[wnid], k)
            write_image(path, seed_of(domain, split, wnid, k))
    if shelf.wnids is not None:  # the archives of ImageNet-A and -R have a README beside the class folders
        (folder / "README.txt").write_text("The class folders are WordNet ids.\n")
    return folder


def imagenet(root: Path) -> Path:
    """All five sets: ImageNet's train and val folders and the four shifts."""
    for domain, split in SHELVES:
        write_set(root, domain, split)
    return root


def shift(domain: str) -> Callable[[Path], Path]:
    def build(root: Path) -> Path:
        write_set(root, domain, "test")
        return root

    build.__name__ = domain.replace("-", "_")
    return build


BUILDERS = {"imagenet": imagenet, **{d: shift(d) for d in ("imagenet-v2", "imagenet-sketch", "imagenet-a",
                                                            "imagenet-r")}}
