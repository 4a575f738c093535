"""Generate the digits domains once, cache them as safetensors, cut the fixed splits."""

from __future__ import annotations

import os
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from udabench import DataError, ImageList, ImageSource, cache_root, stratified_split

from .domains import DOMAIN_NAMES, GENERATOR_VERSION, render_domain

SPLITS = ("train", "test", "all")
TRAIN_FRACTION = 2 / 3
SPLIT_SEED = 0


def domain_file(domain: str) -> Path:
    return cache_root() / "digits" / f"v{GENERATOR_VERSION}" / f"{domain}.safetensors"


@lru_cache(maxsize=None)
def _domain_arrays(domain: str, cache_dir: str) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) of a whole domain: read from the cache, or drawn and written atomically."""
    from safetensors.numpy import load_file, save_file

    path = domain_file(domain)
    if path.is_file():
        arrays = load_file(str(path))
        return arrays["images"], arrays["labels"]
    images, labels = render_domain(domain, seed=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        save_file({"images": np.ascontiguousarray(images), "labels": labels.astype(np.int64)}, tmp)
        os.replace(tmp, path)  # readers never see a half-written file
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return images, labels


def load_split(domain: str, split: str) -> ImageList:
    if domain not in DOMAIN_NAMES:
        raise DataError(f"digits has no domain {domain!r}; its domains are {', '.join(DOMAIN_NAMES)}")
    if split not in SPLITS:
        raise DataError(f"digits has no split {split!r}; its splits are {', '.join(SPLITS)}")
    images, labels = _domain_arrays(domain, str(cache_root()))
    if split != "all":
        train, test = stratified_split(labels, TRAIN_FRACTION, SPLIT_SEED)
        idx = train if split == "train" else test
        images, labels = images[idx], labels[idx]
    return ImageList(ImageSource(array=images), labels, 10)
