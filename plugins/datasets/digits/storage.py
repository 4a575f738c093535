"""Generate the digits domains once, cache them as safetensors, cut the fixed splits.

The files are a cache, and disposable: one that cannot be read or does not hold what the
generator draws (a truncated file, another array shape) is named in a warning, dropped and
drawn again; a cache folder that cannot be written (or created) is named in a warning, and the
run goes on with the images drawn in memory.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np

from udabench import DataError, ImageList, ImageSource, cache_root, stratified_split

from .domains import DOMAIN_NAMES, GENERATOR_VERSION, IMAGES_PER_CLASS, render_domain

SPLITS = ("train", "test", "all")
TRAIN_FRACTION = 2 / 3
SPLIT_SEED = 0


def data_folder() -> Path:
    """Where the drawn domains are kept: one folder per generator version, under the cache."""
    return cache_root() / "digits" / f"v{GENERATOR_VERSION}"


def domain_file(domain: str) -> Path:
    return data_folder() / f"{domain}.safetensors"


#: Images per domain: the drawn domains have IMAGES_PER_CLASS per class, handwritten all 1,797 UCI digits.
DOMAIN_SIZES = {d: 1797 if d == "handwritten" else 10 * IMAGES_PER_CLASS for d in DOMAIN_NAMES}


@lru_cache(maxsize=None)
def _domain_arrays(domain: str, cache_dir: str) -> tuple[np.ndarray, np.ndarray]:
    """(images, labels) of a whole domain: read from the cache, or drawn and written atomically."""
    path = domain_file(domain)
    cached = _read(domain, path)
    if cached is not None:
        return cached
    images, labels = render_domain(domain, seed=0)
    _write(path, images, labels)
    return images, labels


def _read(domain: str, path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """The cached arrays, or None: none there, or a file that is unreadable or not what the
    generator draws (then it is named in a warning and dropped)."""
    from safetensors.numpy import load_file

    try:
        if not path.is_file():
            return None
    except OSError:
        return None
    try:
        arrays = load_file(str(path))
        images, labels = arrays["images"], arrays["labels"]
    except Exception as exc:  # truncated, foreign, damaged: draw it again rather than fail every run
        return _drop(path, f"it cannot be read ({type(exc).__name__}: {exc})")
    n = DOMAIN_SIZES[domain]
    if images.shape != (n, 32, 32, 3) or images.dtype != np.uint8 or labels.shape != (n,) \
            or labels.dtype != np.int64 or (n and not (0 <= labels.min() and labels.max() <= 9)):
        return _drop(path, f"it holds images {images.dtype} {images.shape} and labels {labels.dtype} "
                           f"{labels.shape}, not uint8 ({n}, 32, 32, 3) and int64 ({n},) in 0..9")
    return images, labels


def _drop(path: Path, why: str) -> None:
    warnings.warn(f"udabench: the digits data file {path} is not usable: {why}; deleting it and drawing "
                  f"the domain again", stacklevel=3)
    try:
        path.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only cache: drawn again, and the write below says so
    return None


def _write(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """Write atomically (a temporary file, then a rename); on failure warn and go on without it."""
    from safetensors.numpy import save_file

    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        save_file({"images": np.ascontiguousarray(images), "labels": labels.astype(np.int64)}, tmp)
        os.replace(tmp, path)  # readers never see a half-written file
    except Exception as exc:  # OSError (read-only, disk full, a root that is a file) or a SafetensorError
        warnings.warn(f"udabench: cannot write the digits data under {path.parent} ({type(exc).__name__}: "
                      f"{exc}); going on with the images drawn in memory (they are drawn again in the next "
                      f"process). Set UDABENCH_CACHE to a writable folder.", stacklevel=3)
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


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
