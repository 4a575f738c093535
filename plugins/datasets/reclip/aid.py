"""Dataset plugin ``aid``: AID, the Aerial Image Dataset (Xia et al., IEEE TGRS 2017): 10,000 aerial
scenes of 30 classes, as ReCLIP's benchmark reads it, on the whole dataset.

Protocol (ReCLIP, Hu et al., WACV 2024): one task, ``aid``; ReCLIP adapts on the images it scores,
unlabeled. Every split is ``all``, the whole dataset (10,000 images), so a run is transductive with
or without ``--transductive``.

Departure from ReCLIP's code: its ``AID`` class (``datasets.py``) reads a test split of its own,
``AID/AID_full/test/`` listed in ``AID/labels_full/labels_test.feather``, files ReCLIP does not ship.
AID has no official split, so udabench scores all 10,000 images of the official archive; scores are
comparable with ReCLIP's only up to that difference of test set.

Labels: ReCLIP's order, the sorted class names of its label file; the 30 class folders of the
archive (CamelCase: ``BareLand``, ``StorageTanks``) sorted give the same order, which the class names
of ReCLIP's ``prompts/clip_prompts`` entry ``"aid"`` follow: ``0 Airport``, ``1 Bare Land``
(``BareLand``), ... ``28 StorageTanks``, ``29 Viaduct``. Those names are ReCLIP's as they are: most
split into words, ``SparseResidential`` and ``StorageTanks`` not. A class's folder is its name without
spaces (``FOLDERS``; the tests check the folders are sorted). Templates: the entry's 18 satellite and
aerial templates.

Layout under ``--root``: ``AID/<class folder>/<image>.jpg``, as the official archive unpacks.

Sources: https://captain-whu.github.io/AID/ (the archive is on OneDrive and Baidu Pan, by hand:
there is no stable direct link). The folder names as the archive spells them, in several public
repositories' AID class lists.
"""

from __future__ import annotations

from udabench import WHOLE_DOMAIN, hookimpl

from .class_folders import ClassFolderDataset

#: ReCLIP's class names (``prompts/clip_prompts``, ``"aid"``), in label order, and its templates.
CLASSES = (
    "Airport", "Bare Land", "Baseball Field", "Beach", "Bridge", "Center", "Church", "Commercial",
    "Dense Residential", "Desert", "Farmland", "Forest", "Industrial", "Meadow", "Medium Residential",
    "Mountain", "Park", "Parking", "Playground", "Pond", "Port", "Railway Station", "Resort", "River",
    "School", "SparseResidential", "Square", "Stadium", "StorageTanks", "Viaduct",
)
TEMPLATES = (
    "satellite imagery of {}.", "aerial imagery of {}.", "satellite photo of {}.", "aerial photo of {}.",
    "satellite view of {}.", "aerial view of {}.", "satellite imagery of a {}.", "aerial imagery of a {}.",
    "satellite photo of a {}.", "aerial photo of a {}.", "satellite view of a {}.", "aerial view of a {}.",
    "satellite imagery of the {}.", "aerial imagery of the {}.", "satellite photo of the {}.",
    "aerial photo of the {}.", "satellite view of the {}.", "aerial view of the {}.",
)
#: The archive's class folders, in label order: each name without its spaces.
FOLDERS = tuple(c.replace(" ", "") for c in CLASSES)


class AID(ClassFolderDataset):
    name = "aid"
    classes = CLASSES
    templates = TEMPLATES
    folders = FOLDERS
    split_dirs = {WHOLE_DOMAIN: ""}
    train_split = adapt_split = eval_split = WHOLE_DOMAIN
    dataset_dirs = ("AID", "aid")
    expected_counts = {WHOLE_DOMAIN: 10000}
    source_info = ("https://captain-whu.github.io/AID/ (AID.zip from its OneDrive or Baidu Pan link, by hand): "
                   "unzip it into <root>, giving <root>/AID/<30 class folders>")


@hookimpl
def register_datasets(register):
    register(AID)
