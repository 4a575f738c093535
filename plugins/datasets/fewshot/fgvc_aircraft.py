"""Dataset plugin ``fgvc_aircraft``: FGVC-Aircraft 2013b (Maji et al., arXiv 1306.5151), 100 aircraft
variants, as CoOp's few-shot suite reads it: one domain, the dataset's own train / val / test
split.

Protocol (docs/methods.md, the few-shot suite): one task, ``fgvc_aircraft``; K shots per class
drawn by seed from the train split, hyperparameters chosen on the val split, scored on the test
split (3,334 / 3,333 / 3,333 images, CoOp's paper, dataset table: the official split, which CoOp
keeps as it is; there is no CoOp split file).

Labels: the order of the archive's ``variants.txt`` (ASCII order: ``0 707-320``, ``1 727-200``, ...
``36 An-12`` after ``35 ATR-72``, ... ``99 Yak-42``), which CoOp's reader
(``datasets/fgvc_aircraft.py``) numbers in file order; the names are the variants themselves.
``variants.txt`` is checked against this order, and every line of the split lists must name one
of these variants.

Prompt: CoOp's zero-shot template for FGVC-Aircraft (``trainers/zsclip.py``), "a photo of a {}, a
type of aircraft.". Like CoOp, the images are used whole, with the copyright banner at their
bottom.

Layout under ``--root`` (CoOp's DATASETS.md): the archive's ``data/`` folder renamed
``fgvc_aircraft/``: ``fgvc_aircraft/images/<image id>.jpg``, ``fgvc_aircraft/variants.txt`` and
``fgvc_aircraft/images_variant_{train,val,test}.txt``, lines ``<image id> <variant>``
(``0034309 707-320``; a variant may hold spaces and slashes: ``Boeing 717``, ``F/A-18``). The
archive as it unpacks (``fgvc-aircraft-2013b/data/``, under ``<root>`` or ``<root>/fgvc_aircraft``)
is also accepted.

Sources: the variant list as published with the dataset (``variants.txt``; the same order in
several CoOp-derived class lists of public repositories); the archive URL is the one given by
CoOp's DATASETS.md and by torchvision (``torchvision/datasets/fgvc_aircraft.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from udabench import DataError, SplitFileDataset, hookimpl

#: The 100 variants of ``variants.txt``, in label order.
VARIANTS = (
    "707-320", "727-200", "737-200", "737-300", "737-400", "737-500", "737-600", "737-700", "737-800",
    "737-900", "747-100", "747-200", "747-300", "747-400", "757-200", "757-300", "767-200", "767-300",
    "767-400", "777-200", "777-300", "A300B4", "A310", "A318", "A319", "A320", "A321", "A330-200",
    "A330-300", "A340-200", "A340-300", "A340-500", "A340-600", "A380", "ATR-42", "ATR-72", "An-12",
    "BAE 146-200", "BAE 146-300", "BAE-125", "Beechcraft 1900", "Boeing 717", "C-130", "C-47", "CRJ-200",
    "CRJ-700", "CRJ-900", "Cessna 172", "Cessna 208", "Cessna 525", "Cessna 560", "Challenger 600",
    "DC-10", "DC-3", "DC-6", "DC-8", "DC-9-30", "DH-82", "DHC-1", "DHC-6", "DHC-8-100", "DHC-8-300",
    "DR-400", "Dornier 328", "E-170", "E-190", "E-195", "EMB-120", "ERJ 135", "ERJ 145",
    "Embraer Legacy 600", "Eurofighter Typhoon", "F-16A/B", "F/A-18", "Falcon 2000", "Falcon 900",
    "Fokker 100", "Fokker 50", "Fokker 70", "Global Express", "Gulfstream IV", "Gulfstream V", "Hawk T1",
    "Il-76", "L-1011", "MD-11", "MD-80", "MD-87", "MD-90", "Metroliner", "Model B200", "PA-28", "SR-20",
    "Saab 2000", "Saab 340", "Spitfire", "Tornado", "Tu-134", "Tu-154", "Yak-42",
)
CLASS_FILE = "variants.txt"
LIST_FILE = "images_variant_{}.txt"
ARCHIVE_DATA = "fgvc-aircraft-2013b/data"


class FGVCAircraft(SplitFileDataset):
    name = "fgvc_aircraft"
    classes = VARIANTS
    prompt_names = tuple(v.replace("_", " ") for v in VARIANTS)
    templates = ("a photo of a {}, a type of aircraft.",)
    dataset_dirs = ("fgvc_aircraft", f"fgvc_aircraft/{ARCHIVE_DATA}", ARCHIVE_DATA)
    image_dir = "images"
    split_file = None
    expected_counts = {"train": 3334, "val": 3333, "test": 3333}
    downloads = {
        # The official archive; it unpacks to fgvc-aircraft-2013b/data/, which is accepted.
        "official": [
            {"name": "fgvc-aircraft-2013b.tar.gz", "into": "fgvc_aircraft",
             "urls": ["https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/archives/fgvc-aircraft-2013b.tar.gz"]},
        ],
    }
    source_info = ("https://www.robots.ox.ac.uk/~vgg/data/fgvc-aircraft/ (fgvc-aircraft-2013b.tar.gz: keep its "
                   "data/ folder as <root>/fgvc_aircraft, see CoOp's DATASETS.md)")

    def read_split(self, base: Path, split: str) -> list[tuple[str, int]]:
        """``(<image id>.jpg, label)`` of every line of ``images_variant_<split>.txt``, after checking
        ``variants.txt`` against the label order."""
        for name in (CLASS_FILE, LIST_FILE.format(split)):
            if not (base / name).is_file():
                raise DataError(self.missing_message(split, [f"no {name} in {base}"]))
        check_variant_order(base / CLASS_FILE, self.classes, self._fix())
        return read_variant_list(base / LIST_FILE.format(split), self.classes, self._fix())

    @classmethod
    def describe_layout(cls) -> str:
        return "\n".join([
            f"  <root>/{cls.dataset_dirs[0]}/    (the archive's data/ folder renamed; also <root>/{ARCHIVE_DATA} "
            f"or <root>/{cls.dataset_dirs[1]}, as the archive unpacks, or <root> itself)",
            f"    {CLASS_FILE:<36} the 100 variants, in label order",
            f"    {LIST_FILE.format('{train,val,test}'):<36} lines '<image id> <variant>'",
            f"    {cls.image_dir}/<image id>.jpg",
        ])


def _lines(path: Path, fix: str) -> list[tuple[int, str]]:
    """``(line number, stripped text)`` of the non-blank lines of a text file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path} ({exc}). {fix}") from None
    return [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def check_variant_order(path: Path, classes: Sequence[str], fix: str) -> None:
    """Refuse a ``variants.txt`` whose variants are not ``classes`` in the same order (another version of
    the data would be silently mislabeled)."""
    names = [text for _, text in _lines(path, fix)]
    for label, (found, expected) in enumerate(zip(names, classes)):
        if found != expected:
            raise DataError(f"{path}: variant {label} is {found!r}, but this dataset's label {label} is "
                            f"{expected!r}: another version of FGVC-Aircraft (2013b is expected). {fix}")
    if len(names) != len(classes):
        raise DataError(f"{path} lists {len(names)} variants; FGVC-Aircraft 2013b has {len(classes)}. {fix}")


def read_variant_list(path: Path, classes: Sequence[str], fix: str) -> list[tuple[str, int]]:
    """``(<image id>.jpg, label)`` of each ``<image id> <variant>`` line; a line without both parts or
    naming a variant that is not in ``classes`` is refused, with its line number."""
    label_of = {name: label for label, name in enumerate(classes)}
    entries = []
    for n, text in _lines(path, fix):
        image_id, _, variant = text.partition(" ")
        variant = variant.strip()
        if not variant:
            raise DataError(f"{path}, line {n}: {text!r} is not '<image id> <variant>'. {fix}")
        if variant not in label_of:
            raise DataError(f"{path}, line {n}: unknown variant {variant!r} (image {image_id}); the "
                            f"{len(classes)} variants are those of variants.txt: a list of another version "
                            f"of the data? {fix}")
        entries.append((f"{image_id}.jpg", label_of[variant]))
    if not entries:
        raise DataError(f"{path} lists no image. {fix}")
    return entries


@hookimpl
def register_datasets(register):
    register(FGVCAircraft)
