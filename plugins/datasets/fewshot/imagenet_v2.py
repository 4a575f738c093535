"""Dataset plugin ``imagenet-v2``: ImageNet-V2 (Recht et al., ICML 2019), its matched-frequency test
set alone: 10,000 new images of ImageNet's 1,000 classes, ten per class.

One domain, one task ``imagenet-v2``, one split ``test`` (every image) in every role: zero-shot
methods are scored on it; a few-shot run draws its shots from these images too (transductive;
the protocol leaves the shots out of the score). CoOp's protocol, shots from ImageNet scored on
ImageNet-V2, is task ``imagenet-v2`` of dataset ``imagenet``.

Labels: ImageNet's (``0 tench`` ... ``999 toilet paper``, the sorted WordNet ids named as in
CLIP's notebook, see ``imagenet.py``). The folders are numbered: folder ``i`` holds label ``i``,
as CoOp's ImageNetV2 reader takes them (not the string order ``0, 1, 10, 100, ...`` that a
generic image-folder reader would give them).

Prompt: "a photo of a {}." (CoOp's zero-shot template for ImageNetV2).

Layout under ``--root`` (CoOp's DATASETS.md): ``imagenetv2/imagenetv2-matched-frequency-format-val/<i>/*.jpeg``
for i in 0..999; ``--root`` may also be the ``imagenetv2`` folder.

Source: https://github.com/modestyachts/ImageNetV2; ``udabench data download imagenet-v2`` fetches
``imagenetv2-matched-frequency.tar.gz`` (Hugging Face, vaishaal/ImageNetV2; CoOp's DATASETS.md
names the former S3 address, kept as the second mirror).
"""

from __future__ import annotations

from udabench import hookimpl

from .imagenet import ShiftDataset


class ImageNetV2(ShiftDataset):
    name = "imagenet-v2"


@hookimpl
def register_datasets(register):
    register(ImageNetV2)
