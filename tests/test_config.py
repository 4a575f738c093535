"""Hyperparameter layers and their validation errors."""

from __future__ import annotations

import pytest

from udabench.contract.config import HParam, load_yaml_overrides, parse_set_pairs, resolve
from udabench.contract.errors import ConfigError

HP = (HParam("lr", 3e-3, "learning rate"), HParam("epochs", 25, "passes"),
      HParam("csc", False, "class-specific context"),
      HParam("lr_step", "epoch", "schedule step", choices=("epoch", "iter")))
OVERRIDES = {"digits": {"epochs": 5}}


def test_layers_apply_in_order_and_remember_their_source(tmp_path):
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("epochs: 7\nlr: 0.01\n")
    cfg = resolve("dapl", HP, "digits", OVERRIDES, load_yaml_overrides(cfg_file, "dapl"),
                  parse_set_pairs(["lr=1e-4", "csc=true"]))
    assert (cfg.lr, cfg.epochs, cfg.csc, cfg.lr_step) == (1e-4, 7, True, "epoch")
    assert cfg.sources == {"lr": "set", "epochs": "config", "csc": "set", "lr_step": "default"}
    assert resolve("dapl", HP, "digits", OVERRIDES).epochs == 5
    assert resolve("dapl", HP, "officehome", OVERRIDES).epochs == 25


def test_an_unknown_key_names_the_key_and_the_allowed_ones():
    with pytest.raises(ConfigError) as exc:
        resolve("dapl", HP, set_overrides={"epoch": 3})
    msg = str(exc.value)
    assert "--set" in msg and "'epoch'" in msg and "Did you mean 'epochs'" in msg and "lr_step" in msg


def test_a_wrong_type_names_the_key_and_the_expected_type():
    with pytest.raises(ConfigError, match=r"epochs must be int, got 2.5"):
        resolve("dapl", HP, set_overrides={"epochs": 2.5})
    with pytest.raises(ConfigError, match=r"lr must be float, got 'fast'"):
        resolve("dapl", HP, set_overrides=parse_set_pairs(["lr=fast"]))
    with pytest.raises(ConfigError, match=r"lr_step must be one of \['epoch', 'iter'\]"):
        resolve("dapl", HP, set_overrides={"lr_step": "step"})


def test_ints_become_floats_but_bools_are_not_ints():
    assert resolve("dapl", HP, set_overrides={"lr": 1}).lr == 1.0
    with pytest.raises(ConfigError):
        resolve("dapl", HP, set_overrides={"epochs": True})


def test_set_pairs_need_an_equals_sign():
    with pytest.raises(ConfigError, match="key=value"):
        parse_set_pairs(["lr"])


def test_yaml_is_loaded_safely(tmp_path):
    evil = tmp_path / "evil.yaml"
    evil.write_text("lr: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_yaml_overrides(evil, "dapl")


def test_yaml_may_hold_sections_per_method(tmp_path):
    f = tmp_path / "c.yaml"
    f.write_text("dapl: {epochs: 3}\nclipdiv: {tau: 0.6}\n")
    assert load_yaml_overrides(f, "dapl") == {"epochs": 3}
    with pytest.raises(ConfigError, match="no such file"):
        load_yaml_overrides(tmp_path / "missing.yaml", "dapl")


def test_the_digest_changes_with_any_value():
    a = resolve("dapl", HP)
    assert a.digest() == resolve("dapl", HP).digest()
    assert a.digest() != resolve("dapl", HP, set_overrides={"epochs": 24}).digest()
