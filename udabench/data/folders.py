"""Datasets of class folders: finding a benchmark under ``--root``, for any dataset plugin.

The common libraries (tllib, Dassl, DomainBed, pytorch-adapt, the official archives)
store the same images under different folder spellings (see ``docs/datasets.md``).
A plugin declares a :class:`Layout` (the spellings it accepts, its split list files) and
subclasses :class:`FolderDataset`, which finds the folders, reads the list files or scans
the class folders, and raises one DataError that says what is missing, the expected
layout, and where the data comes from.

Labels: an image's class is the name of the folder it sits in (as Dassl does), so the label order is always the plugin's ``classes``. A list file's
numeric labels are only checked (in range, one label per class folder), which lets a list
written in another label order (tllib's Office-Home lists) be read correctly.
"""

from __future__ import annotations

import errno
import os
import stat
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Iterable, Mapping, Sequence

import numpy as np

from ..contract.dataset import Dataset, Task
from ..contract.errors import DataError
from .images import ImageList, ImageSource

#: The split name of a transductive benchmark: every image of the domain.
WHOLE_DOMAIN = "all"

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm"})
#: Files that operating systems drop into folders; never reported as "not an image".
SYSTEM_FILES = frozenset({"Thumbs.db", "desktop.ini"})


class CountMismatchWarning(UserWarning):
    """A split whose image count differs from the published one (a partial download, another version)."""


@dataclass(frozen=True)
class Layout:
    """Where a benchmark's files may be under ``--root``, in every spelling a plugin accepts.

    The first spelling of each kind is the canonical one (what ``udabench data download``
    produces and what error messages show).
    """

    #: Folders the benchmark may sit in under ``--root`` ("office31", ...); ``--root`` itself is tried last.
    dataset_dirs: tuple[str, ...]
    #: Domain -> accepted folder names (aliases).
    domain_dirs: Mapping[str, tuple[str, ...]]
    #: Folder levels between a domain folder and its class folders, in the order tried
    #: (Office-31: "images", then "" for none).
    class_levels: tuple[str, ...] = ("",)
    #: (domain, split) -> candidate list files ("relpath label" lines), relative to the dataset folder.
    split_lists: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    #: Whether a split can only be read from its list file (official train/test splits);
    #: otherwise a missing list means "every image in the class folders".
    lists_required: bool = False


@dataclass(frozen=True)
class SplitEntries:
    """The images of one (domain, split): ``(class folder, file name)`` pairs under ``class_root``."""

    class_root: Path
    entries: list[tuple[str, str]]
    #: The list file that named them; None when they were scanned from the class folders.
    list_file: Path | None

    def paths(self) -> list[str]:
        root = str(self.class_root)
        return [os.path.join(root, folder, name) for folder, name in self.entries]


def prompt_name(folder: str, keep_case: Iterable[str] = ()) -> str:
    """``Alarm_Clock`` -> "alarm clock": lower case and spaces, as CLIP prompts usually name classes
    (as DAPL's prompts); names in ``keep_case`` (acronyms such as ``TV``) keep their case."""
    name = folder.replace("_", " ")
    return name if folder in set(keep_case) else name.lower()


def pair_tasks(short: Mapping[str, str]) -> tuple[Task, ...]:
    """Every ordered pair of domains, named ``<short source>2<short target>``, in the order of ``short``."""
    return tuple(Task(f"{short[s]}2{short[t]}", s, t) for s in short for t in short if s != t)


def named_tasks(short: Mapping[str, str], names: Sequence[str]) -> tuple[Task, ...]:
    """Tasks from names such as ``A2W`` (in the order the papers report them)."""
    domain_of = {v: k for k, v in short.items()}
    return tuple(Task(n, domain_of[n.split("2")[0]], domain_of[n.split("2")[1]]) for n in names)


class FolderDataset(Dataset):
    """A benchmark stored as class folders per domain, optionally with list files per split.

    Subclasses fill the Dataset attributes plus ``layout``, ``splits`` (the split names
    ``load`` accepts), ``expected_counts`` and ``downloads`` (read by ``udabench data``).
    """

    layout: ClassVar[Layout]
    splits: ClassVar[tuple[str, ...]] = (WHOLE_DOMAIN,)
    #: (domain, split) -> image count published for the benchmark (docs/datasets.md); a mismatch warns.
    expected_counts: ClassVar[Mapping[tuple[str, str], int]] = {}
    #: Packaging name -> archives ({"name", "urls", "md5", "into"}), for ``udabench data download``.
    downloads: ClassVar[Mapping[str, Sequence[Mapping]]] = {}
    #: The expected layout as text (generated from ``layout``), shown by errors and ``udabench data info``.
    layout_text: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "layout" in cls.__dict__ or "splits" in cls.__dict__:
            cls.layout_text = describe_layout(cls.layout, cls.domains, cls.splits)

    def __init__(self, root=None):
        super().__init__(root)
        self._loaded: dict[tuple[str, str], ImageList] = {}

    def load(self, domain: str, split: str) -> ImageList:
        key = (domain, split)
        if key not in self._loaded:
            split_images = self.split_entries(domain, split)
            if split_images.list_file is not None:
                check_listed_files(split_images, self._fix())
            index = {c: i for i, c in enumerate(self.classes)}
            self._loaded[key] = ImageList(ImageSource(paths=split_images.paths()),
                                          np.asarray([index[c] for c, _ in split_images.entries], np.int64),
                                          len(self.classes))
        return self._loaded[key]

    def split_entries(self, domain: str, split: str) -> SplitEntries:
        """The images a split names (from its list file, else the class folders), no image opened."""
        if domain not in self.domains:
            raise DataError(f"{self.name} has no domain {domain!r}; its domains are {', '.join(self.domains)}")
        if split not in self.splits:
            raise DataError(f"{self.name} has no split {split!r}; its splits are {', '.join(self.splits)}")
        bases = candidate_bases(self.root, self.layout.dataset_dirs)
        aliases = self.layout.domain_dirs[domain]
        class_root, near_misses = find_class_root(bases, aliases, self.layout.class_levels, self.classes)
        list_names = self.layout.split_lists.get((domain, split), ())
        list_file = first_file(bases, list_names)
        problems = []
        if class_root is None:
            problems.append(self._no_domain_folder(domain, aliases, near_misses))
        if list_file is None and self.layout.lists_required:
            problems.append(f"no split list for {domain}/{split}: looked for "
                            f"{' or '.join(list_names)} in {self._where()}")
        if problems:
            raise DataError(self.missing_message(domain, split, problems))
        if list_file is not None:
            entries = read_list_file(list_file, self.classes, self._fix())
        else:
            entries = scan_class_folders(class_root, self.classes, self._fix())
        self._check_count(domain, split, len(entries))
        return SplitEntries(class_root, entries, list_file)

    def _check_count(self, domain: str, split: str, count: int) -> None:
        expected = self.expected_counts.get((domain, split))
        if expected is not None and count != expected:
            warnings.warn(f"{self.name}: {domain}/{split} has {count:,} images, but the benchmark has "
                          f"{expected:,} (docs/datasets.md): a partial download or another version of the data?",
                          CountMismatchWarning, stacklevel=3)

    # -- messages ------------------------------------------------------------------------------
    def _where(self) -> str:
        dirs = ",".join(self.layout.dataset_dirs)
        return f"{self.root}/{{{dirs}}} and {self.root}"

    def _no_domain_folder(self, domain: str, aliases: Sequence[str], near_misses: Sequence[Path]) -> str:
        if near_misses:
            return (f"found {near_misses[0]} for domain {domain!r}, but it holds none of the "
                    f"{len(self.classes)} class folders ({', '.join(self.classes[:3])}, ...)")
        levels = "/".join(f"{lvl}/" for lvl in self.layout.class_levels if lvl)
        level_note = f"[{levels}]" if levels else ""
        return (f"no folder for domain {domain!r}: looked for {{{','.join(aliases)}}}/{level_note}<class>/ "
                f"in {self._where()}")

    def _fix(self) -> str:
        return (f"Re-download it (`udabench data download {self.name} --root {self.root}`) or get it "
                f"from {self.source_info}")

    def missing_message(self, domain: str, split: str, problems: Sequence[str]) -> str:
        """One message: what is missing, the expected layout, and where the data comes from."""
        lines = [f"{self.name}: cannot load {domain}/{split} from {self.root}:"]
        lines += [f"  - {p}" for p in problems]
        lines += ["", "Expected layout:", self.layout_text, "",
                  f"Get the data: `udabench data download {self.name} --root {self.root}`, "
                  f"or by hand from {self.source_info}.",
                  f"`udabench data info {self.name} --root {self.root}` lists everything that is missing."]
        return "\n".join(lines)


# -- finding folders and files -------------------------------------------------------------------
def candidate_bases(root: Path, dataset_dirs: Sequence[str]) -> list[Path]:
    """The benchmark folders under ``root`` that exist, then ``root`` itself (for a ``--root``
    that is the benchmark folder): a named folder wins over a same-named domain of another
    dataset lying directly in a shared data root (``~/data/train``)."""
    return [b for b in [*(root / d for d in dataset_dirs), root] if is_folder(b)]


def find_class_root(bases: Sequence[Path], aliases: Sequence[str], levels: Sequence[str],
                    classes: Sequence[str]) -> tuple[Path | None, list[Path]]:
    """The first folder ``base/alias/level`` holding at least one class folder, and the domain
    folders that exist but hold none (to name them in the error)."""
    wanted = set(classes)
    near_misses = []
    for base in bases:
        for alias in aliases:
            domain_dir = base / alias
            if not is_folder(domain_dir):
                continue
            for level in levels:
                folder = domain_dir / level if level else domain_dir
                if is_folder(folder) and any(e.name in wanted and _entry_is_folder(e) for e in list_folder(folder)):
                    return folder, near_misses
            near_misses.append(domain_dir)
    return None, near_misses


def first_file(bases: Sequence[Path], names: Sequence[str]) -> Path | None:
    for base in bases:
        for name in names:
            if (base / name).is_file():
                return base / name
    return None


# -- list files ----------------------------------------------------------------------------------
def read_list_file(path: Path, classes: Sequence[str], fix: str) -> list[tuple[str, str]]:
    """``(class folder, file name)`` per line of a ``relpath label`` list file.

    The class is the folder the image sits in; the numeric label must lie in
    ``0..len(classes)-1`` and name one class folder only (any label order is accepted).
    """
    index = {c: i for i, c in enumerate(classes)}
    entries: list[tuple[str, str]] = []
    class_of_label: dict[int, tuple[str, int]] = {}  # label -> (class folder, line it was first seen)
    label_of_class: dict[str, tuple[int, int]] = {}
    with open(path, encoding="utf-8") as f:
        for n, raw in enumerate(f, 1):
            line = raw.strip()
            if not line:
                continue
            parts = line.rsplit(maxsplit=1)
            if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
                raise DataError(f"{path}, line {n}: expected '<relative path> <label>', got {line!r}. "
                                f"The list file is damaged. {fix}")
            rel, label = parts[0].replace("\\", "/"), int(parts[1])
            head, _, name = rel.rpartition("/")
            folder = head.rpartition("/")[2]
            if folder not in index:
                raise DataError(f"{path}, line {n}: {rel!r} is not in a class folder of this dataset "
                                f"({folder or 'no folder'!r} is not one of its {len(classes)} classes). "
                                f"Is this the list of another dataset? {fix}")
            if not 0 <= label < len(classes):
                raise DataError(f"{path}, line {n}: label {label} is outside 0..{len(classes) - 1} "
                                f"(the dataset has {len(classes)} classes). The list file is damaged or "
                                f"belongs to another dataset. {fix}")
            first_class, line_of_class = class_of_label.setdefault(label, (folder, n))
            if first_class != folder:
                raise DataError(f"{path}, line {n}: label {label} is given to class folder {folder!r}, but "
                                f"line {line_of_class} gives it to {first_class!r}. The list mixes label "
                                f"orders. {fix}")
            first_label, line_of_label = label_of_class.setdefault(folder, (label, n))
            if first_label != label:
                raise DataError(f"{path}, line {n}: class folder {folder!r} has label {label}, but line "
                                f"{line_of_label} gives it label {first_label}. The list mixes label "
                                f"orders. {fix}")
            entries.append((folder, name))
    if not entries:
        raise DataError(f"{path} lists no images. {fix}")
    return entries


def check_listed_files(split: SplitEntries, fix: str) -> None:
    """One DataError naming the listed images that are not on disk (each class folder is listed
    once, which is cheap even for DomainNet's 586k files)."""
    wanted: dict[str, list[str]] = defaultdict(list)
    for folder, name in split.entries:
        wanted[folder].append(name)
    missing, missing_folders = [], []
    for folder, names in wanted.items():
        d = split.class_root / folder
        if not is_folder(d, fix):
            missing_folders.append(folder)
            missing += [d / n for n in names]
            continue
        present = {e.name for e in list_folder(d, fix)}
        missing += [d / n for n in names if n not in present]
    if missing:
        msg = (f"{len(missing):,} of {len(split.entries):,} images listed in {split.list_file} are missing "
               f"under {split.class_root} (e.g. {', '.join(str(p) for p in missing[:3])})")
        if missing_folders:
            msg += f"; missing class folders: {', '.join(sorted(missing_folders))}"
        raise DataError(f"{msg}. The download or extraction is incomplete. {fix}")


# -- class folders -------------------------------------------------------------------------------
def scan_class_folders(class_root: Path, classes: Sequence[str], fix: str) -> list[tuple[str, str]]:
    """``(class folder, file name)`` of every image of every class folder (classes in label order,
    files sorted by name).

    One DataError lists every missing class folder, every empty one, every file that is not
    an image, and every folder or entry the file system will not let us read (a symbolic link
    loop, no permission), since each of them would silently change the benchmark. An entry
    named as an image that cannot even be examined (a symbolic link loop ``x.jpg``) is kept as
    an image: reading it fails the run naming it, and ``--skip-bad-images`` leaves it out.
    """
    entries = []
    missing, empty, strangers, unreadable = [], [], [], []
    for folder in classes:
        d = class_root / folder
        try:
            if not is_folder(d):
                missing.append(folder)
                continue
            listing = list_folder(d)
        except DataError as exc:
            unreadable.append(str(exc))
            continue
        files = []
        for e in listing:
            if _is_system_file(e.name):
                continue
            try:
                if e.is_file():
                    files.append(e.name)
                elif e.is_symlink() and not e.is_dir():  # a link to nothing: not silently left out
                    raise FileNotFoundError(errno.ENOENT, "a symbolic link to nothing", e.path)
            except OSError as exc:  # the entry cannot be examined (a symbolic link loop, a broken link)
                if Path(e.name).suffix.lower() in IMAGE_SUFFIXES:
                    files.append(e.name)  # an image file that cannot be read: fails when read, or is skipped
                else:
                    unreadable.append(f"cannot read {d / e.name}: {_os_reason(exc)}")
        files.sort()
        images = [f for f in files if Path(f).suffix.lower() in IMAGE_SUFFIXES]
        strangers += [d / f for f in files if Path(f).suffix.lower() not in IMAGE_SUFFIXES]
        if not images:
            empty.append(d)
        entries += [(folder, f) for f in images]
    problems = []
    if unreadable:
        problems.append(f"the file system refuses to read what the class folders hold: {'; '.join(unreadable[:5])}"
                        f"{f' and {len(unreadable) - 5} more' if len(unreadable) > 5 else ''}"
                        f". Remove the broken symbolic links, or make the folders readable by this user.")
    if missing:
        problems.append(f"{len(missing)} of {len(classes)} class folders are missing in {class_root}: "
                        f"{', '.join(missing)}. The download or extraction is incomplete. {fix}")
    if empty:
        problems.append(f"class folders without any image: {', '.join(str(d) for d in empty)}. "
                        f"Every class of the benchmark has images in every domain: the extraction is "
                        f"incomplete. {fix}")
    if strangers:
        problems.append(f"files that are not images (by their extension) in class folders: "
                        f"{', '.join(str(p) for p in strangers[:5])}"
                        f"{f' and {len(strangers) - 5} more' if len(strangers) > 5 else ''}. "
                        f"Move them out of the class folders (images end in "
                        f"{', '.join(sorted(IMAGE_SUFFIXES))}).")
    if problems:
        raise DataError("\n".join(problems))
    return entries


def _is_system_file(name: str) -> bool:
    return name.startswith(".") or name in SYSTEM_FILES


# -- the file system's refusals, as DataErrors naming the path -------------------------------------
def is_folder(path: Path, fix: str = "") -> bool:
    """Whether ``path`` is a folder (following symbolic links); False when nothing is there. A path
    the file system will not examine (a symbolic link loop, no permission) is a DataError naming
    it, instead of looking absent (``Path.is_dir`` says False to a loop) or raising a bare OSError."""
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:
        raise DataError(f"cannot read {path}: {_os_reason(exc)}" + (f". {fix}" if fix else "")) from None


def list_folder(path: Path, fix: str = "") -> list[os.DirEntry]:
    """The entries of a folder, or a DataError naming it when the file system refuses to list it."""
    try:
        with os.scandir(path) as it:
            return list(it)
    except OSError as exc:
        raise DataError(f"cannot list the folder {path}: {_os_reason(exc)}" + (f". {fix}" if fix else "")) from None


def _entry_is_folder(entry: os.DirEntry) -> bool:
    """Whether a folder entry is a folder; one that cannot be examined counts (so that the scan of
    class folders names it)."""
    try:
        return entry.is_dir()
    except OSError:
        return True


def _os_reason(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "it is a symbolic link loop (a link that leads back to itself)"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied (make it readable by this user)"
    if exc.errno == errno.ENOENT:
        return exc.strerror or "it does not exist"
    return f"{exc.strerror or type(exc).__name__}" + (f" (errno {exc.errno})" if exc.errno else "")


# -- the layout as text --------------------------------------------------------------------------
def describe_layout(layout: Layout, domains: Sequence[str], splits: Sequence[str]) -> str:
    """The canonical tree, with the accepted aliases, for messages and ``udabench data info``."""
    base = layout.dataset_dirs[0]
    others = ", ".join(layout.dataset_dirs[1:])
    lines = [f"  <root>/{base}/    (or <root> itself{'; also ' + others if others else ''})"]
    level = layout.class_levels[0]
    for d in domains:
        aliases = layout.domain_dirs[d]
        path = f"{aliases[0]}/{level + '/' if level else ''}<class>/<image>"
        notes = []
        if len(aliases) > 1:
            notes.append("or " + ", ".join(repr(a) for a in aliases[1:]))
        if "" in layout.class_levels[1:]:
            notes.append(f"the {level}/ level may be absent")
        lines.append(f"    {path:<40} {'(' + '; '.join(notes) + ')' if notes else ''}".rstrip())
    if layout.split_lists:
        need = "required" if layout.lists_required else "optional; without one, every image of the class folders"
        lines.append(f"    split lists, 'relpath label' lines ({need}):")
    for s in splits:
        per_domain = [layout.split_lists.get((d, s), ()) for d in domains]
        if not any(per_domain):
            continue
        label = f"{s}: " if len(splits) > 1 else ""
        lines.append(f"      {label}{', '.join(names[0] for names in per_domain if names)}")
        if len(per_domain[0]) > 1:
            lines.append(f"        (or {', '.join(per_domain[0][1:])}, and so on for each domain)")
    return "\n".join(lines)
