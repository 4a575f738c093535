"""Miniatures of OxfordPets, StanfordCars, Flowers102, Food-101 and DTD as CoOp's DATASETS.md lays them
out: the real folder and file naming schemes and class names, CoOp's split files, a few tiny images
per class and split (``PER_SPLIT``)."""

from __future__ import annotations

from pathlib import Path

from udabench_plugins.datasets.fewshot.dtd import DescribableTextures
from udabench_plugins.datasets.fewshot.food101 import Food101
from udabench_plugins.datasets.fewshot.oxford_flowers import OxfordFlowers
from udabench_plugins.datasets.fewshot.oxford_pets import BREEDS, OxfordPets
from udabench_plugins.datasets.fewshot.stanford_cars import StanfordCars

from miniatures import PER_SPLIT, write_split_zhou

#: Each split's place among a class's images (train first), for numbering files uniquely.
OFFSET = {"train": 0, "val": PER_SPLIT["train"], "test": PER_SPLIT["train"] + PER_SPLIT["val"]}
PER_CLASS = sum(PER_SPLIT.values())


def pets_path(label: int, split: str, i: int) -> str:
    """``<Breed>_<n>.jpg``, the breed spelt as the archive does (cats capitalised)."""
    return f"{BREEDS[label]}_{1 + OFFSET[split] + i}.jpg"


def cars_path(label: int, split: str, i: int) -> str:
    """``cars_train/%05d.jpg`` for train and val (both cut from the official training images),
    ``cars_test/%05d.jpg`` for test; the numbers run over all classes, as the archives' do."""
    if split == "test":
        return f"cars_test/{1 + label * PER_SPLIT['test'] + i:05d}.jpg"
    per_class = PER_SPLIT["train"] + PER_SPLIT["val"]
    return f"cars_train/{1 + label * per_class + OFFSET[split] + i:05d}.jpg"


def flowers_path(label: int, split: str, i: int) -> str:
    """``image_%05d.jpg``, numbered over the whole dataset as 102flowers.tgz does."""
    return f"image_{1 + label * PER_CLASS + OFFSET[split] + i:05d}.jpg"


def food_path(label: int, split: str, i: int) -> str:
    """``<class folder>/<numeric id>.jpg``."""
    return f"{Food101.classes[label]}/{1000000 + label * PER_CLASS + OFFSET[split] + i}.jpg"


def dtd_path(label: int, split: str, i: int) -> str:
    """``<class>/<class>_%04d.jpg``."""
    cls = DescribableTextures.classes[label]
    return f"{cls}/{cls}_{1 + OFFSET[split] + i:04d}.jpg"


def oxford_pets(root: Path) -> Path:
    """``oxford_pets/images/<Breed>_<n>.jpg`` and ``split_zhou_OxfordPets.json``."""
    return write_split_zhou(root, OxfordPets, pets_path)


def stanford_cars(root: Path) -> Path:
    """``stanford_cars/{cars_train,cars_test}/%05d.jpg`` and ``split_zhou_StanfordCars.json``."""
    return write_split_zhou(root, StanfordCars, cars_path)


def oxford_flowers(root: Path) -> Path:
    """``oxford_flowers/jpg/image_%05d.jpg`` and ``split_zhou_OxfordFlowers.json``."""
    return write_split_zhou(root, OxfordFlowers, flowers_path)


def food101(root: Path) -> Path:
    """``food-101/images/<class>/<id>.jpg`` and ``split_zhou_Food101.json``."""
    return write_split_zhou(root, Food101, food_path)


def dtd(root: Path) -> Path:
    """``dtd/images/<class>/<class>_%04d.jpg`` and ``split_zhou_DescribableTextures.json``."""
    return write_split_zhou(root, DescribableTextures, dtd_path)


BUILDERS = {"oxford_pets": oxford_pets, "stanford_cars": stanford_cars, "oxford_flowers": oxford_flowers,
            "food101": food101, "dtd": dtd}
