"""Dataset plugin ``visda2017``: VisDA-2017 classification ("VisDA-C", Peng et al. 2017), 12 classes,
synthetic renders (``train``) -> real MS-COCO crops (``validation``).

Layout and sources in docs/datasets.md; protocol in docs/methods.md (as DAPL): one task
``train2val``; the source is ``train/image_list.txt``, the target is adapted to and
evaluated on ``validation/image_list.txt`` (split ``all`` of each domain). The headline
metric is the mean of the per-class accuracies, as the official ranking uses. The real
``test`` split is not part of the protocol.

Labels: the official ids ``0 aeroplane`` ... ``11 truck`` (tllib's order too).

Layouts accepted under ``--root``: the official tars and Dassl
``[visda2017|visda17|VisDA2017|...]/{train,validation}/<class>/*`` with each domain's
``image_list.txt``; tllib's ``image_list/{train,validation}.txt``; or the class folders
alone (every image in them).
"""

from __future__ import annotations

from udabench import WHOLE_DOMAIN, FolderDataset, Layout, Task, hookimpl


CLASSES = ("aeroplane", "bicycle", "bus", "car", "horse", "knife", "motorcycle", "person", "plant",
           "skateboard", "train", "truck")
CSR = "http://csr.bu.edu/ftp/visda17/clf/{}"
GDRIVE = "https://drive.google.com/uc?export=download&id={}"
TLLIB = "https://cloud.tsinghua.edu.cn/f/{}/?dl=1"


class VisDA2017(FolderDataset):
    name = "visda2017"
    classes = CLASSES
    domains = ("train", "validation")
    # DAPL's domain names ("synthetic", "real"; docs/methods.md, dapl).
    domain_prompt_names = {"train": "synthetic", "validation": "real"}
    tasks = (Task("train2val", "train", "validation"),)
    # DAPL's single zero-shot prompt (docs/methods.md, zeroshot).
    templates = ("a photo of a {}.",)
    headline_metric = "mean_class_acc"
    train_split = adapt_split = eval_split = WHOLE_DOMAIN
    layout = Layout(
        dataset_dirs=("visda2017", "visda17", "VisDA2017", "visda-2017", "VisDA-2017"),
        domain_dirs={"train": ("train",), "validation": ("validation",)},
        split_lists={(d, WHOLE_DOMAIN): (f"{d}/image_list.txt", f"image_list/{d}.txt")
                     for d in ("train", "validation")},
    )
    expected_counts = {("train", WHOLE_DOMAIN): 152397, ("validation", WHOLE_DOMAIN): 55388}
    downloads = {
        # The official tars (each with its image_list.txt); Google Drive serves the same files.
        "official": [
            {"name": "train.tar", "into": "visda2017/train",
             "urls": [CSR.format("train.tar"), GDRIVE.format("0BwcIeDbwQ0XmdENwQ3R4TUVTMHc")]},
            {"name": "validation.tar", "into": "visda2017/validation",
             "urls": [CSR.format("validation.tar"), GDRIVE.format("0BwcIeDbwQ0XmUEVJRjl4Tkd4bTA")]},
        ],
        "tllib": [
            {"name": "image_list.zip", "into": "visda2017/image_list", "urls": [TLLIB.format("c107de37b8094c5398dc")]},
            {"name": "train.tgz", "into": "visda2017/train", "urls": [TLLIB.format("c5f3ce59139144ec8221")]},
            {"name": "validation.tgz", "into": "visda2017/validation", "urls": [TLLIB.format("da70e4b1cf514ecea562")]},
        ],
    }
    source_info = ("the VisDA-2017 challenge, https://github.com/VisionLearningGroup/taskcv-2017-public "
                   "(http://csr.bu.edu/ftp/visda17/clf/train.tar and validation.tar)")


@hookimpl
def register_datasets(register):
    register(VisDA2017)
