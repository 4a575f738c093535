"""Dataset plugin ``imagenet-a``: ImageNet-A (Hendrycks et al., "Natural Adversarial Examples",
CVPR 2021) alone: 7,500 real photos of 200 ImageNet classes that ResNet-50 classifiers get wrong.

One domain, one task ``imagenet-a``, one split ``test`` (every image) in every role: zero-shot
methods are scored on it; a few-shot run draws its shots from these images too (transductive; the
protocol leaves the shots out of the score). CoOp's protocol (shots from ImageNet, a 1,000-class
head scored over these 200 classes) is task ``imagenet-a`` of dataset ``imagenet``.

Labels: its own 200 classes, the sorted WordNet ids, labels 0..199, as CoOp's ImageNetA reader
numbers the sorted folders: ``0 n01498041 stingray``, ``1 n01531178 goldfinch`` ...
``199 n12267677 acorn``, named as ImageNet's classes are (CLIP's notebook, see ``imagenet.py``).
The 200 are the list of the authors' evaluation code (hendrycks/natural-adv-examples, eval.py,
``thousand_k_to_200``).

Prompt: "a photo of a {}." (CoOp's zero-shot template for ImageNetA).

Layout under ``--root`` (CoOp's DATASETS.md): ``imagenet-adversarial/imagenet-a/<wnid>/*.jpg``, 200
folders (the archive's README.txt beside them is ignored); ``--root`` may also be the
``imagenet-adversarial`` folder.

Source: https://github.com/hendrycks/natural-adv-examples; ``udabench data download imagenet-a``
fetches https://people.eecs.berkeley.edu/~hendrycks/imagenet-a.tar.
"""

from __future__ import annotations

from udabench import hookimpl

from .imagenet import ShiftDataset


class ImageNetA(ShiftDataset):
    name = "imagenet-a"


@hookimpl
def register_datasets(register):
    register(ImageNetA)
