"""Dataset plugin ``eurosat``: EuroSAT (Helber et al., IEEE J-STARS 2019), the RGB version: 27,000
Sentinel-2 tiles of 64 x 64 pixels in 10 land-use classes, as CoOp's few-shot suite reads it: one
domain, CoOp's fixed train / val / test split.

Protocol (docs/methods.md, the few-shot suite): one task, ``eurosat``; K shots per class drawn by
seed from the train split, hyperparameters chosen on the val split, scored on the test split
(13,500 / 5,400 / 8,100 images, CoOp's paper, dataset table: CoOp split each class folder
50 / 20 / 30 %).

Labels: CoOp's order, the Python sort of the class folders (``AnnualCrop``, ``Forest``, ...
``SeaLake``), named as CoOp renames them (``NEW_CNAMES`` in its ``datasets/eurosat.py``): label 0
is ``Annual Crop Land`` (``AnnualCrop``), 2 ``Herbaceous Vegetation Land``, 3 ``Highway or Road``,
9 ``Sea or Lake`` (``SeaLake``). The split file names each label with these names; a file that
names them otherwise is refused.

Prompt: CoOp's zero-shot template for EuroSAT (``trainers/zsclip.py``), "a centered satellite
photo of {}.", with the renamed class names.

Hyperparameters: the tiles are stored at 64 px (``image_size``), but CoOp resizes them to 224 px
and trains on them with the input size, augmentation and schedule of its other datasets
(``configs/datasets/eurosat.yaml`` names the dataset only). The plugin therefore declares
``profile = NO_PROFILE``: the methods' defaults, not their ``small-image`` profile.

Layout under ``--root`` (CoOp's DATASETS.md): ``eurosat/2750/<Folder>/<Folder>_<k>.jpg`` (the
official ``EuroSAT.zip`` unpacks to ``2750/``) and ``eurosat/split_zhou_EuroSAT.json``, whose paths
(``AnnualCrop/AnnualCrop_1.jpg``) are relative to ``2750/``.

Sources: the folder names and CoOp's names from CoOp's ``datasets/eurosat.py``; the archive's
mirror and md5 are torchvision's (``torchvision/datasets/eurosat.py``; the Hugging Face copy is
the unmodified original, pytorch/vision pull request 8563).
"""

from __future__ import annotations

from udabench import NO_PROFILE, SplitFileDataset, hookimpl

#: Class folder -> CoOp's class name, in label order (the folders sorted).
RENAMED = {
    "AnnualCrop": "Annual Crop Land",
    "Forest": "Forest",
    "HerbaceousVegetation": "Herbaceous Vegetation Land",
    "Highway": "Highway or Road",
    "Industrial": "Industrial Buildings",
    "Pasture": "Pasture Land",
    "PermanentCrop": "Permanent Crop Land",
    "Residential": "Residential Buildings",
    "River": "River",
    "SeaLake": "Sea or Lake",
}
FOLDERS = tuple(sorted(RENAMED))
CLASSES = tuple(RENAMED[f] for f in FOLDERS)
SPLIT_FILE_ID = "1Ip7yaCWFi0eaOFUGga0lUdVi_DDQth1o"


class EuroSAT(SplitFileDataset):
    name = "eurosat"
    classes = CLASSES
    prompt_names = tuple(c.replace("_", " ") for c in CLASSES)
    templates = ("a centered satellite photo of {}.",)
    image_size = 64
    image_mode = "RGB"
    profile = NO_PROFILE
    dataset_dirs = ("eurosat",)
    image_dir = "2750"
    split_file = "split_zhou_EuroSAT.json"
    expected_counts = {"train": 13500, "val": 5400, "test": 8100}
    downloads = {
        # The official RGB zip (its top folder is 2750/) and CoOp's split file.
        "official": [
            {"name": "EuroSAT.zip", "into": "eurosat", "md5": "c8fa014336c82ac7804f0398fcb19387",
             "urls": ["https://huggingface.co/datasets/torchgeo/eurosat/resolve/"
                      "c877bcd43f099cd0196738f714544e355477f3fd/EuroSAT.zip",
                      "http://madm.dfki.de/files/sentinel/EuroSAT.zip"]},
            {"name": "split_zhou_EuroSAT.json", "into": "eurosat",
             "urls": [f"https://drive.google.com/uc?export=download&id={SPLIT_FILE_ID}"]},
        ],
    }
    source_info = ("the RGB images (EuroSAT.zip, https://github.com/phelber/EuroSAT; unzip into "
                   "<root>/eurosat, giving 2750/) and CoOp's split file split_zhou_EuroSAT.json "
                   f"(https://drive.google.com/file/d/{SPLIT_FILE_ID}, see CoOp's DATASETS.md)")


@hookimpl
def register_datasets(register):
    register(EuroSAT)
