"""Reading a ReCLIP-suite dataset published as a few binary or CSV files rather than image files:
CIFAR-10/100 (records of label bytes and pixels), MNIST (IDX files), STL-10 (column-major pixel
records) and FER2013 (a CSV of pixel strings). The images are read into memory once per split and
handed out as ``udabench.ImageSource(array=...)``, uint8 ``(N, H, W, 3)`` (grayscale is repeated
over three channels).

A plugin subclasses :class:`ArrayDataset`, declares its classes, splits, ``image_size`` and
sources, and implements :meth:`ArrayDataset.describe_layout` (the expected tree, as text) and
:meth:`ArrayDataset.read` (split -> images, labels);
finding nothing, a damaged file, a label outside the class list or images of another size is one
DataError here: what is wrong, the expected layout, where the data comes from.
"""

from __future__ import annotations

import gzip
import warnings
from pathlib import Path
from typing import ClassVar, Mapping, Sequence

import numpy as np

from udabench import NO_PROFILE, CountMismatchWarning, DataError, ImageList, ImageSource, OneDomainDataset


class ArrayDataset(OneDomainDataset):
    """A one-domain benchmark read into memory: one domain and one task named after the dataset."""

    splits: ClassVar[tuple[str, ...]] = ("train", "test")
    train_split, adapt_split, eval_split, val_split = "train", "train", "test", None
    image_mode = "RGB"
    #: Stored small, seen at 224 px in ReCLIP's protocol: the methods' default hyperparameters.
    profile = NO_PROFILE
    #: split -> the image count published for the benchmark; a mismatch warns (CountMismatchWarning).
    expected_counts: ClassVar[Mapping[str, int]] = {}
    #: Packaging name -> archives, for ``udabench data download`` (``udabench.data.download``).
    downloads: ClassVar[Mapping[str, Sequence[Mapping]]] = {}
    #: The expected tree under ``--root``, for errors and ``udabench data info`` (``describe_layout()``).
    layout_text: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if name and "layout_text" not in cls.__dict__:
            cls.layout_text = cls.describe_layout()

    def __init__(self, root=None):
        super().__init__(root)
        self._loaded: dict[str, ImageList] = {}

    # -- to implement --------------------------------------------------------------------------
    def read(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        """``(images, labels)`` of ``split``: uint8 ``(N, H, W, 3)`` (or ``(N, H, W)`` grayscale) and
        integer labels. Raise :meth:`missing` naming what is not there."""
        raise NotImplementedError

    @classmethod
    def describe_layout(cls) -> str:
        """The expected tree under ``--root`` (``layout_text`` of each concrete dataset)."""
        raise NotImplementedError

    # -- provided ------------------------------------------------------------------------------
    def load(self, domain: str, split: str) -> ImageList:
        if domain not in self.domains:
            raise DataError(f"{self.name} has no domain {domain!r}; its only domain is {self.domains[0]!r}")
        if split not in self.splits:
            raise DataError(f"{self.name} has no split {split!r}; its splits are {', '.join(self.splits)}")
        if split not in self._loaded:
            images, labels = self.read(split)
            self._loaded[split] = self.image_list(split, images, labels)
        return self._loaded[split]

    def image_list(self, split: str, images: np.ndarray, labels: np.ndarray) -> ImageList:
        """The checked ImageList: every image of the declared size, every label a class of this dataset."""
        if images.ndim == 3:
            images = np.repeat(images[..., None], 3, axis=3)  # grayscale, as RGB
        size = self.declared_image_size()
        want = (size[1], size[0], 3) if size else images.shape[1:]
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != want:
            raise DataError(self.missing_message(split, [f"the files hold images of shape {images.shape[1:]} "
                                                         f"({images.dtype}), not {want} uint8"]))
        labels = np.asarray(labels, np.int64)
        if len(labels) != len(images):
            raise DataError(self.missing_message(split, [f"the files hold {len(images):,} images but "
                                                         f"{len(labels):,} labels: a damaged or partial copy"]))
        if not len(labels):
            raise DataError(self.missing_message(split, ["the files hold no image"]))
        bad = np.flatnonzero((labels < 0) | (labels >= len(self.classes)))
        if bad.size:
            raise DataError(self.missing_message(split, [f"image {int(bad[0])} has the label {int(labels[bad[0]])}, "
                                                         f"outside 0..{len(self.classes) - 1} ({bad.size:,} such "
                                                         f"labels): a damaged file, or another dataset's"]))
        expected = self.expected_counts.get(split)
        if expected is not None and len(labels) != expected:
            warnings.warn(f"{self.name}: {split} has {len(labels):,} images, but the benchmark has {expected:,} "
                          f"(docs/datasets.md): a partial download or another version of the data?",
                          CountMismatchWarning, stacklevel=4)
        return ImageList(ImageSource(array=np.ascontiguousarray(images)), labels, len(self.classes))

    def fix(self) -> str:
        return f"Get the data as `udabench data info {self.name}` says ({self.source_info})"

    def missing_message(self, split: str, problems: Sequence[str]) -> str:
        """One message: what is missing or wrong, the expected layout, and where the data comes from."""
        lines = [f"{self.name}: cannot load its {split} split from {self.root}:"]
        lines += [f"  - {p}" for p in problems]
        lines += ["", "Expected layout:", self.layout_text, "", f"Get the data from {self.source_info}.",
                  f"`udabench data info {self.name} --root {self.root}` shows what is there."]
        return "\n".join(lines)

    def read_bytes(self, path: Path, split: str, gz_ok: bool = False) -> bytes:
        """The bytes of ``path`` (or, with ``gz_ok``, of ``path.gz`` decompressed when only that is
        there); a DataError naming the file when neither can be read."""
        candidates = [path, path.with_name(path.name + ".gz")] if gz_ok else [path]
        for candidate in candidates:
            if not candidate.is_file():
                continue
            try:
                if candidate.suffix == ".gz" and candidate != path:
                    with gzip.open(candidate, "rb") as f:
                        return f.read()
                return candidate.read_bytes()
            except (OSError, EOFError) as exc:  # gzip: a truncated or damaged archive
                raise DataError(self.missing_message(split, [f"cannot read {candidate}: {exc}"])) from None
        named = " or ".join(str(c) for c in candidates)
        raise DataError(self.missing_message(split, [f"no file {named}"]))

    def records(self, data: bytes, length: int, path: Path, split: str) -> np.ndarray:
        """``data`` as a ``(N, length)`` uint8 array of fixed-length records; a file whose size is
        not a whole number of records is named as damaged."""
        if not data or len(data) % length:
            raise DataError(self.missing_message(split, [
                f"{path} has {len(data):,} bytes, not a whole number of {length:,}-byte records: the file is "
                f"truncated or damaged"]))
        return np.frombuffer(data, np.uint8).reshape(-1, length)
