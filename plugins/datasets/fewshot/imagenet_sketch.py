"""Dataset plugin ``imagenet-sketch``: ImageNet-Sketch (Wang et al., NeurIPS 2019) alone: black and
white sketches of ImageNet's 1,000 classes, 50,889 images (about 50 per class).

One domain, one task ``imagenet-sketch``, one split ``test`` (every image) in every role:
zero-shot methods are scored on it; a few-shot run draws its shots from these images too
(transductive; the protocol leaves the shots out of the score). CoOp's protocol, shots from
ImageNet scored on the sketches, is task ``imagenet-sketch`` of dataset ``imagenet``.

Labels: ImageNet's, the sorted WordNet ids (``0 n01440764 tench`` ... ``999 n15075141 toilet
paper``), named as in CLIP's notebook (see ``imagenet.py``); CoOp's ImageNetSketch reader numbers
the sorted folders the same way.

Prompt: "a photo of a {}." (CoOp's zero-shot template for ImageNetSketch).

Layout under ``--root`` (CoOp's DATASETS.md): ``imagenet-sketch/images/<wnid>/*.JPEG``, 1,000 folders;
``--root`` may also be the ``imagenet-sketch`` folder.

Source: https://github.com/HaohanWang/ImageNet-Sketch: the zip is on Google Drive and Kaggle only,
so there is no ``udabench data download``; put its 1,000 wnid folders in ``imagenet-sketch/images/``.
Its README says 50,000 images; the copies hold 50,889 (the Hugging Face copy's row count), the
count udabench expects.
"""

from __future__ import annotations

from udabench import hookimpl

from .imagenet import ShiftDataset


class ImageNetSketch(ShiftDataset):
    name = "imagenet-sketch"


@hookimpl
def register_datasets(register):
    register(ImageNetSketch)
