"""A third-party dataset plugin, ``tp-digits``, written the way a lab would write one.

It is deliberately *not* udabench's ``digits``: another name, another generator, image files on
disk instead of in-memory arrays. It exists to check that every built-in method runs with its
defaults on a small-image dataset it has never been tuned for: the methods' ``small-image``
profile follows from the ``image_size`` it declares, not from its name.

The data: scikit-learn's UCI handwritten digits (8x8, 0-16, shipped with scikit-learn),
each domain drawn from its own disjoint set of 300 UCI images (30 per class), upscaled to
a 26-px ink mask, thresholded to a stroke thickness, posed on a 32x32 RGB canvas and
rendered in the domain's style:

==========  ======  ======================================================================================
domain      role    rendering
==========  ======  ======================================================================================
pencil      source  dark grey ink, medium stroke, on off-white paper with a faint grain
marker      source  bold strokes in a saturated colour on a pale background of another hue
negative    target  light ink on black (colour-inverted), medium-thin stroke
noisy       target  dark grey on mid grey, blurred, Gaussian noise (σ 20) and 1.5% salt-and-pepper
rotated     target  thin dark-blue ink on cream, rotated by 25-45 degrees either way
==========  ======  ======================================================================================

Tasks: each source to each target (6). Each domain is cut 2/3 : 1/3 (stratified, fixed)
into ``train`` (200 images: the source trains on it, the method adapts on the target's
without labels) and ``test`` (100 images: evaluation). Generation is deterministic and takes
about a second; the PNG files and a manifest are written once under the store folder:
``TPDigits.store`` if set (a test's ``tmp_path``; see :func:`make_dataset_class`), else
``udabench.cache_root() / "tp-digits"``.

Only the public ``udabench`` package is imported. For a fresh process (the CLI),
:func:`write_distribution` lays the plugin out in a folder the way pip installs one (a module
plus a ``.dist-info`` with an entry point in the ``udabench`` group); put that folder on
``PYTHONPATH`` (:func:`cli_env` returns such an environment).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import ClassVar

import numpy as np

from udabench import DataError, Dataset, ImageList, ImageSource, Task, cache_root, hookimpl, stratified_split

UDABENCH_PLUGIN_API = 1

NAME = "tp-digits"
CLASSES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SOURCE_DOMAINS = ("pencil", "marker")
TARGET_DOMAINS = ("negative", "noisy", "rotated")
DOMAINS = SOURCE_DOMAINS + TARGET_DOMAINS
SPLITS = ("train", "test")
PER_CLASS = 30  # per domain: 300 images, 200 train / 100 test
SIZE = 32
GLYPH = 26  # the 8x8 UCI image is upscaled to GLYPH x GLYPH and posed on the SIZE x SIZE canvas
VERSION = "1"  # bump when the pixels change: the store keeps one folder per version
SEED = 20240611

#: Set by :func:`write_distribution` in the copy it installs (the store of a fresh process).
STORE: str | None = None


# --- drawing ---------------------------------------------------------------------------------


def _uci_subsets() -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The UCI 8x8 images in [0, 1], their labels, and each domain's own disjoint indices (30 a class)."""
    from sklearn.datasets import load_digits

    uci = load_digits()
    images, labels = uci.images / 16.0, uci.target
    rng = np.random.default_rng(SEED)
    per_domain: dict[str, list[np.ndarray]] = {d: [] for d in DOMAINS}
    for c in range(len(CLASSES)):
        members = rng.permutation(np.flatnonzero(labels == c))
        if len(members) < PER_CLASS * len(DOMAINS):  # UCI has 174-183 a class
            raise DataError(f"{NAME}: scikit-learn's digits have only {len(members)} images of class {c}")
        for k, d in enumerate(DOMAINS):
            per_domain[d].append(members[k * PER_CLASS:(k + 1) * PER_CLASS])
    return images, labels, {d: np.concatenate(v) for d, v in per_domain.items()}


def _ink(image8: np.ndarray, threshold: float, rng: np.random.Generator, rotation: float) -> np.ndarray:
    """A SIZE x SIZE ink mask in [0, 1]: upscaled, thresholded to a thickness, rotated, shifted."""
    from PIL import Image

    big = np.asarray(Image.fromarray(image8.astype(np.float32)).resize((GLYPH, GLYPH), Image.Resampling.BICUBIC))
    # A steep sigmoid around `threshold`: a low threshold gives a bold stroke, a high one a thin one.
    mask = 1.0 / (1.0 + np.exp(-14.0 * (np.clip(big, 0, 1) - threshold)))
    canvas = np.zeros((SIZE, SIZE), np.float32)
    off = (SIZE - GLYPH) // 2
    dy, dx = (int(v) for v in rng.integers(-2, 3, 2))
    y0, x0 = off + dy, off + dx
    canvas[y0:y0 + GLYPH, x0:x0 + GLYPH] = mask
    if rotation:
        pil = Image.fromarray((canvas * 255).astype(np.uint8))
        canvas = np.asarray(pil.rotate(rotation, resample=Image.Resampling.BILINEAR), np.float32) / 255.0
    return canvas


_MARKER_INKS = ((210, 30, 40), (30, 70, 210), (20, 140, 60), (140, 40, 170), (230, 120, 10))
_MARKER_PAPERS = ((250, 235, 200), (215, 240, 250), (235, 250, 215), (250, 220, 235), (240, 240, 240))


def _render(domain: str, image8: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One RGB uint8 SIZE x SIZE image of ``image8`` in ``domain``'s style."""
    from PIL import Image, ImageFilter

    small_tilt = float(rng.uniform(-8, 8))
    if domain == "pencil":
        mask = _ink(image8, 0.40, rng, small_tilt)
        fg = rng.uniform(35, 75) + np.array([6, 3, 0])
        bg = rng.uniform(228, 250) + np.array([0, -2, -8])
        grain = 6.0
    elif domain == "marker":
        mask = _ink(image8, 0.22, rng, small_tilt)
        k = int(rng.integers(len(_MARKER_INKS)))
        fg = np.array(_MARKER_INKS[k], float)
        bg = np.array(_MARKER_PAPERS[(k + 1 + int(rng.integers(len(_MARKER_PAPERS) - 1))) % len(_MARKER_PAPERS)],
                      float)
        grain = 3.0
    elif domain == "negative":
        mask = _ink(image8, 0.48, rng, small_tilt)
        fg = rng.uniform(215, 255) * np.ones(3)
        bg = rng.uniform(0, 35) * np.ones(3)
        grain = 4.0
    elif domain == "noisy":
        mask = _ink(image8, 0.35, rng, small_tilt)
        fg = rng.uniform(50, 90) * np.ones(3)
        bg = rng.uniform(165, 205) * np.ones(3)
        grain = 0.0
    elif domain == "rotated":
        angle = float(rng.uniform(25, 45)) * (1 if rng.random() < 0.5 else -1)
        mask = _ink(image8, 0.55, rng, angle)
        fg = np.array([25, 45, 150], float)
        bg = np.array([245, 235, 185], float)
        grain = 4.0
    else:  # pragma: no cover - DOMAINS lists the cases above
        raise DataError(f"{NAME} has no domain {domain!r}")
    m = mask[..., None]
    img = bg[None, None, :] * (1 - m) + fg[None, None, :] * m
    if grain:
        img = img + rng.normal(0, grain, img.shape)
    if domain == "noisy":
        blurred = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6))
        img = np.asarray(blurred, np.float32) + rng.normal(0, 20, img.shape)
        salt = rng.random((SIZE, SIZE)) < 0.015
        img[salt] = np.where(rng.random((int(salt.sum()), 1)) < 0.5, 0.0, 255.0)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def render_domain(domain: str) -> tuple[np.ndarray, np.ndarray]:
    """(images (300, 32, 32, 3) uint8, labels (300,)) of one domain; deterministic."""
    images, labels, subsets = _uci_subsets()
    idx = subsets[domain]
    rng = np.random.default_rng([SEED, DOMAINS.index(domain)])
    return np.stack([_render(domain, images[i], rng) for i in idx]), labels[idx].astype(np.int64)


# --- the store: PNG files + a manifest, written once ----------------------------------------------


def generate(folder: Path) -> None:
    """Write every domain's PNG files and ``manifest.json`` (relative path, label, split) to ``folder``."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, list] = {}
    for domain in DOMAINS:
        images, labels = render_domain(domain)
        train, _ = stratified_split(labels, 2 / 3, 0)
        in_train = np.zeros(len(labels), bool)
        in_train[train] = True
        rows = []
        for i, (img, y) in enumerate(zip(images, labels)):
            rel = f"{domain}/{CLASSES[y]}/{domain}_{i:04d}.png"
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(img).save(folder / rel)
            rows.append([rel, int(y), "train" if in_train[i] else "test"])
        manifest[domain] = rows
    (folder / "manifest.json").write_text(json.dumps({"version": VERSION, "domains": manifest}))


def ensure_store(store: Path) -> Path:
    """The version folder under ``store``, generated first if absent (atomically: temp folder, rename)."""
    final = Path(store) / f"v{VERSION}"
    if (final / "manifest.json").is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=".tmp-"))
    try:
        generate(tmp)
        try:
            os.rename(tmp, final)
        except OSError:  # another process finished first: keep its copy
            if not (final / "manifest.json").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


# --- the plugin -------------------------------------------------------------------------------


class TPDigits(Dataset):
    name = NAME
    classes = CLASSES
    domains = DOMAINS
    domain_prompt_names = {"pencil": "pencil", "marker": "colourful", "negative": "inverted",
                           "noisy": "noisy", "rotated": "rotated"}
    tasks = tuple(Task(f"{s}2{t}", s, t) for s in SOURCE_DOMAINS for t in TARGET_DOMAINS)
    templates = ("a photo of the digit {}.", "a drawing of the number {}.", "the digit {}.",
                 "a picture of the number {}.")
    default_backbone = "toyclip"
    hflip_ok = False
    image_size, image_mode = SIZE, "RGB"  # declared: the methods' small-image profile applies
    train_split, adapt_split, eval_split = "train", "train", "test"
    source_info = "drawn from scikit-learn's UCI digits by tests/third_party_dataset.py; nothing to download"

    #: Where the generated files go; None: module STORE, else udabench.cache_root() / "tp-digits".
    store: ClassVar[str | None] = None

    @classmethod
    def store_dir(cls) -> Path:
        return Path(cls.store or STORE or cache_root() / NAME)

    def load(self, domain: str, split: str) -> ImageList:
        if domain not in DOMAINS:
            raise DataError(f"{NAME} has no domain {domain!r}; its domains are {', '.join(DOMAINS)}")
        if split not in SPLITS:
            raise DataError(f"{NAME} has no split {split!r}; its splits are {', '.join(SPLITS)}")
        folder = ensure_store(self.store_dir())
        rows = [r for r in json.loads((folder / "manifest.json").read_text())["domains"][domain] if r[2] == split]
        return ImageList(ImageSource(paths=[folder / r[0] for r in rows]), np.array([r[1] for r in rows]),
                         len(CLASSES))


def make_dataset_class(store: str | Path) -> type[TPDigits]:
    """``TPDigits`` storing its files under ``store`` (e.g. a test's ``tmp_path``), for in-process use."""
    return type("TPDigits", (TPDigits,), {"store": str(store), "__module__": __name__})


@hookimpl
def register_datasets(register):
    register(TPDigits)


# --- registering it in a fresh process ------------------------------------------------------------

DISTRIBUTION = "udabench-tp-digits"
MODULE = "udabench_tp_digits"


def write_distribution(site: str | Path, store: str | Path | None = None) -> Path:
    """Lay this plugin out in ``site`` as pip would install it: ``udabench_tp_digits.py`` (a copy of
    this file, with ``STORE`` set to ``store`` when given) and its ``.dist-info`` naming it in the
    ``udabench`` entry-point group. Put ``site`` on PYTHONPATH (see :func:`cli_env`)."""
    site = Path(site)
    site.mkdir(parents=True, exist_ok=True)
    source = Path(__file__).read_text()
    if store is not None:
        source += f"\nSTORE = {str(Path(store).resolve())!r}\n"
    (site / f"{MODULE}.py").write_text(source)
    info = site / f"{MODULE}-0.1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {DISTRIBUTION}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(f"[udabench]\n{NAME} = {MODULE}\n")
    return site


def cli_env(site: str | Path, store: str | Path | None = None, base: dict | None = None) -> dict[str, str]:
    """An environment for ``subprocess.run([... "udabench", "run", "--dataset", "tp-digits" ...])``:
    the distribution written to ``site`` and prepended to PYTHONPATH."""
    write_distribution(site, store)
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join([str(site)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


if __name__ == "__main__":  # python tests/third_party_dataset.py SITE [STORE]: install it for the CLI
    import sys

    if len(sys.argv) < 2:
        sys.exit("usage: python tests/third_party_dataset.py SITE_DIR [STORE_DIR]")
    print(write_distribution(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else None))
