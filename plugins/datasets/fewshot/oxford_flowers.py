"""Dataset plugin ``oxford_flowers``: Oxford 102 Flowers (Nilsback & Zisserman, ICVGIP 2008) as CoOp's
few-shot suite reads it: 102 flower species, one domain, CoOp's fixed train / val / test split
(4,093 / 1,633 / 2,463 images: every class cut 50 / 20 / 30 at random by CoOp; the official
trnid / valid / tstid split is not used).

Labels: the official label of each image in ``imagelabels.mat`` minus one, named by
``cat_to_name.json`` (keys ``"1"`` ... ``"102"``): ``0 pink primrose``, ``1 hard-leaved pocket
orchid`` ... ``101 blackberry lily``; no renaming. Many ``cat_to_name.json`` copies in public
repositories name label 77 (key ``"78"``) ``lotus lotus``; CoOp's split file says ``lotus``. A
split file that says ``lotus lotus`` (one regenerated with such a copy) is refused like any split
file naming a label otherwise: use CoOp's.

Prompt: CoOp's zero-shot template for it (``trainers/zsclip.py``), "a photo of a {}, a type of
flower.".

Layout under ``--root`` (CoOp's DATASETS.md): ``oxford_flowers/jpg/image_%05d.jpg`` (00001 to
08189), ``oxford_flowers/split_zhou_OxfordFlowers.json``, and ``imagelabels.mat`` and
``cat_to_name.json`` beside them (not read: the split file already names every image's class).
Sources: the VGG files 102flowers.tgz and imagelabels.mat (md5s as torchvision's ``Flowers102``
checks them), CoOp's cat_to_name.json and split file on Google Drive. The class list, ``lotus``
included, was read off a published copy of CoOp's split file (linzhiqiu/cross_modal_adaptation,
``splits/split_zhou_OxfordFlowers.json``, whose sizes are the published ones; its
``cat_to_name.json`` says ``lotus`` too); azshue/TPT's ``data/cls_to_names.py``, which reads
CoOp's split files, has ``"78": "lotus"`` as well.
"""

from __future__ import annotations

from udabench import SplitFileDataset, hookimpl

#: CoOp's class names (cat_to_name.json's values for keys "1" ... "102"), in label order.
CLASSES = (
    "pink primrose", "hard-leaved pocket orchid", "canterbury bells", "sweet pea",
    "english marigold", "tiger lily", "moon orchid", "bird of paradise", "monkshood",
    "globe thistle", "snapdragon", "colt's foot", "king protea", "spear thistle", "yellow iris",
    "globe-flower", "purple coneflower", "peruvian lily", "balloon flower", "giant white arum lily",
    "fire lily", "pincushion flower", "fritillary", "red ginger", "grape hyacinth", "corn poppy",
    "prince of wales feathers", "stemless gentian", "artichoke", "sweet william", "carnation",
    "garden phlox", "love in the mist", "mexican aster", "alpine sea holly", "ruby-lipped cattleya",
    "cape flower", "great masterwort", "siam tulip", "lenten rose", "barbeton daisy", "daffodil",
    "sword lily", "poinsettia", "bolero deep blue", "wallflower", "marigold", "buttercup",
    "oxeye daisy", "common dandelion", "petunia", "wild pansy", "primula", "sunflower",
    "pelargonium", "bishop of llandaff", "gaura", "geranium", "orange dahlia", "pink-yellow dahlia",
    "cautleya spicata", "japanese anemone", "black-eyed susan", "silverbush", "californian poppy",
    "osteospermum", "spring crocus", "bearded iris", "windflower", "tree poppy", "gazania",
    "azalea", "water lily", "rose", "thorn apple", "morning glory", "passion flower", "lotus",
    "toad lily", "anthurium", "frangipani", "clematis", "hibiscus", "columbine", "desert-rose",
    "tree mallow", "magnolia", "cyclamen", "watercress", "canna lily", "hippeastrum", "bee balm",
    "ball moss", "foxglove", "bougainvillea", "camellia", "mallow", "mexican petunia", "bromelia",
    "blanket flower", "trumpet creeper", "blackberry lily",
)
VGG = "https://www.robots.ox.ac.uk/~vgg/data/flowers/102/{}"
GDRIVE = "https://drive.google.com/uc?export=download&id={}"


class OxfordFlowers(SplitFileDataset):
    name = "oxford_flowers"
    classes = CLASSES
    prompt_names = tuple(c.replace("_", " ") for c in CLASSES)
    templates = ("a photo of a {}, a type of flower.",)
    dataset_dirs = ("oxford_flowers",)
    image_dir = "jpg"
    split_file = "split_zhou_OxfordFlowers.json"
    expected_counts = {"train": 4093, "val": 1633, "test": 2463}
    layout_text = ("  <root>/oxford_flowers/    (or <root> itself)\n"
                   "    split_zhou_OxfordFlowers.json    CoOp's split file: train / val / test\n"
                   "    jpg/image_%05d.jpg               image_00001.jpg ... image_08189.jpg\n"
                   "    imagelabels.mat, cat_to_name.json   labels and names (not read)")
    downloads = {
        # 102flowers.tgz unpacks to jpg/; the other files are copied beside it.
        "official": [
            {"name": "102flowers.tgz", "into": "oxford_flowers", "md5": "52808999861908f626f3c1f4e79d11fa",
             "urls": [VGG.format("102flowers.tgz")]},
            {"name": "imagelabels.mat", "into": "oxford_flowers", "md5": "e0620be6f572b9609742df49c70aed4d",
             "urls": [VGG.format("imagelabels.mat")]},
            {"name": "cat_to_name.json", "into": "oxford_flowers",
             "urls": [GDRIVE.format("1AkcxCXeK_RCGCEC_GvmWxjcjaNhu-at0")]},
            {"name": "split_zhou_OxfordFlowers.json", "into": "oxford_flowers",
             "urls": [GDRIVE.format("1Pp0sRXzZFZq15zVOzKjKBu4A9i01nozT")]},
        ],
    }
    source_info = ("the images at https://www.robots.ox.ac.uk/~vgg/data/flowers/102/ (102flowers.tgz, extracted "
                   "into <root>/oxford_flowers; imagelabels.mat beside it) and CoOp's cat_to_name.json "
                   "(https://drive.google.com/file/d/1AkcxCXeK_RCGCEC_GvmWxjcjaNhu-at0) and split file "
                   "split_zhou_OxfordFlowers.json (https://drive.google.com/file/d/1Pp0sRXzZFZq15zVOzKjKBu4A9i01nozT, "
                   "see CoOp's DATASETS.md)")


@hookimpl
def register_datasets(register):
    register(OxfordFlowers)
