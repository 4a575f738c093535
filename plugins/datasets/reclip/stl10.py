"""Dataset plugin ``stl10``: STL-10 (Coates et al., AISTATS 2011), 96x96 colour images of 10 classes,
as ReCLIP's benchmark reads it: one domain, the official labeled train (5,000) and test (8,000) sets.

Protocol (ReCLIP, Hu et al., WACV 2024): one task, ``stl10``; ReCLIP's code reads torchvision's
``STL10(split="test")`` (its ``datasets.py``), the test set, and adapts on the same images, unlabeled,
that it scores: run it with ``--transductive``. Without it a source-free method adapts on the labeled
train set (the inductive variant; the 100,000 unlabeled images and the ten training folds are not
used). No val split. ``profile`` is ``NO_PROFILE``: the images are seen at CLIP's 224 px.

Labels: torchvision's, the stored label less one (the ``*_y.bin`` files number the classes 1..10), in
the order of the archive's ``class_names.txt``. Class names and templates: ReCLIP's
``prompts/clip_prompts`` entry ``"stl10"``: ``0 airplane``, ``1 bird``, ``2 car`` ... ``7 monkey``,
``8 ship``, ``9 truck`` (the names of ``class_names.txt``), with "a photo of a {}." and "a photo of the {}.".

Layout under ``--root`` (torchvision's, as ``stl10_binary.tar.gz`` unpacks): ``stl10_binary/``
holding ``train_X.bin``, ``train_y.bin``, ``test_X.bin``, ``test_y.bin`` (and ``class_names.txt``,
``unlabeled_X.bin``, ``fold_indices.txt``, not read). ``*_X.bin``: 27,648 bytes an image, the red
plane, then green, then blue, each 96 x 96 stored column by column (as MATLAB writes arrays: the
pixel below comes next), so an image is transposed to rows as torchvision does; ``*_y.bin``: one
byte an image.

Sources: the archive's URL and md5 are torchvision's (``torchvision/datasets/stl10.py``).
"""

from __future__ import annotations

import numpy as np

from udabench import DataError, hookimpl

from .arrays import ArrayDataset

#: ReCLIP's class names (``prompts/clip_prompts``, ``"stl10"``), in label order, and its templates.
CLASSES = ("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck")
TEMPLATES = ("a photo of a {}.", "a photo of the {}.")
FOLDER = "stl10_binary"
SIDE = 96
URL = "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz"


class STL10(ArrayDataset):
    name = "stl10"
    classes = CLASSES
    templates = TEMPLATES
    image_size = SIDE
    expected_counts = {"train": 5000, "test": 8000}
    downloads = {
        "official": [{"name": "stl10_binary.tar.gz", "into": FOLDER, "md5": "91f7769df0f17e558f3565bffb0c7dfb",
                      "urls": [URL]}],
    }
    source_info = (f"{URL} (over 2 GB, most of it the unlabeled images; `udabench data download stl10`), "
                   f"unpacked into <root>")

    @classmethod
    def describe_layout(cls) -> str:
        return "\n".join([
            f"  <root>/{FOLDER}/    (torchvision's layout)",
            "    train_X.bin, train_y.bin    train: 27,648 pixel bytes an image (column-major planes), "
            "1 label byte (1..10)",
            "    test_X.bin, test_y.bin      test",
        ])

    def read(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        folder = self.root / FOLDER
        x_path, y_path = folder / f"{split}_X.bin", folder / f"{split}_y.bin"
        pixels = self.records(self.read_bytes(x_path, split), 3 * SIDE * SIDE, x_path, split)
        stored = np.frombuffer(self.read_bytes(y_path, split), np.uint8)
        bad = np.flatnonzero((stored < 1) | (stored > len(CLASSES)))
        if bad.size:
            raise DataError(self.missing_message(split, [
                f"{y_path}: image {int(bad[0])} has the label {int(stored[bad[0]])}; STL-10's are 1..{len(CLASSES)}: "
                f"the file is damaged"]))
        # (N, channel, column, row) as stored -> (N, row, column, channel)
        images = pixels.reshape(-1, 3, SIDE, SIDE).transpose(0, 3, 2, 1)
        return images, stored.astype(np.int64) - 1


@hookimpl
def register_datasets(register):
    register(STL10)
