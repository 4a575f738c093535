"""Dataset plugin ``pcam``: PatchCamelyon (Veeling et al., MICCAI 2018), 96 x 96 px patches of lymph node
sections labelled by whether they hold metastatic tissue, as ReCLIP's benchmark reads it: one domain,
the official train / valid / test split, stored as HDF5.

Protocol (ReCLIP, Hu et al., WACV 2024): one task, ``pcam``; ReCLIP's code reads torchvision's
``PCAM(split="val")`` (its ``datasets.py``), so udabench scores the valid split (``eval_split =
"val"``), and ReCLIP adapts on those images, unlabeled: run it with ``--transductive``. Without it a
source-free method adapts on the train split (the inductive variant). Splits: train 262,144, val
32,768, test 32,768 (the PCam page; 327,680 patches in all, as torchvision's ``pcam.py`` says).

Labels: the files' ``y`` (0: no tumour, 1: metastatic tissue), as torchvision reads them. Class names
and template: ReCLIP's ``prompts/clip_prompts`` entry ``"pcam"``: ``0 lymph node``, ``1 lymph node
containing metastatic tumor tissue``, "this is a medical image of {}".

Images: every patch is 96 x 96 RGB (``image_size``); CLIP, as ReCLIP runs it, sees them resized to
224 px with its usual schedule, so ``profile = NO_PROFILE`` (the methods' defaults, not their
``small-image`` profile). A split is read into memory whole (uint8 ``x``): 0.9 GB for val or test,
7.2 GB for train (the inductive variant).

Layout under ``--root`` (torchvision's): ``pcam/camelyonpatch_level_2_split_{train,valid,test}_{x,y}.h5``,
each holding one dataset, ``x`` (N, 96, 96, 3) uint8 or ``y`` (N, 1, 1, 1). The files are published
gzipped (``.h5.gz``): decompress them (``gunzip``) where they are.

Reading HDF5 needs h5py, an optional extra: ``pip install 'udabench[pcam]'``; without it, loading
PCam is one DataError saying so (the other datasets need nothing more).

Sources: the files' Google Drive IDs and the md5s of the gzipped files are torchvision's
(``torchvision/datasets/pcam.py``); the dataset's page is https://github.com/basveeling/pcam.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from udabench import NO_PROFILE, DataError, ImageList, ImageSource, SplitFileDataset, hookimpl

#: ReCLIP's class names (``prompts/clip_prompts``, ``"pcam"``), in label order, and its template.
CLASSES = ("lymph node", "lymph node containing metastatic tumor tissue")
TEMPLATES = ("this is a medical image of {}",)
#: udabench's split -> the word in the file names.
FILE_SPLIT = {"train": "train", "val": "valid", "test": "test"}
SIZE = 96
INSTALL = "pip install 'udabench[pcam]'"
#: (split, "x" or "y") -> (Google Drive ID, md5 of the .h5.gz), torchvision's.
DRIVE = {
    ("train", "x"): ("1Ka0XfEMiwgCYPdTI-vv6eUElOBnKFKQ2", "1571f514728f59376b705fc836ff4b63"),
    ("train", "y"): ("1269yhu3pZDP8UYFQs-NYs3FPwuK-nGSG", "35c2d7259d906cfc8143347bb8e05be7"),
    ("test", "x"): ("1qV65ZqZvWzuIVthK8eVDhIwrbnsJdbg_", "d8c2d60d490dbd479f8199bdfa0cf6ec"),
    ("test", "y"): ("17BHrSrwWKjYsOgTMmoqrIjDy6Fa2o_gP", "60a7035772fbdb7f34eb86d4420cf66a"),
    ("val", "x"): ("1hgshYGWK8V-eGRy8LToWJJgDU_rXWVJ3", "d5b63470df7cfa627aeec8b9dc0c066e"),
    ("val", "y"): ("1bH8ZRbhSVAhScTS0p9-ZzGnX91cHT3uO", "2b85f58b927af9964a4c15b8f7e8f179"),
}


def file_name(split: str, part: str) -> str:
    """``camelyonpatch_level_2_split_<split>_<part>.h5``, the split spelt as the files spell it."""
    return f"camelyonpatch_level_2_split_{FILE_SPLIT[split]}_{part}.h5"


def import_h5py(fix: str):
    """h5py, or a DataError naming the extra that brings it."""
    try:
        import h5py
    except ImportError:
        raise DataError(f"PCam is stored as HDF5, which needs h5py: `{INSTALL}` (or `pip install h5py`). "
                        f"{fix}") from None
    return h5py


class PCam(SplitFileDataset):
    name = "pcam"
    classes = CLASSES
    templates = TEMPLATES
    splits = tuple(FILE_SPLIT)
    train_split, adapt_split, eval_split, val_split = "train", "train", "val", None
    image_size, image_mode, profile = SIZE, "RGB", NO_PROFILE
    dataset_dirs = ("pcam",)
    expected_counts = {"train": 262144, "val": 32768, "test": 32768}
    downloads = {
        # Gzipped HDF5 files: gunzip each where it lands (<root>/pcam) before loading.
        "official": [
            {"name": f"{file_name(split, part)}.gz", "into": "pcam", "md5": md5,
             "urls": [f"https://drive.google.com/uc?export=download&id={drive_id}"]}
            for (split, part), (drive_id, md5) in DRIVE.items()
        ],
    }
    source_info = ("the six camelyonpatch_level_2_split_*.h5.gz files of https://github.com/basveeling/pcam "
                   "(Google Drive; `udabench data download pcam`), decompressed with gunzip in <root>/pcam; "
                   f"reading them needs h5py (`{INSTALL}`)")

    @classmethod
    def describe_layout(cls) -> str:
        x, y = (file_name("train", part).replace("_train_", "_{train,valid,test}_") for part in ("x", "y"))
        return "\n".join([
            f"  <root>/{cls.dataset_dirs[0]}/    (or <root> itself)",
            f"    {x:<52} x: (N, 96, 96, 3) uint8",
            f"    {y:<52} y: (N, 1, 1, 1) labels 0 / 1",
            "    (published gzipped: gunzip the .h5.gz files in place)",
        ])

    def load(self, domain: str, split: str) -> ImageList:
        if domain not in self.domains:
            raise DataError(f"{self.name} has no domain {domain!r}; its only domain is {self.domains[0]!r}")
        if split not in self.splits:
            raise DataError(f"{self.name} has no split {split!r}; its splits are {', '.join(self.splits)}")
        if split not in self._loaded:
            base = self.dataset_folder(split)
            h5py = import_h5py(self._fix())
            x = read_array(h5py, base / file_name(split, "x"), "x", self._fix())
            y = read_array(h5py, base / file_name(split, "y"), "y", self._fix())
            self._loaded[split] = as_image_list(x, y, base, split, self._fix())
            self._check_count(split, len(y))
        return self._loaded[split]

    def dataset_folder(self, split: str) -> Path:
        """The first of ``<root>/pcam`` and ``<root>`` holding both files of ``split``; a DataError naming
        the missing ones (and the gzipped copies to decompress) otherwise."""
        candidates = [self.root / d for d in self.dataset_dirs] + [self.root]
        names = [file_name(split, part) for part in ("x", "y")]
        for base in candidates:
            if all((base / n).is_file() for n in names):
                return base
        base = next((c for c in candidates if any((c / n).is_file() or (c / f"{n}.gz").is_file() for n in names)),
                    candidates[0])
        problems = []
        for n in names:
            if (base / n).is_file():
                continue
            gz = base / f"{n}.gz"
            problems.append(f"{base / n} is gzipped: decompress it (`gunzip {gz}`)" if gz.is_file()
                            else f"no {base / n}")
        raise DataError(self.missing_message(split, problems))


def read_array(h5py, path: Path, key: str, fix: str) -> np.ndarray:
    """Dataset ``key`` of an HDF5 file, read whole; a DataError naming the file when it cannot be."""
    try:
        with h5py.File(path, "r") as f:
            if key not in f:
                raise DataError(f"{path} has no dataset {key!r} (it holds {', '.join(f.keys()) or 'nothing'}): "
                                f"not a PCam file. {fix}")
            return np.asarray(f[key][()])
    except DataError:
        raise
    except Exception as exc:  # h5py's OSError for a damaged or truncated file, among others
        raise DataError(f"cannot read {path} as HDF5 ({exc}): the file is damaged or still gzipped. "
                        f"{fix}") from None


def as_image_list(x: np.ndarray, y: np.ndarray, base: Path, split: str, fix: str) -> ImageList:
    """Patches ``x`` (N, 96, 96, 3) uint8 and labels ``y`` (N, 1, 1, 1) as an ImageList, after checking both."""
    where = f"{base / file_name(split, 'x')} and its labels"
    if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (SIZE, SIZE, 3):
        raise DataError(f"{where}: x is {x.dtype} {tuple(x.shape)}, expected uint8 (N, {SIZE}, {SIZE}, 3). {fix}")
    if y.ndim < 1 or len(y) != len(x) or y.size != len(y):
        raise DataError(f"{where}: {len(x):,} patches but y is {tuple(y.shape)}, expected ({len(x):,}, 1, 1, 1). "
                        f"{fix}")
    labels = y.reshape(-1).astype(np.int64)
    if len(labels) and not np.isin(labels, (0, 1)).all():
        raise DataError(f"{where}: y holds values other than 0 and 1. {fix}")
    return ImageList(ImageSource(array=np.ascontiguousarray(x)), labels, len(CLASSES))


@hookimpl
def register_datasets(register):
    register(PCam)
