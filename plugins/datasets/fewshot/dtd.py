"""Dataset plugin ``dtd``: the Describable Textures Dataset (Cimpoi et al., CVPR 2014) as CoOp's
few-shot suite reads it: 47 texture attributes, one domain, CoOp's fixed train / val / test split
(2,820 / 1,128 / 1,692 images: each class's 120 images cut 60 / 24 / 36 at random by CoOp; the
official ten splits in ``labels/`` are not used).

Labels: CoOp's order, the Python sort of the class folders of ``images/`` (all lower-case, so
alphabetical): ``0 banded``, ``1 blotchy`` ... ``46 zigzagged``; the names are the folder names, no
renaming. The split file names each label; a file that names them otherwise is refused.

Prompt: CoOp's zero-shot template for it (``trainers/zsclip.py``), "{} texture.".

Layout under ``--root`` (CoOp's DATASETS.md): the archive's ``dtd/`` folder itself, so
``dtd/images/<class>/<class>_%04d.jpg`` (``banded/banded_0133.jpg``), ``dtd/labels/`` and
``dtd/imdb/`` (not read), plus ``dtd/split_zhou_DescribableTextures.json``. Sources: the VGG archive
dtd-r1.0.1.tar.gz (md5 as torchvision's ``DTD`` checks it) and CoOp's split file on Google Drive.
The class list was read off a published copy of CoOp's split file
(linzhiqiu/cross_modal_adaptation, ``splits/split_zhou_DescribableTextures.json``, whose sizes are
the published ones) and is the sorted folder list.
"""

from __future__ import annotations

from udabench import SplitFileDataset, hookimpl

#: The class folders, in label order (their Python sort).
CLASSES = (
    "banded", "blotchy", "braided", "bubbly", "bumpy", "chequered", "cobwebbed", "cracked",
    "crosshatched", "crystalline", "dotted", "fibrous", "flecked", "freckled", "frilly", "gauzy",
    "grid", "grooved", "honeycombed", "interlaced", "knitted", "lacelike", "lined", "marbled",
    "matted", "meshed", "paisley", "perforated", "pitted", "pleated", "polka-dotted", "porous",
    "potholed", "scaly", "smeared", "spiralled", "sprinkled", "stained", "stratified", "striped",
    "studded", "swirly", "veined", "waffled", "woven", "wrinkled", "zigzagged",
)
GDRIVE = "https://drive.google.com/uc?export=download&id={}"


class DescribableTextures(SplitFileDataset):
    name = "dtd"
    classes = CLASSES
    prompt_names = tuple(c.replace("_", " ") for c in CLASSES)
    templates = ("{} texture.",)
    dataset_dirs = ("dtd",)
    image_dir = "images"
    split_file = "split_zhou_DescribableTextures.json"
    expected_counts = {"train": 2820, "val": 1128, "test": 1692}
    layout_text = ("  <root>/dtd/    (or <root> itself)\n"
                   "    split_zhou_DescribableTextures.json    CoOp's split file: train / val / test\n"
                   "    images/<class>/<class>_%04d.jpg        e.g. images/banded/banded_0133.jpg\n"
                   "    labels/, imdb/                         the official splits (not read)")
    downloads = {
        # The archive holds dtd/{images,labels,imdb}: it unpacks into <root>/dtd.
        "official": [
            {"name": "dtd-r1.0.1.tar.gz", "into": "dtd", "md5": "fff73e5086ae6bdbea199a49dfb8a4c1",
             "urls": ["https://www.robots.ox.ac.uk/~vgg/data/dtd/download/dtd-r1.0.1.tar.gz"]},
            {"name": "split_zhou_DescribableTextures.json", "into": "dtd",
             "urls": [GDRIVE.format("1u3_QfB467jqHgNXC00UIzbLZRQCg2S7x")]},
        ],
    }
    source_info = ("the images at https://www.robots.ox.ac.uk/~vgg/data/dtd/ (dtd-r1.0.1.tar.gz, extracted into "
                   "<root>, giving <root>/dtd) and CoOp's split file split_zhou_DescribableTextures.json "
                   "(https://drive.google.com/file/d/1u3_QfB467jqHgNXC00UIzbLZRQCg2S7x, see CoOp's DATASETS.md)")


@hookimpl
def register_datasets(register):
    register(DescribableTextures)
