"""OxfordPets, StanfordCars, Flowers102, Food-101 and DTD: what is specific to each (label order and
its anchors, CoOp's prompt, the real paths, the Food-101 and Flowers102 naming traps), a partial tree
named in one DataError, and the download specs unpacking where the loader looks."""

from __future__ import annotations

import io
import json
import tarfile
import warnings

import pytest

from udabench import DataError
from udabench.contract.registry import get_registry
from udabench.data.download import Archive, unpack
from udabench.data.folders import CountMismatchWarning
from udabench_plugins.datasets.fewshot.food101 import Food101
from udabench_plugins.datasets.fewshot.oxford_flowers import OxfordFlowers
from udabench_plugins.datasets.fewshot.oxford_pets import BREEDS, OxfordPets
from udabench_plugins.datasets.fewshot.stanford_cars import StanfordCars

from mini_a import BUILDERS, flowers_path, food_path
from miniatures import write_split_zhou

NAMES = sorted(BUILDERS)
pytestmark = pytest.mark.filterwarnings("ignore::udabench.data.folders.CountMismatchWarning")

#: name -> (class count, first class, last class, CoOp's template from trainers/zsclip.py CUSTOM_TEMPLATES).
FACTS = {
    "oxford_pets": (37, "abyssinian", "yorkshire_terrier", "a photo of a {}, a type of pet."),
    "stanford_cars": (196, "2000 AM General Hummer SUV", "2012 smart fortwo Convertible", "a photo of a {}."),
    "oxford_flowers": (102, "pink primrose", "blackberry lily", "a photo of a {}, a type of flower."),
    "food101": (101, "apple_pie", "waffles", "a photo of {}, a type of food."),
    "dtd": (47, "banded", "zigzagged", "{} texture."),
}
#: name -> the end of the first test image's path in the miniature (the real naming scheme).
FIRST_TEST_PATH = {
    "oxford_pets": "oxford_pets/images/Abyssinian_4.jpg",
    "stanford_cars": "stanford_cars/cars_test/00001.jpg",
    "oxford_flowers": "oxford_flowers/jpg/image_00004.jpg",
    "food101": "food-101/images/apple_pie/1000003.jpg",
    "dtd": "dtd/images/banded/banded_0004.jpg",
}


def load(dataset, split: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CountMismatchWarning)
        return dataset.load(dataset.name, split)


# -- label order and prompts ------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_label_order_anchors_and_coop_template(name):
    cls = get_registry().dataset(name)
    count, first, last, template = FACTS[name]
    assert (len(cls.classes), cls.classes[0], cls.classes[-1]) == (count, first, last)
    assert cls.templates == (template,)
    assert cls.prompt_names == tuple(c.replace("_", " ") for c in cls.classes)
    assert cls.val_split == "val" and cls.eval_split == "test"


def test_pets_labels_are_the_breeds_in_case_blind_alphabetical_order_lower_cased():
    assert list(BREEDS) == sorted(BREEDS, key=str.lower)
    assert OxfordPets.classes == tuple(b.lower() for b in BREEDS)
    cats = [b for b in BREEDS if b[0].isupper()]
    assert len(cats) == 12 and cats[0] == "Abyssinian" and cats[-1] == "Sphynx"
    assert OxfordPets.prompt_names[2] == "american pit bull terrier"


def test_cars_names_put_the_model_year_first_and_group_the_makes_in_ascii_order():
    years = [c.split(" ", 1)[0] for c in StanfordCars.classes]
    assert all(y.isdigit() and 1990 <= int(y) <= 2012 for y in years)
    makes = [c.split(" ")[1] for c in StanfordCars.classes]
    assert makes == sorted(makes)  # "AM" before "Acura", "smart" last
    assert StanfordCars.classes[173] == "2012 Ram C/V Cargo Van Minivan"  # label 173 in CoOp's split file


def test_flowers_label_77_is_lotus_as_in_coops_split_file():
    assert OxfordFlowers.classes[76:79] == ("passion flower", "lotus", "toad lily")
    assert OxfordFlowers.templates[0].format(OxfordFlowers.prompt_names[77]) == "a photo of a lotus, a type of flower."


def test_food_labels_follow_pythons_sort_not_meta_classes_txt():
    assert list(Food101.classes) == sorted(Food101.classes)
    assert Food101.classes[15:19] == ("ceviche", "cheese_plate", "cheesecake", "chicken_curry")
    assert Food101.prompt_names[16] == "cheese plate"


def test_food_split_file_in_meta_classes_txt_order_is_refused(tmp_path):
    # meta/classes.txt lists cheesecake (16) before cheese_plate (17): a split made in that order.
    swapped = {16: "cheesecake", 17: "cheese_plate"}
    root = write_split_zhou(tmp_path, Food101, food_path, split_name=lambda label: swapped.get(label, Food101.classes[label]))
    with pytest.raises(DataError, match="names label 16 'cheesecake', but this dataset's label 16 is 'cheese_plate'"):
        Food101(root).load("food101", "test")


def test_flowers_split_file_naming_label_77_lotus_lotus_is_refused(tmp_path):
    root = write_split_zhou(tmp_path, OxfordFlowers, flowers_path,
                            split_name=lambda label: "lotus lotus" if label == 77 else OxfordFlowers.classes[label])
    with pytest.raises(DataError, match="names label 77 'lotus lotus', but this dataset's label 77 is 'lotus'"):
        OxfordFlowers(root).load("oxford_flowers", "train")


# -- the loader on the real layouts ----------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_each_split_loads_the_real_paths_with_the_files_labels(tmp_path, name):
    cls = get_registry().dataset(name)
    ds = cls(BUILDERS[name](tmp_path))
    test = load(ds, "test")
    assert test.source.paths[0].endswith(FIRST_TEST_PATH[name])
    assert test.labels.tolist() == list(range(len(cls.classes)))
    assert len(load(ds, "train")) == 2 * len(cls.classes) and len(load(ds, "val")) == len(cls.classes)


def test_cars_train_and_val_come_from_cars_train_and_test_from_cars_test(tmp_path):
    ds = StanfordCars(BUILDERS["stanford_cars"](tmp_path))
    folders = {s: {p.rsplit("/", 2)[-2] for p in load(ds, s).source.paths} for s in ("train", "val", "test")}
    assert folders == {"train": {"cars_train"}, "val": {"cars_train"}, "test": {"cars_test"}}


def test_cars_read_from_the_root_itself_and_say_where_they_looked(tmp_path):
    BUILDERS["stanford_cars"](tmp_path)
    assert len(load(StanfordCars(tmp_path / "stanford_cars"), "test")) == 196
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match=r"no split_zhou_StanfordCars.json, cars_train/ or cars_test/ in any of "
                                        r".*empty/stanford_cars, .*empty") as e:
        StanfordCars(empty).load("stanford_cars", "test")
    assert "cars_test/%05d.jpg" in str(e.value)  # the layout, in the same message


@pytest.mark.parametrize("name", NAMES)
def test_one_missing_image_is_named(tmp_path, name):
    cls = get_registry().dataset(name)
    root = BUILDERS[name](tmp_path)
    base = root / cls.dataset_dirs[0]
    rel = json.loads((base / cls.split_file).read_text())["test"][0][0]
    (base / cls.image_dir / rel).unlink()
    with pytest.raises(DataError, match=rf"1 of {len(cls.classes)} images the split names are missing .*{rel}"):
        cls(root).load(name, "test")


# -- downloads -------------------------------------------------------------------------------------
#: Each archive's top folder (as the real archive holds it) and a file of the loader's layout in it.
ARCHIVE_MEMBERS = {
    "images.tar.gz": "images/Abyssinian_1.jpg",
    "annotations.tar.gz": "annotations/trainval.txt",
    "cars_train.tgz": "cars_train/00001.jpg",
    "cars_test.tgz": "cars_test/00001.jpg",
    "102flowers.tgz": "jpg/image_00001.jpg",
    "food-101.tar.gz": "food-101/images/apple_pie/1005649.jpg",
    "dtd-r1.0.1.tar.gz": "dtd/images/banded/banded_0002.jpg",
}
#: Where that file must land under the data root for the loader (or CoOp's layout) to find it.
EXPECTED = {
    "images.tar.gz": "oxford_pets/images/Abyssinian_1.jpg",
    "annotations.tar.gz": "oxford_pets/annotations/trainval.txt",
    "cars_train.tgz": "stanford_cars/cars_train/00001.jpg",
    "cars_test.tgz": "stanford_cars/cars_test/00001.jpg",
    "102flowers.tgz": "oxford_flowers/jpg/image_00001.jpg",
    "food-101.tar.gz": "food-101/images/apple_pie/1005649.jpg",
    "dtd-r1.0.1.tar.gz": "dtd/images/banded/banded_0002.jpg",
}


def tiny_tar(path, member: str) -> None:
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(member)
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))


@pytest.mark.parametrize("name", NAMES)
def test_downloads_unpack_where_the_loader_looks(tmp_path, name):
    cls = get_registry().dataset(name)
    archives = [Archive.from_spec(spec) for spec in cls.downloads["official"]]
    split = [a for a in archives if a.name == cls.split_file]
    assert len(split) == 1 and split[0].into == cls.dataset_dirs[0]
    assert split[0].urls[0].startswith("https://drive.google.com/")
    for archive in (a for a in archives if a.is_archive):
        tiny_tar(tmp_path / archive.name, ARCHIVE_MEMBERS[archive.name])
        unpack(tmp_path / archive.name, tmp_path / "data", archive, progress=False)
        assert (tmp_path / "data" / EXPECTED[archive.name]).is_file(), archive.name
        assert archive.md5 and len(archive.md5) == 32
