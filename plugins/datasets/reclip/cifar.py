"""Dataset plugins ``cifar10`` and ``cifar100``: CIFAR-10 and CIFAR-100 (Krizhevsky, 2009), 32x32
colour images of 10 and 100 classes, as ReCLIP's benchmark reads them: one domain each, the official
train (50,000) and test (10,000) sets.

Protocol (ReCLIP, Hu et al., WACV 2024): one task each, ``cifar10`` and ``cifar100``; ReCLIP's code
reads torchvision's ``CIFAR10(train=False)`` and ``CIFAR100(train=False)`` (its ``datasets.py``), the
test set, and adapts on the same images, unlabeled, that it scores: run it with ``--transductive``.
Without it a source-free method adapts on the train set (the inductive variant). No val split.
The images are 32 px, but ReCLIP's protocol resizes them to CLIP's 224 px and trains with its usual
settings, so ``profile`` is ``NO_PROFILE`` (not the small-image profile).

Labels: torchvision's, the label stored with each image, numbered as the archives' ``batches.meta`` /
``meta`` name them (CIFAR-100: the fine labels, alphabetical). Class names and templates: ReCLIP's
``prompts/clip_prompts`` entries ``"cifar10"`` (``0 airplane`` ... ``9 truck``) and ``"cifar100"``
(``0 apple``, ``1 aquarium fish`` ... ``99 worm``: the meta names with spaces for underscores), each
with OpenAI's 18 CIFAR templates.

Layout under ``--root`` (torchvision's root: the archive's folder sits in it). Either version of the
official archive is read; the binary one first when both are there:

* binary (``cifar-10-binary.tar.gz``, ``cifar-100-binary.tar.gz``): ``cifar-10-batches-bin/
  data_batch_{1..5}.bin`` and ``test_batch.bin``, records of 1 label byte and 3,072 pixel bytes;
  ``cifar-100-binary/train.bin`` and ``test.bin``, records of a coarse and a fine label byte and
  3,072 pixel bytes. Pixels: the 1,024 red values row by row, then green, then blue.
* python (torchvision's download): ``cifar-10-batches-py/data_batch_{1..5}``, ``test_batch``;
  ``cifar-100-python/train``, ``test``: pickled dicts of ``data`` (N x 3,072 uint8, the same pixel
  order) and ``labels`` / ``fine_labels``. udabench never unpickles a downloaded file the usual way:
  these are read with ``udabench.safe_unpickle``, which builds only plain values and numpy arrays.

Sources: the archives' URLs and md5s are the CIFAR page's (https://www.cs.toronto.edu/~kriz/cifar.html;
torchvision's ``cifar.py`` has the python ones).
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar, Mapping

import numpy as np

from udabench import DataError, hookimpl, safe_unpickle

from .arrays import ArrayDataset

#: OpenAI's CIFAR templates, as ReCLIP's ``prompts/clip_prompts`` gives them for both datasets.
TEMPLATES = (
    "a photo of a {}.", "a blurry photo of a {}.", "a black and white photo of a {}.",
    "a low contrast photo of a {}.", "a high contrast photo of a {}.", "a bad photo of a {}.",
    "a good photo of a {}.", "a photo of a small {}.", "a photo of a big {}.", "a photo of the {}.",
    "a blurry photo of the {}.", "a black and white photo of the {}.", "a low contrast photo of the {}.",
    "a high contrast photo of the {}.", "a bad photo of the {}.", "a good photo of the {}.",
    "a photo of the small {}.", "a photo of the big {}.",
)
#: ReCLIP's class names (``prompts/clip_prompts``, ``"cifar10"``), in label order.
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
#: ReCLIP's class names (``prompts/clip_prompts``, ``"cifar100"``), in label order.
CIFAR100_CLASSES = (
    "apple", "aquarium fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle", "bowl",
    "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle", "chair",
    "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur", "dolphin",
    "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard", "lamp",
    "lawn mower", "leopard", "lion", "lizard", "lobster", "man", "maple tree", "motorcycle", "mountain",
    "mouse", "mushroom", "oak tree", "orange", "orchid", "otter", "palm tree", "pear", "pickup truck",
    "pine tree", "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road",
    "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
    "squirrel", "streetcar", "sunflower", "sweet pepper", "table", "tank", "telephone", "television",
    "tiger", "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow tree", "wolf",
    "woman", "worm",
)
PIXELS = 3 * 32 * 32
BASE_URL = "https://www.cs.toronto.edu/~kriz/"


class Cifar(ArrayDataset):
    """CIFAR in either official version: ``binary_dir`` / ``python_dir`` under the root, each split's files."""

    templates = TEMPLATES
    image_size = 32
    expected_counts = {"train": 50000, "test": 10000}
    binary_dir: ClassVar[str]
    python_dir: ClassVar[str]
    #: split -> the files of the binary version (in order), and of the python version.
    binary_files: ClassVar[Mapping[str, tuple[str, ...]]]
    python_files: ClassVar[Mapping[str, tuple[str, ...]]]
    #: Label bytes before a binary record's pixels; the label read is the last of them (CIFAR-100's fine label).
    label_bytes: ClassVar[int]
    #: The key of the labels in a python-version dict.
    label_key: ClassVar[str]

    @classmethod
    def describe_layout(cls) -> str:
        def files(folder: str, names: tuple[str, ...]) -> str:
            return f"{folder}/{names[0]}" if len(names) == 1 else f"{folder}/{names[0]} ... {names[-1]}"

        labels = "1 label byte" if cls.label_bytes == 1 else "a coarse and a fine label byte"
        rows = [(files(cls.binary_dir, cls.binary_files["train"]), "train, binary version"),
                (files(cls.binary_dir, cls.binary_files["test"]), f"test: records of {labels} + 3,072 pixel bytes"),
                (files(cls.python_dir, cls.python_files["train"]), "train, python version"),
                (files(cls.python_dir, cls.python_files["test"]), f"test: pickled dicts of data and {cls.label_key}")]
        width = max(len(path) for path, _ in rows)
        return "\n".join(["  <root>/    (torchvision's root; the binary version is read first when both are there)"]
                         + [f"    {path:<{width}}    {what}" for path, what in rows])

    def read(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        binary, python = self.root / self.binary_dir, self.root / self.python_dir
        if binary.is_dir():
            parts = [self.read_binary(binary / name, split) for name in self.binary_files[split]]
        elif python.is_dir():
            parts = [self.read_python(python / name, split) for name in self.python_files[split]]
        else:
            raise DataError(self.missing_message(split, [f"neither {binary} (the binary version) nor {python} "
                                                         f"(the python version) is there"]))
        pixels = np.concatenate([p for p, _ in parts])
        labels = np.concatenate([l for _, l in parts])
        return pixels.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels

    def read_binary(self, path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(pixels (N, 3,072), labels) of one binary batch file."""
        rows = self.records(self.read_bytes(path, split), self.label_bytes + PIXELS, path, split)
        return rows[:, self.label_bytes:], rows[:, self.label_bytes - 1].astype(np.int64)

    def read_python(self, path: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
        """(pixels (N, 3,072), labels) of one python-version batch, read with the restricted unpickler."""
        if not path.is_file():
            raise DataError(self.missing_message(split, [f"no file {path}"]))
        batch = safe_unpickle(path)
        if not isinstance(batch, dict):
            raise DataError(self.missing_message(split, [f"{path} holds a {type(batch).__name__}, not CIFAR's dict"]))
        batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
        data, labels = batch.get("data"), batch.get(self.label_key)
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != PIXELS:
            what = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
            raise DataError(self.missing_message(split, [f"{path}: 'data' is {what}, not CIFAR's N x {PIXELS} "
                                                         f"uint8 array: a damaged or foreign file"]))
        if not isinstance(labels, (list, tuple, np.ndarray)) or len(labels) != len(data):
            raise DataError(self.missing_message(split, [f"{path} has no list {self.label_key!r} of one label per "
                                                         f"image: a damaged or foreign file"]))
        try:
            return data, np.asarray(labels, np.int64)
        except (TypeError, ValueError):
            raise DataError(self.missing_message(split, [f"{path}: {self.label_key!r} holds values that are "
                                                         f"not integers"])) from None


class Cifar10(Cifar):
    name = "cifar10"
    classes = CIFAR10_CLASSES
    binary_dir, python_dir = "cifar-10-batches-bin", "cifar-10-batches-py"
    binary_files = {"train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)), "test": ("test_batch.bin",)}
    python_files = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
    label_bytes, label_key = 1, "labels"
    downloads = {
        "binary": [{"name": "cifar-10-binary.tar.gz", "into": "cifar-10-batches-bin",
                    "md5": "c32a1d4ab5d03f1284b67883e8d87530", "urls": [f"{BASE_URL}cifar-10-binary.tar.gz"]}],
        "python": [{"name": "cifar-10-python.tar.gz", "into": "cifar-10-batches-py",
                    "md5": "c58f30108f718f92721af3b95e74349a", "urls": [f"{BASE_URL}cifar-10-python.tar.gz"]}],
    }
    source_info = (f"{BASE_URL}cifar.html (the binary version cifar-10-binary.tar.gz, or the python version "
                   f"cifar-10-python.tar.gz; `udabench data download cifar10`), unpacked into <root>")


class Cifar100(Cifar):
    name = "cifar100"
    classes = CIFAR100_CLASSES
    binary_dir, python_dir = "cifar-100-binary", "cifar-100-python"
    binary_files = {"train": ("train.bin",), "test": ("test.bin",)}
    python_files = {"train": ("train",), "test": ("test",)}
    label_bytes, label_key = 2, "fine_labels"
    downloads = {
        "binary": [{"name": "cifar-100-binary.tar.gz", "into": "cifar-100-binary",
                    "md5": "03b5dce01913d631647c71ecec9e9cb8", "urls": [f"{BASE_URL}cifar-100-binary.tar.gz"]}],
        "python": [{"name": "cifar-100-python.tar.gz", "into": "cifar-100-python",
                    "md5": "eb9058c3a382ffc7106e4002c42a8d85", "urls": [f"{BASE_URL}cifar-100-python.tar.gz"]}],
    }
    source_info = (f"{BASE_URL}cifar.html (the binary version cifar-100-binary.tar.gz, or the python version "
                   f"cifar-100-python.tar.gz; `udabench data download cifar100`), unpacked into <root>")


@hookimpl
def register_datasets(register):
    register(Cifar10)
    register(Cifar100)
