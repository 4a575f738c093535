"""Dataset plugin ``food101``: Food-101 (Bossard et al., ECCV 2014) as CoOp's few-shot suite reads it:
101 dishes, one domain, CoOp's fixed train / val / test split (50,500 / 20,200 / 30,300 images:
each class's 1,000 images cut 500 / 200 / 300 at random by CoOp; the official meta/train.txt and
meta/test.txt are not used).

Labels: CoOp's order, the Python sort of the class folders of ``images/``: ``0 apple_pie``,
``1 baby_back_ribs`` ... ``100 waffles``; the names are the folder names, no renaming. This is NOT
the order of the archive's ``meta/classes.txt``: there ``cheesecake`` comes before ``cheese_plate``,
while Python puts ``_`` before ``c``, so CoOp has ``16 cheese_plate`` and ``17 cheesecake``
(everywhere else the two orders agree; the ``meta/classes.txt`` order is as a published copy of
it, Gauravsingh564/DishCovery's ``meta/classes.txt``, and azshue/TPT's class list give it). A split
file, or a class list, made in the ``meta/classes.txt`` order swaps those two classes; the loader
refuses such a split file, since it names label 16 ``cheesecake``.

Prompt: CoOp's zero-shot template for it (``trainers/zsclip.py``), "a photo of {}, a type of
food.", the class names with spaces for underscores, as CoOp's prompt learner writes them.

Layout under ``--root`` (CoOp's DATASETS.md): the archive's ``food-101/`` folder itself, so
``food-101/images/<class>/<id>.jpg`` and ``food-101/meta/`` (not read), plus
``food-101/split_zhou_Food101.json``. Sources: the ETH archive food-101.tar.gz (md5 as
torchvision's ``Food101`` checks it) and CoOp's split file on Google Drive. The order rule is
CoOp's (``datasets/food101.py`` makes its split with ``DescribableTextures.read_and_split_data``,
which sorts the folder names); no published copy of CoOp's Food-101 split file could be read, so
the list is that rule applied to the 101 folder names. The published sizes follow from the rule
too (1,000 images a class: round(500), round(200) and the remaining 300, times 101).
"""

from __future__ import annotations

from udabench import SplitFileDataset, hookimpl

#: The class folders, in label order (their Python sort: cheese_plate before cheesecake).
CLASSES = (
    "apple_pie", "baby_back_ribs", "baklava", "beef_carpaccio", "beef_tartare", "beet_salad",
    "beignets", "bibimbap", "bread_pudding", "breakfast_burrito", "bruschetta", "caesar_salad",
    "cannoli", "caprese_salad", "carrot_cake", "ceviche", "cheese_plate", "cheesecake",
    "chicken_curry", "chicken_quesadilla", "chicken_wings", "chocolate_cake", "chocolate_mousse",
    "churros", "clam_chowder", "club_sandwich", "crab_cakes", "creme_brulee", "croque_madame",
    "cup_cakes", "deviled_eggs", "donuts", "dumplings", "edamame", "eggs_benedict", "escargots",
    "falafel", "filet_mignon", "fish_and_chips", "foie_gras", "french_fries", "french_onion_soup",
    "french_toast", "fried_calamari", "fried_rice", "frozen_yogurt", "garlic_bread", "gnocchi",
    "greek_salad", "grilled_cheese_sandwich", "grilled_salmon", "guacamole", "gyoza", "hamburger",
    "hot_and_sour_soup", "hot_dog", "huevos_rancheros", "hummus", "ice_cream", "lasagna",
    "lobster_bisque", "lobster_roll_sandwich", "macaroni_and_cheese", "macarons", "miso_soup",
    "mussels", "nachos", "omelette", "onion_rings", "oysters", "pad_thai", "paella", "pancakes",
    "panna_cotta", "peking_duck", "pho", "pizza", "pork_chop", "poutine", "prime_rib",
    "pulled_pork_sandwich", "ramen", "ravioli", "red_velvet_cake", "risotto", "samosa", "sashimi",
    "scallops", "seaweed_salad", "shrimp_and_grits", "spaghetti_bolognese", "spaghetti_carbonara",
    "spring_rolls", "steak", "strawberry_shortcake", "sushi", "tacos", "takoyaki", "tiramisu",
    "tuna_tartare", "waffles",
)
GDRIVE = "https://drive.google.com/uc?export=download&id={}"


class Food101(SplitFileDataset):
    name = "food101"
    classes = CLASSES
    prompt_names = tuple(c.replace("_", " ") for c in CLASSES)
    templates = ("a photo of {}, a type of food.",)
    dataset_dirs = ("food-101",)
    image_dir = "images"
    split_file = "split_zhou_Food101.json"
    expected_counts = {"train": 50500, "val": 20200, "test": 30300}
    layout_text = ("  <root>/food-101/    (or <root> itself)\n"
                   "    split_zhou_Food101.json    CoOp's split file: train / val / test\n"
                   "    images/<class>/<id>.jpg    e.g. images/apple_pie/1005649.jpg\n"
                   "    meta/                      the official lists (not read)")
    downloads = {
        # The archive holds food-101/{images,meta}: it unpacks into <root>/food-101.
        "official": [
            {"name": "food-101.tar.gz", "into": "food-101", "md5": "85eeb15f3717b99a5da872d97d918f87",
             "urls": ["http://data.vision.ee.ethz.ch/cvl/food-101.tar.gz"]},
            {"name": "split_zhou_Food101.json", "into": "food-101",
             "urls": [GDRIVE.format("1QK0tGi096I0Ba6kggatX1ee6dJFIcEJl")]},
        ],
    }
    source_info = ("the images at https://data.vision.ee.ethz.ch/cvl/datasets_extra/food-101/ (food-101.tar.gz, "
                   "extracted into <root>, giving <root>/food-101) and CoOp's split file split_zhou_Food101.json "
                   "(https://drive.google.com/file/d/1QK0tGi096I0Ba6kggatX1ee6dJFIcEJl, see CoOp's DATASETS.md)")


@hookimpl
def register_datasets(register):
    register(Food101)
