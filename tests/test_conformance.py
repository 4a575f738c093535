"""The conformance kit passes every built-in plugin and catches broken ones by name and rule."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from udabench import (Dataset, FeatureClassifier, HParam, ImageList, ImageSource, Method, Setting, Task,
                      text_head)
from udabench.contract.registry import get_registry
from udabench.testing import ConformanceError, check_backbone, check_dataset, check_method

# Short schedules: the kit checks the contract, not accuracy. (dapl's small-image profile asks for
# at least 400 steps, which on the kit's slice is 130 epochs: min_steps 0 turns that off.)
FAST = {
    "zeroshot": {}, "linear-probe": {}, "source-ft": {"epochs": 1}, "dapl": {"epochs": 1, "min_steps": 0},
    "dampl": {"epochs": 1, "min_steps": 0}, "clipdiv": {"epochs": 1, "self_train_epochs": 1}, "reclip": {"epochs": 1},
    "dac": {"epochs": 2, "augment_views": 1, "shots": 4}, "fewshot-probe": {"shots": 4},
    "coop": {"epochs": 2, "shots": 2}, "tip-adapter": {"augment_epoch": 2, "shots": 4},
    "tip-adapter-f": {"augment_epoch": 2, "train_epoch": 2, "shots": 4},
}


def test_every_builtin_method_is_covered():
    assert set(get_registry().methods) == set(FAST)


@pytest.mark.parametrize("name", sorted(FAST))
def test_builtin_methods_conform(toy_backbone, name):
    metrics = check_method(get_registry().method(name), backbone=toy_backbone, overrides=FAST[name])
    assert 0.0 <= metrics["top1"] <= 100.0
    # every method that reads a batch or logs a metric was interrupted and run again
    assert metrics["resume_checked"] == (name != "zeroshot")


def test_builtin_digits_dataset_conforms():
    check_dataset(get_registry().dataset("digits"))


def test_every_builtin_dataset_is_covered():
    from miniatures import builders
    from test_real_datasets import E2E

    assert set(get_registry().datasets) == {"digits"} | {name for name, _, _ in E2E} | set(builders())


@pytest.mark.parametrize("name", ["office31", "officehome", "officehome-tllib", "visda2017", "domainnet",
                                  "minidomainnet"])
@pytest.mark.filterwarnings("ignore::udabench.data.folders.CountMismatchWarning")
def test_builtin_real_datasets_conform_on_their_real_layouts(tmp_path, name):
    from test_real_datasets import E2E

    build = {n: b for n, b, _ in E2E}[name]
    check_dataset(get_registry().dataset(name), root=build(tmp_path))


def test_builtin_backbones_conform(tiny_vit_spec):
    check_backbone(get_registry().backbones["toyclip"])
    check_backbone(get_registry().backbones["openclip"], tiny_vit_spec)


@pytest.fixture(scope="module")
def tiny_vit_spec(tmp_path_factory) -> str:
    """A random-weight open_clip ViT, saved as a user's own checkpoint would be."""
    import json

    import open_clip
    from safetensors.torch import save_file

    d = tmp_path_factory.mktemp("vit")
    cfg = {"embed_dim": 32, "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8, "head_width": 32},
           "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2}}
    (d / "kit-vit.json").write_text(json.dumps(cfg))
    open_clip.add_model_config(d / "kit-vit.json")
    save_file(open_clip.create_model("kit-vit").state_dict(), str(d / "w.safetensors"))
    return f"kit-vit:{d / 'w.safetensors'}"


def zero_shot(backbone, data):
    return FeatureClassifier(backbone, text_head(backbone.text_classifier(data.prompt_names, data.templates)))


class ReadsTargetLabels(Method):
    name = "broken-reads-labels"
    setting = Setting.UDA

    def adapt(self, ctx, backbone, data):
        from udabench_plugins.datasets.digits import Digits

        Digits().load(data.target_domain, "train")  # the labels, behind the protocol's back
        return zero_shot(backbone, data)


class WrongShape(Method):
    name = "broken-shape"
    setting = Setting.ZERO_SHOT

    def adapt(self, ctx, backbone, data):
        return lambda x: torch.zeros(len(x), 3)


class OwnsTop1(Method):
    name = "broken-top1"
    setting = Setting.ZERO_SHOT

    def adapt(self, ctx, backbone, data):
        ctx.log_metrics({"top1": 100.0}, 1)
        return zero_shot(backbone, data)


class Random(Method):
    name = "broken-random"
    setting = Setting.ZERO_SHOT

    def adapt(self, ctx, backbone, data):
        noise = torch.randn(len(data.classes), generator=torch.Generator().manual_seed(int(torch.seed() % 2**31)))
        head = text_head(backbone.text_classifier(data.prompt_names, data.templates), bias=True)
        with torch.no_grad():
            head.bias.copy_(noise * 50)
        return FeatureClassifier(backbone, head)


class LeaksOnInterrupt(Method):
    """Deterministic run after run, but an interrupted run leaves its mark on the next one."""

    name = "broken-resume"
    setting = Setting.SOURCE_ONLY
    _in_progress: list = []  # class-level: shared by every run in the process

    def adapt(self, ctx, backbone, data):
        self._in_progress.append(1)
        favoured = len(self._in_progress) % len(data.classes)
        for _ in ctx.meter.iterate(ctx.loader(data.source.dataset(backbone.preprocess), 16)):
            pass
        self._in_progress.clear()  # never reached when interrupted
        head = text_head(backbone.text_classifier(data.prompt_names, data.templates), bias=True)
        with torch.no_grad():
            head.bias[favoured] = 1000.0
        return FeatureClassifier(backbone, head)


class BadSetting(Method):
    name = "broken-setting"
    setting = "semi-supervised"


class FewShotWithoutShots(Method):
    name = "broken-fewshot"
    setting = Setting.FEW_SHOT
    hparams = (HParam("lr", 0.1),)


@pytest.mark.parametrize("cls,rule", [
    (ReadsTargetLabels, "data only from the protocol"),
    (WrongShape, "logits shape"),
    (OwnsTop1, "protocol-owned metrics"),
    (Random, "determinism"),
    (LeaksOnInterrupt, "survives a resume"),
    (BadSetting, "declaration"),
    (FewShotWithoutShots, "declaration"),
])
def test_broken_methods_are_caught_by_name_and_rule(toy_backbone, cls, rule):
    with pytest.raises(ConformanceError) as exc:
        check_method(cls, backbone=toy_backbone)
    assert exc.value.rule == rule and f"method {cls.name!r}" in str(exc.value)


def test_a_dataset_returning_the_wrong_classes_is_caught():
    from udabench_plugins.datasets.digits import Digits

    class TooFew(Digits):
        name = "broken-classes"
        classes = ("zero", "one")

        def load(self, domain, split):
            return super().load(domain, split)

    with pytest.raises(ConformanceError, match="'classes'"):
        check_dataset(TooFew)


# -- what check_dataset checks, on tiny datasets built here ----------------------------------------
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "udabench-entropy-min"


class Tiny(Dataset):
    """Well formed, in memory: two domains, three classes, 4 images per class and split, 32x32 RGB."""

    name = "kit-tiny"
    classes = ("circle", "square", "triangle")
    domains = ("a", "b")
    tasks = (Task("a2b", "a", "b"), Task("b2a", "b", "a"))
    image_size, image_mode = 32, "RGB"
    drawn_at = 32  # the size load() draws at

    def load(self, domain, split):
        labels = np.repeat(np.arange(len(self.classes)), 4)
        rng = np.random.default_rng([self.domains.index(domain), ("train", "test").index(split)])
        pixels = rng.integers(0, 256, (len(labels), self.drawn_at, self.drawn_at, 3), dtype=np.uint8)
        return ImageList(ImageSource(array=pixels), labels, len(self.classes))


class Declares32Gives28(Tiny):
    name = "broken-size"
    drawn_at = 28


class DuplicateClass(Tiny):
    name = "broken-duplicate"
    classes = ("circle", "square", "circle")


class TrailingSpace(Tiny):
    name = "broken-space"
    classes = ("circle", "square ", "triangle")


class ControlCharacter(Tiny):
    name = "broken-control"
    classes = ("circle", "squ\x07are", "triangle")


class EmptyName(Tiny):
    name = "broken-empty"
    classes = ("circle", "", "triangle")


class RandomOrder(Tiny):
    name = "broken-order"

    def load(self, domain, split):
        full = super().load(domain, split)
        return full.subset(np.random.default_rng().permutation(len(full)))  # unseeded: a new order each call


class NoTriangleInB(Tiny):
    name = "broken-missing-class"

    def load(self, domain, split):
        full = super().load(domain, split)
        return full.subset(np.flatnonzero(full.labels != 2)) if domain == "b" else full


class UnknownDomain(Tiny):
    name = "broken-task"
    tasks = (Task("a2b", "a", "b"), Task("a2c", "a", "c"))


class BadSizeDeclaration(Tiny):
    name = "broken-size-declaration"
    image_size = "32"


def test_a_well_formed_tiny_dataset_conforms():
    check_dataset(Tiny)  # so each broken variant below fails for its own reason only


BROKEN = [
    (Declares32Gives28, "declared image size", ["load('a', 'test') image 0 is 28x28", "image_size = 32 (32x32)"]),
    (DuplicateClass, "class names", ["class 2 ('circle') repeats class 0"]),
    (TrailingSpace, "class names", ["class 1 ('square ') has leading or trailing whitespace"]),
    (ControlCharacter, "class names", ["class 1 ('squ\\x07are') holds the non-printable character U+0007"]),
    (EmptyName, "class names", ["class 1 is empty"]),
    (RandomOrder, "same order on every load", ["a second load('a', 'test')"]),
    (NoTriangleInB, "every class in every split", ["domain 'b', split 'test'", "class 'triangle' (label 2)"]),
    (UnknownDomain, "declaration", ["task 'a2c' names the target domain 'c'"]),
    (BadSizeDeclaration, "declaration", ["image_size must be"]),
]


@pytest.mark.parametrize("cls,rule,words", BROKEN, ids=[cls.name for cls, _, _ in BROKEN])
def test_broken_datasets_are_caught_by_name_and_rule(cls, rule, words):
    with pytest.raises(ConformanceError) as exc:
        check_dataset(cls)
    assert exc.value.rule == rule and f"dataset {cls.name!r}" in str(exc.value)
    for w in words:
        assert w in str(exc.value)


class FileTree(Dataset):
    """Reads <root>/<domain>/<class>/*.png for the class folders that are there: a missing one is
    silently skipped, as a hand-written reader would."""

    name = "kit-files"
    classes = Tiny.classes
    domains = ("a", "b")
    tasks = (Task("a2b", "a", "b"),)
    train_split = adapt_split = eval_split = "all"
    image_size, image_mode = 32, "RGB"

    def load(self, domain, split):
        paths, labels = [], []
        for c, cls in enumerate(self.classes):
            files = sorted((self.root / domain / cls).glob("*.png"))
            paths += files
            labels += [c] * len(files)
        return ImageList(ImageSource(paths=paths), np.asarray(labels, np.int64), len(self.classes))


def write_tree(root: Path, size: int = 32, mode: str = "RGB") -> Path:
    """Two PNGs per class in each domain of FileTree."""
    for d, domain in enumerate(FileTree.domains):
        for c, cls in enumerate(FileTree.classes):
            (root / domain / cls).mkdir(parents=True)
            for i in range(2):
                pixels = np.random.default_rng([d, c, i]).integers(0, 256, (size, size, 3), dtype=np.uint8)
                Image.fromarray(pixels).convert(mode).save(root / domain / cls / f"{i}.png")
    return root


def test_a_tree_of_files_conforms(tmp_path):
    check_dataset(FileTree, root=write_tree(tmp_path))


def test_a_class_folder_missing_in_one_domain_is_caught(tmp_path):
    shutil.rmtree(write_tree(tmp_path) / "b" / "square")
    with pytest.raises(ConformanceError) as exc:
        check_dataset(FileTree, root=tmp_path)
    assert exc.value.rule == "every class in every split" and "dataset 'kit-files'" in str(exc.value)
    assert "domain 'b', split 'all' has no image of class 'square' (label 1)" in str(exc.value)


@pytest.mark.filterwarnings("ignore::udabench.data.folders.CountMismatchWarning")
def test_a_class_folder_missing_from_a_builtin_layout_is_caught(tmp_path):
    from test_real_datasets import build_office31

    shutil.rmtree(build_office31(tmp_path) / "office31" / "webcam" / "images" / "bike")
    with pytest.raises(ConformanceError) as exc:
        check_dataset(get_registry().dataset("office31"), root=tmp_path)
    assert exc.value.rule == "loads every split its tasks need"
    assert "load('webcam', 'all') (domain 'webcam', split 'all')" in str(exc.value)
    assert "class folders are missing" in str(exc.value) and ": bike." in str(exc.value)


@pytest.mark.parametrize("size,mode,rule,words", [
    (28, "RGB", "declared image size", ["a/circle/0.png) is 28x28 pixels", "image_size = 32 (32x32)"]),
    (32, "L", "declared image mode", ["a/circle/0.png) is stored as L; the plugin declares image_mode = 'RGB'"]),
])
def test_files_of_another_size_or_mode_are_caught(tmp_path, size, mode, rule, words):
    with pytest.raises(ConformanceError) as exc:
        check_dataset(FileTree, root=write_tree(tmp_path, size, mode))
    assert exc.value.rule == rule and all(w in str(exc.value) for w in words)


def test_an_image_that_does_not_decode_is_caught(tmp_path):
    (write_tree(tmp_path) / "b" / "triangle" / "1.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(ConformanceError) as exc:
        check_dataset(FileTree, root=tmp_path)
    assert exc.value.rule == "images decode" and "load('b', 'all') image 5 (" in str(exc.value)
    assert "b/triangle/1.png" in str(exc.value)


def test_the_example_plugins_dataset_conforms():
    """The example package's dataset, read from its source folder (no install needed)."""
    spec = importlib.util.spec_from_file_location("kit_example_dataset",
                                                  EXAMPLE / "udabench_entropy_min" / "dataset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    check_dataset(module.ShapesMini)
