"""Miniatures of the few-shot suites' on-disk formats, written by the tests: the real folder names,
class names and split-file structure, a few tiny images per class."""

from __future__ import annotations

import json
import zlib
from pathlib import Path
from typing import Callable

import numpy as np
from PIL import Image

#: Images per class and split of a miniature (2 train images: a 1- and 2-shot run has shots to draw).
PER_SPLIT = {"train": 2, "val": 1, "test": 1}


def write_image(path: Path, seed: int, size: int = 8) -> None:
    """A small random image; JPEG or PNG by the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)


def seed_of(*parts) -> int:
    return zlib.crc32(repr(parts).encode())


def write_split_zhou(root: Path, dataset_cls, relpath: Callable[[int, str, int], str],
                     per_split: dict[str, int] | None = None, classes: list[int] | None = None,
                     split_name: Callable[[int], str] | None = None) -> Path:
    """CoOp's layout for ``dataset_cls``: images at ``<root>/<dataset_dir>/<image_dir>/<relpath>`` and
    ``split_zhou_*.json`` listing them as ``[relpath, label, classname]``.

    ``relpath(label, split, i)``: the image's path in the real dataset's naming scheme.
    ``classes``: the labels to write (default: all). ``split_name(label)``: the name the file gives
    a label (default: the plugin's class name)."""
    per_split = per_split or PER_SPLIT
    base = root / dataset_cls.dataset_dirs[0]
    image_root = base / dataset_cls.image_dir if dataset_cls.image_dir else base
    split_name = split_name or (lambda label: dataset_cls.classes[label])
    data: dict[str, list] = {}
    for split, n in per_split.items():
        rows = []
        for label in (classes if classes is not None else range(len(dataset_cls.classes))):
            for i in range(n):
                rel = relpath(label, split, i)
                write_image(image_root / rel, seed_of(dataset_cls.name, split, label, i))
                rows.append([rel, label, split_name(label)])
        data[split] = rows
    (base / dataset_cls.split_file).parent.mkdir(parents=True, exist_ok=True)
    (base / dataset_cls.split_file).write_text(json.dumps(data))
    return root


def caltech101(root: Path) -> Path:
    """Caltech101 as CoOp stores it: ``caltech-101/101_ObjectCategories/<folder>/image_%04d.jpg``."""
    from udabench_plugins.datasets.fewshot.caltech101 import FOLDERS, Caltech101

    first = {"train": 1, "val": 10, "test": 20}
    return write_split_zhou(root, Caltech101, lambda label, split, i: f"{FOLDERS[label]}/image_{first[split] + i:04d}.jpg")


def builders() -> dict[str, Callable[[Path], Path]]:
    """Dataset name -> a function that writes its miniature under a root and returns the ``--root``:
    Caltech101's here, the others' from the ``mini_*.py`` modules beside this one (``BUILDERS``)."""
    import importlib

    found = {"caltech101": caltech101}
    for path in sorted(Path(__file__).parent.glob("mini_*.py")):
        found.update(importlib.import_module(path.stem).BUILDERS)
    return found
