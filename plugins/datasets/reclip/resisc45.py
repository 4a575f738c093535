"""Dataset plugin ``resisc45``: NWPU-RESISC45 (Cheng et al., Proceedings of the IEEE 2017): 31,500
remote-sensing scenes of 45 classes, 700 a class, as ReCLIP's benchmark reads it, on the whole
dataset.

Protocol (ReCLIP, Hu et al., WACV 2024): one task, ``resisc45``; ReCLIP adapts on the images it
scores, unlabeled. Every split is ``all``, the whole dataset (31,500 images), so a run is
transductive with or without ``--transductive``.

Departure from ReCLIP's code: its ``resisc45`` class (``datasets.py``) reads a test split of its
own, ``resisc45/RESISC45_full/test/`` listed in ``resisc45/labels_full/labels_test.feather``, files
ReCLIP does not ship. RESISC45 has no official split, so udabench scores all 31,500 images of the
official archive; scores are comparable with ReCLIP's only up to that difference of test set.

Labels: ReCLIP's order, the sorted class names of its label file; the 45 class folders of the
archive (``baseball_diamond``) sorted give the same order, which the class names of ReCLIP's
``prompts/clip_prompts`` entry ``"resisc45"`` follow: ``0 airplane``, ``1 airport``, ``2 baseball
diamond`` ... ``44 wetland``. A class's folder is its name with underscores for spaces (``FOLDERS``;
the tests check the folders are sorted). Templates: the entry's 18 satellite and aerial templates.

Layout under ``--root``: ``NWPU-RESISC45/<class folder>/<class folder>_<nnn>.jpg``, as the official
archive unpacks.

Sources: the homepage http://www.escience.cn/people/JunweiHan/NWPU-RESISC45.html and the OneDrive
link of NWPU-RESISC45.rar that TensorFlow Datasets' catalog gives (by hand: a OneDrive share is no
stable direct link); 31,500 images of 256 x 256 px (the catalog). The folder names as the archive
spells them, in several public repositories' RESISC45 class lists.
"""

from __future__ import annotations

from udabench import WHOLE_DOMAIN, hookimpl

from .class_folders import ClassFolderDataset

#: ReCLIP's class names (``prompts/clip_prompts``, ``"resisc45"``), in label order, and its templates.
CLASSES = (
    "airplane", "airport", "baseball diamond", "basketball court", "beach", "bridge", "chaparral", "church",
    "circular farmland", "cloud", "commercial area", "dense residential", "desert", "forest", "freeway",
    "golf course", "ground track field", "harbor", "industrial area", "intersection", "island", "lake",
    "meadow", "medium residential", "mobile home park", "mountain", "overpass", "palace", "parking lot",
    "railway", "railway station", "rectangular farmland", "river", "roundabout", "runway", "sea ice", "ship",
    "snowberg", "sparse residential", "stadium", "storage tank", "tennis court", "terrace",
    "thermal power station", "wetland",
)
TEMPLATES = (
    "satellite imagery of {}.", "aerial imagery of {}.", "satellite photo of {}.", "aerial photo of {}.",
    "satellite view of {}.", "aerial view of {}.", "satellite imagery of a {}.", "aerial imagery of a {}.",
    "satellite photo of a {}.", "aerial photo of a {}.", "satellite view of a {}.", "aerial view of a {}.",
    "satellite imagery of the {}.", "aerial imagery of the {}.", "satellite photo of the {}.",
    "aerial photo of the {}.", "satellite view of the {}.", "aerial view of the {}.",
)
#: The archive's class folders, in label order: each name with underscores for its spaces.
FOLDERS = tuple(c.replace(" ", "_") for c in CLASSES)


class RESISC45(ClassFolderDataset):
    name = "resisc45"
    classes = CLASSES
    templates = TEMPLATES
    folders = FOLDERS
    split_dirs = {WHOLE_DOMAIN: ""}
    train_split = adapt_split = eval_split = WHOLE_DOMAIN
    dataset_dirs = ("NWPU-RESISC45", "resisc45")
    expected_counts = {WHOLE_DOMAIN: 31500}
    source_info = ("NWPU-RESISC45.rar, by hand from the OneDrive link https://1drv.ms/u/s!AmgKYzARBl5ca3HNaHIlzp_IXjs "
                   "(homepage http://www.escience.cn/people/JunweiHan/NWPU-RESISC45.html): unpack it into <root>, "
                   "giving <root>/NWPU-RESISC45/<45 class folders>")


@hookimpl
def register_datasets(register):
    register(RESISC45)
