"""The conformance kit passes every built-in plugin and catches broken ones by name and rule."""

from __future__ import annotations

import pytest
import torch

from udabench import FeatureClassifier, HParam, Method, Setting, text_head
from udabench.contract.registry import get_registry
from udabench.testing import ConformanceError, check_backbone, check_dataset, check_method

# Short schedules: the kit checks the contract, not accuracy.
FAST = {
    "zeroshot": {}, "linear-probe": {}, "source-ft": {"epochs": 1}, "dapl": {"epochs": 1},
    "dampl": {"epochs": 1}, "clipdiv": {"epochs": 1, "self_train_epochs": 1}, "reclip": {"epochs": 1},
    "dac": {"epochs": 2, "augment_views": 1, "shots": 4}, "fewshot-probe": {"shots": 4},
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
    from test_real_datasets import E2E

    assert set(get_registry().datasets) == {"digits"} | {name for name, _, _ in E2E}


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
