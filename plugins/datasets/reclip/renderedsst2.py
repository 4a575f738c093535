"""Dataset plugin ``renderedsst2``: Rendered SST2 (OpenAI, the CLIP paper's optical character recognition
benchmark): sentences of the Stanford Sentiment Treebank v2 rendered as images, two classes, as
ReCLIP's benchmark reads it: one domain, the official train / valid / test split.

Protocol (ReCLIP, Hu et al., WACV 2024): one task, ``renderedsst2``; ReCLIP's code reads torchvision's
``RenderedSST2(split="test")`` (its ``datasets.py``) and adapts on the same images, unlabeled, that it
scores: run it with ``--transductive``. Without it a source-free method adapts on the train split
(the inductive variant). Splits: train 6,920, val 872 (the archive's ``valid`` folder), test 1,821
(torchvision's ``rendered_sst2.py`` docstring).

Labels: torchvision's, ``0 negative``, ``1 positive`` (the class folders sorted). Class names and
prompt template: ReCLIP's ``prompts/clip_prompts`` entry ``"renderedsst2"``: the same two words and
"a {} review of a movie.". A horizontal flip mirrors the rendered text, so ``hflip_ok`` is False.

Layout under ``--root`` (torchvision's): ``rendered-sst2/{train,valid,test}/{negative,positive}/*.png``,
as the official ``rendered-sst2.tgz`` unpacks.

Sources: the archive's URL and md5 are torchvision's (``torchvision/datasets/rendered_sst2.py``).
"""

from __future__ import annotations

from udabench import hookimpl

from .class_folders import ClassFolderDataset

#: ReCLIP's class names, in label order; the class folders carry the same names.
CLASSES = ("negative", "positive")
TEMPLATES = ("a {} review of a movie.",)


class RenderedSST2(ClassFolderDataset):
    name = "renderedsst2"
    classes = CLASSES
    templates = TEMPLATES
    folders = CLASSES
    split_dirs = {"train": "train", "val": "valid", "test": "test"}
    train_split, adapt_split, eval_split = "train", "train", "test"
    hflip_ok = False
    dataset_dirs = ("rendered-sst2",)
    expected_counts = {"train": 6920, "val": 872, "test": 1821}
    downloads = {
        "official": [
            {"name": "rendered-sst2.tgz", "into": "rendered-sst2", "md5": "2384d08e9dcfa4bd55b324e610496ee5",
             "urls": ["https://openaipublic.azureedge.net/clip/data/rendered-sst2.tgz"]},
        ],
    }
    source_info = ("OpenAI's rendered-sst2.tgz (https://openaipublic.azureedge.net/clip/data/rendered-sst2.tgz, "
                   "see https://github.com/openai/CLIP/blob/main/data/rendered-sst2.md): unpack it into <root>")


@hookimpl
def register_datasets(register):
    register(RenderedSST2)
