"""Images, labels, and the label-free view of a target domain.

The split between :class:`ImageSource` (pixels only) and :class:`ImageList`
(pixels + labels) is what makes target-label leakage impossible by
construction: a method in the ``uda`` or ``source-free`` setting is handed a
:class:`TargetView`, which is built from an ``ImageSource`` and never holds a
reference to any label array.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image

from ..contract.errors import DataError


class ImageSource:
    """The images of one (domain, split), without labels.

    Either a list of file paths (the real benchmarks) or an in-memory uint8
    array ``(N, H, W, 3)`` (the embedded ``digits`` benchmark).
    """

    def __init__(self, paths: Sequence[str | Path] | None = None, array: np.ndarray | None = None):
        if (paths is None) == (array is None):
            raise ValueError("give exactly one of paths or array")
        self._paths = [str(p) for p in paths] if paths is not None else None
        self._array = array

    def __len__(self) -> int:
        return len(self._paths) if self._paths is not None else len(self._array)

    @property
    def paths(self) -> list[str] | None:
        return self._paths

    @property
    def array(self) -> np.ndarray | None:
        return self._array

    def load(self, i: int) -> Image.Image:
        """Image ``i`` as an RGB PIL image (the input every torchvision transform takes)."""
        if self._array is not None:
            return Image.fromarray(self._array[i])
        path = self._paths[i]
        try:
            with Image.open(path) as img:
                return img.convert("RGB")
        except FileNotFoundError:
            raise DataError(f"image file missing: {path}") from None
        except Exception as exc:
            raise DataError(f"cannot read image {path}: {exc}. Replace the file, or remove it "
                            f"from the split list.") from None

    def subset(self, indices: Sequence[int]) -> "ImageSource":
        idx = np.asarray(indices, dtype=np.int64)
        if self._array is not None:
            return ImageSource(array=self._array[idx])
        return ImageSource(paths=[self._paths[i] for i in idx])


@dataclass(frozen=True)
class ImageList:
    """Labeled images of one (domain, split): what a dataset plugin returns."""

    source: ImageSource
    labels: np.ndarray
    num_classes: int

    def __post_init__(self):
        labels = np.array(self.labels, dtype=np.int64)  # a copy, made read-only: runs share ImageLists
        labels.setflags(write=False)
        object.__setattr__(self, "labels", labels)
        if len(labels) != len(self.source):
            raise ValueError(f"{len(self.source)} images but {len(labels)} labels")
        if len(labels) and (labels.min() < 0 or labels.max() >= self.num_classes):
            bad = int(np.flatnonzero((labels < 0) | (labels >= self.num_classes))[0])
            raise DataError(f"label {labels[bad]} of image {bad} is outside 0..{self.num_classes - 1}")

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, indices: Sequence[int]) -> "ImageList":
        idx = np.asarray(indices, dtype=np.int64)
        return ImageList(self.source.subset(idx), self.labels[idx], self.num_classes)

    def dataset(self, transform: Callable) -> "LabeledImages":
        return LabeledImages(self.source, self.labels, transform)

    def without_unreadable(self) -> tuple["ImageList", list[str]]:
        """This list without the image files PIL cannot read, and the paths of those dropped.

        Each file is opened and ``verify()``-ed; every format but PNG (whose ``verify`` checks
        the CRC of every chunk) is also decoded, JPEG at 1/8 scale (``draft``): a truncated JPEG
        with its header intact passes ``verify`` and fails only when decoded. In-memory arrays
        need no check. The result is kept on the list (plugins cache their lists), so a command's
        runs check each split once.
        """
        if self.source.paths is None:
            return self, []
        cached = self.__dict__.get("_without_unreadable")
        if cached is None:
            bad = [i for i, path in enumerate(self.source.paths) if not _readable(path)]
            keep = np.setdiff1d(np.arange(len(self)), bad)
            cached = (self.subset(keep) if bad else self, [self.source.paths[i] for i in bad])
            self.__dict__["_without_unreadable"] = cached  # frozen dataclass: a cache, not a field
        return cached


def _readable(path: str) -> bool:
    """Whether PIL can open, verify and (but for PNG) decode the file (see ImageList.without_unreadable)."""
    try:
        with Image.open(path) as img:
            fmt = img.format
            img.verify()
        if fmt != "PNG":
            with Image.open(path) as img:
                img.draft("RGB", (1, 1))  # JPEG: decode at the smallest scale; other formats: no-op
                img.load()
        return True
    except Exception:
        return False


class TargetView:
    """A target domain as an adaptation method may see it: images, no labels.

    ``dataset(transform)`` yields ``(image, index)``; the index lets a method
    keep per-sample state (pseudo-labels, memory banks) across epochs. The images
    are presented in an order shuffled by ``seed``: folder-based datasets list
    images class by class, and neighbouring indices must not tell a method which
    images share a class. (File paths, which name class folders, are not exposed;
    a plugin is code and could dig them out, which is why plugins must be trusted.)
    """

    __slots__ = ("_source", "domain")

    def __init__(self, source: ImageSource, domain: str, seed: int = 0):
        if not isinstance(source, ImageSource):
            raise TypeError("a TargetView is built from an ImageSource, which carries no labels")
        order = np.random.default_rng([seed, 31337]).permutation(len(source))
        self._source = source.subset(order)
        self.domain = domain

    def __len__(self) -> int:
        return len(self._source)

    def dataset(self, transform: Callable) -> "UnlabeledImages":
        return UnlabeledImages(self._source, transform)

    def __repr__(self) -> str:
        return f"TargetView(domain={self.domain!r}, images={len(self)})"


class LabeledImages:
    """``(transform(image), label)`` pairs: a map-style dataset for a DataLoader.

    (Not a torch subclass, so that importing udabench's data types stays free of torch.)
    """

    def __init__(self, source: ImageSource, labels: np.ndarray, transform: Callable):
        self.source, self.labels, self.transform = source, labels, transform

    def __len__(self) -> int:
        return len(self.source)

    def __getitem__(self, i: int):
        return self.transform(self.source.load(i)), int(self.labels[i])


class UnlabeledImages:
    """``(transform(image), index)`` pairs: the only form target images reach a method in."""

    def __init__(self, source: ImageSource, transform: Callable):
        self._source, self.transform = source, transform

    def __len__(self) -> int:
        return len(self._source)

    def __getitem__(self, i: int):
        return self.transform(self._source.load(i)), i


def sample_shots(labels: np.ndarray, shots: int, num_classes: int, seed: int) -> np.ndarray:
    """K indices per class, drawn without replacement from ``seed`` (fewer where a class has fewer)."""
    rng = np.random.default_rng([seed, 7919])
    picked = []
    for c in range(num_classes):
        members = np.flatnonzero(labels == c)
        take = min(shots, len(members))
        picked.append(rng.choice(members, size=take, replace=False))
    return np.sort(np.concatenate(picked)) if picked else np.zeros(0, np.int64)


def stratified_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (first, second) with ``fraction`` of every class in the first part."""
    rng = np.random.default_rng([seed, 104729])
    first, second = [], []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        k = int(round(fraction * len(members)))
        first.append(members[:k])
        second.append(members[k:])
    return np.sort(np.concatenate(first)), np.sort(np.concatenate(second))
