"""Dataset plugin ``caltech101``: Caltech-101 (Fei-Fei et al., CVPR-W 2004) as CoOp's few-shot suite
reads it: 100 object classes, one domain, CoOp's fixed train / val / test split.

Protocol (docs/methods.md, the few-shot suite): one task, ``caltech101``; a few-shot method gets K
shots per class drawn by seed from the train split, may choose hyperparameters on the val split,
and is scored on the test split (4,128 / 1,649 / 2,465 images).

Labels: CoOp's order, the Python sort of the class folders without ``BACKGROUND_Google`` and
``Faces_easy`` (capitals first: ``0 face`` (``Faces``), ``1 leopard``, ``2 motorbike``,
``3 accordion`` ... ``99 yin_yang``), named as CoOp renames four folders (``airplanes`` ->
airplane, ``Faces`` -> face, ``Leopards`` -> leopard, ``Motorbikes`` -> motorbike). The split
file names each label; a file that names them otherwise is refused.

Prompt: CoOp's zero-shot template for it, "a photo of a {}.", class names with spaces.

Layout under ``--root`` (CoOp's DATASETS.md): ``caltech-101/101_ObjectCategories/<folder>/image_%04d.jpg``
and ``caltech-101/split_zhou_Caltech101.json``.
"""

from __future__ import annotations

from udabench import SplitFileDataset, hookimpl

#: The class folders, in label order.
FOLDERS = (
    "Faces", "Leopards", "Motorbikes", "accordion", "airplanes", "anchor", "ant", "barrel", "bass",
    "beaver", "binocular", "bonsai", "brain", "brontosaurus", "buddha", "butterfly", "camera", "cannon",
    "car_side", "ceiling_fan", "cellphone", "chair", "chandelier", "cougar_body", "cougar_face", "crab",
    "crayfish", "crocodile", "crocodile_head", "cup", "dalmatian", "dollar_bill", "dolphin",
    "dragonfly", "electric_guitar", "elephant", "emu", "euphonium", "ewer", "ferry", "flamingo",
    "flamingo_head", "garfield", "gerenuk", "gramophone", "grand_piano", "hawksbill", "headphone",
    "hedgehog", "helicopter", "ibis", "inline_skate", "joshua_tree", "kangaroo", "ketch", "lamp",
    "laptop", "llama", "lobster", "lotus", "mandolin", "mayfly", "menorah", "metronome", "minaret",
    "nautilus", "octopus", "okapi", "pagoda", "panda", "pigeon", "pizza", "platypus", "pyramid",
    "revolver", "rhino", "rooster", "saxophone", "schooner", "scissors", "scorpion", "sea_horse",
    "snoopy", "soccer_ball", "stapler", "starfish", "stegosaurus", "stop_sign", "strawberry",
    "sunflower", "tick", "trilobite", "umbrella", "watch", "water_lilly", "wheelchair", "wild_cat",
    "windsor_chair", "wrench", "yin_yang"
)
#: CoOp's names for the folders it renames.
RENAMED = {"airplanes": "airplane", "Faces": "face", "Leopards": "leopard", "Motorbikes": "motorbike"}
CLASSES = tuple(RENAMED.get(f, f) for f in FOLDERS)


class Caltech101(SplitFileDataset):
    name = "caltech101"
    classes = CLASSES
    prompt_names = tuple(c.replace("_", " ") for c in CLASSES)
    templates = ("a photo of a {}.",)
    dataset_dirs = ("caltech-101",)
    image_dir = "101_ObjectCategories"
    split_file = "split_zhou_Caltech101.json"
    expected_counts = {"train": 4128, "val": 1649, "test": 2465}
    downloads = {
        # The split file only: the official zip nests 101_ObjectCategories.tar.gz, extract that by hand.
        "coop-split": [
            {"name": "split_zhou_Caltech101.json", "into": "caltech-101",
             "urls": ["https://drive.google.com/uc?export=download&id=1hyarUivQE36mY6jSomru6Fjd-JzwcCzN"]},
        ],
    }
    source_info = ("the images at https://data.caltech.edu/records/mzrjq-6wc02 (caltech-101.zip holds "
                   "101_ObjectCategories.tar.gz: extract it into <root>/caltech-101) and CoOp's "
                   "split file split_zhou_Caltech101.json "
                   "(https://drive.google.com/file/d/1hyarUivQE36mY6jSomru6Fjd-JzwcCzN, see CoOp's DATASETS.md)")


@hookimpl
def register_datasets(register):
    register(Caltech101)
