"""Entry-point discovery: built-ins, a third-party distribution, broken plugins, the env filter."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from udabench.contract.errors import UnknownNameError
from udabench import hookimpl
from udabench.contract.registry import PluginInfo, Registry, get_registry

BUILTIN_METHODS = {"zeroshot", "linear-probe", "source-ft"}


def make_distribution(site: Path, dist: str, module: str, source: str, entry_points: dict[str, str]) -> Path:
    """Install a tiny distribution the way pip lays one out: a module plus its .dist-info."""
    site.mkdir(parents=True, exist_ok=True)
    (site / f"{module}.py").write_text(textwrap.dedent(source))
    info = site / f"{dist.replace('-', '_')}-0.3.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.3.1\n")
    eps = "\n".join(f"{name} = {target}" for name, target in entry_points.items())
    (info / "entry_points.txt").write_text(f"[udabench]\n{eps}\n")
    return site


THIRD_PARTY = """
    from udabench import HParam, Method, Setting, hookimpl

    class Majority(Method):
        name = "tp-majority"
        setting = Setting.SOURCE_ONLY
        summary = "predicts the most frequent source class"
        hparams = (HParam("bias", 10.0, "logit of the majority class"),)

    @hookimpl
    def register_methods(register):
        register(Majority)
"""


@pytest.fixture
def third_party_site(tmp_path, monkeypatch):
    site = make_distribution(tmp_path / "site", "udabench-tp", "udabench_tp", THIRD_PARTY,
                             {"tp": "udabench_tp"})
    monkeypatch.syspath_prepend(str(site))
    return site


def test_builtins_are_discovered_through_the_entry_point_group():
    reg = Registry()
    reg.load_entry_points()
    assert BUILTIN_METHODS <= set(reg.methods)
    assert "digits" in reg.datasets and {"toyclip", "openclip"} <= set(reg.backbones)
    assert reg.origin[("method", "zeroshot")].distribution == "udabench"
    assert not reg.failed()


def test_a_third_party_distribution_is_discovered(third_party_site):
    reg = Registry()
    reg.load_entry_points()
    assert "tp-majority" in reg.methods
    info = reg.origin[("method", "tp-majority")]
    assert (info.distribution, info.version) == ("udabench-tp", "0.3.1")
    assert BUILTIN_METHODS <= set(reg.methods)


def test_udabench_list_shows_a_third_party_plugin_with_its_origin(third_party_site):
    env = {**os.environ, "PYTHONPATH": str(third_party_site)}
    out = subprocess.run([sys.executable, "-m", "udabench", "list"], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    line = next(l for l in out.stdout.splitlines() if l.startswith("tp-majority"))
    assert "udabench-tp 0.3.1" in line and "source-only" in line


def test_a_broken_plugin_is_reported_by_name_and_the_others_still_load(tmp_path, monkeypatch):
    site = make_distribution(tmp_path / "site", "broken-dist", "broken_mod",
                             "raise ImportError('needs libfoo')\n", {"broken": "broken_mod"})
    monkeypatch.syspath_prepend(str(site))
    reg = Registry()
    reg.load_entry_points()
    (bad,) = reg.failed()
    assert bad.name == "broken" and "needs libfoo" in bad.error and bad.distribution == "broken-dist"
    assert BUILTIN_METHODS <= set(reg.methods)
    with pytest.raises(UnknownNameError, match="broken"):
        reg.method("nope")  # the hint names the plugin that failed


def test_a_hook_that_raises_is_isolated(tmp_path, monkeypatch):
    src = """
        from udabench import hookimpl
        @hookimpl
        def register_methods(register):
            raise RuntimeError("boom in hook")
    """
    monkeypatch.syspath_prepend(str(make_distribution(tmp_path / "s", "hookfail", "hookfail_mod", src,
                                                      {"hookfail": "hookfail_mod"})))
    reg = Registry()
    reg.load_entry_points()
    assert [p.name for p in reg.failed()] == ["hookfail"]
    assert "boom in hook" in reg.plugins["hookfail"].error
    assert BUILTIN_METHODS <= set(reg.methods)


def test_contract_breaches_name_the_plugin_and_the_rule(tmp_path, monkeypatch):
    src = """
        from udabench import Method, hookimpl
        class NoSetting(Method):
            name = "no-setting"
            setting = "semi-supervised"
        @hookimpl
        def register_methods(register):
            register(NoSetting)
    """
    monkeypatch.syspath_prepend(str(make_distribution(tmp_path / "s", "badset", "badset_mod", src,
                                                      {"badset": "badset_mod"})))
    reg = Registry()
    reg.load_entry_points()
    err = reg.plugins["badset"].error
    assert "plugin 'badset'" in err and "`setting` must be one of" in err
    assert "no-setting" not in reg.methods


def test_an_incompatible_plugin_api_version_is_refused(tmp_path, monkeypatch):
    src = "UDABENCH_PLUGIN_API = 99\n"
    monkeypatch.syspath_prepend(str(make_distribution(tmp_path / "s", "future", "future_mod", src,
                                                      {"future": "future_mod"})))
    reg = Registry()
    reg.load_entry_points()
    err = reg.plugins["future"].error
    assert "'future'" in err and "API 99" in err and "API 1" in err


def test_a_name_registered_twice_is_an_error(tmp_path, monkeypatch):
    src = """
        from udabench import Method, Setting, hookimpl
        class Dup(Method):
            name = "zeroshot"
            setting = Setting.ZERO_SHOT
        @hookimpl
        def register_methods(register):
            register(Dup)
    """
    monkeypatch.syspath_prepend(str(make_distribution(tmp_path / "s", "dup", "dup_mod", src, {"zz-dup": "dup_mod"})))
    reg = Registry()
    reg.load_entry_points()
    assert "registered twice" in reg.plugins["zz-dup"].error
    assert reg.origin[("method", "zeroshot")].distribution == "udabench"


def test_only_the_named_plugins_load_when_the_filter_is_set():
    reg = Registry()
    reg.load_entry_points(only={"zeroshot", "digits"})
    assert set(reg.methods) == {"zeroshot"} and set(reg.datasets) == {"digits"} and not reg.backbones


def test_the_env_variable_can_turn_every_plugin_off():
    env = {**os.environ, "UDABENCH_LOAD_PLUGINS": ""}
    out = subprocess.run([sys.executable, "-m", "udabench", "run", "--method", "zeroshot", "--dataset",
                          "digits"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "unknown method 'zeroshot'" in out.stderr and "(none)" in out.stderr


def test_unknown_names_suggest_the_closest():
    reg = get_registry()
    with pytest.raises(UnknownNameError) as exc:
        reg.method("zero-shot")
    assert "Did you mean 'zeroshot'" in str(exc.value) and "linear-probe" in str(exc.value)
    with pytest.raises(UnknownNameError, match="Did you mean 'digits'"):
        reg.dataset("digit")


def test_registering_a_non_method_is_refused():
    class Plugin:
        @staticmethod
        @hookimpl
        def register_methods(register):
            register(object)

    reg = Registry()
    reg.add_plugin(Plugin, PluginInfo("not-a-method", "tests"))
    assert "subclass of udabench.Method" in reg.plugins["not-a-method"].error
