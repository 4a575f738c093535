"""Reading a ReCLIP-suite dataset kept in torchvision's ``ImageFolder`` layout: one folder per split
(or the dataset folder itself, for a dataset published without a split) holding one folder per class.

Country211, Rendered SST2, AID and RESISC45 are stored this way. A plugin subclasses
:class:`ClassFolderDataset` and declares ``folders`` (the class folders, in label order) and
``split_dirs`` (each split's folder under the dataset folder, ``""`` for the dataset folder itself);
finding the dataset folder, listing the images and the one DataError (what is missing, the expected
layout, where the data comes from) come from here and from ``udabench.SplitFileDataset``.

An image's label is the position of its class folder in ``folders``, as torchvision's ``ImageFolder``
numbers the sorted folders; the files of a class folder are taken in name order. A class folder that
is missing or empty, or a file that is not an image, is one DataError (``udabench.scan_class_folders``):
each would silently change the benchmark.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Mapping

from udabench import DataError, SplitFileDataset, is_folder, list_folder, scan_class_folders


class ClassFolderDataset(SplitFileDataset):
    """A one-domain dataset of class folders, per split; ``splits`` follows from ``split_dirs``."""

    #: The class folders, in label order.
    folders: ClassVar[tuple[str, ...]]
    #: split -> its folder under the dataset folder ("" : the dataset folder itself holds the class folders).
    split_dirs: ClassVar[Mapping[str, str]]
    split_file = None
    val_split = None

    def __init_subclass__(cls, **kwargs):
        if "split_dirs" in cls.__dict__ and "splits" not in cls.__dict__:
            cls.splits = tuple(cls.split_dirs)
        super().__init_subclass__(**kwargs)

    @classmethod
    def describe_layout(cls) -> str:
        """The tree under ``--root``, for errors and ``udabench data info``."""
        dirs = tuple(dict.fromkeys(cls.split_dirs.values()))
        level = "" if dirs == ("",) else (f"{{{','.join(dirs)}}}/" if len(dirs) > 1 else f"{dirs[0]}/")
        others = ", ".join(cls.dataset_dirs[1:])
        shown = ", ".join(cls.folders[:3])
        return "\n".join([
            f"  <root>/{cls.dataset_dirs[0]}/    (or <root> itself{'; also ' + others if others else ''})",
            f"    {level}<class folder>/<image>",
            f"    the {len(cls.folders)} class folders, in label order: {shown}, ... {cls.folders[-1]}",
        ])

    def split_folder(self, base: Path, split: str) -> Path:
        """The folder of ``split``'s class folders under the dataset folder ``base``."""
        sub = self.split_dirs[split]
        return base / sub if sub else base

    def dataset_folder(self, split: str) -> Path:
        """The first of ``<root>/<dataset_dir>`` and ``<root>`` whose folder of ``split`` holds at least
        one of the class folders; a DataError naming where it looked when none does."""
        candidates = [self.root / d for d in self.dataset_dirs] + [self.root]
        wanted = set(self.folders)
        for base in candidates:
            folder = self.split_folder(base, split)
            if is_folder(folder, self._fix()) and any(e.name in wanted for e in list_folder(folder, self._fix())):
                return base
        looked = ", ".join(str(self.split_folder(c, split)) for c in candidates)
        raise DataError(self.missing_message(split, [
            f"no folder holding the class folders ({', '.join(self.folders[:2])}, ...): looked in {looked}"]))

    def read_split(self, base: Path, split: str) -> list[tuple[str, int]]:
        """``(path under base, label)`` of every image of ``split``'s class folders, classes in label
        order, files by name."""
        folder = self.split_folder(base, split)
        try:
            entries = scan_class_folders(folder, self.folders, self._fix())
        except DataError as exc:
            raise DataError(self.missing_message(split, [str(exc)])) from None
        prefix = f"{self.split_dirs[split]}/" if self.split_dirs[split] else ""
        label = {name: i for i, name in enumerate(self.folders)}
        return [(f"{prefix}{cls_folder}/{file}", label[cls_folder]) for cls_folder, file in entries]
