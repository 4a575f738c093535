"""Dataset plugin ``fer2013``: FER2013 (Goodfellow et al., ICONIP 2013; the Kaggle challenge "Challenges
in Representation Learning: Facial Expression Recognition"), 48x48 grayscale faces of 7 expressions,
as ReCLIP's benchmark reads it: one domain, the official Training rows (28,709) and the PublicTest
rows (3,589).

Protocol (ReCLIP, Hu et al., WACV 2024): one task, ``fer2013``; ReCLIP reads FER2013 with its own
loader (``datasets.py``, class ``fer2013``): every row of ``fer2013/public_test.csv``, in file order,
as ``emotion,pixels``; it adapts on the same images, unlabeled, that it scores: run it with
``--transductive``. Without it a source-free method adapts on the Training rows (the inductive
variant). No val split; the PrivateTest rows are not used. The faces are handed out as RGB (the gray
value in all three channels, as ReCLIP's loader converts them); ``profile`` is ``NO_PROFILE``: they
are seen at CLIP's 224 px.

Labels: the ``emotion`` column, as ReCLIP's loader takes it (``int(row[0])``): the challenge's codes,
``0 angry``, ``1 disgusted``, ``2 fearful``, ``3 happy``, ``4 sad``, ``5 surprised``, ``6 neutral``.
Templates: ReCLIP's ``prompts/clip_prompts`` entry ``"fer2013"`` (OpenAI's six). Class names: that
entry gives some classes several names (``happy``/``smiling``, ``sad``/``depressed``,
``surprised``/``shocked``/``spooked``, ``neutral``/``bored``; ``RECLIP_NAMES`` below). ReCLIP's code
(``models.py``, ``encode_text`` of ``CLIP_LN_V`` and, with ``full_templates``, of ``CLIP_LN_T``)
fills every template with every name of a class and averages the normalised embeddings of all of
them into the class's text embedding: the zero-shot classifier, ReCLIP-V's initial classifier and
ReCLIP-T's projection. ReCLIP-T's training prompts (first template only) format the list itself
into the template ("a photo of a ['happy', 'smiling'] looking face."). A udabench class has one
prompt name, so both become the first name of each class (a departure for the four classes with
synonyms; the names are kept in ``RECLIP_NAMES``).

Layout under ``--root`` (torchvision's ``fer2013/`` folder): the test split is read from the first of
``public_test.csv`` (ReCLIP's file: ``emotion,pixels`` rows, with or without a header),
``fer2013.csv`` (the challenge's full file: ``emotion,pixels,Usage``; its ``PublicTest`` rows) and
``icml_face_data.csv`` (the same data, columns ``emotion, Usage, pixels``); the train split from
``fer2013.csv``, ``icml_face_data.csv`` (their ``Training`` rows) or ``train.csv`` (``emotion,pixels``).
``pixels``: 2,304 space-separated gray values, row by row. ReCLIP does not ship its
``public_test.csv`` or say how it was made; udabench takes it to be the PublicTest rows of
``fer2013.csv``, in their order (the split ReCLIP's file name names; its size is not verified).

Sources: the Kaggle challenge page (login required; no public download), as torchvision's ``fer2013.py``
names it; the split sizes are the challenge's (``fer2013.csv``'s Usage counts).
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path
from typing import Iterator

import numpy as np

from udabench import DataError, hookimpl

from .arrays import ArrayDataset

#: ReCLIP's names of each class (``prompts/clip_prompts``, ``"fer2013"``), in label order.
RECLIP_NAMES = (("angry",), ("disgusted",), ("fearful",), ("happy", "smiling"), ("sad", "depressed"),
                ("surprised", "shocked", "spooked"), ("neutral", "bored"))
#: The class names: the first of ReCLIP's names of each class.
CLASSES = tuple(names[0] for names in RECLIP_NAMES)
TEMPLATES = (
    "a photo of a {} looking face.", "a photo of a face showing the emotion: {}.", "a photo of a face looking {}.",
    "a face that looks {}.", "they look {}.", "look at how {} they are.",
)
FOLDER = "fer2013"
SIDE = 48
KAGGLE = ("https://www.kaggle.com/c/challenges-in-representation-learning-facial-expression-recognition-"
          "challenge")
#: split -> the files it is read from, first found first: (file name, the Usage of the rows taken; None: every row).
SOURCES = {
    "test": (("public_test.csv", None), ("fer2013.csv", "PublicTest"), ("icml_face_data.csv", "PublicTest")),
    "train": (("fer2013.csv", "Training"), ("icml_face_data.csv", "Training"), ("train.csv", None)),
}


class FER2013(ArrayDataset):
    name = "fer2013"
    classes = CLASSES
    templates = TEMPLATES
    image_size = SIDE
    expected_counts = {"train": 28709, "test": 3589}
    source_info = (f"the Kaggle challenge {KAGGLE} (fer2013.csv, in fer2013.tar.gz or as icml_face_data.csv; "
                   f"Kaggle login required), in <root>/{FOLDER}")

    @classmethod
    def describe_layout(cls) -> str:
        return "\n".join([
            f"  <root>/{FOLDER}/    (torchvision's folder; the first file found of each split is read)",
            "    public_test.csv       test (ReCLIP's file): rows of emotion,pixels",
            "    fer2013.csv           test: its PublicTest rows; train: its Training rows (emotion,pixels,Usage)",
            "    icml_face_data.csv    the same as fer2013.csv (columns emotion, Usage, pixels)",
            "    train.csv             train: rows of emotion,pixels",
        ])

    def read(self, split: str) -> tuple[np.ndarray, np.ndarray]:
        folder = self.root / FOLDER
        for file_name, usage in SOURCES[split]:
            if (folder / file_name).is_file():
                return self.read_csv(folder / file_name, usage, split)
        looked = ", ".join(name for name, _ in SOURCES[split])
        raise DataError(self.missing_message(split, [f"none of {looked} is in {folder}"]))

    def read_csv(self, path: Path, usage: str | None, split: str) -> tuple[np.ndarray, np.ndarray]:
        """The faces and labels of the rows of ``path`` whose Usage is ``usage`` (None: every row)."""
        def damaged(line: int, what: str) -> DataError:
            return DataError(self.missing_message(split, [f"{path}, line {line}: {what}: the file is damaged, "
                                                          f"or not FER2013's"]))

        images, labels = [], []
        try:
            with open(path, newline="", encoding="utf-8") as f:
                reader = csv.reader(f)
                first = next(reader, None)
                if first is None:
                    raise damaged(1, "the file is empty")
                column, rows = columns_of(first, reader)
                if "emotion" not in column or "pixels" not in column:
                    raise damaged(1, f"the header {','.join(first)!r} has no emotion and pixels columns (the "
                                     f"challenge's test.csv holds no labels)")
                if usage is not None and "usage" not in column:
                    raise damaged(1, f"the header {','.join(first)!r} has no Usage column, which tells the "
                                     f"{usage} rows")
                for row in rows:
                    if usage is not None and cell(row, column["usage"]) != usage:
                        continue
                    label = cell(row, column["emotion"])
                    if not label.isdigit() or int(label) >= len(CLASSES):
                        raise damaged(reader.line_num, f"the emotion is {label!r}, not one of 0..{len(CLASSES) - 1}")
                    images.append(parse_pixels(cell(row, column["pixels"]), lambda what: damaged(reader.line_num, what)))
                    labels.append(int(label))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise DataError(self.missing_message(split, [f"cannot read {path}: {exc}"])) from None
        if not images:
            which = f"{usage} rows" if usage else "rows"
            raise DataError(self.missing_message(split, [f"{path} has no {which}"]))
        return np.stack(images), np.asarray(labels, np.int64)


def columns_of(first: list[str], reader: Iterator[list[str]]) -> tuple[dict[str, int], Iterator[list[str]]]:
    """Column name -> position, and the data rows: from the header when the first row is one,
    else ReCLIP's header-less ``emotion,pixels`` (and the first row is data)."""
    header = [c.strip().lower() for c in first]
    if "pixels" in header:
        return {name: i for i, name in enumerate(header)}, reader
    return {"emotion": 0, "pixels": 1}, itertools.chain([first], reader)


def cell(row: list[str], i: int) -> str:
    """Column ``i`` of a row, stripped; "" when the row is shorter."""
    return row[i].strip() if i < len(row) else ""


def parse_pixels(text: str, damaged) -> np.ndarray:
    """A 48x48 uint8 face from its 2,304 space-separated gray values; ``damaged(what)`` makes the error."""
    try:
        values = np.fromstring(text, dtype=np.int32, sep=" ")
    except ValueError:
        raise damaged("the pixels are not all integers") from None
    if values.size != SIDE * SIDE:
        raise damaged(f"{values.size} pixel values, not {SIDE * SIDE} ({SIDE}x{SIDE})")
    if values.min() < 0 or values.max() > 255:
        raise damaged("a pixel value outside 0..255")
    return values.astype(np.uint8).reshape(SIDE, SIDE)


@hookimpl
def register_datasets(register):
    register(FER2013)
