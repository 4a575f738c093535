"""Dataset plugin ``imagenet``: ImageNet (ILSVRC-2012) and its four distribution shifts, as CoOp's
domain-generalisation protocol reads them (Zhou et al., IJCV 2022, the robustness table): K labeled
shots per class from ImageNet's train split, scored on ImageNet's val set and on ImageNet-V2,
ImageNet-Sketch, ImageNet-A and ImageNet-R. This module also holds what the four single-shift
plugins beside it (``imagenet_v2.py``, ``imagenet_sketch.py``, ``imagenet_a.py``, ``imagenet_r.py``)
share: the class table, the folders and the one loader of class folders.

Domains and tasks. ``imagenet``: task ``imagenet``, shots from its train split, scored on its
50,000-image val folder (udabench's ``test`` split; CoOp evaluates there and chooses nothing, so
there is no val split). The shifts ``imagenet-v2``, ``imagenet-sketch``, ``imagenet-a``,
``imagenet-r``: one cross-dataset task each, named after it, source ``imagenet`` and
``shots_from="source"`` (the shots come from ImageNet's train split; the shift's ``test`` split,
all of its images, is scored). A shift has no ``train`` split. ImageNet-A and -R hold 200 of
the 1,000 classes (``domain_classes``): the protocol scores them over those 200 classifier outputs
only, as CoOp's and Tip-Adapter's 200-class heads do.

Labels: the standard order, the WordNet ids sorted (``0 n01440764`` ... ``999 n15075141``), named
as CLIP's ImageNet notebook names them (openai/CLIP, notebooks/Prompt_Engineering_for_ImageNet.ipynb;
CoOp's DATASETS.md says its ``classnames.txt`` copies these names): ``0 tench``, ``1 goldfish``,
``7 rooster``, ``21 kite (bird of prey)``, ``134 crane bird``, ``517 construction crane`` ...
``999 toilet paper``. CLIP's list gives two pairs of classes one name; udabench keeps class names
distinct with the WordNet word of the second of each pair: ``744 projectile`` (n04008634; CLIP
says "missile", like ``657`` n03773504) and ``836 sunglass`` (n04355933; CLIP says "sunglasses",
like ``837`` n04356056). The table ships as ``imagenet_classes.txt`` ("wnid name" lines, the format
of CoOp's ``classnames.txt``) and is read once, on first use. ImageNet-A's and -R's 200 classes
are the lists of their authors' evaluation code (hendrycks/natural-adv-examples, eval.py,
``thousand_k_to_200``; hendrycks/imagenet-r, eval.py, ``imagenet_r_wnids``).

Prompt: CoOp's zero-shot template for ImageNet and each shift, "a photo of a {}." (CoOp,
trainers/zsclip.py, ``CUSTOM_TEMPLATES``).

Layout under ``--root`` (CoOp's DATASETS.md), one folder per set:

    imagenet/images/train/<wnid>/*.JPEG                               ImageNet train, 1,281,167 images
    imagenet/images/val/<wnid>/*.JPEG                                 ImageNet val sorted into wnid folders, 50,000
    imagenetv2/imagenetv2-matched-frequency-format-val/<i>/*.jpeg     ImageNet-V2, folder i is label i, 10,000
    imagenet-sketch/images/<wnid>/*.JPEG                              ImageNet-Sketch, 50,889
    imagenet-adversarial/imagenet-a/<wnid>/*.jpg                      ImageNet-A, 200 folders, 7,500
    imagenet-rendition/imagenet-r/<wnid>/*.jpg                        ImageNet-R, 200 folders, 30,000

A ``classnames.txt`` in any of these folders (CoOp's instructions copy one into each) is optional:
when present it must name the classes as udabench does (CLIP's two duplicate names accepted), and
is refused otherwise.

Sources: ImageNet from https://image-net.org by hand (registration; the val images sorted into
wnid folders); ImageNet-V2's matched-frequency tarball (modestyachts/ImageNetV2), ImageNet-A's and
ImageNet-R's tarballs (hendrycks' pages) are downloaded by ``udabench data download imagenet``;
ImageNet-Sketch (HaohanWang/ImageNet-Sketch) comes from Google Drive or Kaggle, by hand.
"""

from __future__ import annotations

import functools
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ClassVar, Mapping, Sequence

import numpy as np

from udabench import (CountMismatchWarning, DataError, Dataset, ImageList, ImageSource, PluginError, Task, hookimpl,
                      is_folder, list_folder, scan_class_folders)

#: The class table: one "wnid name" line per class, in label order.
TABLE_FILE = Path(__file__).with_name("imagenet_classes.txt")
WNID = re.compile(r"n\d{8}")
#: The names CLIP's notebook gives the two classes whose names udabench changes (a ``classnames.txt``
#: copied from CoOp may use them).
CLIP_NAMES = {"n04008634": "missile", "n04355933": "sunglasses"}

#: ImageNet-A's 200 classes, sorted (hendrycks/natural-adv-examples, eval.py: the keys of
#: ``thousand_k_to_200`` that are not -1, mapped to the sorted ImageNet wnids).
IMAGENET_A_WNIDS = tuple("""
    n01498041 n01531178 n01534433 n01558993 n01580077 n01614925 n01616318 n01631663 n01641577 n01669191
    n01677366 n01687978 n01694178 n01698640 n01735189 n01770081 n01770393 n01774750 n01784675 n01819313
    n01820546 n01833805 n01843383 n01847000 n01855672 n01882714 n01910747 n01914609 n01924916 n01944390
    n01985128 n01986214 n02007558 n02009912 n02037110 n02051845 n02077923 n02085620 n02099601 n02106550
    n02106662 n02110958 n02119022 n02123394 n02127052 n02129165 n02133161 n02137549 n02165456 n02174001
    n02177972 n02190166 n02206856 n02219486 n02226429 n02231487 n02233338 n02236044 n02259212 n02268443
    n02279972 n02280649 n02281787 n02317335 n02325366 n02346627 n02356798 n02361337 n02410509 n02445715
    n02454379 n02486410 n02492035 n02504458 n02655020 n02669723 n02672831 n02676566 n02690373 n02701002
    n02730930 n02777292 n02782093 n02787622 n02793495 n02797295 n02802426 n02814860 n02815834 n02837789
    n02879718 n02883205 n02895154 n02906734 n02948072 n02951358 n02980441 n02992211 n02999410 n03014705
    n03026506 n03124043 n03125729 n03187595 n03196217 n03223299 n03250847 n03255030 n03291819 n03325584
    n03355925 n03384352 n03388043 n03417042 n03443371 n03444034 n03445924 n03452741 n03483316 n03584829
    n03590841 n03594945 n03617480 n03666591 n03670208 n03717622 n03720891 n03721384 n03724870 n03775071
    n03788195 n03804744 n03837869 n03840681 n03854065 n03888257 n03891332 n03935335 n03982430 n04019541
    n04033901 n04039381 n04067472 n04086273 n04099969 n04118538 n04131690 n04133789 n04141076 n04146614
    n04147183 n04179913 n04208210 n04235860 n04252077 n04252225 n04254120 n04270147 n04275548 n04310018
    n04317175 n04344873 n04347754 n04355338 n04366367 n04376876 n04389033 n04399382 n04442312 n04456115
    n04482393 n04507155 n04509417 n04532670 n04540053 n04554684 n04562935 n04591713 n04606251 n07583066
    n07695742 n07697313 n07697537 n07714990 n07718472 n07720875 n07734744 n07749582 n07753592 n07760859
    n07768694 n07831146 n09229709 n09246464 n09472597 n09835506 n11879895 n12057211 n12144580 n12267677
""".split())

#: ImageNet-R's 200 classes, sorted (hendrycks/imagenet-r, eval.py: ``imagenet_r_wnids``).
IMAGENET_R_WNIDS = tuple("""
    n01443537 n01484850 n01494475 n01498041 n01514859 n01518878 n01531178 n01534433 n01614925 n01616318
    n01630670 n01632777 n01644373 n01677366 n01694178 n01748264 n01770393 n01774750 n01784675 n01806143
    n01820546 n01833805 n01843383 n01847000 n01855672 n01860187 n01882714 n01910747 n01944390 n01983481
    n01986214 n02007558 n02009912 n02051845 n02056570 n02066245 n02071294 n02077923 n02085620 n02086240
    n02088094 n02088238 n02088364 n02088466 n02091032 n02091134 n02092339 n02094433 n02096585 n02097298
    n02098286 n02099601 n02099712 n02102318 n02106030 n02106166 n02106550 n02106662 n02108089 n02108915
    n02109525 n02110185 n02110341 n02110958 n02112018 n02112137 n02113023 n02113624 n02113799 n02114367
    n02117135 n02119022 n02123045 n02128385 n02128757 n02129165 n02129604 n02130308 n02134084 n02138441
    n02165456 n02190166 n02206856 n02219486 n02226429 n02233338 n02236044 n02268443 n02279972 n02317335
    n02325366 n02346627 n02356798 n02363005 n02364673 n02391049 n02395406 n02398521 n02410509 n02423022
    n02437616 n02445715 n02447366 n02480495 n02480855 n02481823 n02483362 n02486410 n02510455 n02526121
    n02607072 n02655020 n02672831 n02701002 n02749479 n02769748 n02793495 n02797295 n02802426 n02808440
    n02814860 n02823750 n02841315 n02843684 n02883205 n02906734 n02909870 n02939185 n02948072 n02950826
    n02951358 n02966193 n02980441 n02992529 n03124170 n03272010 n03345487 n03372029 n03424325 n03452741
    n03467068 n03481172 n03494278 n03495258 n03498962 n03594945 n03602883 n03630383 n03649909 n03676483
    n03710193 n03773504 n03775071 n03888257 n03930630 n03947888 n04086273 n04118538 n04133789 n04141076
    n04146614 n04147183 n04192698 n04254680 n04266014 n04275548 n04310018 n04325704 n04347754 n04389033
    n04409515 n04465501 n04487394 n04522168 n04536866 n04552348 n04591713 n07614500 n07693725 n07695742
    n07697313 n07697537 n07714571 n07714990 n07718472 n07720875 n07734744 n07742313 n07745940 n07749582
    n07753275 n07753592 n07768694 n07873807 n07880968 n07920052 n09472597 n09835506 n10565667 n12267677
""".split())

SHIFTS = ("imagenet-v2", "imagenet-sketch", "imagenet-a", "imagenet-r")


# -- the class table -------------------------------------------------------------------------------
@dataclass(frozen=True)
class ClassTable:
    """ImageNet's 1,000 classes: WordNet ids in label order, and each one's name."""

    wnids: tuple[str, ...]
    names: Mapping[str, str]

    def names_of(self, wnids: Sequence[str]) -> tuple[str, ...]:
        return tuple(self.names[w] for w in wnids)

    def labels_of(self, wnids: Sequence[str]) -> tuple[int, ...]:
        """The positions of ``wnids`` in the 1,000 (ImageNet labels)."""
        position = {w: i for i, w in enumerate(self.wnids)}
        return tuple(position[w] for w in wnids)


@functools.cache
def class_table() -> ClassTable:
    """The table of ``imagenet_classes.txt``, read and checked once (on first use)."""
    damaged = f"the package data file {TABLE_FILE} is damaged; reinstall udabench"
    try:
        lines = TABLE_FILE.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise PluginError(f"cannot read {TABLE_FILE} ({exc}): {damaged}") from None
    wnids: list[str] = []
    names: dict[str, str] = {}
    for n, line in enumerate(lines, 1):
        wnid, _, name = line.strip().partition(" ")
        if not WNID.fullmatch(wnid) or not name.strip() or wnid in names:
            raise PluginError(f"{TABLE_FILE}, line {n}: {line!r} is not a 'wnid name' line of a new class: {damaged}")
        wnids.append(wnid)
        names[wnid] = name.strip()
    if len(wnids) != 1000 or wnids != sorted(wnids) or len(set(names.values())) != 1000:
        raise PluginError(f"{TABLE_FILE} must list 1,000 classes, WordNet ids sorted, names distinct: {damaged}")
    return ClassTable(tuple(wnids), names)


class FromTable:
    """A class attribute derived from the class table when first read (once per class), so that
    importing the module reads no file."""

    def __init__(self, derive: Callable[[type], object]):
        self.derive = derive
        self.values: dict[type, object] = {}

    def __get__(self, instance, owner: type):
        if owner not in self.values:
            self.values[owner] = self.derive(owner)
        return self.values[owner]


# -- where each set lies ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Shelf:
    """Where the images of one (domain, split) lie: ``<root>/<folder>/<image_dir>/<class folder>/``."""

    title: str
    #: The dataset folder under ``--root`` (CoOp's name).
    folder: str
    #: The folder of the class folders, relative to the dataset folder.
    image_dir: str
    #: The image files, as the layout shows them.
    files: str
    #: The published image count.
    count: int
    #: Class folders named 0..999 (ImageNet labels), ImageNet-V2's "format-val"; else WordNet ids.
    numbered: bool = False
    #: The WordNet ids of the classes it holds (sorted); None: all 1,000.
    wnids: tuple[str, ...] | None = None

    def class_folders(self) -> list[str]:
        """Its class folders' names, in label order."""
        if self.numbered:
            return [str(i) for i in range(len(class_table().wnids))]
        return list(self.wnids or class_table().wnids)

    def wnid_of(self, folder: str) -> str:
        return class_table().wnids[int(folder)] if self.numbered else folder

    def layout_line(self) -> str:
        where = f"{self.folder}/{self.image_dir}/{'<i>' if self.numbered else '<wnid>'}/{self.files}"
        held = "folder i holds label i" if self.numbered else f"{len(self.wnids or ()) or 1000:,} wnid folders"
        return f"  <root>/{where:<62} {self.title}: {self.count:,} images, {held}"


SHELVES: dict[tuple[str, str], Shelf] = {
    ("imagenet", "train"): Shelf("ImageNet train", "imagenet", "images/train", "<wnid>_*.JPEG", 1_281_167),
    ("imagenet", "test"): Shelf("ImageNet val (sorted into wnid folders)", "imagenet", "images/val",
                                "ILSVRC2012_val_*.JPEG", 50_000),
    ("imagenet-v2", "test"): Shelf("ImageNet-V2 matched-frequency", "imagenetv2",
                                   "imagenetv2-matched-frequency-format-val", "*.jpeg", 10_000, numbered=True),
    ("imagenet-sketch", "test"): Shelf("ImageNet-Sketch", "imagenet-sketch", "images", "*.JPEG", 50_889),
    ("imagenet-a", "test"): Shelf("ImageNet-A", "imagenet-adversarial", "imagenet-a", "*.jpg", 7_500,
                                  wnids=IMAGENET_A_WNIDS),
    ("imagenet-r", "test"): Shelf("ImageNet-R", "imagenet-rendition", "imagenet-r", "*.jpg", 30_000,
                                  wnids=IMAGENET_R_WNIDS),
}

#: Where each set comes from.
SOURCES = {
    "imagenet": ("ImageNet (ILSVRC-2012), by hand: register at https://image-net.org, download "
                 "ILSVRC2012_img_train.tar (its 1,000 inner tars extracted into imagenet/images/train/<wnid>/) and "
                 "ILSVRC2012_img_val.tar, and sort the 50,000 val images into imagenet/images/val/<wnid>/ by the "
                 "ground truth of the ILSVRC-2012 devkit; symbolic links to a copy you have are fine (CoOp's DATASETS.md)"),
    "imagenet-v2": ("ImageNet-V2 (Recht et al., ICML 2019; https://github.com/modestyachts/ImageNetV2): "
                    "imagenetv2-matched-frequency.tar.gz (https://huggingface.co/datasets/vaishaal/ImageNetV2) "
                    "extracted into imagenetv2/"),
    "imagenet-sketch": ("ImageNet-Sketch (Wang et al., NeurIPS 2019; https://github.com/HaohanWang/ImageNet-Sketch), by "
                        "hand: ImageNet-Sketch.zip from Google Drive "
                        "(https://drive.google.com/open?id=1Mj0i5HBthqH1p_yeXzsg22gZduvgoNeA) or Kaggle "
                        "(https://www.kaggle.com/wanghaohan/imagenetsketch), its 1,000 wnid folders put in "
                        "imagenet-sketch/images/"),
    "imagenet-a": ("ImageNet-A (Hendrycks et al., CVPR 2021; https://github.com/hendrycks/natural-adv-examples): "
                   "https://people.eecs.berkeley.edu/~hendrycks/imagenet-a.tar extracted into imagenet-adversarial/"),
    "imagenet-r": ("ImageNet-R (Hendrycks et al., ICCV 2021; https://github.com/hendrycks/imagenet-r): "
                   "https://people.eecs.berkeley.edu/~hendrycks/imagenet-r.tar extracted into imagenet-rendition/"),
}

#: The freely downloadable archives (no md5 is published for them).
ARCHIVES = {
    "imagenet-v2": {"name": "imagenetv2-matched-frequency.tar.gz", "into": "imagenetv2",
                    "urls": ["https://huggingface.co/datasets/vaishaal/ImageNetV2/resolve/main/"
                             "imagenetv2-matched-frequency.tar.gz",
                             "https://s3-us-west-2.amazonaws.com/imagenetv2public/imagenetv2-matched-frequency.tar.gz"]},
    "imagenet-a": {"name": "imagenet-a.tar", "into": "imagenet-adversarial",
                   "urls": ["https://people.eecs.berkeley.edu/~hendrycks/imagenet-a.tar"]},
    "imagenet-r": {"name": "imagenet-r.tar", "into": "imagenet-rendition",
                   "urls": ["https://people.eecs.berkeley.edu/~hendrycks/imagenet-r.tar"]},
}
CLASSNAMES_FILE = "classnames.txt"
#: Files that, lying beside the class folders, mean images not sorted into them (or inner tars not extracted).
LOOSE = frozenset({".jpeg", ".jpg", ".png", ".tar"})


# -- reading ---------------------------------------------------------------------------------------
def read_class_folders(folder: Path, expected: Sequence[str], fix: str) -> list[tuple[str, str]]:
    """``(class folder, file name)`` of every image of ``folder``'s class folders, in the order of
    ``expected`` (file names sorted). One DataError names the class folders missing, the folders that
    are no class of this set (another version of it, or the wrong folder), and what
    ``scan_class_folders`` refuses (empty class folders, files that are not images)."""
    entries = [e for e in list_folder(folder, fix) if not e.name.startswith(".")]
    present = {e.name for e in entries if _is_dir(e)}
    missing = [name for name in expected if name not in present]
    strangers = sorted(present.difference(expected))
    problems = []
    if missing:
        problems.append(f"{len(missing)} of {len(expected)} class folders are missing in {folder}: {_some(missing)}. "
                        f"The download or extraction is incomplete.")
    loose = sorted(e.name for e in entries if e.name not in present and Path(e.name).suffix.lower() in LOOSE)
    if missing and loose:
        problems.append(f"{folder} holds {len(loose):,} files beside its class folders ({_some(loose, 3)}): "
                        f"ImageNet's val images must be sorted into their wnid folders, and the train "
                        f"archive's inner tars extracted, one class folder each.")
    if strangers:
        problems.append(f"{folder} holds folders that are no class folder of this set: {_some(strangers)} (it "
                        f"holds {_some(expected, 3)}): another version of the set, or the wrong folder.")
    if problems:
        raise DataError("\n".join(problems) + f" {fix}")
    return scan_class_folders(folder, expected, fix)


def check_classnames_file(path: Path, fix: str) -> None:
    """When CoOp's optional ``classnames.txt`` is at ``path``, every line must name a class as udabench
    does (or by CLIP's name for the two classes udabench renames); a DataError names the first line
    that does not."""
    if not path.is_file():
        return
    table = class_table()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read {path} ({exc}). udabench does not need this file: delete it. {fix}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        wnid, _, name = line.strip().partition(" ")
        name = name.strip()
        ours = table.names.get(wnid)
        if ours is None:
            raise DataError(f"{path}, line {n}: {wnid!r} is not one of ImageNet's 1,000 WordNet ids: the file "
                            f"belongs to another dataset. udabench reads the class names from its own table and "
                            f"does not need this file: delete it, or put CoOp's classnames.txt there.")
        if name not in (ours, CLIP_NAMES.get(wnid)):
            raise DataError(f"{path}, line {n} names {wnid} {name!r}, but udabench names it {ours!r} (CLIP's "
                            f"ImageNet names, which CoOp's classnames.txt copies): the file follows another "
                            f"naming. udabench reads the class names from its own table and does not need this "
                            f"file: delete it, or put CoOp's classnames.txt there.")


def _is_dir(entry) -> bool:
    """Whether a folder entry is a folder; one that cannot be examined counts (the scan then names it)."""
    try:
        return entry.is_dir()
    except OSError:
        return True


def _some(names: Sequence[str], k: int = 10) -> str:
    shown = ", ".join(names[:k])
    return shown + (f" and {len(names) - k} more" if len(names) > k else "")


# -- the plugins -----------------------------------------------------------------------------------
class ImageNetFamily(Dataset):
    """ImageNet or one of its shifts, read from class folders: a subclass names its ``shelves``
    ((domain, split) -> :class:`Shelf`) and, for a 200-class set, its ``subset`` of WordNet ids.
    Labels are positions in ``wnids`` (the subset, or all 1,000)."""

    shelves: ClassVar[Mapping[tuple[str, str], Shelf]] = {}
    #: The classes' WordNet ids when the plugin has only some of ImageNet's (sorted); None: all 1,000.
    subset: ClassVar[tuple[str, ...] | None] = None
    wnids = FromTable(lambda cls: tuple(cls.subset or class_table().wnids))
    classes = FromTable(lambda cls: class_table().names_of(cls.wnids))
    templates = ("a photo of a {}.",)
    splits: ClassVar[tuple[str, ...]] = ()
    #: (domain, split) -> the published image count; a mismatch warns (CountMismatchWarning).
    expected_counts: ClassVar[Mapping[tuple[str, str], int]] = {}
    downloads: ClassVar[Mapping[str, Sequence[Mapping]]] = {}
    layout_text: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        shelves = cls.__dict__.get("shelves")
        if not shelves:
            return
        cls.splits = tuple(dict.fromkeys(split for _, split in shelves))
        cls.expected_counts = {key: shelf.count for key, shelf in shelves.items()}
        if "domains" not in cls.__dict__:
            cls.domains = tuple(dict.fromkeys(domain for domain, _ in shelves))
        if "tasks" not in cls.__dict__ and len(cls.domains) == 1:
            cls.tasks = (Task(cls.name, cls.domains[0], cls.domains[0]),)
        lines = [shelf.layout_line() for shelf in shelves.values()]
        if len(cls.domains) == 1:
            lines.append(f"  (--root may also be the {next(iter(shelves.values())).folder} folder itself)")
        lines.append(f"  optional, in a set's folder: {CLASSNAMES_FILE} (CoOp's copy of the class names, "
                     f"'wnid name' lines), checked when present")
        cls.layout_text = "\n".join(lines)

    def __init__(self, root=None):
        super().__init__(root)
        self._loaded: dict[tuple[str, str], ImageList] = {}

    def load(self, domain: str, split: str) -> ImageList:
        key = (domain, split)
        if key not in self._loaded:
            shelf = self.shelf(domain, split)
            base = self.dataset_folder(shelf, domain, split)
            folder = base / shelf.image_dir
            try:
                check_classnames_file(base / CLASSNAMES_FILE, self._fix())
                entries = read_class_folders(folder, shelf.class_folders(), self._fix())
            except DataError as exc:
                raise DataError(self.missing_message(domain, split, [str(exc)])) from None
            label = {wnid: i for i, wnid in enumerate(self.wnids)}
            labels = np.asarray([label[shelf.wnid_of(c)] for c, _ in entries], np.int64)
            self._check_count(key, len(entries))
            prefix = str(folder)
            paths = [os.path.join(prefix, c, name) for c, name in entries]  # 1.28 million for ImageNet's train
            self._loaded[key] = ImageList(ImageSource(paths=paths), labels, len(self.classes))
        return self._loaded[key]

    def shelf(self, domain: str, split: str) -> Shelf:
        """Where (domain, split) lies; a DataError when this dataset has no such domain or split."""
        if domain not in self.domains:
            raise DataError(f"{self.name} has no domain {domain!r}; its domains are {', '.join(self.domains)}")
        if (domain, split) not in self.shelves:
            held = [s for d, s in self.shelves if d == domain]
            hint = ""
            if domain in SHIFTS and domain != self.name:
                hint = (f" {domain} is a test set (all its images are its 'test' split): few-shot shots come "
                        f"from ImageNet's train split in the task {domain} (`--task {domain}`).")
            raise DataError(f"{self.name}: domain {domain!r} has no split {split!r}; it has "
                            f"{', '.join(map(repr, held))}.{hint}")
        return self.shelves[(domain, split)]

    def dataset_folder(self, shelf: Shelf, domain: str, split: str) -> Path:
        """``<root>/<shelf.folder>`` (or, for a one-set plugin, ``<root>`` itself) when it holds the
        shelf's image folder; otherwise a DataError naming where it looked."""
        candidates = [self.root / shelf.folder] + ([self.root] if len(self.domains) == 1 else [])
        for base in candidates:
            if is_folder(base / shelf.image_dir, self._fix()):
                return base
        looked = " or ".join(str(c / shelf.image_dir) for c in candidates)
        raise DataError(self.missing_message(domain, split, [f"no {shelf.title} folder: looked for {looked}"]))

    def _check_count(self, key: tuple[str, str], count: int) -> None:
        expected = self.expected_counts.get(key)
        if expected is not None and count != expected:
            warnings.warn(f"{self.name}: {key[0]}/{key[1]} has {count:,} images, but the set has {expected:,} "
                          f"(docs/datasets.md): a partial download or another version of the data?",
                          CountMismatchWarning, stacklevel=3)

    def _fix(self) -> str:
        return f"`udabench data info {self.name} --root {self.root}` shows what is there and where it comes from."

    def missing_message(self, domain: str, split: str, problems: Sequence[str]) -> str:
        """One message: what is missing, the expected layout, and where the data comes from."""
        lines = [f"{self.name}: cannot load {domain}/{split} from {self.root}:"]
        lines += [f"  - {p}" for p in problems]
        lines += ["", "Expected layout:", self.layout_text, "", f"Get {SOURCES[domain]}.",
                  f"`udabench data info {self.name} --root {self.root}` shows what is there."]
        return "\n".join(lines)


class ImageNet(ImageNetFamily):
    """ImageNet with its four shifts: CoOp's domain-generalisation protocol (see the module docstring)."""

    name = "imagenet"
    shelves = SHELVES
    domains = ("imagenet", *SHIFTS)
    tasks = (Task("imagenet", "imagenet", "imagenet"),
             *(Task(shift, "imagenet", shift, shots_from="source") for shift in SHIFTS))
    domain_classes = FromTable(lambda cls: {d: class_table().labels_of(SHELVES[(d, "test")].wnids)
                                            for d in ("imagenet-a", "imagenet-r")})
    train_split, adapt_split, eval_split, val_split = "train", "test", "test", None
    downloads = {"shifts": [ARCHIVES[d] for d in ("imagenet-v2", "imagenet-a", "imagenet-r")]}
    source_info = ("ImageNet by hand from https://image-net.org (the val images sorted into wnid folders); "
                   "ImageNet-V2, -A and -R with `udabench data download imagenet`; ImageNet-Sketch by hand from "
                   "https://github.com/HaohanWang/ImageNet-Sketch (docs/datasets.md)")


class ShiftDataset(ImageNetFamily):
    """One shift alone (``imagenet-v2``, ``imagenet-sketch``, ``imagenet-a``, ``imagenet-r``): its own
    classes (the 1,000, or its 200 in sorted-wnid order, labels 0..199, as CoOp's readers number
    them), its one split ``test`` (all its images) for every role, one task named after it. A subclass
    sets ``name`` (the domain's name in ``imagenet``); the rest follows from it."""

    train_split, adapt_split, eval_split, val_split = "test", "test", "test", None

    def __init_subclass__(cls, **kwargs):
        name = cls.__dict__.get("name")
        if name:
            shelf = SHELVES[(name, "test")]
            cls.shelves = {(name, "test"): shelf}
            cls.subset = shelf.wnids
            cls.downloads = {"official": [ARCHIVES[name]]} if name in ARCHIVES else {}
            cls.source_info = SOURCES[name]
        super().__init_subclass__(**kwargs)


@hookimpl
def register_datasets(register):
    register(ImageNet)
