"""Dataset plugin ``office31``: Office-31 (Saenko et al., ECCV 2010), 31 office objects in 3 domains.

Layout and sources in docs/datasets.md; protocol in docs/methods.md: the 6 tasks A2W,
D2W, W2D, A2D, D2A, W2A, transductive (the whole source trains, the whole target is
adapted to, unlabeled, and evaluated on: split ``all``).

Labels: the alphabetical folder order (``0 back_pack`` ... ``30 trash_can``), which is also
tllib's ``Office31.CLASSES`` and the order of the common ``*_list.txt`` files.

Layouts accepted under ``--root``: the original and tllib tree
``[office31/]{amazon,dslr,webcam}/images/<class>/*.jpg``, the flattened Dassl tree
``office31/<domain>/<class>/`` (no ``images/`` level), capitalised domain folders, the
original tar's ``domain_adaptation_images/`` folder, and tllib's optional
``image_list/<domain>.txt`` (which then defines the domain's images).
"""

from __future__ import annotations

from udabench import WHOLE_DOMAIN, FolderDataset, Layout, hookimpl, named_tasks, prompt_name


CLASSES = (
    "back_pack", "bike", "bike_helmet", "bookcase", "bottle", "calculator", "desk_chair", "desk_lamp",
    "desktop_computer", "file_cabinet", "headphones", "keyboard", "laptop_computer", "letter_tray",
    "mobile_phone", "monitor", "mouse", "mug", "paper_notebook", "pen", "phone", "printer", "projector",
    "punchers", "ring_binder", "ruler", "scissors", "speaker", "stapler", "tape_dispenser", "trash_can",
)
#: Where "underscores to spaces" is not the word: ``back_pack`` is a backpack.
PROMPT_OVERRIDES = {"back_pack": "backpack"}
SHORT = {"amazon": "A", "dslr": "D", "webcam": "W"}
TLLIB = "https://cloud.tsinghua.edu.cn/f/{}/?dl=1"


class Office31(FolderDataset):
    name = "office31"
    classes = CLASSES
    prompt_names = tuple(PROMPT_OVERRIDES.get(c, prompt_name(c)) for c in CLASSES)
    domains = tuple(SHORT)
    domain_prompt_names = {"amazon": "amazon", "dslr": "dslr", "webcam": "webcam"}
    tasks = named_tasks(SHORT, ("A2W", "D2W", "W2D", "A2D", "D2A", "W2A"))
    # DAPL's single zero-shot prompt (docs/methods.md, zeroshot).
    templates = ("a photo of a {}.",)
    train_split = adapt_split = eval_split = WHOLE_DOMAIN
    layout = Layout(
        dataset_dirs=("office31", "Office31", "office-31", "domain_adaptation_images"),
        domain_dirs={"amazon": ("amazon", "Amazon"), "dslr": ("dslr", "DSLR"), "webcam": ("webcam", "Webcam")},
        class_levels=("images", ""),
        split_lists={(d, WHOLE_DOMAIN): (f"image_list/{d}.txt",) for d in SHORT},
    )
    expected_counts = {("amazon", WHOLE_DOMAIN): 2817, ("dslr", WHOLE_DOMAIN): 498,
                       ("webcam", WHOLE_DOMAIN): 795}
    downloads = {
        # pytorch-adapt's archive: the three domains as <domain>/images/<class>/, with an md5.
        "pytorch-adapt": [
            {"name": "office31.tar.gz", "into": "office31", "md5": "89818e596f3cdda1d56da0f077435faa",
             "urls": ["https://cornell.box.com/shared/static/3v2ftdkdhpz1lbbr4uhu0135w7m79p7q"]},
        ],
        # tllib's mirrors: one archive per domain plus image_list/ (no checksum published).
        "tllib": [
            {"name": "image_list.zip", "into": "office31/image_list", "urls": [TLLIB.format("2c1dd9fbcaa9455aa4ad")]},
            {"name": "amazon.tgz", "into": "office31/amazon", "urls": [TLLIB.format("ec12dfcddade43ab8101")]},
            {"name": "dslr.tgz", "into": "office31/dslr", "urls": [TLLIB.format("a41d818ae2f34da7bb32")]},
            {"name": "webcam.tgz", "into": "office31/webcam", "urls": [TLLIB.format("8a41009a166e4131adcd")]},
        ],
    }
    source_info = ("the Office-31 page https://faculty.cc.gatech.edu/~judy/domainadapt/ (also "
                   "https://people.eecs.berkeley.edu/~jhoffman/domainadapt/), tar domain_adaptation_images.tar.gz")


@hookimpl
def register_datasets(register):
    register(Office31)
