"""Getting a benchmark's files: ``udabench data info`` (what a dataset needs, where it comes
from, what a data root holds) and ``udabench data download`` (fetch, verify, unpack).

A dataset plugin describes its files with two class attributes beyond the Dataset contract,
both optional: ``layout_text`` (the expected tree, as text) and ``downloads``, a mapping
from a packaging name ("official", "tllib", ...) to a list of files, each a mapping
``{"name", "urls", "into", "md5"}``: the file name, its mirrors (URLs serving the same
bytes, tried in order), the folder under the data root its content belongs in, and its md5
where one is published. Mirrors die, so a download

* streams into ``<root>/.downloads/<folder>/<name>.part`` and resumes it with an HTTP Range
  request after an interruption;
* tries each mirror in turn, after any base URL given with ``--mirror`` or
  ``$UDABENCH_DATA_MIRRORS`` (which must serve ``<base>/<folder>/<name>``);
* takes a file already at ``<root>/.downloads/<folder>/<name>`` as downloaded (the way to
  bring data to an offline machine) and checks its md5;
* unpacks into ``<root>/<into>`` without nesting the archive's own top folder twice.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Mapping, Sequence

from ..contract.version import __version__
from ..contract.errors import DataError, UnknownNameError
from ..contract.names import unknown_message

MIRRORS_ENV = "UDABENCH_DATA_MIRRORS"
ARCHIVE_SUFFIXES = (".zip", ".tar", ".tgz", ".tar.gz", ".tar.bz2", ".tar.xz")
TIMEOUT_S = 30.0
CHUNK = 1 << 20


@dataclass(frozen=True)
class Archive:
    """One file of a dataset's packaging, as a plugin's ``downloads`` describes it."""

    name: str
    urls: tuple[str, ...]
    into: str = ""
    md5: str | None = None

    @classmethod
    def from_spec(cls, spec: Mapping) -> "Archive":
        return cls(spec["name"], tuple(spec["urls"]), spec.get("into", ""), spec.get("md5"))

    @property
    def is_archive(self) -> bool:
        return self.name.lower().endswith(ARCHIVE_SUFFIXES)

    @property
    def folder(self) -> str:
        """The dataset folder it belongs to (the first part of ``into``): where it is kept and mirrored."""
        return PurePosixPath(self.into).parts[0] if self.into else ""


class MirrorError(Exception):
    """One mirror that did not deliver; ``unreachable`` when no connection could be made."""

    def __init__(self, reason: str, unreachable: bool = False):
        super().__init__(reason)
        self.unreachable = unreachable


# -- fetching ------------------------------------------------------------------------------------
def mirror_urls(archive: Archive, mirrors: Sequence[str] = ()) -> list[str]:
    """The URLs to try, in order: the user's base URLs first, then the archive's own mirrors."""
    bases = [*mirrors, *os.environ.get(MIRRORS_ENV, "").split()]
    path = f"{archive.folder}/{archive.name}" if archive.folder else archive.name
    return [f"{b.rstrip('/')}/{path}" for b in bases] + list(archive.urls)


def md5_of(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


class FetchError(DataError):
    """Every mirror of one file failed: ``archive``, where it belongs (``final``) and each mirror's reason."""

    def __init__(self, archive: Archive, final: Path, failures: Sequence[tuple[str, MirrorError]]):
        super().__init__(failure_message(archive, final, failures))
        self.archive, self.final, self.failures = archive, final, list(failures)


def fetch(archive: Archive, folder: Path, mirrors: Sequence[str] = (), progress: bool = True,
          timeout: float = TIMEOUT_S, unreachable: set[str] | None = None) -> Path:
    """``folder/<name>``, downloaded from the first mirror that delivers the right bytes.

    ``unreachable``: hosts no connection could be made to earlier in the same command; they are
    not tried again (an offline machine would otherwise wait for each file), and the hosts found
    unreachable here are added to it."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / archive.name
    if final.is_file():
        if archive.md5 and (digest := md5_of(final)) != archive.md5:
            raise DataError(f"{final} is already there, but its md5 is {digest}, not {archive.md5}. "
                            f"Delete it to download it again, or replace it with the right file.")
        return final
    part = final.with_name(final.name + ".part")
    failures: list[tuple[str, MirrorError]] = []
    for url in mirror_urls(archive, mirrors):
        host = urllib.parse.urlsplit(url).netloc
        if unreachable is not None and host in unreachable:
            failures.append((url, MirrorError(f"not tried: {host} could not be reached for an earlier file",
                                              unreachable=True)))
            continue
        try:
            stream(url, part, archive.name, progress, timeout)
            if archive.md5 and (digest := md5_of(part)) != archive.md5:
                part.unlink()
                raise MirrorError(f"md5 {digest}, expected {archive.md5}: a damaged or different file "
                                  f"(deleted)")
        except MirrorError as exc:
            failures.append((url, exc))
            if exc.unreachable and unreachable is not None:
                unreachable.add(host)
            continue
        part.replace(final)
        return final
    raise FetchError(archive, final, failures)


def stream(url: str, part: Path, label: str, progress: bool, timeout: float) -> None:
    """Append ``url``'s bytes to ``part``, resuming from its size when the server allows it."""
    from tqdm import tqdm

    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": f"udabench/{__version__}"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    try:
        resp = urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # nothing left to send: the .part is complete
            return
        raise MirrorError(f"HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise MirrorError(str(getattr(exc, "reason", exc)), unreachable=True) from None
    except http.client.HTTPException as exc:  # a server that answers with something other than HTTP
        raise MirrorError(f"bad answer: {exc!r}") from None
    with resp:
        if resp.headers.get_content_type() == "text/html":
            raise MirrorError("served a web page instead of the file (a login, quota or confirmation page)")
        resumed = offset > 0 and resp.status == 206 and \
            resp.headers.get("Content-Range", "").startswith(f"bytes {offset}-")
        start = offset if resumed else 0
        length = resp.headers.get("Content-Length")
        total = start + int(length) if length is not None else None
        with open(part, "ab" if resumed else "wb") as out, \
                tqdm(total=total, initial=start, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
                     disable=not progress, leave=False) as bar:
            try:
                while chunk := resp.read(CHUNK):
                    out.write(chunk)
                    bar.update(len(chunk))
            except (OSError, http.client.HTTPException) as exc:
                raise MirrorError(f"interrupted ({exc!r}); run the command again to resume") from None
    if total is not None and part.stat().st_size < total:
        raise MirrorError(f"the connection closed after {part.stat().st_size:,} of {total:,} bytes; "
                          f"run the command again to resume")


def failure_message(archive: Archive, final: Path, failures: Sequence[tuple[str, MirrorError]],
                    what: str = "") -> str:
    """Why one file could not be had (each mirror's reason) and where to put it by hand."""
    return missing_files_message([(archive, final, failures)], what)


def missing_files_message(missing: Sequence[tuple[Archive, Path, Sequence[tuple[str, MirrorError]]]],
                          what: str = "") -> str:
    """One message for every file that could not be had (``what``: of which packaging): each
    file with each of its URLs and why it failed, where to copy it by hand, and whether the
    machine seems to be offline."""
    if len(missing) == 1:
        archive, final, failures = missing[0]
        lines = [f"cannot download {archive.name}{what}:"] + [f"  - {url}: {exc}" for url, exc in failures]
    else:
        lines = [f"cannot download {len(missing)} files{what}:"]
        for archive, final, failures in missing:
            lines.append(f"  {archive.name} (copy it to {final}):")
            lines += [f"    - {url}: {exc}" for url, exc in failures]
    reasons = [exc for _, _, failures in missing for _, exc in failures]
    if reasons and all(exc.unreachable for exc in reasons):
        lines.append("No mirror could be reached: this machine seems to be offline.")
    checks = "checks and " if any(archive.md5 for archive, _, _ in missing) else ""
    if len(missing) == 1:
        lines.append(f"Download the file on a machine with network access and copy it to {missing[0][1]}; the "
                     f"same command then {checks}unpacks it without a network.")
    else:
        lines.append(f"Download these files on a machine with network access and copy each where shown; the "
                     f"same command then {checks}unpacks them without a network.")
    return "\n".join(lines)


# -- unpacking -----------------------------------------------------------------------------------
def unpack(path: Path, root: Path, archive: Archive, progress: bool = True) -> None:
    """Put ``path``'s content in ``root/<into>``: archives are extracted, other files copied."""
    from tqdm import tqdm

    dest = root / archive.into
    if not archive.is_archive:
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest / archive.name)
        return
    try:
        if tarfile.is_tarfile(path):
            with tarfile.open(path) as tar:
                members = tar.getmembers()
                target = outer_folder(dest, [m.name for m in members])
                for m in tqdm(members, desc=f"unpack {archive.name}", disable=not progress, leave=False):
                    tar.extract(m, target, filter="data")
        elif zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
                target = outer_folder(dest, names)
                for name in tqdm(names, desc=f"unpack {archive.name}", disable=not progress, leave=False):
                    zf.extract(name, target)
        else:
            raise DataError(f"{path} is neither a tar nor a zip archive: the download is damaged. "
                            f"Delete it and download it again.")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"cannot unpack {path}: {exc}. Delete it and download it again.") from None


def outer_folder(dest: Path, names: Iterable[str]) -> Path:
    """Where to extract so the content lands in ``dest``: its parent when every member already
    sits in a top folder named like ``dest`` (``train.tar`` holds ``train/...``)."""
    tops = {PurePosixPath(n).parts[0] for n in names if PurePosixPath(n).parts and n not in (".", "./")}
    tops.discard(".")
    if tops == {dest.name}:
        dest.parent.mkdir(parents=True, exist_ok=True)
        return dest.parent
    dest.mkdir(parents=True, exist_ok=True)
    return dest


# -- the dataset level ---------------------------------------------------------------------------
def packaging_of(dataset_cls, packaging: str | None) -> tuple[str, list[Archive]]:
    packagings = getattr(dataset_cls, "downloads", None) or {}
    if not packagings:
        raise DataError(f"{dataset_cls.name} has no public download. Get it from "
                        f"{dataset_cls.source_info or 'its authors'}.")
    key = packaging or next(iter(packagings))
    if key not in packagings:
        raise UnknownNameError(unknown_message(f"packaging of {dataset_cls.name}", key, packagings))
    return key, [Archive.from_spec(spec) for spec in packagings[key]]


def download(dataset_cls, root: Path, packaging: str | None = None, mirrors: Sequence[str] = (),
             keep_archives: bool = False, progress: bool = True, echo: Callable[[str], None] = print) -> None:
    """Fetch, verify and unpack every file of one packaging into ``root``; skip what is unpacked."""
    key, archives = packaging_of(dataset_cls, packaging)
    echo(f"{dataset_cls.name}: {len(archives)} file(s) of the {key!r} packaging into {root}")
    missing: list[FetchError] = []  # every file that cannot be had is named, in one message at the end
    unreachable: set[str] = set()
    for archive in archives:
        folder = root / ".downloads" / archive.folder
        done = folder / f"{archive.name}.unpacked"
        if done.is_file():
            echo(f"  {archive.name}: already unpacked")
            continue
        try:
            path = fetch(archive, folder, mirrors, progress, unreachable=unreachable)
        except FetchError as exc:
            missing.append(exc)
            echo(f"  {archive.name}: could not be downloaded")
            continue
        unpack(path, root, archive, progress)
        done.write_text(f"{archive.name} unpacked into {root / archive.into}\n")
        if not keep_archives:
            path.unlink()
        echo(f"  {archive.name}: unpacked into {root / archive.into}")
    if missing:
        raise DataError(missing_files_message([(e.archive, e.final, e.failures) for e in missing],
                                              f" of the {key!r} packaging of {dataset_cls.name}"))


def has_download(dataset_cls) -> bool:
    """Whether the dataset declares a packaging ``udabench data download`` can fetch."""
    return bool(getattr(dataset_cls, "downloads", None))


def without_download(dataset_cls, root: Path, progress: bool = True, echo: Callable[[str], None] = print) -> int:
    """``udabench data download`` of a dataset with no packaging to fetch: load every split (a
    dataset that generates its images, such as digits, draws them now) and say where the data
    is; 0 when every split loads, else a DataError saying where to get the data."""
    location = dataset_cls(root).data_location()
    echo(f"{dataset_cls.name} has no download packaging; source: {dataset_cls.source_info or '(not given)'}.")
    echo(f"Loading every split from {location} (a dataset that generates its images does so now):")
    if check_root(dataset_cls, root, False, progress, echo):
        raise DataError(f"{dataset_cls.name} has no public download, and {location} does not hold every split "
                        f"(above). Get it from {dataset_cls.source_info or 'its authors'}.")
    echo(f"{dataset_cls.name} is ready under {location}: nothing to download.")
    return 0


def report(dataset_cls, root: Path, verify: bool = False, progress: bool = True,
           echo: Callable[[str], None] = print) -> int:
    """What the dataset is and what ``root`` holds of it; 0 when every split loads (and decodes)."""
    classes = dataset_cls.classes
    order = ", ".join(f"{i} {c}" for i, c in enumerate(classes[:3]))
    about = (sys.modules[dataset_cls.__module__].__doc__ or "").strip().split("\n\n")[0]
    echo(f"{dataset_cls.name}: {' '.join(about.split())}")
    echo(f"  domains: {', '.join(dataset_cls.domains)}")
    echo(f"  tasks:   {' '.join(t.name for t in dataset_cls.tasks)}")
    echo(f"  classes: {len(classes)} (label order: {order}, ... {len(classes) - 1} {classes[-1]})")
    if dataset_cls.single_domain():
        val = f", hyperparameters chosen on '{dataset_cls.val_split}'" if dataset_cls.val_split else ""
        echo(f"  splits:  few-shot shots from '{dataset_cls.train_split}'{val}, evaluation on "
             f"'{dataset_cls.eval_split}'; headline metric {dataset_cls.headline_metric}")
    else:
        echo(f"  splits:  source trains on '{dataset_cls.train_split}', target adapts on "
             f"'{dataset_cls.adapt_split}', evaluation on '{dataset_cls.eval_split}'; "
             f"headline metric {dataset_cls.headline_metric}")
    if getattr(dataset_cls, "layout_text", ""):
        echo("\nExpected layout:\n" + dataset_cls.layout_text)
    echo(f"\nSource: {dataset_cls.source_info or '(not given)'}")
    for key, specs in (getattr(dataset_cls, "downloads", None) or {}).items():
        echo(f"  `udabench data download {dataset_cls.name} --from {key}`:")
        for a in map(Archive.from_spec, specs):
            echo(f"    {a.name} -> <root>/{a.into}{'  md5 ' + a.md5 if a.md5 else ''}")
            for url in a.urls:
                echo(f"      {url}")
    location = dataset_cls(root).data_location()
    own = "" if location == root else f" (not the data root: {dataset_cls.name} keeps its files there)"
    echo(f"\nData under {location}{own}:")
    return check_root(dataset_cls, root, verify, progress, echo)


def needed_splits(dataset_cls) -> list[tuple[str, str]]:
    """Every (domain, split) some setting reads for the dataset's standard tasks, by domain: a source's
    train split, a target's adaptation and evaluation splits, a shot domain's train and val splits
    (ImageNet-A has no train split, and no task reads one)."""
    d = dataset_cls
    pairs = []
    for t in d.tasks:
        pairs += [(t.source, d.train_split), (t.target, d.adapt_split), (t.target, d.eval_split),
                  (t.shot_domain, d.train_split)]
        if d.val_split is not None:
            pairs.append((t.shot_domain, d.val_split))
    order = {domain: i for i, domain in enumerate(d.domains)}
    return sorted(dict.fromkeys(pairs), key=lambda p: order.get(p[0], len(order)))


def check_root(dataset_cls, root: Path, verify: bool, progress: bool, echo: Callable[[str], None]) -> int:
    dataset = dataset_cls(root)
    expected = getattr(dataset_cls, "expected_counts", {})
    status = 0
    for domain, split in needed_splits(dataset_cls):
        where = f"  {domain:<12} {split:<6}"
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the count is compared below
                images = dataset.load(domain, split)
        except DataError as exc:
            echo(f"{where} missing:")
            for line in str(exc).split("\n\n")[0].splitlines():
                echo(f"      {line}")
            status = 1
            continue
        want = expected.get((domain, split), expected.get(split))  # a one-domain dataset keys by split
        note = "" if want in (None, len(images)) else f"  (the benchmark has {want:,})"
        echo(f"{where} {len(images):>9,} images{note}")
        if verify:
            bad = unreadable_images(images, f"decode {domain}/{split}", progress)
            for msg in bad[:20]:
                echo(f"      {msg}")
            if bad:
                echo(f"      {len(bad)} unreadable image(s) in {domain}/{split}")
                status = 1
    return status


def unreadable_images(images, desc: str, progress: bool) -> list[str]:
    """The error of every image of an ImageList that cannot be decoded."""
    from tqdm import tqdm

    bad = []
    for i in tqdm(range(len(images)), desc=desc, disable=not progress, leave=False):
        try:
            images.source.load(i)
        except DataError as exc:
            bad.append(str(exc))
    return bad
