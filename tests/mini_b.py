"""Miniatures of SUN397, EuroSAT, UCF101 and FGVC-Aircraft as CoOp's DATASETS.md lays them out: the
real folder and file naming schemes and class names, CoOp's split files (FGVC-Aircraft: the archive's
own list files), a few tiny images per class and split (``PER_SPLIT``)."""

from __future__ import annotations

import hashlib
import string
from pathlib import Path

from udabench_plugins.datasets.fewshot.eurosat import FOLDERS as EUROSAT_FOLDERS, EuroSAT
from udabench_plugins.datasets.fewshot.fgvc_aircraft import CLASS_FILE, LIST_FILE, VARIANTS
from udabench_plugins.datasets.fewshot.sun397 import CATEGORIES, SUN397
from udabench_plugins.datasets.fewshot.ucf101 import ACTIONS, CLASSES as UCF_CLASSES, UCF101

from miniatures import PER_SPLIT, seed_of, write_image, write_split_zhou

SPLIT_INDEX = {"train": 0, "val": 1, "test": 2}


def sun_file(label: int, split: str, i: int) -> str:
    """``sun_`` and 16 lowercase letters, as SUN397 names its images (derived from the position)."""
    digest = hashlib.sha1(f"{label}/{split}/{i}".encode()).digest()
    return "sun_" + "".join(string.ascii_lowercase[b % 26] for b in digest[:16]) + ".jpg"


def sun397(root: Path) -> Path:
    """``sun397/SUN397/<letter>/<category>[/<sub>]/sun_*.jpg`` and ``split_zhou_SUN397.json``."""
    return write_split_zhou(root, SUN397, lambda label, split, i: f"{CATEGORIES[label]}/{sun_file(label, split, i)}")


def eurosat(root: Path) -> Path:
    """``eurosat/2750/<Folder>/<Folder>_<k>.jpg`` (64 x 64, as stored) and ``split_zhou_EuroSAT.json``
    naming the classes as CoOp renames them."""
    first = {"train": 1, "val": 1001, "test": 2001}
    write_split_zhou(root, EuroSAT, lambda label, split, i: f"{EUROSAT_FOLDERS[label]}/{EUROSAT_FOLDERS[label]}_"
                                                            f"{first[split] + i}.jpg")
    image_root = root / "eurosat" / "2750"
    for path in sorted(image_root.rglob("*.jpg")):  # the tiles as stored: 64 px a side
        write_image(path, seed_of("eurosat", path.name), size=64)
    return root


#: Actions whose videos (and so frames) spell the name otherwise than ``classInd.txt``.
UCF_FILE_STEMS = {"HandstandPushups": "HandStandPushups"}


def ucf_path(label: int, split: str, i: int) -> str:
    """``<Action_Name>/v_<Action>_gGG_cCC.jpg``: test frames from groups 1-7 (UCF101's first split),
    train and val frames from groups 8-25."""
    group = {"train": 8, "val": 9, "test": 1}[split]
    stem = UCF_FILE_STEMS.get(ACTIONS[label], ACTIONS[label])
    return f"{UCF_CLASSES[label]}/v_{stem}_g{group:02d}_c{i + 1:02d}.jpg"


def ucf101(root: Path) -> Path:
    """``ucf101/UCF-101-midframes/<Action_Name>/v_*.jpg`` and ``split_zhou_UCF101.json``."""
    return write_split_zhou(root, UCF101, ucf_path)


def fgvc_image_id(label: int, split: str, i: int) -> str:
    """A 7-digit image id, as FGVC-Aircraft numbers its images (``0034309``)."""
    return f"{34309 + 10 * label + 3 * SPLIT_INDEX[split] + i:07d}"


def fgvc_aircraft(root: Path, folder: str = "fgvc_aircraft") -> Path:
    """The archive's ``data/`` folder as ``<root>/<folder>``: ``images/<id>.jpg``, ``variants.txt`` and
    ``images_variant_<split>.txt`` with ``<id> <variant>`` lines."""
    base = root / folder
    base.mkdir(parents=True, exist_ok=True)
    (base / CLASS_FILE).write_text("".join(f"{v}\n" for v in VARIANTS))
    for split, n in PER_SPLIT.items():
        lines = []
        for label, variant in enumerate(VARIANTS):
            for i in range(n):
                image_id = fgvc_image_id(label, split, i)
                write_image(base / "images" / f"{image_id}.jpg", seed_of("fgvc", image_id))
                lines.append(f"{image_id} {variant}\n")
        (base / LIST_FILE.format(split)).write_text("".join(lines))
    return root


BUILDERS = {"sun397": sun397, "eurosat": eurosat, "ucf101": ucf101, "fgvc_aircraft": fgvc_aircraft}
