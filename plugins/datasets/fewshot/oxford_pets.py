"""Dataset plugin ``oxford_pets``: the Oxford-IIIT Pet dataset (Parkhi et al., CVPR 2012) as CoOp's
few-shot suite reads it: 37 cat and dog breeds, one domain, CoOp's fixed train / val / test split
(2,944 / 736 / 3,669 images: the official trainval list cut 80 / 20 into train and val, the
official test list as test).

Labels: the official class ids minus one (the ``class_id`` column of ``annotations/list.txt``),
which number the breeds in alphabetical order ignoring case: ``0 abyssinian``,
``1 american_bulldog`` ... ``36 yorkshire_terrier``. CoOp names a class by the breed part of its
file names, lower-cased: ``Abyssinian_122.jpg`` is ``abyssinian`` (capitalised file names are the
12 cat breeds, lower-case ones the 25 dog breeds). The split file names each label; a file that
names them otherwise is refused.

Prompt: CoOp's zero-shot template for it (``trainers/zsclip.py``), "a photo of a {}, a type of
pet.", the class names with spaces for underscores, as CoOp's prompt learner writes them.

Layout under ``--root`` (CoOp's DATASETS.md): ``oxford_pets/images/<Breed>_<n>.jpg``,
``oxford_pets/annotations/`` (not read: the split file already lists every image) and
``oxford_pets/split_zhou_OxfordPets.json``. Sources: the VGG archives images.tar.gz and
annotations.tar.gz (md5s as torchvision's ``OxfordIIITPet`` checks them) and CoOp's split file on
Google Drive. The class list was read off a published copy of CoOp's split file
(linzhiqiu/cross_modal_adaptation, ``splits/split_zhou_OxfordPets.json``, whose sizes are the
published ones) and agrees with the ordering rule above.
"""

from __future__ import annotations

from udabench import SplitFileDataset, hookimpl

#: The breeds as the image file names spell them, in label order (cats capitalised).
BREEDS = (
    "Abyssinian", "american_bulldog", "american_pit_bull_terrier", "basset_hound", "beagle", "Bengal",
    "Birman", "Bombay", "boxer", "British_Shorthair", "chihuahua", "Egyptian_Mau",
    "english_cocker_spaniel", "english_setter", "german_shorthaired", "great_pyrenees", "havanese",
    "japanese_chin", "keeshond", "leonberger", "Maine_Coon", "miniature_pinscher", "newfoundland",
    "Persian", "pomeranian", "pug", "Ragdoll", "Russian_Blue", "saint_bernard", "samoyed",
    "scottish_terrier", "shiba_inu", "Siamese", "Sphynx", "staffordshire_bull_terrier",
    "wheaten_terrier", "yorkshire_terrier",
)
#: CoOp's class names: the breeds lower-cased.
CLASSES = tuple(b.lower() for b in BREEDS)
VGG = "https://www.robots.ox.ac.uk/~vgg/data/pets/data/{}"
GDRIVE = "https://drive.google.com/uc?export=download&id={}"


class OxfordPets(SplitFileDataset):
    name = "oxford_pets"
    classes = CLASSES
    prompt_names = tuple(c.replace("_", " ") for c in CLASSES)
    templates = ("a photo of a {}, a type of pet.",)
    dataset_dirs = ("oxford_pets",)
    image_dir = "images"
    split_file = "split_zhou_OxfordPets.json"
    expected_counts = {"train": 2944, "val": 736, "test": 3669}
    layout_text = ("  <root>/oxford_pets/    (or <root> itself)\n"
                   "    split_zhou_OxfordPets.json    CoOp's split file: train / val / test\n"
                   "    images/<Breed>_<n>.jpg        e.g. images/Abyssinian_122.jpg\n"
                   "    annotations/                  the official lists (not read)")
    downloads = {
        # images.tar.gz unpacks to images/, annotations.tar.gz to annotations/.
        "official": [
            {"name": "images.tar.gz", "into": "oxford_pets", "md5": "5c4f3ee8e5d25df40f4fd59a7f44e54c",
             "urls": [VGG.format("images.tar.gz")]},
            {"name": "annotations.tar.gz", "into": "oxford_pets", "md5": "95a8c909bbe2e81eed6a22bccdf3f68f",
             "urls": [VGG.format("annotations.tar.gz")]},
            {"name": "split_zhou_OxfordPets.json", "into": "oxford_pets",
             "urls": [GDRIVE.format("1501r8Ber4nNKvmlFVQZ8SeUHTcdTTEqs")]},
        ],
    }
    source_info = ("the images and annotations at https://www.robots.ox.ac.uk/~vgg/data/pets/ (images.tar.gz, "
                   "annotations.tar.gz, extracted into <root>/oxford_pets) and CoOp's split file "
                   "split_zhou_OxfordPets.json (https://drive.google.com/file/d/1501r8Ber4nNKvmlFVQZ8SeUHTcdTTEqs, "
                   "see CoOp's DATASETS.md)")


@hookimpl
def register_datasets(register):
    register(OxfordPets)
