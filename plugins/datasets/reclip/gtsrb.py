"""Dataset plugin ``gtsrb``: the German Traffic Sign Recognition Benchmark (Stallkamp et al., IJCNN 2011),
43 classes of traffic signs, as ReCLIP's benchmark reads it: one domain, the official train and
final test sets.

Protocol (ReCLIP, Hu et al., WACV 2024): one task, ``gtsrb``; ReCLIP's code reads torchvision's
``GTSRB(split="test")`` (its ``datasets.py``), the final test set of 12,630 images, and adapts on the
same images, unlabeled, that it scores: run it with ``--transductive``. Without it a source-free
method adapts on the train split (the inductive variant): the images of ``GTSRB-Training_fixed.zip``,
torchvision's train split, 26,640 images (the online competition's training set; the 39,209-image
final training set adds the online test set to it). No val split.

Labels: torchvision's. Train: the class folders ``00000`` ... ``00042`` sorted, the folder's number
being the class id; test: the ``ClassId`` column of ``GT-final_test.csv``. Class names and templates:
ReCLIP's ``prompts/clip_prompts`` entry ``"gtsrb"`` (OpenAI's descriptions of the signs and its three
templates): ``0 red and white circle 20 kph speed limit``, ... ``14 stop``, ... ``42 white circle with
gray strike bar indicating no passing for trucks has ended``. A horizontal flip turns a left curve
or turn arrow into a right one, so ``hflip_ok`` is False.

Layout under ``--root`` (torchvision's, as the three official zips unpack into ``gtsrb/``)::

    gtsrb/GTSRB/Training/<%05d class>/<track>_<frame>.ppm    (and GT-<%05d class>.csv, not read)
    gtsrb/GTSRB/Final_Test/Images/<%05d>.ppm
    gtsrb/GT-final_test.csv      ";"-separated: Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId

The images are PPM files in RGB (the test archive's readme), each of its own size; the test archive's
own ``GT-final_test.test.csv`` has no ``ClassId``: the labels come from ``GTSRB_Final_Test_GT.zip``.

Sources: the archives' URLs and md5s are torchvision's (``torchvision/datasets/gtsrb.py``); the test
count is the test archive's readme's.
"""

from __future__ import annotations

import csv
from pathlib import Path

from udabench import DataError, SplitFileDataset, hookimpl, is_folder, list_folder

#: ReCLIP's class names (``prompts/clip_prompts``, ``"gtsrb"``), in label order, and its templates.
CLASSES = (
    "red and white circle 20 kph speed limit", "red and white circle 30 kph speed limit",
    "red and white circle 50 kph speed limit", "red and white circle 60 kph speed limit",
    "red and white circle 70 kph speed limit", "red and white circle 80 kph speed limit",
    "end / de-restriction of 80 kph speed limit", "red and white circle 100 kph speed limit",
    "red and white circle 120 kph speed limit", "red and white circle red car and black car no passing",
    "red and white circle red truck and black car no passing",
    "red and white triangle road intersection warning", "white and yellow diamond priority road",
    "red and white upside down triangle yield right-of-way", "stop", "empty red and white circle",
    "red and white circle no truck entry", "red circle with white horizonal stripe no entry",
    "red and white triangle with exclamation mark warning",
    "red and white triangle with black left curve approaching warning",
    "red and white triangle with black right curve approaching warning",
    "red and white triangle with black double curve approaching warning",
    "red and white triangle rough / bumpy road warning",
    "red and white triangle car skidding / slipping warning",
    "red and white triangle with merging / narrow lanes warning",
    "red and white triangle with person digging / construction / road work warning",
    "red and white triangle with traffic light approaching warning",
    "red and white triangle with person walking warning",
    "red and white triangle with child and person walking warning",
    "red and white triangle with bicyle warning", "red and white triangle with snowflake / ice warning",
    "red and white triangle with deer warning", "white circle with gray strike bar no speed limit",
    "blue circle with white right turn arrow mandatory", "blue circle with white left turn arrow mandatory",
    "blue circle with white forward arrow mandatory",
    "blue circle with white forward or right turn arrow mandatory",
    "blue circle with white forward or left turn arrow mandatory",
    "blue circle with white keep right arrow mandatory", "blue circle with white keep left arrow mandatory",
    "blue circle with white arrows indicating a traffic circle",
    "white circle with gray strike bar indicating no passing for cars has ended",
    "white circle with gray strike bar indicating no passing for trucks has ended",
)
TEMPLATES = (
    'a zoomed in photo of a "{}" traffic sign.', 'a centered photo of a "{}" traffic sign.',
    'a close up photo of a "{}" traffic sign.',
)
#: The training class folders, in label order.
FOLDERS = tuple(f"{i:05d}" for i in range(len(CLASSES)))
TEST_CSV = "GT-final_test.csv"
TRAIN_DIR = "Training"
TEST_DIR = "Final_Test/Images"
BASE_URL = "https://sid.erda.dk/public/archives/daaeac0d7ce1152aea9b61d9f1e19370/"


class GTSRB(SplitFileDataset):
    name = "gtsrb"
    classes = CLASSES
    templates = TEMPLATES
    splits = ("train", "test")
    train_split, adapt_split, eval_split, val_split = "train", "train", "test", None
    hflip_ok = False
    image_mode = "RGB"
    dataset_dirs = ("gtsrb",)
    image_dir = "GTSRB"
    expected_counts = {"train": 26640, "test": 12630}
    downloads = {
        "official": [
            {"name": "GTSRB-Training_fixed.zip", "into": "gtsrb", "md5": "513f3c79a4c5141765e10e952eaa2478",
             "urls": [f"{BASE_URL}GTSRB-Training_fixed.zip"]},
            {"name": "GTSRB_Final_Test_Images.zip", "into": "gtsrb", "md5": "c7e4e6327067d32654124b0fe9e82185",
             "urls": [f"{BASE_URL}GTSRB_Final_Test_Images.zip"]},
            {"name": "GTSRB_Final_Test_GT.zip", "into": "gtsrb", "md5": "fe31e9c9270bbcd7b84b7f21a9d9d9e5",
             "urls": [f"{BASE_URL}GTSRB_Final_Test_GT.zip"]},
        ],
    }
    source_info = (f"the three official zips at {BASE_URL} (GTSRB-Training_fixed.zip, GTSRB_Final_Test_Images.zip, "
                   f"GTSRB_Final_Test_GT.zip; `udabench data download gtsrb`), unpacked into <root>/gtsrb")

    @classmethod
    def describe_layout(cls) -> str:
        train = f"{cls.image_dir}/{TRAIN_DIR}/<00000..00042>/<track>_<frame>.ppm"
        return "\n".join([
            f"  <root>/{cls.dataset_dirs[0]}/    (or <root> itself)",
            f"    {train:<52} train: the folder names the class",
            f"    {cls.image_dir + '/' + TEST_DIR + '/<nnnnn>.ppm':<52} test",
            f"    {TEST_CSV:<52} test labels, Filename;...;ClassId (GTSRB_Final_Test_GT.zip)",
        ])

    def read_split(self, base: Path, split: str) -> list[tuple[str, int]]:
        """``(path under base/GTSRB, label)`` of every image of ``split``."""
        if split == "train":
            return self.read_train(base / self.image_dir / TRAIN_DIR)
        return self.read_test(base / TEST_CSV, base / self.image_dir / TEST_DIR)

    def read_train(self, folder: Path) -> list[tuple[str, int]]:
        """Every ``.ppm`` of the 43 class folders (files by name), labelled by the folder; the
        annotation CSV beside them is not an image and is passed over, as torchvision does."""
        if not is_folder(folder, self._fix()):
            raise DataError(self.missing_message("train", [f"no training folder {folder}"]))
        entries, missing, empty = [], [], []
        for label, name in enumerate(FOLDERS):
            if not is_folder(folder / name, self._fix()):
                missing.append(name)
                continue
            files = sorted(e.name for e in list_folder(folder / name, self._fix()) if e.name.lower().endswith(".ppm"))
            empty += [] if files else [name]
            entries += [(f"{TRAIN_DIR}/{name}/{f}", label) for f in files]
        problems = []
        if missing:
            problems.append(f"{len(missing)} of the {len(FOLDERS)} class folders are missing in {folder}: "
                            f"{', '.join(missing)}")
        if empty:
            problems.append(f"class folders without any .ppm image in {folder}: {', '.join(empty)}")
        if problems:
            raise DataError(self.missing_message("train", problems + ["the extraction is incomplete"]))
        return entries

    def read_test(self, table: Path, folder: Path) -> list[tuple[str, int]]:
        """``(Final_Test/Images/<Filename>, ClassId)`` of every row of ``GT-final_test.csv``."""
        if not table.is_file():
            unlabeled = folder / "GT-final_test.test.csv"
            hint = (f" ({unlabeled.name} in the images folder has no ClassId column; the labels come from "
                    f"GTSRB_Final_Test_GT.zip)") if unlabeled.is_file() else ""
            raise DataError(self.missing_message("test", [f"no test label file {table}{hint}"]))
        rows = read_test_labels(table, len(self.classes), self._fix())
        return [(f"{TEST_DIR}/{name}", label) for name, label in rows]


def read_test_labels(path: Path, num_classes: int, fix: str) -> list[tuple[str, int]]:
    """``(Filename, ClassId)`` of each row of a ``;``-separated GTSRB annotation file; a file without
    those columns, or a class id that is not one of ``num_classes``, is refused with its line."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f, delimiter=";", skipinitialspace=True)
            columns = reader.fieldnames or []
            if "Filename" not in columns or "ClassId" not in columns:
                raise DataError(f"{path} has the columns {';'.join(columns) or '(none)'}; GTSRB's test labels have "
                                f"Filename and ClassId (GT-final_test.csv of GTSRB_Final_Test_GT.zip). {fix}")
            rows = []
            for row in reader:
                name, value = (row.get("Filename") or "").strip(), (row.get("ClassId") or "").strip()
                if not name or not value.isdigit() or int(value) >= num_classes:
                    raise DataError(f"{path}, line {reader.line_num}: {name or '(no file name)'} has the class id "
                                    f"{value or '(none)'}; GTSRB's are 0..{num_classes - 1}. The file is damaged. "
                                    f"{fix}")
                rows.append((name, int(value)))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read {path} ({exc}). {fix}") from None
    if not rows:
        raise DataError(f"{path} lists no image. {fix}")
    return rows


@hookimpl
def register_datasets(register):
    register(GTSRB)
