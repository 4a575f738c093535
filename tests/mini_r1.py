"""Miniatures of CIFAR-10, CIFAR-100, MNIST, STL-10 and FER2013 in their official on-disk formats (the
layouts torchvision reads): the real file names and record layouts (CIFAR's binary records and Python 2
pickles, IDX files, STL-10's column-major planes, FER2013's CSV), a few tiny images per class."""

from __future__ import annotations

import gzip
import io
import pickle
import struct
from pathlib import Path

import numpy as np

from udabench_plugins.datasets.reclip.cifar import Cifar10, Cifar100

from miniatures import seed_of

#: Images per class of each split of a miniature (train: 2, so that a batch file of CIFAR-10 holds several).
PER_CLASS = {"train": 2, "test": 1}


def images_of(name: str, split: str, labels: list[int], side: int, channels: int = 3) -> np.ndarray:
    """Random uint8 images ``(N, side, side, channels)`` (or ``(N, side, side)`` for 1 channel), one per label."""
    rng = np.random.default_rng(seed_of(name, split, len(labels)))
    shape = (len(labels), side, side, channels) if channels > 1 else (len(labels), side, side)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def labels_of(num_classes: int, split: str, seed: str) -> list[int]:
    """PER_CLASS[split] labels of every class, in a shuffled order (as the real files are)."""
    labels = [c for c in range(num_classes) for _ in range(PER_CLASS[split])]
    return [int(i) for i in np.random.default_rng(seed_of(seed, split)).permutation(labels)]


# -- CIFAR ---------------------------------------------------------------------------------------------
def cifar_planes(images: np.ndarray) -> np.ndarray:
    """``(N, 32, 32, 3)`` -> CIFAR's rows of 3,072 bytes: the red plane row by row, then green, then blue."""
    return images.transpose(0, 3, 1, 2).reshape(len(images), -1)


def cifar_data(dataset_cls) -> dict[str, tuple[np.ndarray, list[int]]]:
    """split -> (images, labels) of a CIFAR miniature."""
    out = {}
    for split in ("train", "test"):
        labels = labels_of(len(dataset_cls.classes), split, dataset_cls.name)
        out[split] = images_of(dataset_cls.name, split, labels, 32), labels
    return out


def chunks(n: int, parts: int) -> list[slice]:
    """``parts`` consecutive slices covering ``range(n)`` (the batch files of a split)."""
    edges = np.linspace(0, n, parts + 1).round().astype(int)
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def write_cifar_binary(root: Path, dataset_cls, data=None) -> Path:
    """The binary version: ``<binary_dir>/<file>`` of records ``label byte(s) + 3,072 pixel bytes``
    (CIFAR-100: the coarse label, ``fine // 5`` here, then the fine label)."""
    data = data or cifar_data(dataset_cls)
    folder = root / dataset_cls.binary_dir
    folder.mkdir(parents=True, exist_ok=True)
    for split, (images, labels) in data.items():
        files = dataset_cls.binary_files[split]
        for name, part in zip(files, chunks(len(labels), len(files))):
            label_cols = [np.asarray(labels[part], np.uint8)[:, None]]
            if dataset_cls.label_bytes == 2:
                label_cols.insert(0, (np.asarray(labels[part], np.uint8) // 5)[:, None])
            (folder / name).write_bytes(np.hstack([*label_cols, cifar_planes(images[part])]).tobytes())
    if dataset_cls is Cifar10:
        (folder / "batches.meta.txt").write_text("\n".join(dataset_cls.classes) + "\n")
    return root


class Py2Pickler(pickle._Pickler):
    """A pickler writing what Python 2's cPickle wrote for CIFAR: every str and bytes as a Python 2 ``str``
    (BINSTRING), numpy's module as ``numpy.core.multiarray`` (numpy 1.x)."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_bytes(self, obj):
        self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    def save_str(self, obj):
        self.save_bytes(obj.encode("latin1"))

    def save_global(self, obj, name=None):
        module, name = obj.__module__, name or obj.__qualname__
        module = module.replace("numpy._core", "numpy.core")
        self.write(pickle.GLOBAL + f"{module}\n{name}\n".encode())
        self.memoize(obj)

    dispatch[bytes] = save_bytes
    dispatch[str] = save_str
    dispatch[type] = save_global


def py2_pickle(obj) -> bytes:
    buf = io.BytesIO()
    Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def write_cifar_python(root: Path, dataset_cls, data=None, dump=py2_pickle) -> Path:
    """The python version: ``<python_dir>/<file>``, pickled dicts of ``data`` (N x 3,072 uint8) and the
    labels (``labels``; CIFAR-100: ``fine_labels`` and ``coarse_labels``), and the meta file, as the
    official archives hold them (written as Python 2 wrote them, by default)."""
    data = data or cifar_data(dataset_cls)
    folder = root / dataset_cls.python_dir
    folder.mkdir(parents=True, exist_ok=True)
    for split, (images, labels) in data.items():
        files = dataset_cls.python_files[split]
        for name, part in zip(files, chunks(len(labels), len(files))):
            batch = {"batch_label": f"{name} of 1", "data": cifar_planes(images[part]),
                     "filenames": [f"img_{i}.png" for i in range(part.start, part.stop)]}
            if dataset_cls is Cifar10:
                batch["labels"] = list(labels[part])
            else:
                batch["fine_labels"], batch["coarse_labels"] = list(labels[part]), [l // 5 for l in labels[part]]
            (folder / name).write_bytes(dump(batch))
    meta = ({"label_names": list(dataset_cls.classes), "num_cases_per_batch": 10000, "num_vis": 3072}
            if dataset_cls is Cifar10 else
            {"fine_label_names": [c.replace(" ", "_") for c in dataset_cls.classes], "coarse_label_names": []})
    (folder / ("batches.meta" if dataset_cls is Cifar10 else "meta")).write_bytes(dump(meta))
    return root


def cifar10(root: Path) -> Path:
    """CIFAR-10's binary version (the one downloaded by default)."""
    return write_cifar_binary(root, Cifar10)


def cifar100(root: Path) -> Path:
    """CIFAR-100's python version (torchvision's download), pickled as the official files are."""
    return write_cifar_python(root, Cifar100)


# -- MNIST ---------------------------------------------------------------------------------------------
def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes: magic 0x0000 08 <ndim>, the big-endian dimensions, the values."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", n) for n in array.shape)
    return header + np.ascontiguousarray(array, np.uint8).tobytes()


def mnist_data() -> dict[str, tuple[np.ndarray, list[int]]]:
    out = {}
    for split in ("train", "test"):
        labels = labels_of(10, split, "mnist")
        out[split] = images_of("mnist", split, labels, 28, channels=1), labels
    return out


def mnist(root: Path) -> Path:
    """``MNIST/raw/``: train files as the downloaded ``.gz``, test files unpacked (both are read)."""
    folder = root / "MNIST" / "raw"
    folder.mkdir(parents=True, exist_ok=True)
    for split, (images, labels) in mnist_data().items():
        prefix = "train" if split == "train" else "t10k"
        for kind, array in (("images-idx3", images), ("labels-idx1", np.asarray(labels, np.uint8))):
            name, data = f"{prefix}-{kind}-ubyte", idx_bytes(array)
            if split == "train":
                (folder / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (folder / name).write_bytes(data)
    return root


# -- STL-10 --------------------------------------------------------------------------------------------
STL_CLASS_NAMES = ("airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck")


def stl10_data() -> dict[str, tuple[np.ndarray, list[int]]]:
    out = {}
    for split in ("train", "test"):
        labels = labels_of(10, split, "stl10")
        out[split] = images_of("stl10", split, labels, 96), labels
    return out


def write_stl10(root: Path, data) -> Path:
    """``stl10_binary/{split}_X.bin``: each image's three planes stored column by column; ``{split}_y.bin``:
    the labels 1..10; ``class_names.txt``."""
    folder = root / "stl10_binary"
    folder.mkdir(parents=True, exist_ok=True)
    for split, (images, labels) in data.items():
        (folder / f"{split}_X.bin").write_bytes(np.ascontiguousarray(images.transpose(0, 3, 2, 1)).tobytes())
        (folder / f"{split}_y.bin").write_bytes(bytes(l + 1 for l in labels))
    (folder / "class_names.txt").write_text("\n".join(STL_CLASS_NAMES) + "\n")
    return root


def stl10(root: Path) -> Path:
    return write_stl10(root, stl10_data())


# -- FER2013 -------------------------------------------------------------------------------------------
#: The challenge file's Usage values: Training has 2 faces a class in the miniature, the others 1.
FER_USAGES = ("Training", "PublicTest", "PrivateTest")


def fer_rows(usage: str) -> tuple[np.ndarray, list[int]]:
    """The faces (N, 48, 48) and emotions of one Usage of the miniature, classes shuffled."""
    labels = labels_of(7, "train" if usage == "Training" else "test", f"fer2013-{usage}")
    return images_of("fer2013", usage, labels, 48, channels=1), labels


def pixels_text(face: np.ndarray) -> str:
    return " ".join(str(int(v)) for v in face.reshape(-1))


def write_fer2013_csv(root: Path) -> Path:
    """``fer2013/fer2013.csv`` as the challenge ships it: ``emotion,pixels,Usage``, the three Usages mixed."""
    lines = ["emotion,pixels,Usage"]
    per_usage = {usage: fer_rows(usage) for usage in FER_USAGES}
    for i in range(max(len(l) for _, l in per_usage.values())):
        for usage, (faces, labels) in per_usage.items():
            if i < len(labels):
                lines.append(f"{labels[i]},{pixels_text(faces[i])},{usage}")
    (root / "fer2013").mkdir(parents=True, exist_ok=True)
    (root / "fer2013" / "fer2013.csv").write_text("\n".join(lines) + "\n")
    return root


def fer2013(root: Path) -> Path:
    return write_fer2013_csv(root)


BUILDERS = {"cifar10": cifar10, "cifar100": cifar100, "mnist": mnist, "stl10": stl10, "fer2013": fer2013}
