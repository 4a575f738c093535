"""ImageNet and its four shifts (CoOp's domain-generalisation protocol) on a miniature of CoOp's layout:
the label order, ImageNet-A's and -R's 200 classes, the cross-dataset tasks end to end (zero-shot and
DAC), and what a partial or wrong tree says. The generic checks (conformance, a zero-shot run of every
task, an empty root) come from test_fewshot_datasets.py through ``mini_imagenet.BUILDERS``."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import udabench.cli
from udabench import DataError, Task
from udabench.contract.config import resolve
from udabench.protocol.context import RunContext
from udabench.protocol.task import build_adapt_data, run_task
from udabench.tracking.tracker import Tracker
from udabench_plugins.datasets.fewshot.imagenet import (CLIP_NAMES, IMAGENET_A_WNIDS, IMAGENET_R_WNIDS, TABLE_FILE,
                                                        ImageNet, class_table)
from udabench_plugins.datasets.fewshot.imagenet_a import ImageNetA
from udabench_plugins.datasets.fewshot.imagenet_r import ImageNetR
from udabench_plugins.datasets.fewshot.imagenet_sketch import ImageNetSketch
from udabench_plugins.datasets.fewshot.imagenet_v2 import ImageNetV2
from udabench_plugins.methods.dac import DAC
from udabench_plugins.methods.zeroshot import ZeroShot

from miniatures import write_image
from mini_imagenet import imagenet, write_set

pytestmark = pytest.mark.filterwarnings("ignore::udabench.data.folders.CountMismatchWarning")
SHIFT_PLUGINS = (ImageNetV2, ImageNetSketch, ImageNetA, ImageNetR)
#: DAC as small as it goes (test_single_domain.py's flags), one shot a class.
DAC_SETS = {"shots": 1, "epochs": 1, "augment_views": 0, "search_epochs": (1,), "search_alphas": (1.0,),
            "search_betas": (1.0,)}


@pytest.fixture(scope="module")
def mini_root(tmp_path_factory):
    """All five sets, one image a class and split (built once: 4,400 images)."""
    return imagenet(tmp_path_factory.mktemp("imagenet") / "data")


def run(*argv) -> int:
    return udabench.cli.main(["run", *argv, "--backbone", "toyclip", "--device", "cpu", "--no-progress",
                              "--seeds", "0"])


# -- classes and tasks -----------------------------------------------------------------------------
def test_labels_are_the_sorted_wordnet_ids_named_as_clip_names_them():
    table = class_table()
    assert len(table.wnids) == 1000 and list(table.wnids) == sorted(table.wnids)
    assert ImageNet.wnids == table.wnids and len(set(ImageNet.classes)) == 1000
    anchors = {0: ("n01440764", "tench"), 1: ("n01443537", "goldfish"), 7: ("n01514668", "rooster"),
               21: ("n01608432", "kite (bird of prey)"), 134: ("n02012849", "crane bird"),
               517: ("n03126707", "construction crane"), 657: ("n03773504", "missile"),
               744: ("n04008634", "projectile"), 836: ("n04355933", "sunglass"), 837: ("n04356056", "sunglasses"),
               999: ("n15075141", "toilet paper")}
    for label, wnid_and_name in anchors.items():
        assert (ImageNet.wnids[label], ImageNet.classes[label]) == wnid_and_name
    # the two CLIP names udabench changes are the ones CLIP gives another class too
    assert {ImageNet.classes[657], ImageNet.classes[837]} == set(CLIP_NAMES.values())
    lines = TABLE_FILE.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "n01440764 tench" and lines[-1] == "n15075141 toilet paper" and len(lines) == 1000
    assert ImageNet.templates == ("a photo of a {}.",) and ImageNet.val_split is None
    assert ImageNetV2.classes == ImageNetSketch.classes == ImageNet.classes


def test_each_shift_is_a_task_with_shots_from_imagenet_and_a_plugin_of_its_own():
    assert [t.name for t in ImageNet.tasks] == ["imagenet", "imagenet-v2", "imagenet-sketch", "imagenet-a",
                                                "imagenet-r"]
    assert ImageNet.tasks[0] == Task("imagenet", "imagenet", "imagenet") and ImageNet.tasks[0].single_domain
    for task in ImageNet.tasks[1:]:
        assert (task.source, task.target, task.shot_domain) == ("imagenet", task.name, "imagenet")
    assert (ImageNet.train_split, ImageNet.adapt_split, ImageNet.eval_split) == ("train", "test", "test")
    for plugin in SHIFT_PLUGINS:
        assert plugin.domains == (plugin.name,) and plugin.tasks == (Task(plugin.name, plugin.name, plugin.name),)
        assert plugin.splits == ("test",) and plugin.val_split is None
        assert plugin.train_split == plugin.adapt_split == plugin.eval_split == "test"
        plugin.check_contract(plugin.name)
    assert ImageNetSketch.downloads == {}  # Google Drive / Kaggle only: by hand
    assert [a["into"] for a in ImageNet.downloads["shifts"]] == ["imagenetv2", "imagenet-adversarial",
                                                                 "imagenet-rendition"]


def test_imagenet_a_and_r_hold_200_classes_in_sorted_wordnet_order():
    for wnids, plugin, first, last in ((IMAGENET_A_WNIDS, ImageNetA, (6, "stingray"), (988, "acorn")),
                                       (IMAGENET_R_WNIDS, ImageNetR, (1, "goldfish"), (988, "acorn"))):
        assert len(set(wnids)) == len(wnids) == 200 and list(wnids) == sorted(wnids)
        labels = ImageNet.domain_classes[plugin.name]
        assert [ImageNet.wnids[i] for i in labels] == list(wnids)
        assert (labels[0], ImageNet.classes[labels[0]]) == first and (labels[-1], ImageNet.classes[labels[-1]]) == last
        # the standalone plugin numbers them 0..199 and names them alike
        assert plugin.wnids == wnids and plugin.classes == tuple(ImageNet.classes[i] for i in labels)
    assert len(set(IMAGENET_A_WNIDS) & set(IMAGENET_R_WNIDS)) == 86
    assert set(ImageNet.domain_classes) == {"imagenet-a", "imagenet-r"}


# -- runs ------------------------------------------------------------------------------------------
def test_zero_shot_on_imagenet_a_scores_its_images_over_its_200_classes(mini_root, mlflow_uri, toy_backbone):
    uri = mlflow_uri
    assert run("--method", "zeroshot", "--dataset", "imagenet", "--task", "imagenet-a", "--root", str(mini_root),
               "--tracking-uri", uri) == 0
    (r,) = Tracker(uri).task_runs("imagenet")
    assert r.data.tags["udabench.task"] == "imagenet-a" and r.data.tags["udabench.scored_classes"] == "200"
    assert r.data.metrics["eval_images"] == 200
    # The standalone plugin reads the same images, labels them 0..199 in the same class order, and a
    # 200-class zero-shot head predicts what the 1,000-class head scored over those 200 does.
    combined, alone = ImageNet(mini_root), ImageNetA(mini_root)
    a_images = combined.load("imagenet-a", "test")
    assert alone.load("imagenet-a", "test").source.paths == a_images.source.paths
    assert alone.load("imagenet-a", "test").labels.tolist() == list(range(200))
    assert [combined.wnids[i] for i in a_images.labels] == list(IMAGENET_A_WNIDS)
    ctx = RunContext(device="cpu", seed=0, show_progress=False)
    config = resolve("zeroshot", ZeroShot.hparams)
    of_combined = run_task(ZeroShot, config, combined, ImageNet.task("imagenet-a"), 0, toy_backbone, ctx,
                           select_every=0)
    of_alone = run_task(ZeroShot, config, alone, ImageNetA.task("imagenet-a"), 0, toy_backbone, ctx, select_every=0)
    assert of_combined.classes == of_alone.classes == ImageNetA.classes
    assert of_combined.confusion.shape == (200, 200) and of_combined.confusion.sum() == 200
    assert np.array_equal(of_combined.confusion, of_alone.confusion)
    assert of_combined.metrics["top1"] == pytest.approx(r.data.metrics["top1"])


def test_dac_on_imagenet_r_takes_its_shots_from_imagenet_train(mini_root, mlflow_uri):
    config = resolve("dac", DAC.hparams, set_overrides=DAC_SETS)
    data, evaluation = build_adapt_data(DAC, config, ImageNet(mini_root), ImageNet.task("imagenet-r"), seed=0)
    train = str(mini_root / "imagenet" / "images" / "train") + "/"
    assert len(data.shots) == 1000 and sorted(data.shots.labels.tolist()) == list(range(1000))
    assert all(p.startswith(train) for p in data.shots.source.paths)
    assert data.val is None and data.classes == ImageNet.classes  # never told which classes are kept
    assert len(evaluation.images) == 200 and evaluation.excluded == 0
    assert evaluation.keep.labels == ImageNet.domain_classes["imagenet-r"]
    uri = mlflow_uri
    sets = [a for k, v in DAC_SETS.items() for a in ("--set", f"{k}={list(v) if isinstance(v, tuple) else v}")]
    assert run("--method", "dac", "--dataset", "imagenet", "--task", "imagenet-r", "--root", str(mini_root),
               "--tracking-uri", uri, *sets) == 0
    (r,) = Tracker(uri).task_runs("imagenet")
    assert (r.data.tags["udabench.method"], r.data.tags["udabench.task"]) == ("dac", "imagenet-r")
    assert r.data.tags["udabench.scored_classes"] == "200" and r.data.metrics["eval_images"] == 200
    assert 0 <= r.data.metrics["top1"] <= 100


def test_a_few_shot_run_on_a_shift_alone_keeps_its_shots_out_of_the_score(tmp_path):
    write_set(tmp_path, "imagenet-a", "test", per_class=2)
    config = resolve("dac", DAC.hparams, set_overrides=DAC_SETS)
    data, evaluation = build_adapt_data(DAC, config, ImageNetA(tmp_path), ImageNetA.tasks[0], seed=0)
    assert len(data.shots) == 200 and evaluation.excluded == 200 and len(evaluation.images) == 200
    assert not set(data.shots.source.paths) & set(evaluation.images.source.paths)


# -- partial and wrong trees -----------------------------------------------------------------------
def test_a_missing_class_folder_is_one_error_naming_it(tmp_path):
    folder = write_set(tmp_path, "imagenet", "test")
    shutil.rmtree(folder / "n01443537")
    with pytest.raises(DataError) as e:
        ImageNet(tmp_path).load("imagenet", "test")
    message = str(e.value)
    assert "1 of 1000 class folders are missing" in message and f"{folder}: n01443537." in message
    assert "imagenet/images/val/<wnid>/" in message and "https://image-net.org" in message
    assert f"udabench data info imagenet --root {tmp_path}" in message


def test_val_images_not_sorted_into_class_folders_are_named(tmp_path):
    val = tmp_path / "imagenet" / "images" / "val"
    for n in (1, 2, 3):
        write_image(val / f"ILSVRC2012_val_{n:08d}.JPEG", n)
    with pytest.raises(DataError) as e:
        ImageNet(tmp_path).load("imagenet", "test")
    message = str(e.value)
    assert "1000 of 1000 class folders are missing" in message and "n01440764, n01443537" in message
    assert "holds 3 files beside its class folders (ILSVRC2012_val_00000001.JPEG" in message
    assert "must be sorted into their wnid folders" in message


def test_imagenet_v2_in_another_folder_format_is_refused(tmp_path):
    folder = write_set(tmp_path, "imagenet-v2", "test")
    (folder / "0").rename(folder / "n01440764")  # a copy in wnid folders, or a folder renamed
    for plugin, domain in ((ImageNet, "imagenet-v2"), (ImageNetV2, "imagenet-v2")):
        with pytest.raises(DataError) as e:
            plugin(tmp_path).load(domain, "test")
        message = str(e.value)
        assert f"1 of 1000 class folders are missing in {folder}: 0." in message
        assert "no class folder of this set: n01440764" in message and "folder i holds label i" in message


def test_imagenet_a_with_a_class_it_does_not_have_is_refused(tmp_path):
    folder = write_set(tmp_path, "imagenet-a", "test")
    shutil.copytree(folder / IMAGENET_A_WNIDS[0], folder / "n01440764")  # tench: not one of ImageNet-A's 200
    with pytest.raises(DataError, match=r"no class folder of this set: n01440764 \(it holds n01498041"):
        ImageNetA(tmp_path).load("imagenet-a", "test")
    # --root may also be the set's own folder
    shutil.rmtree(folder / "n01440764")
    assert len(ImageNetA(tmp_path / "imagenet-adversarial").load("imagenet-a", "test")) == 200


def test_coops_classnames_file_is_checked_when_present(tmp_path):
    write_set(tmp_path, "imagenet-r", "test")
    table = class_table()
    coop = [f"{w} {CLIP_NAMES.get(w, table.names[w])}" for w in table.wnids]  # CLIP's names, duplicates and all
    path = tmp_path / "imagenet-rendition" / "classnames.txt"
    path.write_text("\n".join(coop) + "\n")
    assert len(ImageNetR(tmp_path).load("imagenet-r", "test")) == 200
    coop[1] = "n01443537 carp"
    path.write_text("\n".join(coop) + "\n")
    with pytest.raises(DataError, match=r"classnames.txt, line 2 names n01443537 'carp', but udabench names it "
                                        r"'goldfish'"):
        ImageNetR(tmp_path).load("imagenet-r", "test")


def test_a_shift_has_no_train_split_and_a_missing_set_names_its_source(tmp_path):
    with pytest.raises(DataError, match=r"'imagenet-a' has no split 'train'.*`--task imagenet-a`"):
        ImageNet(tmp_path).load("imagenet-a", "train")
    with pytest.raises(DataError) as e:
        ImageNet(tmp_path).load("imagenet-sketch", "test")
    message = str(e.value)
    assert f"no ImageNet-Sketch folder: looked for {tmp_path}/imagenet-sketch/images" in message
    assert "kaggle.com/wanghaohan/imagenetsketch" in message
