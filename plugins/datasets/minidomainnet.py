"""Dataset plugin ``minidomainnet``: miniDomainNet (Zhou et al., DAEL, TIP 2021), 126 DomainNet
classes in 4 domains, with Dassl's ``splits_mini`` split files (split source ``dassl-splits_mini``).

Layout and sources in docs/datasets.md; protocol in docs/methods.md (Dassl's
``miniDomainNet``): the 12 tasks ``c2p`` ... ``s2r``; the source trains on its
``splits_mini/<domain>_train.txt``, the method adapts to the target's train split and is
evaluated on the target's ``_test.txt``. The images are the full DomainNet folders.

Not DomainNet-126 (Saito et al.'s MME lists, pytorch-adapt's 80/20 lists): same domains and
classes, other split files, other numbers.

Labels: the 126 classes in DomainNet's official order.
The label order inside ``splits_mini`` is not documented, so each
image's class is read from its path (``<domain>/<class>/<file>``) and the files' numeric
labels are only checked for consistency. The per-domain image counts are not published
(about 140,006 in all), so they are not checked.

Layouts accepted under ``--root``: ``[domainnet|DomainNet|domain_net]/<domain>/<class>/*.jpg``
with ``splits_mini/<domain>_{train,test}.txt`` beside the domain folders (Dassl).
"""

from __future__ import annotations

from udabench import FolderDataset, Layout, hookimpl, pair_tasks


from .domainnet import PROMPT_OVERRIDES, SPLITS, image_archives

CLASSES = (
    "aircraft_carrier", "alarm_clock", "ant", "anvil", "asparagus", "axe", "banana", "basket", "bathtub",
    "bear", "bee", "bird", "blackberry", "blueberry", "bottlecap", "broccoli", "bus", "butterfly", "cactus",
    "cake", "calculator", "camel", "camera", "candle", "cannon", "canoe", "carrot", "castle", "cat",
    "ceiling_fan", "cello", "cell_phone", "chair", "chandelier", "coffee_cup", "compass", "computer", "cow",
    "crab", "crocodile", "cruise_ship", "dog", "dolphin", "dragon", "drums", "duck", "dumbbell", "elephant",
    "eyeglasses", "feather", "fence", "fish", "flamingo", "flower", "foot", "fork", "frog", "giraffe",
    "goatee", "grapes", "guitar", "hammer", "helicopter", "helmet", "horse", "kangaroo", "lantern", "laptop",
    "leaf", "lion", "lipstick", "lobster", "microphone", "monkey", "mosquito", "mouse", "mug", "mushroom",
    "onion", "panda", "peanut", "pear", "peas", "pencil", "penguin", "pig", "pillow", "pineapple", "potato",
    "power_outlet", "purse", "rabbit", "raccoon", "rhinoceros", "rifle", "saxophone", "screwdriver",
    "sea_turtle", "see_saw", "sheep", "shoe", "skateboard", "snake", "speedboat", "spider", "squirrel",
    "strawberry", "streetlight", "string_bean", "submarine", "swan", "table", "teapot", "teddy-bear",
    "television", "The_Eiffel_Tower", "The_Great_Wall_of_China", "tiger", "toe", "train", "truck", "umbrella",
    "vase", "watermelon", "whale", "zebra",
)
SHORT = {"clipart": "c", "painting": "p", "real": "r", "sketch": "s"}


class MiniDomainNet(FolderDataset):
    name = "minidomainnet"
    split_source = "dassl-splits_mini"
    classes = CLASSES
    prompt_names = tuple(PROMPT_OVERRIDES.get(c, c.replace("_", " ")) for c in CLASSES)
    domains = tuple(SHORT)
    domain_prompt_names = {d: d for d in SHORT}
    tasks = pair_tasks(SHORT)
    # DAPL's single zero-shot prompt (docs/methods.md, zeroshot).
    templates = ("a photo of a {}.",)
    splits = SPLITS
    train_split, adapt_split, eval_split = "train", "train", "test"
    layout = Layout(
        dataset_dirs=("domainnet", "DomainNet", "domain_net"),
        domain_dirs={d: (d,) for d in SHORT},
        split_lists={(d, s): (f"splits_mini/{d}_{s}.txt",) for d in SHORT for s in SPLITS},
        lists_required=True,
    )
    downloads = {
        "dassl": [
            # Dassl's split files (a Google Drive zip), unpacked to domainnet/splits_mini/.
            {"name": "splits_mini.zip", "into": "domainnet/splits_mini",
             "urls": ["https://drive.google.com/uc?export=download&id=15rrLDCrzyi6ZY-1vJar3u7plgLe4COL7"]},
            *image_archives(SHORT),
        ],
    }
    source_info = ("Dassl's splits_mini (https://drive.google.com/open?id=15rrLDCrzyi6ZY-1vJar3u7plgLe4COL7, "
                   "see the Dassl.pytorch repository's dataset instructions) and the DomainNet images from http://ai.bu.edu/M3SDA/")


@hookimpl
def register_datasets(register):
    register(MiniDomainNet)
