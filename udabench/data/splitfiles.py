"""Single-domain benchmarks whose splits are listed in a file: CoOp's ``split_zhou_*.json``.

CoOp (Zhou et al., IJCV 2022) fixed one train/val/test split per few-shot dataset and ships it
as ``split_zhou_<Name>.json``: ``{"train": [[relpath, label, classname], ...], "val": [...],
"test": [...]}``, paths relative to the dataset's image folder, labels positions in the class
list. Eight datasets of its suite (Caltech101, OxfordPets, StanfordCars, Flowers102, Food101,
SUN397, DTD, EuroSAT, UCF101) are read this way; a plugin subclasses :class:`SplitFileDataset`,
names its folders and class list, and is done. A dataset with another split format (FGVC
Aircraft's list files, ImageNet's class folders) overrides :meth:`SplitFileDataset.read_split`.

What is checked, once per split, before any image is opened: the split file exists and has the
split; every entry is ``[path, label, name]`` with a label of this dataset; the name the file
gives each label is the plugin's class name for it (so a split file of another label order or
another dataset is refused, not silently mislabeled); every listed image is on disk. One
DataError says what is missing, the expected layout and where the data comes from.
"""

from __future__ import annotations

import json
import os
import warnings
from collections import defaultdict
from pathlib import Path
from typing import ClassVar, Mapping, Sequence

import numpy as np

from ..contract.dataset import OneDomainDataset
from ..contract.errors import DataError
from .folders import CountMismatchWarning, is_folder, list_folder
from .images import ImageList, ImageSource

SPLITS = ("train", "val", "test")


class SplitFileDataset(OneDomainDataset):
    """A one-domain benchmark: images under ``<root>/<dataset_dir>/<image_dir>``, splits in a file.

    Subclasses set ``name``, ``classes`` (label order), ``dataset_dirs`` (the folder names
    accepted under ``--root``, canonical first), ``image_dir``, ``split_file`` (relative to the
    dataset folder), ``expected_counts`` (split -> published image count), ``source_info`` and
    ``templates``. The one domain and the one task are named after the dataset.
    """

    dataset_dirs: ClassVar[tuple[str, ...]]
    #: The images' folder, relative to the dataset folder; split paths are relative to it.
    image_dir: ClassVar[str] = ""
    #: The split file, relative to the dataset folder (None for a plugin that overrides ``read_split``).
    split_file: ClassVar[str | None] = None
    splits: ClassVar[tuple[str, ...]] = SPLITS
    train_split, adapt_split, eval_split, val_split = "train", "train", "test", "val"
    #: split -> the image count published for the benchmark; a mismatch warns (CountMismatchWarning).
    expected_counts: ClassVar[Mapping[str, int]] = {}
    #: Packaging name -> archives, for ``udabench data download`` (``udabench.data.download``).
    downloads: ClassVar[Mapping[str, Sequence[Mapping]]] = {}
    #: The expected layout as text, for errors and ``udabench data info`` (generated when unset).
    layout_text: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "layout_text" not in cls.__dict__ and getattr(cls, "dataset_dirs", None):
            cls.layout_text = cls.describe_layout()

    def __init__(self, root=None):
        super().__init__(root)
        self._loaded: dict[str, ImageList] = {}

    # -- to override for another split format ------------------------------------------------------
    def read_split(self, base: Path, split: str) -> list[tuple[str, int]]:
        """``(path relative to the image folder, label)`` of every image of ``split``, from the split
        file under ``base`` (the dataset folder). Raise DataError naming what is wrong."""
        path = base / self.split_file
        if not path.is_file():
            raise DataError(self.missing_message(split, [f"no split file {path}"]))
        return read_split_zhou(path, split, self.classes, self._fix())

    @classmethod
    def describe_layout(cls) -> str:
        others = ", ".join(cls.dataset_dirs[1:])
        lines = [f"  <root>/{cls.dataset_dirs[0]}/    (or <root> itself{'; also ' + others if others else ''})"]
        if cls.split_file:
            lines.append(f"    {cls.split_file:<40} CoOp's split file: train / val / test")
        lines.append(f"    {(cls.image_dir + '/' if cls.image_dir else '') + '<path in the split file>'}")
        return "\n".join(lines)

    # -- provided ------------------------------------------------------------------------------------
    def load(self, domain: str, split: str) -> ImageList:
        if domain not in self.domains:
            raise DataError(f"{self.name} has no domain {domain!r}; its only domain is {self.domains[0]!r}")
        if split not in self.splits:
            raise DataError(f"{self.name} has no split {split!r}; its splits are {', '.join(self.splits)}")
        if split not in self._loaded:
            base = self.dataset_folder(split)
            entries = self.read_split(base, split)
            image_root = base / self.image_dir if self.image_dir else base
            check_files_exist(image_root, [p for p, _ in entries], self._fix())
            self._check_count(split, len(entries))
            self._loaded[split] = ImageList(
                ImageSource(paths=[str(image_root / p) for p, _ in entries]),
                np.asarray([label for _, label in entries], np.int64), len(self.classes))
        return self._loaded[split]

    def dataset_folder(self, split: str) -> Path:
        """The first of ``<root>/<dataset_dir>`` (in ``dataset_dirs`` order) and ``<root>`` that holds
        the image folder; a DataError naming where it looked when none does."""
        candidates = [self.root / d for d in self.dataset_dirs] + [self.root]
        for base in candidates:
            if is_folder(base / self.image_dir if self.image_dir else base, self._fix()):
                return base
        looked = ", ".join(str(c / self.image_dir) for c in candidates)
        raise DataError(self.missing_message(split, [f"no image folder: looked for {looked}"]))

    def _check_count(self, split: str, count: int) -> None:
        expected = self.expected_counts.get(split)
        if expected is not None and count != expected:
            warnings.warn(f"{self.name}: {split} has {count:,} images, but the benchmark has {expected:,} "
                          f"(docs/datasets.md): a partial download or another version of the data?",
                          CountMismatchWarning, stacklevel=3)

    def _fix(self) -> str:
        return f"Get the data as `udabench data info {self.name}` says ({self.source_info})"

    def missing_message(self, split: str, problems: Sequence[str]) -> str:
        """One message: what is missing, the expected layout, and where the data comes from."""
        lines = [f"{self.name}: cannot load its {split} split from {self.root}:"]
        lines += [f"  - {p}" for p in problems]
        lines += ["", "Expected layout:", self.layout_text, "", f"Get the data from {self.source_info}.",
                  f"`udabench data info {self.name} --root {self.root}` shows what is there."]
        return "\n".join(lines)


def read_split_zhou(path: Path, split: str, classes: Sequence[str], fix: str) -> list[tuple[str, int]]:
    """``(relpath, label)`` of ``split`` in a CoOp split file, checked against ``classes``: every label
    in range, and the name the file gives a label (``_`` read as a space) the class name of that label."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path} is not a readable JSON split file ({exc}). {fix}") from None
    if not isinstance(data, dict) or split not in data or not isinstance(data[split], list):
        have = ", ".join(sorted(data)) if isinstance(data, dict) else type(data).__name__
        raise DataError(f"{path} has no {split!r} list (it has: {have}); CoOp's split files hold "
                        f"train, val and test. {fix}")
    entries, names = [], {}
    for n, item in enumerate(data[split]):
        if (not isinstance(item, list) or len(item) != 3 or not isinstance(item[0], str)
                or not isinstance(item[1], int) or isinstance(item[1], bool)):
            raise DataError(f"{path}: {split}[{n}] is {item!r}; expected [relative path, label, class name]. {fix}")
        rel, label, name = item
        if not 0 <= label < len(classes):
            raise DataError(f"{path}: {split}[{n}] has label {label}, outside 0..{len(classes) - 1} (the dataset "
                            f"has {len(classes)} classes): the split file of another dataset? {fix}")
        if label not in names:
            names[label] = n
            if _norm(str(name)) != _norm(classes[label]):
                raise DataError(f"{path}: {split}[{n}] names label {label} {name!r}, but this dataset's label "
                                f"{label} is {classes[label]!r}: the split file follows another label order or "
                                f"belongs to another dataset. {fix}")
        entries.append((rel.replace("\\", "/"), label))
    if not entries:
        raise DataError(f"{path}: the {split} list is empty. {fix}")
    return entries


def _norm(name: str) -> str:
    return name.replace("_", " ").strip()


def check_files_exist(image_root: Path, relpaths: Sequence[str], fix: str) -> None:
    """One DataError naming the listed images that are not on disk (each folder listed once)."""
    wanted: dict[str, list[str]] = defaultdict(list)
    for rel in relpaths:
        head, _, name = rel.rpartition("/")
        wanted[head].append(name)
    missing = []
    for head, names in wanted.items():
        folder = image_root / head if head else image_root
        present = {e.name for e in list_folder(folder, fix)} if is_folder(folder, fix) else set()
        missing += [os.path.join(str(folder), n) for n in names if n not in present]
    if missing:
        raise DataError(f"{len(missing):,} of {len(relpaths):,} images the split names are missing under "
                        f"{image_root} (e.g. {', '.join(missing[:3])}). The download or extraction is "
                        f"incomplete. {fix}")
