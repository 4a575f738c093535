"""Miniatures of GTSRB, Country211, Rendered SST2, AID, RESISC45, Birdsnap and PCam in the layouts their
archives unpack to (torchvision's for the first three and PCam, ReCLIP's for Birdsnap): the real folder
and file names, the real CSV, list and HDF5 record layouts, a few tiny images per class."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from udabench_plugins.datasets.reclip import aid as aid_module
from udabench_plugins.datasets.reclip import resisc45 as resisc45_module
from udabench_plugins.datasets.reclip.birdsnap import CLASSES as BIRDS
from udabench_plugins.datasets.reclip.country211 import FOLDERS as COUNTRY_CODES
from udabench_plugins.datasets.reclip.gtsrb import FOLDERS as SIGN_FOLDERS
from udabench_plugins.datasets.reclip.pcam import file_name as pcam_file

from miniatures import seed_of, write_image

#: GTSRB's annotation columns (the training CSVs and GT-final_test.csv; the test archive's own list lacks ClassId).
GTSRB_COLUMNS = "Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId"
#: Birdsnap's images.txt columns (its readme): the address, md5 and path, the species, the box, 17 parts.
BIRD_PARTS = ("back", "beak", "belly", "breast", "crown", "forehead", "left_cheek", "left_eye", "left_leg",
              "left_wing", "nape", "right_cheek", "right_eye", "right_leg", "right_wing", "tail", "throat")
IMAGES_COLUMNS = ["url", "md5", "path", "species_id", "bb_x1", "bb_y1", "bb_x2", "bb_y2"] + [
    f"{part}_{axis}" for part in BIRD_PARTS for axis in "xy"]
#: Birdsnap's common names as species.txt may spell them, for two of the names ReCLIP writes without apostrophes.
APOSTROPHES = {"Allens Hummingbird": "Allen's Hummingbird", "Annas Hummingbird": "Anna's Hummingbird"}


def gtsrb_test_order() -> list[int]:
    """The classes of the miniature's test images in file order: shuffled, as the real test set is."""
    return [int(i) for i in np.random.default_rng(0).permutation(len(SIGN_FOLDERS))]


def gtsrb(root: Path) -> Path:
    """``gtsrb/GTSRB/Training/<class>/<track>_<frame>.ppm`` (+ ``GT-<class>.csv``), 2 a class;
    ``gtsrb/GTSRB/Final_Test/Images/<nnnnn>.ppm``, one a class in shuffled order, labelled in
    ``gtsrb/GT-final_test.csv`` (the images folder keeps the archive's unlabelled list)."""
    base = root / "gtsrb"
    for label, folder in enumerate(SIGN_FOLDERS):
        rows = [GTSRB_COLUMNS]
        for frame in range(2):
            name = f"00000_{frame:05d}.ppm"
            write_image(base / "GTSRB" / "Training" / folder / name, seed_of("gtsrb", "train", label, frame))
            rows.append(f"{name};8;8;1;1;7;7;{label}")
        (base / "GTSRB" / "Training" / folder / f"GT-{folder}.csv").write_text("\n".join(rows) + "\n")
    images = base / "GTSRB" / "Final_Test" / "Images"
    labelled, unlabelled = [GTSRB_COLUMNS], [GTSRB_COLUMNS.rpartition(";")[0]]
    for n, label in enumerate(gtsrb_test_order()):
        write_image(images / f"{n:05d}.ppm", seed_of("gtsrb", "test", label))
        labelled.append(f"{n:05d}.ppm;8;8;1;1;7;7;{label}")
        unlabelled.append(f"{n:05d}.ppm;8;8;1;1;7;7")
    (images / "GT-final_test.test.csv").write_text("\n".join(unlabelled) + "\n")
    (base / "GT-final_test.csv").write_text("\n".join(labelled) + "\n")
    return root


def split_class_folders(base: Path, splits: tuple[str, ...], folders, per_class: int, suffix: str) -> None:
    """``<base>/<split>/<class folder>/<n><suffix>``, ``per_class`` images a class and split."""
    for split in splits:
        for label, folder in enumerate(folders):
            for i in range(per_class):
                write_image(base / split / folder / f"{label * per_class + i:05d}{suffix}",
                            seed_of(base.name, split, label, i))


def country211(root: Path) -> Path:
    """``country211/{train,valid,test}/<ISO code>/<n>.jpg``, one image a country and split."""
    split_class_folders(root / "country211", ("train", "valid", "test"), COUNTRY_CODES, 1, ".jpg")
    return root


def renderedsst2(root: Path) -> Path:
    """``rendered-sst2/{train,valid,test}/{negative,positive}/<n>.png``, two a class and split."""
    split_class_folders(root / "rendered-sst2", ("train", "valid", "test"), ("negative", "positive"), 2, ".png")
    return root


def aid(root: Path) -> Path:
    """``AID/<CamelCase class>/<class>_<n>.jpg``, two a class."""
    for label, folder in enumerate(aid_module.FOLDERS):
        for i in range(2):
            write_image(root / "AID" / folder / f"{folder.lower()}_{i + 1}.jpg", seed_of("aid", label, i))
    return root


def resisc45(root: Path) -> Path:
    """``NWPU-RESISC45/<class>/<class>_<nnn>.jpg``, two a class."""
    for label, folder in enumerate(resisc45_module.FOLDERS):
        for i in range(2):
            write_image(root / "NWPU-RESISC45" / folder / f"{folder}_{i + 1:03d}.jpg", seed_of("resisc45", label, i))
    return root


def bird_folder(label: int) -> str:
    """The image folder of a species as Birdsnap's lists spell it (``Sharp_shinned_Hawk``)."""
    return BIRDS[label].replace(" ", "_")


def bird_common_name(label: int) -> str:
    """A species' common name as species.txt spells it: hyphens where ReCLIP's name has a lower-case word
    (``Black-and-white Warbler``), and two apostrophes."""
    name = BIRDS[label]
    return APOSTROPHES.get(name, re.sub(r" (?=[a-z])", "-", name))


def birdsnap(root: Path, missing_test: int = 1) -> Path:
    """``birdsnap/`` as ReCLIP reads it: ``species.txt`` (species in a shuffled order, the dirs in lower
    case), ``test_images.txt`` and ``images.txt`` (one test and one train image a species), and
    ``download/images/<Species_Dir>/<nnnn>.jpg``. The first ``missing_test`` species have a second test
    image that is listed but was not fetched (not on disk), as happens with the real download."""
    base = root / "birdsnap"
    base.mkdir(parents=True, exist_ok=True)
    ids = [int(i) for i in np.random.default_rng(1).permutation(len(BIRDS))]  # position in species.txt
    species = ["id\tcommon\tscientific\tdir"]
    for row, label in enumerate(ids):
        species.append(f"{row + 1}\t{bird_common_name(label)}\tGenus species{label}\t{bird_folder(label).lower()}")
    (base / "species.txt").write_text("\n".join(species) + "\n")
    test, table = ["path"], ["\t".join(IMAGES_COLUMNS)]
    species_id = {label: row + 1 for row, label in enumerate(ids)}
    for label in range(len(BIRDS)):
        kinds = [("test", 3 * label), ("train", 3 * label + 1)]
        kinds += [("lost", 3 * label + 2)] if label < missing_test else []
        for kind, n in kinds:
            rel = f"{bird_folder(label)}/{n:04d}.jpg"
            if kind != "train":
                test.append(rel)
            if kind != "lost":
                write_image(base / "download" / "images" / rel, seed_of("birdsnap", kind, label))
            fields = [f"https://farm.example/{n}.jpg", f"{n:032x}", rel, str(species_id[label])]
            table.append("\t".join(fields + ["0"] * (len(IMAGES_COLUMNS) - len(fields))))
    (base / "test_images.txt").write_text("\n".join(test) + "\n")
    (base / "images.txt").write_text("\n".join(table) + "\n")
    return root


def pcam_arrays(split: str) -> tuple[np.ndarray, np.ndarray]:
    """A split's patches (4, 96, 96, 3) uint8 and labels (4, 1, 1, 1): labels 0, 1, 1, 0."""
    rng = np.random.default_rng(seed_of("pcam", split))
    x = rng.integers(0, 256, (4, 96, 96, 3), dtype=np.uint8)
    y = np.array([0, 1, 1, 0], np.uint8).reshape(4, 1, 1, 1)
    return x, y


def pcam(root: Path) -> Path:
    """``pcam/camelyonpatch_level_2_split_{train,valid,test}_{x,y}.h5`` (needs h5py: skipped without it)."""
    import pytest

    h5py = pytest.importorskip("h5py", reason="PCam's HDF5 files need h5py: pip install 'udabench[pcam]'")
    base = root / "pcam"
    base.mkdir(parents=True, exist_ok=True)
    for split in ("train", "val", "test"):
        x, y = pcam_arrays(split)
        with h5py.File(base / pcam_file(split, "x"), "w") as f:
            f.create_dataset("x", data=x)
        with h5py.File(base / pcam_file(split, "y"), "w") as f:
            f.create_dataset("y", data=y)
    return root


BUILDERS = {"gtsrb": gtsrb, "country211": country211, "renderedsst2": renderedsst2, "aid": aid,
            "resisc45": resisc45, "birdsnap": birdsnap, "pcam": pcam}
