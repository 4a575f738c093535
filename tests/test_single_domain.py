"""Single-domain benchmarks and cross-dataset tasks in the protocol, and the shared split-file loader,
on a miniature of Caltech101 as CoOp stores it."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

import udabench.cli
from udabench import DataError, Dataset, HParam, ImageList, ImageSource, Method, Setting, Task
from udabench.contract.config import resolve
from udabench.contract.errors import ConfigError
from udabench.data.folders import CountMismatchWarning
from udabench.protocol.context import RunContext
from udabench.protocol.task import build_adapt_data, check_tasks, run_task
from udabench.tracking.tracker import Tracker
from udabench_plugins.datasets.fewshot.caltech101 import FOLDERS, Caltech101

from miniatures import caltech101, write_split_zhou


def caltech_path(label: int, split: str, i: int) -> str:
    # CoOp's split keeps the folder's own name (``Faces``), the file names of the archive
    return f"{FOLDERS[label]}/image_{ {'train': 1, 'val': 10, 'test': 20}[split] + i:04d}.jpg"


@pytest.fixture
def caltech_root(tmp_path):
    return caltech101(tmp_path / "data")


def probe(setting: Setting, shots: int = 1) -> type[Method]:
    class Probe(Method):
        name = f"probe-{setting.value}"
        hparams = (HParam("shots", shots),) if setting == Setting.FEW_SHOT else ()

    Probe.setting = setting
    return Probe


def run(*argv) -> int:
    return udabench.cli.main(["run", *argv, "--device", "cpu", "--no-progress", "--seeds", "0"])


# -- the loader ------------------------------------------------------------------------------------
def test_a_split_file_dataset_has_one_domain_and_one_task_named_after_it():
    assert Caltech101.domains == ("caltech101",)
    assert Caltech101.tasks == (Task("caltech101", "caltech101", "caltech101"),)
    assert Caltech101.single_domain() and Caltech101.tasks[0].single_domain
    assert Caltech101.val_split == "val" and Caltech101.eval_split == "test"
    Caltech101.check_contract("caltech101")
    assert len(Caltech101.classes) == 100 and Caltech101.classes[:4] == ("face", "leopard", "motorbike", "accordion")


def test_each_split_loads_with_the_labels_the_file_gives(caltech_root):
    ds = Caltech101(caltech_root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CountMismatchWarning)
        sizes = {s: len(ds.load("caltech101", s)) for s in ("train", "val", "test")}
        test = ds.load("caltech101", "test")
    assert sizes == {"train": 200, "val": 100, "test": 100}
    assert test.labels.tolist() == list(range(100))
    assert test.source.paths[0].endswith("101_ObjectCategories/Faces/image_0020.jpg")


def test_a_split_of_another_size_warns(caltech_root):
    with pytest.warns(CountMismatchWarning, match="test has 100 images, but the benchmark has 2,465"):
        Caltech101(caltech_root).load("caltech101", "test")


def test_a_split_file_in_another_label_order_is_refused(tmp_path):
    root = write_split_zhou(tmp_path, Caltech101, caltech_path, split_name=lambda label: Caltech101.classes[(label + 1) % 100])
    with pytest.raises(DataError, match="names label 0 'leopard', but this dataset's label 0 is 'face'"):
        Caltech101(root).load("caltech101", "train")


def test_missing_pieces_are_named(caltech_root, tmp_path):
    with pytest.raises(DataError, match=r"no image folder: looked for .*caltech-101/101_ObjectCategories") as e:
        Caltech101(tmp_path / "empty").load("caltech101", "test")
    assert "split_zhou_Caltech101.json" in str(e.value)  # the layout, in the same message
    split = caltech_root / "caltech-101" / "split_zhou_Caltech101.json"
    content = split.read_text()
    split.unlink()
    with pytest.raises(DataError, match="no split file .*split_zhou_Caltech101.json"):
        Caltech101(caltech_root).load("caltech101", "test")
    split.write_text(content)
    (caltech_root / "caltech-101" / "101_ObjectCategories" / "Faces" / "image_0020.jpg").unlink()
    with pytest.raises(DataError, match=r"1 of 100 images the split names are missing .*Faces/image_0020.jpg"):
        Caltech101(caltech_root).load("caltech101", "test")
    split.write_text(json.dumps({"train": [], "test": [["a.jpg", 0, "face"]]}))
    with pytest.raises(DataError, match="has no 'val' list"):
        Caltech101(caltech_root).load("caltech101", "val")


# -- the protocol ----------------------------------------------------------------------------------
def test_few_shot_takes_shots_from_train_val_from_val_and_scores_test(caltech_root):
    cls = probe(Setting.FEW_SHOT, shots=2)
    ds = Caltech101(caltech_root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CountMismatchWarning)
        data, evaluation = build_adapt_data(cls, resolve(cls.name, cls.hparams), ds, Caltech101.tasks[0], seed=0)
        train, val, test = (set(ds.load("caltech101", s).source.paths) for s in ("train", "val", "test"))
    assert set(data.shots.source.paths) <= train and np.bincount(data.shots.labels).tolist() == [2] * 100
    assert set(data.val.source.paths) == val
    assert set(evaluation.images.source.paths) == test and evaluation.excluded == 0
    assert data.source is None and data.target is None


@pytest.mark.parametrize("setting", [Setting.UDA, Setting.SOURCE_ONLY])
def test_settings_with_a_source_refuse_a_single_domain_task(setting):
    with pytest.raises(ConfigError, match="task caltech101 has one domain"):
        check_tasks(probe(setting), Caltech101, list(Caltech101.tasks))
    for ok in (Setting.ZERO_SHOT, Setting.FEW_SHOT, Setting.SOURCE_FREE):
        check_tasks(probe(ok), Caltech101, list(Caltech101.tasks))


def test_the_refusal_comes_before_weights_or_data(tmp_path, capsys):
    # No data and weights that do not exist: the setting is what the user hears about.
    code = run("--method", "clipdiv", "--dataset", "caltech101", "--root", str(tmp_path),
               "--backbone", "ViT-B-32:/nonexistent.pt", "--tracking-uri", f"sqlite:///{tmp_path}/m.db")
    assert code != 0
    err = capsys.readouterr().err
    assert "has one domain" in err and "nonexistent" not in err


def test_missing_data_is_reported_before_the_weights_are_looked_for(tmp_path, capsys):
    code = run("--method", "zeroshot", "--dataset", "caltech101", "--root", str(tmp_path / "none"),
               "--backbone", "ViT-B-32:/nonexistent.pt", "--tracking-uri", f"sqlite:///{tmp_path}/m.db")
    assert code != 0
    err = capsys.readouterr().err
    assert "no image folder" in err and "nonexistent" not in err


@pytest.mark.filterwarnings("ignore::udabench.data.folders.CountMismatchWarning")
def test_caltech101_end_to_end_with_zeroshot_and_dac(caltech_root, tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    common = ["--dataset", "caltech101", "--root", str(caltech_root), "--backbone", "toyclip", "--tracking-uri", uri]
    assert run("--method", "zeroshot", *common) == 0
    sets = ["shots=2", "epochs=1", "augment_views=1", "search_epochs=[1]", "search_alphas=[1.0]", "search_betas=[1.0]"]
    assert run("--method", "dac", *common, *[a for kv in sets for a in ("--set", kv)]) == 0
    runs = Tracker(uri).task_runs("caltech101")
    assert sorted(r.data.tags["udabench.method"] for r in runs) == ["dac", "zeroshot"]
    for r in runs:
        assert r.data.tags["udabench.task"] == "caltech101"
        assert r.data.metrics["eval_images"] == 100  # the test split, one image a class
        assert 0 <= r.data.metrics["top1"] <= 100


# -- cross-dataset tasks with a class subset ---------------------------------------------------------
class TwoShifts(Dataset):
    """Six classes; the shifted domain holds three of them (as ImageNet-A holds 200 of 1,000)."""

    name = "two-shifts"
    classes = tuple("abcdef")
    domains = ("base", "shifted")
    tasks = (Task("base", "base", "base"), Task("shifted", "base", "shifted", shots_from="source"))
    domain_classes = {"shifted": (1, 3, 5)}

    def load(self, domain, split):
        labels = np.repeat(np.arange(6), 2) if domain == "base" else np.array([1, 3, 5, 1, 3, 5])
        arrays = np.zeros((len(labels), 4, 4, 3), np.uint8) + labels[:, None, None, None].astype(np.uint8)
        return ImageList(ImageSource(array=arrays), labels, 6)


class Decoy(Method):
    """Knows the shifted domain's labels in the order the protocol scores them, and always gives the
    class after the true one a higher logit than the true one."""

    name = "decoy"
    setting = Setting.FEW_SHOT
    hparams = (HParam("shots", 1),)
    order = [1, 3, 5, 1, 3, 5]

    def adapt(self, ctx, backbone, data):
        scored = []

        def classify(x):
            true = torch.tensor(self.order[len(scored):len(scored) + len(x)])
            scored.extend(true.tolist())
            logits = torch.zeros(len(x), 6)
            logits[torch.arange(len(x)), true] = 1.0
            logits[torch.arange(len(x)), (true + 1) % 6] = 2.0  # an excluded class when true is kept
            return logits
        return classify


def test_a_cross_dataset_task_trains_on_source_shots_and_scores_the_kept_classes_only(toy_backbone):
    ds = TwoShifts()
    data, evaluation = build_adapt_data(Decoy, resolve("decoy", Decoy.hparams), ds, ds.task("shifted"), seed=0)
    assert data.classes == tuple("abcdef")  # the method is never told which classes are kept
    assert sorted(data.shots.labels.tolist()) == list(range(6))  # shots from the source, every class
    assert evaluation.keep.labels == (1, 3, 5)
    assert evaluation.images.labels.tolist() == [0, 1, 2, 0, 1, 2] and evaluation.images.num_classes == 3
    # Over the kept columns only, the true class wins (its successor is not kept): top-1 100;
    # over all six columns it would be 0.
    ctx = RunContext(device="cpu", seed=0, show_progress=False)
    result = run_task(Decoy, resolve("decoy", Decoy.hparams), ds, ds.task("shifted"), 0, toy_backbone, ctx,
                      select_every=0)
    assert result.metrics["top1"] == 100.0
    assert result.classes == ("b", "d", "f") and result.confusion.shape == (3, 3)
    assert result.extra_tags["udabench.scored_classes"] == "3"


def test_domain_classes_are_checked():
    class Bad(TwoShifts):
        domain_classes = {"shifted": (1, 9)}

    with pytest.raises(Exception, match=r"domain_classes\['shifted'\] must be distinct labels in 0..5"):
        Bad.check_contract("bad")
