"""Dataset plugin ``mnist``: MNIST (LeCun et al., 1998), 28x28 grayscale handwritten digits, 10 classes,
as ReCLIP's benchmark reads it: one domain, the official train (60,000) and test (10,000) sets.

Protocol (ReCLIP, Hu et al., WACV 2024): one task, ``mnist``; ReCLIP's code reads torchvision's
``MNIST(train=False)`` (its ``datasets.py``), the test set, and adapts on the same images, unlabeled,
that it scores: run it with ``--transductive``. Without it a source-free method adapts on the train
set (the inductive variant). No val split. The digits are handed out as RGB (the gray value in all
three channels), as CLIP's preprocessing converts them; they are 28 px but seen at CLIP's 224 px in
ReCLIP's protocol, so ``profile`` is ``NO_PROFILE``. A flip changes a digit: ``hflip_ok`` is False.

Labels: torchvision's, the digit itself (``0`` ... ``9``, from the label files). Class names and
template: ReCLIP's ``prompts/clip_prompts`` entry ``"mnist"``: the digits ``"0"`` ... ``"9"`` and
the one template ``a photo of the number: "{}".``.

Layout under ``--root`` (torchvision's): ``MNIST/raw/`` holding ``train-images-idx3-ubyte``,
``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte``, each either
unpacked or as the downloaded ``.gz``. The IDX format: a 4-byte magic number (two zero bytes, the
element type, 0x08 for unsigned bytes, and the number of dimensions), each dimension as a big-endian
32-bit integer, then the values; images are ``N x 28 x 28``, labels ``N``.

Sources: the files' URLs (torchvision's mirrors) and md5s are torchvision's (``torchvision/datasets/mnist.py``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from udabench import DataError, hookimpl

from .arrays import ArrayDataset

#: ReCLIP's class names (``prompts/clip_prompts``, ``"mnist"``), in label order, and its template.
CLASSES = tuple(str(d) for d in range(10))
TEMPLATES = ('a photo of the number: "{}".',)
RAW_DIR = "MNIST/raw"
#: split -> the prefix of its files.
PREFIX = {"train": "train", "test": "t10k"}
MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
#: file -> md5 of its .gz (torchvision's).
MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
UNSIGNED_BYTE = 0x08


class MNIST(ArrayDataset):
    name = "mnist"
    classes = CLASSES
    templates = TEMPLATES
    hflip_ok = False
    image_size = 28
    expected_counts = {"train": 60000, "test": 10000}
    downloads = {
        "official": [{"name": name, "into": RAW_DIR, "md5": md5, "urls": [m + name for m in MIRRORS]}
                     for name, md5 in MD5.items()],
    }
    source_info = (f"the four .gz files of {MIRRORS[1]} (torchvision's mirror: {MIRRORS[0]}; "
                   f"`udabench data download mnist`), in <root>/{RAW_DIR}, unpacked or not")

    @classmethod
    def describe_layout(cls) -> str:
        return "\n".join([
            f"  <root>/{RAW_DIR}/    (torchvision's layout; each file unpacked or as its .gz)",
            "    train-images-idx3-ubyte, train-labels-idx1-ubyte    train",
            "    t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte      test",
        ])

    def read(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        folder = self.root / RAW_DIR
        images = self.read_idx(folder / f"{PREFIX[split]}-images-idx3-ubyte", 3, split)
        labels = self.read_idx(folder / f"{PREFIX[split]}-labels-idx1-ubyte", 1, split)
        return images, labels.astype(np.int64)

    def read_idx(self, path: Path, ndim: int, split: str) -> np.ndarray:
        """The unsigned-byte array of ``ndim`` dimensions an IDX file (or its .gz) holds."""
        data = self.read_bytes(path, split, gz_ok=True)
        problem = idx_problem(data, ndim)
        if problem:
            raise DataError(self.missing_message(split, [f"{path}: {problem}: the file is damaged, or not "
                                                         f"MNIST's"]))
        shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
        return np.frombuffer(data, np.uint8, offset=4 + 4 * ndim).reshape(shape)


def idx_problem(data: bytes, ndim: int) -> str:
    """What keeps ``data`` from being an IDX file of unsigned bytes in ``ndim`` dimensions ("" if nothing)."""
    head = 4 + 4 * ndim
    if len(data) < head:
        return f"{len(data)} bytes, shorter than an IDX header"
    if data[0:2] != b"\0\0" or data[2] != UNSIGNED_BYTE or data[3] != ndim:
        return (f"the magic number is {data[0:4].hex()}, not 000008{ndim:02x} (unsigned bytes in {ndim} "
                f"dimension{'s' if ndim > 1 else ''})")
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    if len(data) - head != int(np.prod(shape)):
        return f"the header declares {' x '.join(map(str, shape))} values, but {len(data) - head:,} bytes follow it"
    return ""


@hookimpl
def register_datasets(register):
    register(MNIST)
