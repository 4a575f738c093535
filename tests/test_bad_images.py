"""``udabench run --skip-bad-images``: unreadable image files left out, counted and tagged;
without the flag the first one fails the run, named."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from test_real_datasets import build_office31, run_zeroshot, small_confusion_plot  # noqa: F401 (fixture)
from udabench import ImageList, ImageSource
from udabench.tracking.tracker import Tracker

pytestmark = pytest.mark.filterwarnings("ignore::udabench.data.folders.CountMismatchWarning")


def truncated_jpeg(path, size: int = 64) -> None:
    """A JPEG cut at 60%: its header is intact, so PIL opens and ``verify``-es it; decoding fails."""
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)).save(buf, "JPEG")
    path.write_bytes(buf.getvalue()[: int(0.6 * len(buf.getvalue()))])


def damage_webcam(root):
    """Two bad files in the webcam domain (a target): a truncated JPEG and a text file named .jpg."""
    images = root / "office31" / "webcam" / "images"
    truncated, text = images / "bike" / "frame_0001.jpg", images / "mug" / "frame_0001.jpg"
    truncated_jpeg(truncated)
    text.write_text("<html><body>Quota exceeded</body></html>")
    return truncated, text


def test_verify_alone_misses_a_truncated_jpeg(tmp_path):
    """Why ``without_unreadable`` decodes JPEGs as well: ``verify`` passes this file."""
    path = tmp_path / "cut.jpg"
    truncated_jpeg(path)
    with Image.open(path) as img:
        img.verify()
    with pytest.raises(OSError), Image.open(path) as img:
        img.convert("RGB")


def test_without_unreadable_keeps_labels_aligned(tmp_path):
    good = []
    for i, suffix in enumerate([".jpg", ".png", ".jpg"]):
        path = tmp_path / f"good{i}{suffix}"
        Image.fromarray(np.full((16, 16, 3), 40 * i, np.uint8)).save(path)
        good.append(path)
    cut, text, cut_png = tmp_path / "cut.jpg", tmp_path / "text.jpg", tmp_path / "cut.png"
    truncated_jpeg(cut)
    text.write_text("not an image")
    cut_png.write_bytes(good[1].read_bytes()[:60])
    paths = [good[0], cut, good[1], text, cut_png, good[2]]
    images = ImageList(ImageSource(paths=paths), np.array([0, 1, 2, 3, 4, 0]), 5)
    kept, bad = images.without_unreadable()
    assert bad == [str(cut), str(text), str(cut_png)]
    assert kept.source.paths == [str(p) for p in good] and list(kept.labels) == [0, 2, 0]
    assert images.without_unreadable()[0] is kept  # checked once per list
    arrays = ImageList(ImageSource(array=np.zeros((2, 4, 4, 3), np.uint8)), np.array([0, 1]), 2)
    assert arrays.without_unreadable() == (arrays, [])


def test_bad_images_fail_the_run_by_default(tmp_path, mlflow_uri, backbone_spec, small_confusion_plot, capsys):
    root = build_office31(tmp_path / "data")
    truncated, text = damage_webcam(root)
    assert run_zeroshot("office31", root, backbone_spec, mlflow_uri, ["A2W"]) == 2
    err = capsys.readouterr().err
    assert "cannot read image" in err and (str(truncated) in err or str(text) in err)


def test_skip_bad_images_finishes_and_tags_the_run(tmp_path, mlflow_uri, backbone_spec, small_confusion_plot,
                                                   monkeypatch, capsys):
    root = build_office31(tmp_path / "data")
    truncated, text = damage_webcam(root)
    argv = ["run", "--method", "zeroshot", "--dataset", "office31", "--root", str(root), "--backbone",
            backbone_spec, "--device", "cpu", "--tracking-uri", mlflow_uri, "--no-progress", "--task", "A2W",
            "--skip-bad-images"]
    import udabench.cli

    assert udabench.cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "warning: A2W seed 0: skipped 2 unreadable image(s)" in out
    (run,) = Tracker(mlflow_uri).task_runs("office31")
    assert run.data.tags["udabench.skipped_bad_images"] == "2"
    assert run.data.tags["udabench.skipped_bad_images_examples"].split("\n") == [str(truncated), str(text)]
    assert run.data.metrics["eval_images"] == 31 - 2
