"""Dataset plugin ``shapes-mini``: a tiny generated benchmark that shows the dataset contract.

Three classes (circle, square, triangle) in two domains of 60 images (32x32 RGB) each:

* ``outline``: a black outline on a white background;
* ``filled``: a shape filled in a random colour, on a noisy coloured background.

Nothing is downloaded or cached: the images are drawn with PIL from a fixed seed, in memory,
the same on every call. Each domain has a fixed stratified split (2/3 train, 1/3 test): the
protocol hands a method the target's ``train`` split without labels and evaluates on its
``test`` split.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from udabench import DataError, Dataset, ImageList, ImageSource, Task, hookimpl, stratified_split

UDABENCH_PLUGIN_API = 1

CLASSES = ("circle", "square", "triangle")
DOMAINS = ("outline", "filled")
SPLITS = ("train", "test")
PER_CLASS = 20
SIZE = 32


def _draw(shape: int, domain: str, rng: np.random.Generator) -> np.ndarray:
    from PIL import Image, ImageDraw

    if domain == "outline":
        background, fill, outline = (255, 255, 255), None, (0, 0, 0)
    else:
        background = tuple(int(v) for v in rng.integers(0, 256, 3))
        fill, outline = tuple(int(v) for v in rng.integers(0, 256, 3)), None
    img = Image.new("RGB", (SIZE, SIZE), background)
    r = int(rng.integers(8, 13))
    cx, cy = (int(v) for v in rng.integers(r + 2, SIZE - r - 2, 2))
    box = (cx - r, cy - r, cx + r, cy + r)
    d = ImageDraw.Draw(img)
    if shape == 0:
        d.ellipse(box, fill=fill, outline=outline, width=2)
    elif shape == 1:
        d.rectangle(box, fill=fill, outline=outline, width=2)
    else:
        d.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill, outline=outline, width=2)
    out = np.asarray(img, dtype=np.int16)
    if domain == "filled":
        out = out + rng.integers(-25, 26, out.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


@lru_cache(maxsize=None)
def render(domain: str) -> tuple[np.ndarray, np.ndarray]:
    """(images (N, 32, 32, 3) uint8, labels (N,)) of a whole domain; deterministic."""
    rng = np.random.default_rng([DOMAINS.index(domain), 2024])
    labels = np.repeat(np.arange(len(CLASSES)), PER_CLASS)
    images = np.stack([_draw(int(y), domain, rng) for y in labels])
    images.setflags(write=False)
    return images, labels


class ShapesMini(Dataset):
    name = "shapes-mini"
    classes = CLASSES
    domains = DOMAINS
    domain_prompt_names = {"outline": "line drawing", "filled": "coloured"}
    tasks = (Task("outline2filled", "outline", "filled"), Task("filled2outline", "filled", "outline"))
    templates = ("a drawing of a {}.", "a {} shape.")
    default_backbone = "toyclip"
    train_split, adapt_split, eval_split = "train", "train", "test"
    source_info = "drawn in memory by udabench_entropy_min.dataset; nothing to download"

    def load(self, domain: str, split: str) -> ImageList:
        if domain not in DOMAINS:
            raise DataError(f"shapes-mini has no domain {domain!r}; its domains are {', '.join(DOMAINS)}")
        if split not in SPLITS:
            raise DataError(f"shapes-mini has no split {split!r}; its splits are {', '.join(SPLITS)}")
        images, labels = render(domain)
        train, test = stratified_split(labels, 2 / 3, seed=0)
        idx = train if split == "train" else test
        return ImageList(ImageSource(array=images[idx]), labels[idx], len(CLASSES))


@hookimpl
def register_datasets(register):
    register(ShapesMini)
