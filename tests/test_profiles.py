"""Hyperparameter profiles follow what a dataset declares, not its name; prompts that cannot fit a
backbone are refused before any data is read."""

from __future__ import annotations

import pytest

from udabench import ConfigError, Dataset, HParam, Method, PluginError, Setting, Task, get_registry
from udabench.contract.validation import validate_plugin_class
from udabench_plugins.datasets.digits import Digits


def _dataset(name: str, **attrs) -> type:
    return type(name.title(), (Dataset,), {"name": name, "classes": ("zero", "one"), "domains": ("a", "b"),
                                           "tasks": (Task("a2b", "a", "b"),), **attrs})


def test_the_profile_follows_the_declared_image_size():
    assert Digits.hparam_profile() == "small-image"
    assert _dataset("labsmall", image_size=32).hparam_profile() == "small-image"
    assert _dataset("labwide", image_size=(64, 48)).hparam_profile() == "small-image"
    assert _dataset("labbig", image_size=65).hparam_profile() is None
    assert _dataset("photos").hparam_profile() is None  # sizes vary: the methods' defaults
    assert _dataset("upscaled", image_size=224, profile="small-image").hparam_profile() == "small-image"


@pytest.mark.parametrize("method", ["dapl", "dampl", "source-ft", "clipdiv"])
def test_a_third_party_small_image_dataset_gets_what_digits_gets(method):
    cls = get_registry().method(method)
    lab = _dataset("labdigits", image_size=32)
    theirs, ours = cls.resolve_config(lab), cls.resolve_config(Digits)
    assert theirs.to_dict() == ours.to_dict()
    assert cls.profiles["small-image"], f"{method} has no small-image profile"
    for key in cls.profiles["small-image"]:
        assert theirs.sources[key] == "profile:small-image"
    assert cls.resolve_config(_dataset("photos")).to_dict() == cls.resolve_config(None).to_dict()


def test_layers_after_the_profile_win():
    dapl = get_registry().method("dapl")
    cfg = dapl.resolve_config(Digits, file_overrides={"n_ctx": 2}, set_overrides={"epochs": 3})
    assert (cfg.n_ctx, cfg.n_dmx, cfg.epochs) == (2, 4, 3)
    assert (cfg.sources["n_ctx"], cfg.sources["n_dmx"], cfg.sources["epochs"]) == ("config", "profile:small-image",
                                                                                  "set")


def test_a_profile_of_an_unknown_kind_or_key_is_refused_at_registration():
    base = {"name": "bad-profile", "setting": Setting.ZERO_SHOT, "hparams": (HParam("lr", 0.1),)}
    typo = type("Typo", (Method,), {**base, "profiles": {"small-images": {"lr": 0.2}}})
    with pytest.raises(PluginError, match=r"profiles\['small-images'\] is not a known profile"):
        validate_plugin_class("method", typo, plugin="test")
    undeclared = type("Undeclared", (Method,), {**base, "profiles": {"small-image": {"epochs": 2}}})
    with pytest.raises(PluginError, match="sets undeclared 'epochs'"):
        validate_plugin_class("method", undeclared, plugin="test")
    with pytest.raises(PluginError, match="profile must be None or one of small-image"):
        validate_plugin_class("dataset", _dataset("typo", profile="tiny"), plugin="test")


def test_dapl_prompts_that_cannot_fit_are_refused_naming_the_numbers(toy_backbone):
    dapl = get_registry().method("dapl")
    with pytest.raises(ConfigError) as err:
        dapl(dapl.resolve_config(None)).check_backbone(toy_backbone, Digits())  # the ViT-B/16 defaults
    message = str(err.value)
    assert "n_ctx=16 + n_dmx=16" in message and "reads 16 tokens" in message and "--set n_ctx=4" in message
    dapl(dapl.resolve_config(Digits)).check_backbone(toy_backbone, Digits())  # the profile fits


def test_the_run_refuses_before_reading_an_image(mlflow_uri, tmp_path, capsys, monkeypatch):
    """The data's layout is checked first (no image opened), then the prompts against the backbone:
    the refusal comes before any image is read."""
    from test_real_datasets import build_office31
    from udabench.cli import main
    from udabench.data.images import ImageSource

    root = build_office31(tmp_path / "data")
    monkeypatch.setattr(ImageSource, "load", lambda self, i: pytest.fail("an image was read"))
    code = main(["run", "--method", "dapl", "--dataset", "office31", "--backbone", "toyclip",
                 "--root", str(root), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "do not fit backbone 'toyclip'" in err


def test_dapl_trains_at_least_min_steps_on_a_small_source():
    from udabench_plugins.methods.dapl import training_epochs

    assert training_epochs(10, 400, 41) == 10  # digits: 41 steps an epoch, 410 >= 400: as configured
    assert training_epochs(10, 400, 6) == 67  # a 200-image source: ceil(400 / 6) = 67 epochs, 402 steps
    assert training_epochs(25, 0, 3) == 25  # min_steps 0: the paper's schedule
    assert training_epochs(10, 400, 0) == 400  # an empty loader never divides by zero
