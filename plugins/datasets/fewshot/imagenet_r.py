"""Dataset plugin ``imagenet-r``: ImageNet-R(endition) (Hendrycks et al., "The Many Faces of
Robustness", ICCV 2021) alone: 30,000 renditions (art, cartoons, graffiti, embroidery, origami,
sculptures, toys, ...) of 200 ImageNet classes.

One domain, one task ``imagenet-r``, one split ``test`` (every image) in every role: zero-shot
methods are scored on it; a few-shot run draws its shots from these images too (transductive; the
protocol leaves the shots out of the score). CoOp's protocol (shots from ImageNet, a 1,000-class
head scored over these 200 classes) is task ``imagenet-r`` of dataset ``imagenet``.

Labels: its own 200 classes, the sorted WordNet ids, labels 0..199, as CoOp's ImageNetR reader
numbers the sorted folders: ``0 n01443537 goldfish``, ``1 n01484850 great white shark`` ...
``199 n12267677 acorn``, named as ImageNet's classes are (CLIP's notebook, see ``imagenet.py``).
The 200 are the list of the authors' evaluation code (hendrycks/imagenet-r, eval.py,
``imagenet_r_wnids``).

Prompt: "a photo of a {}." (CoOp's zero-shot template for ImageNetR).

Layout under ``--root`` (CoOp's DATASETS.md): ``imagenet-rendition/imagenet-r/<wnid>/*.jpg``, 200
folders (the archive's README.txt beside them is ignored); ``--root`` may also be the
``imagenet-rendition`` folder.

Source: https://github.com/hendrycks/imagenet-r; ``udabench data download imagenet-r`` fetches
https://people.eecs.berkeley.edu/~hendrycks/imagenet-r.tar.
"""

from __future__ import annotations

from udabench import hookimpl

from .imagenet import ShiftDataset


class ImageNetR(ShiftDataset):
    name = "imagenet-r"


@hookimpl
def register_datasets(register):
    register(ImageNetR)
