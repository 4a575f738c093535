"""Tests for the digit domain-shift benchmark generator (plugins/datasets/digits/domains.py)."""

import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

_MODULE_PATH = Path(__file__).resolve().parents[1] / "plugins" / "datasets" / "digits" / "domains.py"


def _load_module():
    """Import by file path: the plugins package may not be installed yet."""
    spec = importlib.util.spec_from_file_location("digits_domains_under_test", _MODULE_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


domains = _load_module()
DRAWN_DOMAINS = tuple(name for name in domains.DOMAIN_NAMES if name != "handwritten")
# Faces reserved for the small CLIP's pretraining corpus.
RESERVED_FONT_PREFIXES = ("DejaVuSans", "cmss10", "cmtt10")


@pytest.fixture(scope="module")
def rendered():
    """Every domain at seed 0, rendered once for the whole file."""
    return {name: domains.render_domain(name, seed=0) for name in domains.DOMAIN_NAMES}


@pytest.fixture
def few_images(monkeypatch):
    """Shrink the drawn domains so determinism tests can render them repeatedly."""
    monkeypatch.setattr(domains, "IMAGES_PER_CLASS", 3)


def _corners(images: np.ndarray) -> np.ndarray:
    """The four 4x4 corner patches of each image, (N, 64, 3): background, as digits rarely reach them."""
    mask = np.zeros(images.shape[1:3], dtype=bool)
    for rows in (slice(0, 4), slice(-4, None)):
        for cols in (slice(0, 4), slice(-4, None)):
            mask[rows, cols] = True
    return images[:, mask].astype(np.float64)


def _font_glyph_arrays(stem: str) -> list[np.ndarray]:
    return [np.asarray(glyph) for glyph in domains._load_font_glyphs(domains._font_dir() / f"{stem}.ttf")]


# --- interface ---------------------------------------------------------------


def test_domains_split_into_sources_and_targets():
    assert set(domains.SOURCE_DOMAINS) | set(domains.TARGET_DOMAINS) == set(domains.DOMAIN_NAMES)
    assert not set(domains.SOURCE_DOMAINS) & set(domains.TARGET_DOMAINS)
    assert len(domains.DOMAIN_NAMES) == len(set(domains.DOMAIN_NAMES)) == 5


@pytest.mark.parametrize("name", domains.DOMAIN_NAMES)
def test_shapes_and_dtypes(rendered, name):
    images, labels = rendered[name]
    assert images.dtype == np.uint8 and labels.dtype == np.int64
    assert images.shape == (len(labels), 32, 32, 3)
    assert labels.min() == 0 and labels.max() == 9


def test_unknown_domain_names_the_known_ones():
    with pytest.raises(ValueError) as error:
        domains.render_domain("mnist")
    for name in domains.DOMAIN_NAMES:
        assert name in str(error.value)


# --- determinism and balance ---------------------------------------------------


@pytest.mark.parametrize("name", domains.DOMAIN_NAMES)
def test_same_seed_gives_identical_arrays(few_images, name):
    first_images, first_labels = domains.render_domain(name, seed=5)
    second_images, second_labels = domains.render_domain(name, seed=5)
    np.testing.assert_array_equal(first_images, second_images)
    np.testing.assert_array_equal(first_labels, second_labels)


@pytest.mark.parametrize("name", DRAWN_DOMAINS)
def test_different_seeds_give_different_images(few_images, name):
    images_a, _ = domains.render_domain(name, seed=0)
    images_b, _ = domains.render_domain(name, seed=1)
    assert not np.array_equal(images_a, images_b)


@pytest.mark.parametrize("name", DRAWN_DOMAINS)
def test_drawn_domains_ignore_numpy_global_random_state(few_images, name):
    """Other code seeding or drawing from np.random must neither change nor be changed by rendering."""
    np.random.seed(123)
    state_before = np.random.get_state()[1].copy()
    images_a, _ = domains.render_domain(name, seed=0)
    np.testing.assert_array_equal(np.random.get_state()[1], state_before)
    np.random.seed(456)
    images_b, _ = domains.render_domain(name, seed=0)
    np.testing.assert_array_equal(images_a, images_b)


@pytest.mark.parametrize("name", DRAWN_DOMAINS)
def test_drawn_domains_are_balanced_and_shuffled(rendered, name):
    _, labels = rendered[name]
    np.testing.assert_array_equal(np.bincount(labels, minlength=10), np.full(10, domains.IMAGES_PER_CLASS))
    assert np.count_nonzero(np.diff(labels)) > len(labels) // 2


def test_handwritten_is_sklearn_digits_in_order(rendered):
    from sklearn.datasets import load_digits

    digits = load_digits()
    images, labels = rendered["handwritten"]
    assert len(labels) == 1797
    np.testing.assert_array_equal(labels, digits.target)
    grey = images[..., 0]
    assert np.array_equal(grey, images[..., 1]) and np.array_equal(grey, images[..., 2])
    shrunk = np.stack([np.asarray(Image.fromarray(g).resize((8, 8), Image.Resampling.BOX)) for g in grey])
    correlation = np.corrcoef(shrunk.reshape(-1).astype(float), digits.images.reshape(-1))[0, 1]
    assert correlation > 0.95


# --- what each domain looks like -----------------------------------------------


def test_handwritten_is_white_ink_on_black(rendered):
    images, _ = rendered["handwritten"]
    assert _corners(images).mean() < 20
    assert np.percentile(images.reshape(len(images), -1).max(axis=1), 5) > 200


def test_printed_is_dark_ink_on_light_paper(rendered):
    images, _ = rendered["printed"]
    paper = _corners(images).mean(axis=(1, 2))
    ink = images.reshape(len(images), -1).min(axis=1)
    assert paper.min() > 150
    assert np.all(ink < paper - 80)


def test_blended_background_is_textured_photo(rendered):
    spread = {name: _corners(images).std(axis=1).mean() for name, (images, _) in rendered.items()}
    assert all(spread["blended"] > 2 * value for name, value in spread.items() if name != "blended")


def test_blended_glyph_is_brighter_than_its_dark_photo(rendered):
    images, _ = rendered["blended"]
    background = _corners(images).mean(axis=(1, 2))
    brightest = np.percentile(images.reshape(len(images), -1).astype(float), 99, axis=1)
    assert np.median(background) < 60
    assert np.mean(brightest > background + 60) > 0.95


@pytest.mark.parametrize("name", ["sevenseg", "dotmatrix"])
def test_displays_are_coloured_and_differ_from_print(rendered, name):
    images, _ = rendered[name]
    lit = images.reshape(len(images), -1, 3).max(axis=1).astype(float)
    saturation = lit.max(axis=1) - lit.min(axis=1)
    assert np.median(saturation) > 60
    assert _corners(images).mean() < _corners(rendered["printed"][0]).mean() - 80


def test_domains_differ_in_mean_image(rendered):
    """A domain shift: every pair of domains has clearly different average images."""
    means = {name: images.astype(float).mean(axis=0) for name, (images, _) in rendered.items()}
    names = list(means)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            assert np.abs(means[first] - means[second]).mean() > 10, (first, second)


# --- glyph sources -------------------------------------------------------------


def test_seven_segment_eight_covers_every_digit():
    """With identical geometry draws, each digit lights a strict subset of the 8's segments."""
    eight = np.asarray(domains._sevenseg_mask(8, np.random.default_rng(7)))
    for digit in range(10):
        mask = np.asarray(domains._sevenseg_mask(digit, np.random.default_rng(7)))
        assert np.all(mask <= eight)
        assert (digit == 8) == np.array_equal(mask, eight)


def test_dot_matrix_font_has_ten_distinct_5x7_glyphs():
    table = domains._DOT_MATRIX_DIGITS
    assert len(table) == 10 and len(set(table)) == 10
    for glyph in table:
        assert len(glyph) == 7 and all(len(row) == 5 and set(row) <= {"0", "1"} for row in glyph)


def test_no_reserved_font_is_used_for_digits():
    for stem in domains._SERIF_FONT_FILES:
        assert not stem.startswith(RESERVED_FONT_PREFIXES), stem


def test_every_listed_serif_font_passes_the_digit_check():
    assert len(domains._serif_glyphs()) == len(domains._SERIF_FONT_FILES)


def test_digit_check_accepts_a_lining_serif_font():
    assert domains._digit_glyph_problem(_font_glyph_arrays("DejaVuSerif")) is None


@pytest.mark.parametrize(
    ("stem", "reason"),
    [
        ("STIXSizOneSymReg", "no ink"),  # a symbols face without digits
        ("LastResortHE-Regular", "same glyph"),  # one placeholder box for every code point
        ("cmmi10", "old-style"),  # old-style numerals
        ("cmsy10", "old-style"),  # maths symbols at the digit code points
    ],
)
def test_digit_check_rejects_unusable_fonts(stem, reason):
    problem = domains._digit_glyph_problem(_font_glyph_arrays(stem))
    assert problem is not None and reason in problem


def test_digit_check_rejects_duplicated_synthetic_glyphs():
    glyphs = _font_glyph_arrays("DejaVuSerif")
    glyphs[9] = glyphs[6]
    assert "same glyph" in domains._digit_glyph_problem(glyphs)


def test_unusable_and_missing_fonts_are_skipped_with_a_warning(monkeypatch):
    monkeypatch.setattr(domains, "_SERIF_FONT_FILES", ("cmmi10", "NoSuchFont", "DejaVuSerif"))
    domains._serif_glyphs.cache_clear()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fonts = domains._serif_glyphs()
    finally:
        domains._serif_glyphs.cache_clear()
    messages = " ".join(str(w.message) for w in caught)
    assert len(fonts) == 1
    assert "cmmi10" in messages and "NoSuchFont" in messages and "DejaVuSerif" not in messages


def test_no_usable_font_is_an_error(monkeypatch):
    monkeypatch.setattr(domains, "_SERIF_FONT_FILES", ("LastResortHE-Regular",))
    domains._serif_glyphs.cache_clear()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(RuntimeError):
                domains._serif_glyphs()
    finally:
        domains._serif_glyphs.cache_clear()
