"""The image-caption corpus the toy CLIP is pretrained on.

Everything is drawn by code, so the corpus is reproducible from a seed and
disjoint from the ``digits`` benchmark by construction:

* glyphs come from the sans-serif and monospace fonts in matplotlib's font
  folder (DejaVuSans x4, DejaVuSansMono x4, cmss10, cmtt10); the benchmark
  draws its printed digits in the serif fonts, and its target domains are
  UCI handwriting, seven-segment and dot-matrix displays, none of which is
  drawn here;
* backgrounds are solid colours or procedural fractal-noise textures, never
  the photographs the benchmark's ``blended`` domain uses;
* 46 concepts: the ten digits, the 26 letters and ten simple shapes.

What makes zero-shot transfer to handwriting possible at all is generic
variety: thin and bold strokes, smooth warps, blur and low-resolution
degradation, inverted (white-on-black) ink. None of it looks at the
benchmark's images.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

SIZE = 32
_HIRES = 4 * SIZE

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
LETTERS = tuple("abcdefghijklmnopqrstuvwxyz")
SHAPES = ("circle", "square", "triangle", "star", "cross", "ring", "diamond", "heart", "arrow", "line")

#: The fonts of the corpus. The serif fonts are the benchmark's, so they are not here.
CORPUS_FONTS = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf", "DejaVuSans-BoldOblique.ttf",
    "DejaVuSansMono.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf",
    "DejaVuSansMono-BoldOblique.ttf", "cmss10.ttf", "cmtt10.ttf",
)

COLOURS = {
    "red": (220, 30, 30), "green": (30, 160, 50), "blue": (30, 60, 220), "yellow": (240, 220, 30),
    "orange": (245, 140, 20), "purple": (140, 40, 170), "pink": (245, 120, 180), "brown": (130, 80, 40),
    "black": (15, 15, 15), "white": (245, 245, 245), "gray": (128, 128, 128), "cyan": (30, 200, 220),
}

# Caption templates; {c} is the concept phrase, {fg} the ink colour, {bg} the background word.
TEMPLATES = (
    "a photo of the {c}.", "a picture of the {c}.", "an image of the {c}.", "the {c}.", "{c}.",
    "a drawing of the {c}.", "a rendering of the {c}.", "a {fg} {c}.", "the {c} in {fg}.",
    "a {fg} {c} on a {bg} background.", "the {c} on a {bg} background.", "a {style} {c}.",
    "a {style} {fg} {c}.", "a photo of a {style} {c}.", "a close-up photo of the {c}.",
    "a small {c}.", "a large {c}.", "a cropped photo of the {c}.", "a picture showing the {c}.",
    "this is the {c}.", "a sketch of the {c}.", "an icon of the {c}.", "a sign with the {c}.",
    "a {fg} {c} drawn on {bg}.", "a symbol: the {c}.", "there is a {c} here.",
    "a bright photo of the {c}.", "a dark photo of the {c}.",
)


@dataclass(frozen=True)
class Concept:
    """One thing the corpus shows: its class index, how it is drawn, how captions name it."""

    index: int
    kind: str  # "digit" | "letter" | "shape"
    key: str  # the character to draw, or the shape's name
    phrases: tuple[str, ...]


def concepts() -> tuple[Concept, ...]:
    """The 46 concepts in a fixed order (digits first, so index == digit)."""
    out = [Concept(i, "digit", str(i), (f"digit {w}", f"number {w}")) for i, w in enumerate(DIGIT_WORDS)]
    out += [Concept(10 + i, "letter", ch, (f"letter {ch}",)) for i, ch in enumerate(LETTERS)]
    out += [Concept(36 + i, "shape", s, (s,)) for i, s in enumerate(SHAPES)]
    return tuple(out)


def font_dir() -> str:
    import matplotlib

    return os.path.join(matplotlib.get_data_path(), "fonts", "ttf")


@lru_cache(maxsize=None)
def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(os.path.join(font_dir(), name), size)


def _glyph_mask(rng: np.random.Generator, concept: Concept) -> Image.Image:
    """A white-on-black high-resolution mask of the concept, centred."""
    img = Image.new("L", (_HIRES, _HIRES), 0)
    draw = ImageDraw.Draw(img)
    if concept.kind == "shape":
        _draw_shape(draw, concept.key, rng)
        return img
    ch = concept.key
    if concept.kind == "letter" and rng.random() < 0.5:
        ch = ch.upper()
    font = _font(CORPUS_FONTS[rng.integers(len(CORPUS_FONTS))], 96)
    left, top, right, bottom = draw.textbbox((0, 0), ch, font=font)
    x = (_HIRES - (right - left)) / 2 - left
    y = (_HIRES - (bottom - top)) / 2 - top
    draw.text((x, y), ch, fill=255, font=font)
    return img


def _draw_shape(draw: ImageDraw.ImageDraw, name: str, rng: np.random.Generator) -> None:
    c, r = _HIRES / 2, _HIRES * 0.36
    w = int(rng.integers(6, 16))
    filled = rng.random() < 0.5
    fill = 255 if filled else None

    def poly(points):
        if filled:
            draw.polygon(points, fill=255)
        else:
            draw.line(points + [points[0]], fill=255, width=w, joint="curve")

    if name == "circle":
        draw.ellipse((c - r, c - r, c + r, c + r), fill=fill, outline=255, width=w)
    elif name == "ring":
        draw.ellipse((c - r, c - r, c + r, c + r), outline=255, width=int(r * 0.35))
    elif name == "square":
        poly([(c - r, c - r), (c + r, c - r), (c + r, c + r), (c - r, c + r)])
    elif name == "triangle":
        poly([(c, c - r), (c + r, c + r * 0.8), (c - r, c + r * 0.8)])
    elif name == "diamond":
        poly([(c, c - r), (c + r * 0.7, c), (c, c + r), (c - r * 0.7, c)])
    elif name == "star":
        pts = [(c + (r if k % 2 == 0 else r * 0.42) * math.sin(k * math.pi / 5),
                c - (r if k % 2 == 0 else r * 0.42) * math.cos(k * math.pi / 5)) for k in range(10)]
        poly(pts)
    elif name == "cross":
        t = r * 0.3
        draw.rectangle((c - t, c - r, c + t, c + r), fill=255)
        draw.rectangle((c - r, c - t, c + r, c + t), fill=255)
    elif name == "heart":
        pts = [(c + r * 0.95 * (16 * math.sin(a) ** 3) / 16,
                c - r * 0.95 * (13 * math.cos(a) - 5 * math.cos(2 * a) - 2 * math.cos(3 * a) - math.cos(4 * a)) / 16)
               for a in np.linspace(0, 2 * math.pi, 40, endpoint=False)]
        poly(pts)
    elif name == "arrow":
        t = r * 0.18
        draw.rectangle((c - r, c - t, c + r * 0.3, c + t), fill=255)
        draw.polygon([(c + r * 0.3, c - r * 0.55), (c + r, c), (c + r * 0.3, c + r * 0.55)], fill=255)
    elif name == "line":
        draw.line((c - r, c + r * 0.2, c + r, c - r * 0.2), fill=255, width=w + 4)
    else:  # pragma: no cover - concepts() lists only the shapes above
        raise ValueError(name)


def _stroke_and_pose(rng: np.random.Generator, mask: Image.Image) -> tuple[Image.Image, str | None]:
    """Thickness, affine pose and a smooth warp, all at high resolution."""
    style = None
    u = rng.random()
    if u < 0.25:
        mask = mask.filter(ImageFilter.MaxFilter(int(rng.choice([5, 7, 9, 11]))))
        style = "bold"
    elif u < 0.5:
        mask = mask.filter(ImageFilter.MinFilter(int(rng.choice([3, 5, 7]))))
        style = "thin"
    scale = rng.uniform(0.5, 1.05)
    angle = rng.uniform(-25, 25)
    shear = rng.uniform(-0.25, 0.25)
    dx, dy = rng.uniform(-0.12, 0.12, size=2) * _HIRES
    a, s = math.radians(angle), 1.0 / scale
    # Inverse map (output -> input) about the centre: rotation, shear, scale, shift.
    m = np.array([[math.cos(a), -math.sin(a) + shear], [math.sin(a), math.cos(a)]]) * s
    c = _HIRES / 2
    off = np.array([c, c]) - m @ np.array([c + dx, c + dy])
    mask = mask.transform(mask.size, Image.Transform.AFFINE,
                          (m[0, 0], m[0, 1], off[0], m[1, 0], m[1, 1], off[1]), resample=Image.Resampling.BILINEAR)
    if rng.random() < 0.5:
        mask = _warp(rng, mask)
    return mask, style


def _warp(rng: np.random.Generator, mask: Image.Image) -> Image.Image:
    """A smooth random displacement field, for hand-drawn-looking strokes."""
    from scipy.ndimage import map_coordinates

    amp = rng.uniform(3, 9)
    field = []
    for _ in range(2):
        coarse = rng.normal(size=(4, 4)).astype(np.float32)
        field.append(np.asarray(Image.fromarray(coarse).resize((_HIRES, _HIRES), Image.Resampling.BICUBIC)) * amp)
    yy, xx = np.mgrid[0:_HIRES, 0:_HIRES].astype(np.float32)
    warped = map_coordinates(np.asarray(mask, dtype=np.float32), [yy + field[0], xx + field[1]], order=1)
    return Image.fromarray(np.clip(warped, 0, 255).astype(np.uint8))


def _fractal_noise(rng: np.random.Generator) -> np.ndarray:
    """Fractal (multi-octave value) noise in [0, 1], SIZE x SIZE."""
    out = np.zeros((SIZE, SIZE), np.float32)
    total = 0.0
    for octave, cells in enumerate((2, 4, 8, 16)):
        weight = 0.55 ** octave
        grid = rng.random((cells, cells)).astype(np.float32)
        out += weight * np.asarray(Image.fromarray(grid).resize((SIZE, SIZE), Image.Resampling.BICUBIC))
        total += weight
    out /= total
    return np.clip((out - out.min()) / (np.ptp(out) + 1e-6), 0, 1)


def _luma(rgb) -> float:
    return 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]


def _colours(rng: np.random.Generator) -> tuple[str, str, np.ndarray, np.ndarray]:
    """Ink and background (word, base colour) with enough contrast to read."""
    names = list(COLOURS)
    while True:
        if rng.random() < 0.2:  # white ink on black, as in scanned handwriting
            fg, bg = "white", "black"
        else:
            fg, bg = rng.choice(names), rng.choice(names)
        if abs(_luma(COLOURS[fg]) - _luma(COLOURS[bg])) > 70:
            break
    jitter = lambda rgb: np.clip(np.array(rgb, np.float32) + rng.normal(0, 12, 3), 0, 255)  # noqa: E731
    return fg, bg, jitter(COLOURS[fg]), jitter(COLOURS[bg])


def render(rng: np.random.Generator, concept: Concept) -> tuple[np.ndarray, dict]:
    """Draw one image of ``concept``; return it (uint8 SIZE x SIZE x 3) with its attributes."""
    mask, style = _stroke_and_pose(rng, _glyph_mask(rng, concept))
    alpha = np.asarray(mask.resize((SIZE, SIZE), Image.Resampling.BOX), np.float32) / 255.0
    if rng.random() < 0.3:  # low resolution, then blown up again
        low = int(rng.integers(8, 17))
        small = Image.fromarray((alpha * 255).astype(np.uint8)).resize((low, low), Image.Resampling.BOX)
        alpha = np.asarray(small.resize((SIZE, SIZE), Image.Resampling.BILINEAR), np.float32) / 255.0
        style = style or "low resolution"
    fg_word, bg_word, fg, bg = _colours(rng)
    if rng.random() < 0.5:
        tex = _fractal_noise(rng)[..., None]
        other = np.clip(bg + rng.normal(0, 60, 3), 0, 255)
        background = bg * (1 - tex * 0.6) + other * tex * 0.6
        bg_word = "textured"
    else:
        background = np.broadcast_to(bg, (SIZE, SIZE, 3))
    img = background * (1 - alpha[..., None]) + fg * alpha[..., None]
    if rng.random() < 0.3:
        sigma = rng.uniform(0.4, 1.3)
        img = np.asarray(Image.fromarray(img.astype(np.uint8)).filter(ImageFilter.GaussianBlur(sigma)), np.float32)
        style = style or "blurry"
    if rng.random() < 0.3:
        img = img + rng.normal(0, rng.uniform(4, 20), img.shape)
        style = style or "noisy"
    attrs = {"fg": fg_word, "bg": bg_word, "style": style or "plain"}
    return np.clip(img, 0, 255).astype(np.uint8), attrs


def caption(rng: np.random.Generator, concept: Concept, attrs: dict) -> str:
    """A templated caption that names the concept and, truthfully, its attributes."""
    template = TEMPLATES[rng.integers(len(TEMPLATES))]
    phrase = concept.phrases[rng.integers(len(concept.phrases))]
    return template.format(c=phrase, **attrs)


def generate(n: int, seed: int, start: int = 0) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Samples ``start .. start+n`` of the corpus drawn from ``seed``.

    Sample i uses its own generator ``default_rng([seed, i])``, so any slice
    can be drawn in any process and the corpus is the same.
    """
    cs = concepts()
    images = np.empty((n, SIZE, SIZE, 3), np.uint8)
    captions, labels = [], np.empty(n, np.int64)
    for k in range(n):
        rng = np.random.default_rng([seed, start + k])
        concept = cs[rng.integers(len(cs))]
        images[k], attrs = render(rng, concept)
        captions.append(caption(rng, concept, attrs))
        labels[k] = concept.index
    return images, captions, labels
