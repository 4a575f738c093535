"""Five renderings of the digits 0-9 as 32x32 RGB images, for domain-shift benchmarks.

Everything comes from data that Python packages ship (scikit-learn's UCI digits
and sample photos, matplotlib's fonts) or from code that draws it, so the
benchmark needs no download. Each drawn domain is deterministic given
(domain, seed): every random draw comes from one generator seeded with both.
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

DOMAIN_NAMES: tuple[str, ...] = ("printed", "blended", "handwritten", "sevenseg", "dotmatrix")
SOURCE_DOMAINS = ("printed", "blended")
TARGET_DOMAINS = ("handwritten", "sevenseg", "dotmatrix")
IMAGES_PER_CLASS = 200  # for the drawn domains; handwritten uses all 1,797 UCI images
GENERATOR_VERSION = "1"  # bump when the pixels change (it keys an on-disk cache)

_NUM_CLASSES = 10
_SIZE = 32
_SUPERSAMPLE = 4  # draw at 4x, then box-filter down, for anti-aliased edges
_CANVAS = _SIZE * _SUPERSAMPLE
_MAX_SHIFT_PX = 3.0
_MAX_ROTATION_DEG = 15.0
_SCALE_RANGE = (0.6, 1.0)  # glyph's rotated extent as a fraction of the canvas

# Serif faces only: matplotlib's sans-serif and monospace faces (DejaVuSans*,
# DejaVuSansMono*, cmss10, cmtt10) are reserved for the small CLIP's pretraining
# corpus and must never be drawn here. Every listed face is checked on first use
# by _digit_glyph_problem and skipped, with a warning, if its digits are unusable.
# The folder's remaining faces fail that check and so are not listed: cmmi10
# has old-style numerals; cmex10 and cmsy10 put symbols at the digit code
# points; LastResortHE draws one placeholder box for every digit;
# DejaVuSerifDisplay, STIXNonUni* and STIXSiz* have no digits at all.
_SERIF_FONT_FILES = (
    "DejaVuSerif",
    "DejaVuSerif-Bold",
    "DejaVuSerif-Italic",
    "DejaVuSerif-BoldItalic",
    "STIXGeneral",
    "STIXGeneralBol",
    "STIXGeneralItalic",
    "STIXGeneralBolIta",
    "cmr10",
    "cmb10",
    "cmti10",
)
_GLYPH_FONT_SIZE = 160  # large, so glyphs stay sharp when scaled onto the 4x canvas
_MIN_LINING_HEIGHT_RATIO = 0.8  # shortest digit vs. median; old-style 0/1/2 are ~0.65
_MIN_GLYPH_DIFFERENCE = 0.02  # mean |difference| of 16x16 thumbnails in [0, 1]
_BLEND_MAX_CROP_MEAN = 60.0  # darker photo regions only; see _dark_photo_crop
_BLEND_GLYPH_CHANNEL_RANGE = (192.0, 255.0)  # bright glyph colours, each channel drawn alone

# Seven segments a-g: a top, b upper right, c lower right, d bottom,
# e lower left, f upper left, g middle. 6 and 9 keep their tails (a and d).
_SEVEN_SEGMENT_DIGITS = (
    "abcdef", "bc", "abdeg", "abcdg", "bcfg", "acdfg", "acdefg", "abc", "abcdefg", "abcdfg",
)
_SEVEN_WITH_HOOK = "abcf"  # the 4-segment 7 some displays use

# The 5x7 digits of the HD44780 character-LCD ROM, one string per row.
_DOT_MATRIX_DIGITS = (
    ("01110", "10001", "10011", "10101", "11001", "10001", "01110"),
    ("00100", "01100", "00100", "00100", "00100", "00100", "01110"),
    ("01110", "10001", "00001", "00010", "00100", "01000", "11111"),
    ("11111", "00010", "00100", "00010", "00001", "10001", "01110"),
    ("00010", "00110", "01010", "10010", "11111", "00010", "00010"),
    ("11111", "10000", "11110", "00001", "00001", "10001", "01110"),
    ("00110", "01000", "10000", "11110", "10001", "10001", "01110"),
    ("11111", "00001", "00010", "00100", "01000", "01000", "01000"),
    ("01110", "10001", "10001", "01110", "10001", "10001", "01110"),
    ("01110", "10001", "10001", "01111", "00001", "00010", "01100"),
)

# (background, lit) RGB centres; each image jitters them. All light-on-dark:
# with a dark-on-light LCD palette among them, a raw-pixel logistic regression
# fell from 94% to 46-56% (mixed polarity is not linearly learnable), and
# printed already covers dark-on-light.
_SEVENSEG_PALETTES = (
    ((20, 8, 8), (255, 40, 30)),  # red LED
    ((8, 20, 10), (60, 255, 80)),  # green LED
    ((22, 14, 5), (255, 170, 20)),  # amber LED
    ((5, 15, 22), (40, 220, 255)),  # cyan VFD
    ((10, 10, 28), (120, 140, 255)),  # blue LED
)
_DOTMATRIX_PALETTES = (
    ((30, 60, 230), (235, 240, 255)),  # white on blue backlit LCD
    ((15, 30, 10), (190, 255, 60)),  # negative-mode yellow-green LCD
    ((15, 5, 5), (255, 50, 30)),  # red LED matrix
    ((20, 12, 0), (255, 180, 40)),  # amber LED matrix
)


def render_domain(name: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """images uint8 (N, 32, 32, 3), labels int64 (N,), deterministic given (name, seed).

    ``handwritten`` is a fixed real data set, so it ignores the seed.
    """
    if name not in DOMAIN_NAMES:
        raise ValueError(f"unknown digit domain {name!r}; known domains: {', '.join(DOMAIN_NAMES)}")
    if name == "handwritten":
        return _render_handwritten()
    rng = np.random.default_rng([seed, DOMAIN_NAMES.index(name)])
    labels = rng.permutation(np.repeat(np.arange(_NUM_CLASSES, dtype=np.int64), IMAGES_PER_CLASS))
    draw = _DRAWERS[name]
    images = np.stack([draw(int(digit), rng) for digit in labels])
    return images, labels


# --- handwritten -------------------------------------------------------------


def _render_handwritten() -> tuple[np.ndarray, np.ndarray]:
    """UCI digits are real handwriting (8x8, 0-16); upsampled to the common format."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    grey = np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)
    upsampled = np.stack(
        [np.asarray(Image.fromarray(g).resize((_SIZE, _SIZE), Image.Resampling.BILINEAR)) for g in grey]
    )
    images = np.repeat(upsampled[..., None], 3, axis=-1)
    return images, digits.target.astype(np.int64)


# --- serif fonts -------------------------------------------------------------


def _font_dir() -> Path:
    """matplotlib ships its TrueType fonts inside its package data."""
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _render_glyph(font: ImageFont.FreeTypeFont, digit: int) -> Image.Image:
    """Draw one digit large, cropped to its ink so augmentation can scale it freely."""
    side = 2 * _GLYPH_FONT_SIZE
    image = Image.new("L", (side, side), 0)
    ImageDraw.Draw(image).text((side / 2, side / 2), str(digit), font=font, fill=255, anchor="mm")
    box = image.getbbox()
    return image if box is None else image.crop(box)


def _load_font_glyphs(path: Path) -> tuple[Image.Image, ...]:
    """The ten digit glyphs of one font file, in digit order."""
    font = ImageFont.truetype(str(path), _GLYPH_FONT_SIZE)
    return tuple(_render_glyph(font, digit) for digit in range(_NUM_CLASSES))


def _ink_height(glyph: np.ndarray) -> int:
    """Rows spanned by ink, the quantity that tells lining from old-style numerals."""
    rows = np.flatnonzero(glyph.any(axis=1))
    return int(rows[-1] - rows[0] + 1) if rows.size else 0


def _thumbnail(glyph: np.ndarray) -> np.ndarray:
    """A 16x16 [0, 1] version of a glyph's ink box, for comparing glyph shapes."""
    box = Image.fromarray(glyph).getbbox()
    image = Image.fromarray(glyph).crop(box).resize((16, 16), Image.Resampling.BOX)
    return np.asarray(image, dtype=np.float32) / 255.0


def _digit_glyph_problem(glyphs: list[np.ndarray]) -> str | None:
    """Why a font's ten digit glyphs cannot teach digits (None if they can).

    Some faces lack digits (blank glyphs), draw one placeholder for all of
    them, or have old-style numerals whose 0, 1, 2 are much shorter than the
    rest and would not look like the other domains' digits.
    """
    if any(not glyph.any() for glyph in glyphs):
        return "some digits draw no ink"
    heights = np.array([_ink_height(glyph) for glyph in glyphs])
    if heights.min() < _MIN_LINING_HEIGHT_RATIO * np.median(heights):
        return "digit heights vary too much (old-style numerals or symbols)"
    thumbs = np.stack([_thumbnail(glyph) for glyph in glyphs])
    differences = np.abs(thumbs[:, None] - thumbs[None, :]).mean(axis=(2, 3))
    if differences[np.triu_indices(len(glyphs), k=1)].min() < _MIN_GLYPH_DIFFERENCE:
        return "two digits draw the same glyph"
    return None


@functools.lru_cache(maxsize=1)
def _serif_glyphs() -> tuple[tuple[Image.Image, ...], ...]:
    """Glyphs of every usable listed serif font, rendered once per process."""
    usable = []
    for name in _SERIF_FONT_FILES:
        path = _font_dir() / f"{name}.ttf"
        if not path.is_file():
            warnings.warn(f"digits: skipping font {name}: file not found in {path.parent}", stacklevel=2)
            continue
        glyphs = _load_font_glyphs(path)
        problem = _digit_glyph_problem([np.asarray(glyph) for glyph in glyphs])
        if problem is not None:
            warnings.warn(f"digits: skipping font {name}: {problem}", stacklevel=2)
            continue
        usable.append(glyphs)
    if not usable:
        raise RuntimeError(f"no usable serif font with digits in {_font_dir()}")
    return tuple(usable)


def _place_glyph(glyph: Image.Image, rng: np.random.Generator) -> np.ndarray:
    """Rotate, scale and shift a glyph at random, as print and scans vary.

    The glyph is resampled onto the 4x canvas in one affine step, then
    box-filtered to 32x32; the shift is clamped so no stroke leaves the image.
    Returns ink coverage in [0, 1], shape (32, 32).
    """
    angle = np.deg2rad(rng.uniform(-_MAX_ROTATION_DEG, _MAX_ROTATION_DEG))
    fill = rng.uniform(*_SCALE_RANGE)
    shift = rng.uniform(-_MAX_SHIFT_PX, _MAX_SHIFT_PX, size=2) * _SUPERSAMPLE
    cos, sin = np.cos(angle), np.sin(angle)
    width, height = glyph.size
    rotated = np.array([width * abs(cos) + height * abs(sin), width * abs(sin) + height * abs(cos)])
    zoom = fill * _CANVAS / rotated.max()
    room = (_CANVAS - zoom * rotated) / 2
    centre_out = _CANVAS / 2 + np.clip(shift, -room, room)
    # PIL wants the inverse map: output pixel -> glyph pixel.
    a, b, d, e = cos / zoom, sin / zoom, -sin / zoom, cos / zoom
    c = width / 2 - a * centre_out[0] - b * centre_out[1]
    f = height / 2 - d * centre_out[0] - e * centre_out[1]
    canvas = glyph.transform(
        (_CANVAS, _CANVAS), Image.Transform.AFFINE, (a, b, c, d, e, f), resample=Image.Resampling.BILINEAR
    )
    return np.asarray(canvas.reduce(_SUPERSAMPLE), dtype=np.float32) / 255.0


def _random_serif_digit(digit: int, rng: np.random.Generator) -> np.ndarray:
    """Coverage of one digit in a randomly chosen serif font, randomly placed."""
    fonts = _serif_glyphs()
    return _place_glyph(fonts[rng.integers(len(fonts))][digit], rng)


def _with_noise(image: np.ndarray, rng: np.random.Generator, noise_max: float) -> np.ndarray:
    """Add Gaussian sensor/scan noise of a random strength up to noise_max."""
    return image + rng.normal(0.0, rng.uniform(0.0, noise_max), size=image.shape)


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """Round and clip float pixels to the benchmark's uint8 format."""
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


# --- printed -----------------------------------------------------------------


def _paper_and_ink(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Light paper and dark ink, each grey with a mild random colour cast."""
    paper = np.clip(rng.uniform(195.0, 255.0) + rng.uniform(-12.0, 12.0, size=3), 0, 255)
    ink = np.clip(rng.uniform(0.0, 90.0) + rng.uniform(-20.0, 20.0, size=3), 0, 255)
    return paper, ink


def _draw_printed(digit: int, rng: np.random.Generator) -> np.ndarray:
    """A serif digit printed in dark ink on light paper."""
    coverage = _random_serif_digit(digit, rng)[..., None]
    paper, ink = _paper_and_ink(rng)
    return _to_uint8(_with_noise(paper + (ink - paper) * coverage, rng, noise_max=6.0))


# --- blended -----------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _sample_photos() -> tuple[Image.Image, ...]:
    """scikit-learn's two sample photos (china.jpg, flower.jpg), loaded once."""
    from sklearn.datasets import load_sample_images

    return tuple(Image.fromarray(photo) for photo in load_sample_images().images)


@functools.lru_cache(maxsize=1)
def _photo_brightness_sums() -> tuple[np.ndarray, ...]:
    """Summed-area tables of each photo's brightness, so any crop's mean costs O(1)."""
    tables = []
    for photo in _sample_photos():
        brightness = np.asarray(photo, dtype=np.float64).mean(axis=2)
        tables.append(np.pad(brightness.cumsum(axis=0).cumsum(axis=1), ((1, 0), (1, 0))))
    return tuple(tables)


def _box_mean(table: np.ndarray, left: int, top: int, side: int) -> float:
    """Mean brightness of a square from its summed-area table."""
    right, bottom = left + side, top + side
    total = table[bottom, right] - table[top, right] - table[bottom, left] + table[top, left]
    return float(total) / (side * side)


def _dark_photo_crop(rng: np.random.Generator) -> np.ndarray:
    """A dark random square photo crop (32-128 px, so textures vary in scale), as 32x32.

    Dark so that a bright glyph blended over it is always brighter than it:
    |photo - glyph| turns the glyph dark over bright regions, and that mixed
    polarity held a raw-pixel logistic regression near 20% with MNIST-M's
    unrestricted crops, against ~73% with dark crops only. Rejecting bright
    crops keeps the photos' own pixels; dimming them instead measured ~63%.
    """
    photos, sums = _sample_photos(), _photo_brightness_sums()
    while True:
        index = int(rng.integers(len(photos)))
        side = int(rng.integers(32, 129))
        left = int(rng.integers(0, photos[index].width - side + 1))
        top = int(rng.integers(0, photos[index].height - side + 1))
        if _box_mean(sums[index], left, top, side) < _BLEND_MAX_CROP_MEAN:
            break
    box = (left, top, left + side, top + side)
    crop = photos[index].resize((_SIZE, _SIZE), Image.Resampling.BOX, box=box)
    return np.asarray(crop, dtype=np.float32)


def _draw_blended(digit: int, rng: np.random.Generator) -> np.ndarray:
    """MNIST-M style: |photo - coloured glyph| inside the glyph, photo elsewhere."""
    coverage = _random_serif_digit(digit, rng)[..., None]
    colour = rng.uniform(*_BLEND_GLYPH_CHANNEL_RANGE, size=3)
    return _to_uint8(np.abs(_dark_photo_crop(rng) - colour * coverage))


# --- displays (seven-segment and dot-matrix) -----------------------------------


def _display_colours(rng: np.random.Generator, palettes: tuple) -> tuple[np.ndarray, np.ndarray]:
    """A palette's (background, lit) colours, each jittered so no two displays match."""
    background, lit = palettes[rng.integers(len(palettes))]
    background = np.clip(np.array(background) + rng.uniform(-15.0, 15.0, size=3), 0, 255)
    lit = np.clip(np.array(lit) + rng.uniform(-25.0, 25.0, size=3), 0, 255)
    return background, lit


def _unlit_level(rng: np.random.Generator) -> int:
    """Half the displays show their unlit elements faintly, as real ones often do."""
    return int(rng.uniform(0.06, 0.16) * 255) if rng.random() < 0.5 else 0


def _render_display(mask: Image.Image, rng: np.random.Generator, palettes: tuple) -> np.ndarray:
    """Colour a 4x display mask: blur it (glow/defocus), box-filter to 32x32, add noise."""
    blurred = mask.filter(ImageFilter.GaussianBlur(rng.uniform(0.25, 0.9) * _SUPERSAMPLE))
    coverage = np.asarray(blurred.reduce(_SUPERSAMPLE), dtype=np.float32)[..., None] / 255.0
    background, lit = _display_colours(rng, palettes)
    return _to_uint8(_with_noise(background + (lit - background) * coverage, rng, noise_max=8.0))


def _display_origin(width: float, height: float, rng: np.random.Generator) -> np.ndarray:
    """Canvas position of a display element's centre: near the middle, shifted +-3 px."""
    shift = rng.uniform(-_MAX_SHIFT_PX, _MAX_SHIFT_PX, size=2) * _SUPERSAMPLE
    room = (_CANVAS - np.array([width, height])) / 2
    return _CANVAS / 2 + np.clip(shift, -room, room)


# --- sevenseg ----------------------------------------------------------------


def _segment_lines(width: float, height: float, thickness: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Centre lines of segments a-g in a digit box centred on the origin (y down)."""
    left, right = -width / 2 + thickness / 2, width / 2 - thickness / 2
    top, bottom = -height / 2 + thickness / 2, height / 2 - thickness / 2
    points = {
        "tl": (left, top), "tr": (right, top), "ml": (left, 0.0),
        "mr": (right, 0.0), "bl": (left, bottom), "br": (right, bottom),
    }
    ends = {
        "a": ("tl", "tr"), "b": ("tr", "mr"), "c": ("mr", "br"), "d": ("bl", "br"),
        "e": ("ml", "bl"), "f": ("tl", "ml"), "g": ("ml", "mr"),
    }
    return {name: (np.array(points[p]), np.array(points[q])) for name, (p, q) in ends.items()}


def _segment_polygon(
    start: np.ndarray, end: np.ndarray, thickness: float, gap: float, pointed: bool
) -> np.ndarray:
    """Outline of one segment: a hexagon with pointed ends, or a plain bar."""
    along = (end - start) / np.linalg.norm(end - start)
    across = np.array([-along[1], along[0]]) * thickness / 2
    inner_start = start + along * (gap + thickness / 2)
    inner_end = end - along * (gap + thickness / 2)
    if pointed:
        return np.array([
            start + along * gap, inner_start + across, inner_end + across,
            end - along * gap, inner_end - across, inner_start - across,
        ])
    return np.array([inner_start + across, inner_end + across, inner_end - across, inner_start - across])


def _sevenseg_mask(digit: int, rng: np.random.Generator) -> Image.Image:
    """A 4x-resolution mask of one seven-segment digit with random proportions and slant."""
    height = rng.uniform(0.65, 0.85) * _CANVAS
    width = rng.uniform(0.5, 0.65) * height
    thickness = rng.uniform(0.1, 0.14) * height
    gap = rng.uniform(0.005, 0.025) * height
    shear = np.tan(np.deg2rad(rng.uniform(0.0, 10.0)))
    pointed = bool(rng.random() < 0.6)
    hooked_seven = bool(rng.random() < 0.25)  # drawn for every digit, so geometry does not depend on it
    lit_segments = _SEVEN_WITH_HOOK if digit == 7 and hooked_seven else _SEVEN_SEGMENT_DIGITS[digit]
    origin = _display_origin(width + shear * height, height, rng)
    unlit = _unlit_level(rng)
    mask = Image.new("L", (_CANVAS, _CANVAS), 0)
    draw = ImageDraw.Draw(mask)
    for name, (start, end) in _segment_lines(width, height, thickness).items():
        outline = _segment_polygon(start, end, thickness, gap, pointed)
        outline[:, 0] -= shear * outline[:, 1]  # italic: the top leans right
        value = 255 if name in lit_segments else unlit
        draw.polygon([tuple(p) for p in outline + origin], fill=value)
    return mask


def _draw_sevenseg(digit: int, rng: np.random.Generator) -> np.ndarray:
    """A digit on a glowing seven-segment LED or VFD display."""
    return _render_display(_sevenseg_mask(digit, rng), rng, _SEVENSEG_PALETTES)


# --- dotmatrix ---------------------------------------------------------------


def _dotmatrix_mask(digit: int, rng: np.random.Generator) -> Image.Image:
    """A 4x-resolution mask of one 5x7 dot-matrix digit with random pitch and dot shape."""
    pitch_y = rng.uniform(0.55, 0.85) * _CANVAS / 7
    pitch_x = pitch_y * rng.uniform(0.85, 1.15)
    radius = rng.uniform(0.3, 0.48) * min(pitch_x, pitch_y)
    round_dots = bool(rng.random() < 0.6)
    origin = _display_origin(5 * pitch_x, 7 * pitch_y, rng)
    unlit = _unlit_level(rng)
    lit = np.array([[c == "1" for c in row] for row in _DOT_MATRIX_DIGITS[digit]])
    centres_x = origin[0] + (np.arange(5) - 2) * pitch_x
    centres_y = origin[1] + (np.arange(7) - 3) * pitch_y
    jitter = rng.normal(0.0, 0.05 * pitch_y, size=(7, 5, 2))
    mask = Image.new("L", (_CANVAS, _CANVAS), 0)
    draw = ImageDraw.Draw(mask)
    shape = draw.ellipse if round_dots else draw.rectangle
    for row in range(7):
        for col in range(5):
            x, y = centres_x[col] + jitter[row, col, 0], centres_y[row] + jitter[row, col, 1]
            value = 255 if lit[row, col] else unlit
            if value:
                shape((x - radius, y - radius, x + radius, y + radius), fill=value)
    return mask


def _draw_dotmatrix(digit: int, rng: np.random.Generator) -> np.ndarray:
    """A digit on a 5x7 dot-matrix display: backlit LCD or LED matrix."""
    return _render_display(_dotmatrix_mask(digit, rng), rng, _DOTMATRIX_PALETTES)


_DRAWERS = {
    "printed": _draw_printed,
    "blended": _draw_blended,
    "sevenseg": _draw_sevenseg,
    "dotmatrix": _draw_dotmatrix,
}
