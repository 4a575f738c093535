"""Faults and bad inputs, each found by a hostile user: what udabench now gives instead of a wrong
number, a traceback or a run that fails forever. The table of them is docs/reliability.md.

1. hyperparameters out of range (NaN, inf, negative epochs, a hold-out of 1.5) are refused when
   the configuration is resolved, before any data or weights are read;
2. a training loss that becomes NaN or infinite fails the run (FAILED in MLflow, with the
   reason), so it never reaches the leaderboard;
3. caches are disposable: a wrong entry is dropped and recomputed, a cache that cannot be
   written is skipped with one warning, the generated digits are drawn again when damaged;
4. bad weights files give one WeightsUnavailableError naming the file, and a malicious pickle
   is never executed;
5. a plugin that calls sys.exit at import does not take `udabench list` down;
6. file-system refusals in a data tree (symbolic link loops) are DataErrors naming the path.

Everything runs on the CPU with the toy backbone and tiny data, in seconds.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import types
import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch

import udabench.cli
from test_real_datasets import build_office31, build_visda, small_confusion_plot  # noqa: F401 (fixture)
from test_registry import BUILTIN_METHODS, make_distribution
from udabench import (ConfigError, DataError, HParam, ImageList, ImageSource, Method, PluginError, RunContext,
                      Setting, WeightsUnavailableError, extract_features, hookimpl, load_backbone)
from udabench.contract.config import resolve
from udabench.contract.errors import NonFiniteLossError
from udabench.contract.registry import PluginInfo, Registry, get_registry
from udabench.model.feature_cache import FeatureCache
from udabench.protocol.options import RunOptions
from udabench.protocol.runner import RunRequest, RunsFailedError, execute
from udabench.tracking.tracker import Tracker
from udabench_plugins.datasets.office31 import Office31
from udabench_plugins.datasets.visda2017 import VisDA2017

pytestmark = pytest.mark.filterwarnings("ignore::udabench.data.folders.CountMismatchWarning")

DATASET, TASK = "digits", "printed2handwritten"


# -- helpers -------------------------------------------------------------------------------------
@contextmanager
def registered(*methods: type):
    """Method classes registered in the process registry for one test, then removed."""
    reg = get_registry()

    @hookimpl
    def register_methods(register):
        for cls in methods:
            register(cls)

    plugin = types.ModuleType(f"udabench_test_reliability_{id(methods)}")
    plugin.register_methods = register_methods
    info = PluginInfo(name=f"test-reliability-{id(methods)}", module="tests")
    reg.add_plugin(plugin, info)
    try:
        assert info.error is None, info.error
        yield
    finally:
        for cls in methods:
            reg.methods.pop(cls.name, None)
            reg.origin.pop(("method", cls.name), None)
        reg.plugins.pop(info.name, None)
        if reg.pm.is_registered(plugin):
            reg.pm.unregister(plugin)


def run(method: str, uri: str, spec: str, **set_pairs):
    req = RunRequest(method=method, dataset=DATASET, tasks=[TASK], seeds=[0], backbone=spec, set_pairs=set_pairs,
                     options=RunOptions(tracking_uri=uri, progress=False, device="cpu"))
    return execute(req, echo=lambda line: None)


def task_runs(uri: str) -> list:
    """Every task run of the store, whatever its status."""
    return Tracker(uri).task_runs(DATASET, status=None)


def leaderboard_rows(uri: str, capsys) -> dict[str, dict]:
    """The leaderboard's rows (as ``--format json`` gives them) by method."""
    capsys.readouterr()
    assert udabench.cli.main(["leaderboard", "--dataset", DATASET, "--tracking-uri", uri, "--format", "json"]) == 0
    return {r["method"]: r for r in json.loads(capsys.readouterr().out) if not r["reference"]}


def nothing_recorded(uri: str) -> bool:
    return Tracker(uri).client.get_experiment_by_name(DATASET) is None


def ctx(**kw) -> RunContext:
    return RunContext(device="cpu", seed=0, show_progress=False, eval_batch_size=5, **kw)


def random_images(n: int = 12, seed: int = 0) -> ImageList:
    rng = np.random.default_rng(seed)
    return ImageList(ImageSource(array=rng.integers(0, 255, (n, 32, 32, 3), dtype=np.uint8)), np.arange(n) % 3, 3)


# == 1. hyperparameters have ranges =================================================================
BOUNDED = (HParam("lr", 1e-3, "learning rate", exclusive_minimum=0),
           HParam("holdout", 0.2, "held-out fraction", exclusive_minimum=0, exclusive_maximum=1),
           HParam("tau", 0.5, "threshold", minimum=0, maximum=1),
           HParam("epochs", 25, "passes", minimum=1),
           HParam("c_values", (0.1, 1.0), "grid", type=tuple, exclusive_minimum=0),
           HParam("weight", 1.0, "a plain float"),
           HParam("margin", 1.0, "may be infinite", finite=False))


@pytest.mark.parametrize("key,value,message", [
    ("lr", "nan", "lr must be a finite number > 0, got nan"),
    ("lr", "0", "lr must be a finite number > 0, got 0.0"),
    ("lr", "-inf", "lr must be a finite number > 0, got -inf"),
    ("holdout", "1.5", "holdout must be a finite number in (0, 1), got 1.5"),
    ("holdout", "1", "holdout must be a finite number in (0, 1), got 1.0"),
    ("tau", "1.01", "tau must be a finite number in [0, 1], got 1.01"),
    ("epochs", "-1", "epochs must be an integer >= 1, got -1"),
    ("epochs", "0", "epochs must be an integer >= 1, got 0"),
    ("c_values", "[1.0, -2.0]", "every number of c_values must be a finite number > 0, got (1.0, -2.0) (-2.0 is not)"),
    ("weight", "inf", "weight must be a finite number, got inf"),
    ("weight", ".nan", "weight must be a finite number, got nan"),
])
def test_a_value_out_of_range_names_the_key_the_value_and_the_range(key, value, message):
    from udabench.contract.config import parse_set_pairs

    with pytest.raises(ConfigError) as err:
        resolve("m", BOUNDED, set_overrides=parse_set_pairs([f"{key}={value}"]))
    assert str(err.value).startswith(f"--set: {message}"), str(err.value)


def test_values_on_an_inclusive_bound_pass_and_infinity_passes_where_declared():
    cfg = resolve("m", BOUNDED, set_overrides={"tau": 0, "epochs": 1, "holdout": 0.999, "margin": float("inf")})
    assert (cfg.tau, cfg.epochs, cfg.holdout, cfg.margin) == (0.0, 1, 0.999, float("inf"))
    assert np.isnan(resolve("m", BOUNDED, set_overrides={"margin": "nan"}).margin)  # finite=False: NaN too


def test_a_declaration_whose_default_or_range_is_wrong_is_refused_at_registration():
    class BadDefault(Method):
        name, setting = "bad-default", Setting.ZERO_SHOT
        hparams = (HParam("epochs", 0, "passes", minimum=1),)

    class EmptyRange(Method):
        name, setting = "empty-range", Setting.ZERO_SHOT
        hparams = (HParam("p", 0.5, "probability", minimum=1, maximum=0),)

    with pytest.raises(PluginError, match=r"epochs must be an integer >= 1, got 0"):
        BadDefault.check_contract("plugin 'x'")
    with pytest.raises(PluginError, match=r"p's range in \[1, 0\] is empty"):
        EmptyRange.check_contract("plugin 'x'")


# What hostile users ran, and saw FINISH (at 9.85, or at the zero-shot number), or accepted.
HOSTILE = [("source-ft", "lr_head=nan", "lr_head must be a finite number > 0, got nan"),
           ("zeroshot", "logit_scale=inf", "logit_scale must be a finite number > 0, got inf"),
           ("source-ft", "epochs=-1", "epochs must be an integer >= 1, got -1"),
           ("dapl", "epochs=-1", "epochs must be an integer >= 1, got -1"),
           ("reclip", "epochs=-1", "epochs must be an integer >= 0, got -1"),
           ("linear-probe", "holdout=1.5", "holdout must be a finite number in [0, 1), got 1.5"),
           ("dac", "temperature=0", "temperature must be a finite number > 0, got 0.0"),
           ("clipdiv", "tau=1.5", "tau must be a finite number in [0, 1], got 1.5")]


@pytest.mark.parametrize("method,pair,message", HOSTILE, ids=[f"{m}-{p}" for m, p, _ in HOSTILE])
def test_the_hostile_values_are_refused_before_any_data_or_weights(method, pair, message, mlflow_uri, tmp_path,
                                                                  capsys):
    """Through the command line, with weights and data that do not exist: the configuration is
    refused first (the weights would be a WeightsUnavailableError, the data a DataError), and
    nothing is recorded."""
    argv = ["run", "--method", method, "--dataset", DATASET, "--set", pair, "--backbone",
            f"toyclip:{tmp_path / 'absent.safetensors'}", "--root", str(tmp_path / "absent"), "--device", "cpu",
            "--tracking-uri", mlflow_uri, "--no-progress"]
    assert udabench.cli.main(argv) == 2
    err = capsys.readouterr().err
    assert f"udabench: error: --set: {message}" in err and "Traceback" not in err
    assert nothing_recorded(mlflow_uri)


def test_every_number_a_builtin_method_declares_has_a_range():
    missing = []
    for name, cls in get_registry().methods.items():
        if cls.__module__.startswith("udabench_plugins."):
            for h in cls.hparams:
                numbers = (h.kind in (int, float) or
                           (h.kind is tuple and all(isinstance(v, (int, float)) for v in h.default)))
                if numbers and not h.bounds and h.choices is None:
                    missing.append(f"{name}.{h.name}")
    assert not missing, f"hyperparameters without a declared range: {missing}"


@pytest.mark.parametrize("size", ["0", "-5"])
def test_the_cli_batch_size_is_still_refused(size, capsys):
    assert udabench.cli.main(["run", "--method", "zeroshot", "--dataset", DATASET, "--batch-size", size]) == 2
    assert "batch_size (--batch-size) must be at least 1" in capsys.readouterr().err


# == 2. a training loss that becomes NaN or infinite fails the run ==================================
class DivergingMethod(Method):
    """Trains one weight for `steps` steps; its loss is `value` at step `bad_at` (0: never)."""

    name = "test-diverging"
    setting = Setting.ZERO_SHOT
    hparams = (HParam("steps", 6, "optimiser steps", minimum=1), HParam("bad_at", 3, "the diverging step"),
               HParam("value", "nan", "the loss then", choices=("nan", "inf")),
               HParam("lr", 0.1, "SGD learning rate", exclusive_minimum=0))
    reached = 0  # the last step begun, for the test to see that training stopped

    def adapt(self, ctx, backbone, data):
        from udabench import FeatureClassifier, text_head

        w = torch.nn.Parameter(torch.ones(3))
        opt = torch.optim.SGD([w], lr=self.config.lr)
        for step in range(1, self.config.steps + 1):
            type(self).reached = step
            loss = (w ** 2).sum()
            if step == self.config.bad_at:
                loss = loss * float(self.config.value)
            ctx.step(loss, opt)
        return FeatureClassifier(backbone, text_head(backbone.text_classifier(data.prompt_names, data.templates)))


class UnboundedLr(DivergingMethod):
    """Its lr declared finite=False: lr=nan passes the configuration, and the loss becomes NaN."""

    name = "test-unbounded-lr"
    hparams = DivergingMethod.hparams[:3] + (HParam("lr", 0.1, "SGD learning rate", finite=False),)


class ExpectsNonFinite(DivergingMethod):
    name = "test-expects-nonfinite"
    allows_nonfinite_loss = "test: its step-3 loss is NaN on purpose, and what it returns does not depend on it"


@pytest.mark.parametrize("bad_at,steps,value,reached", [(3, 6, "nan", 4), (2, 2, "inf", 2)],
                         ids=["nan-mid-training", "inf-at-the-last-step"])
def test_a_diverging_run_fails_at_once_and_stays_off_the_leaderboard(bad_at, steps, value, reached, mlflow_uri,
                                                                     backbone_spec, capsys):
    """The loss is checked at the next step (so the device is never waited for), or when adapt
    returns: the run stops one step later at most, FAILED in MLflow with the reason."""
    with registered(DivergingMethod):
        with pytest.raises(RunsFailedError, match="NonFiniteLossError"):
            run(DivergingMethod.name, mlflow_uri, backbone_spec, bad_at=bad_at, steps=steps, value=value)
        assert DivergingMethod.reached == reached
        (child,) = task_runs(mlflow_uri)
        assert child.info.status == "FAILED"
        error = child.data.tags["udabench.error"]
        assert error.startswith(f"NonFiniteLossError: test-diverging: the training loss is {value} at optimiser "
                                f"step {bad_at}"), error
        assert "top1" not in child.data.metrics
        row = leaderboard_rows(mlflow_uri, capsys)["test-diverging"]
        assert row["tasks"][TASK]["n"] == 0 and row["avg"] is None and row["failed"] == 1
        assert "NonFiniteLossError" in row["failures"][0]["reason"]


def test_lr_nan_is_refused_and_where_allowed_fails_at_the_first_nan_loss(mlflow_uri, backbone_spec):
    with registered(DivergingMethod, UnboundedLr):
        with pytest.raises(ConfigError, match="lr must be a finite number > 0, got nan"):
            run(DivergingMethod.name, mlflow_uri, backbone_spec, lr="nan", bad_at=0)
        assert nothing_recorded(mlflow_uri)
        with pytest.raises(RunsFailedError, match="the training loss is nan at optimiser step 2"):
            run(UnboundedLr.name, mlflow_uri, backbone_spec, lr="nan", bad_at=0)
        (child,) = task_runs(mlflow_uri)
        assert child.info.status == "FAILED"


def test_a_method_may_declare_why_its_loss_may_be_nonfinite(mlflow_uri, backbone_spec):
    with registered(ExpectsNonFinite):
        (record,) = run(ExpectsNonFinite.name, mlflow_uri, backbone_spec)
    assert ExpectsNonFinite.reached == 6 and "top1" in record.result.metrics

    class NotAReason(DivergingMethod):
        name = "test-not-a-reason"
        allows_nonfinite_loss = True

    with pytest.raises(PluginError, match="allows_nonfinite_loss` must be a string saying why"):
        NotAReason.check_contract("plugin 'x'")


def test_dac_trains_through_the_check():
    """DAC did its own backward and step; it now goes through ctx.step like every training method."""
    from udabench_plugins.methods.dac import DAC

    dac = DAC(DAC.resolve_config())
    feats = torch.nn.functional.normalize(torch.randn(8, 4), dim=-1)
    feats[3] = float("nan")
    text = torch.nn.functional.normalize(torch.randn(2, 4), dim=-1)
    with pytest.raises(NonFiniteLossError, match="the training loss is nan at optimiser step 1"):
        dac.train(ctx(), feats, torch.arange(8) % 2, text, 2, epochs=2)


# == 3. caches are disposable ========================================================================
@pytest.fixture
def cached(toy_backbone, tmp_path):
    b = toy_backbone.fresh_copy()
    b.feature_cache = FeatureCache(tmp_path / "features")
    return b


def only_entry(cache: FeatureCache) -> Path:
    (path,) = cache.root.rglob("*.safetensors")
    return path


def rewrite(path: Path, tensors: dict, keep_metadata: bool = True) -> None:
    """A valid safetensors file at an entry's place: the entry's key parts kept (or not), other tensors."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    save_file(tensors, str(path), metadata=meta if keep_metadata else None)


@pytest.mark.parametrize("damage", ["wrong-shape", "nan-values", "foreign-file"])
def test_a_wrong_feature_entry_is_named_dropped_and_recomputed(cached, damage):
    images = random_images()
    first, _ = extract_features(cached, images, ctx())
    path = only_entry(cached.feature_cache)
    bad = {"wrong-shape": {"features": torch.zeros(5, 7)},
           "nan-values": {"features": torch.full_like(first, float("nan"))},
           "foreign-file": {"features": first.clone()}}[damage]
    rewrite(path, bad, keep_metadata=damage != "foreign-file")
    with pytest.warns(UserWarning, match=f"feature cache entry {path} is not usable") as caught:
        again, _ = extract_features(cached, images, ctx())
    assert "dropping it and recomputing" in str(caught[0].message)
    assert torch.equal(again, first)
    assert cached.feature_cache.misses == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        third, _ = extract_features(cached, images, ctx())  # the recomputed entry is read, quietly
    assert torch.equal(third, first) and cached.feature_cache.hits == 1


def test_a_wrong_text_classifier_entry_is_recomputed(cached):
    names, templates = ("zero", "one", "two"), ("a photo of {}.",)
    first = cached.text_classifier(names, templates).clone()
    rewrite(only_entry(cached.feature_cache), {"classifier": torch.zeros(2, first.shape[1])})
    copy = cached.fresh_copy()
    copy.feature_cache = cached.feature_cache
    with pytest.warns(UserWarning, match="classifier is torch.float32 \\(2, 64\\), expected torch.float32 \\(3, 64\\)"):
        assert torch.equal(copy.text_classifier(names, templates), first)


def test_a_wrong_entry_does_not_fail_the_next_run(mlflow_uri, backbone_spec, tmp_path, monkeypatch):
    """End to end: a zero-shot run fills the cache; every entry is replaced by one of the wrong
    shape, under its own key; the next run warns, recomputes and gives the same numbers."""
    session_digits = Path(os.environ["UDABENCH_CACHE"]) / "digits"
    session_digits.mkdir(parents=True, exist_ok=True)
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "digits").symlink_to(session_digits, target_is_directory=True)  # the data is not at issue here
    monkeypatch.setenv("UDABENCH_CACHE", str(cache))
    (first,) = run("zeroshot", mlflow_uri, backbone_spec)
    entries = sorted((cache / "features").rglob("*.safetensors"))
    assert len(entries) == 2  # the evaluation features and the text classifier
    for path in entries:
        rewrite(path, {name: torch.zeros(3, 5) for name in ("features", "classifier")})
    with pytest.warns(UserWarning, match="is not usable") as caught:
        (second,) = run("zeroshot", mlflow_uri, backbone_spec)
    assert {str(p) for p in entries} <= {w.message.args[0].split(" ")[4] for w in caught}
    assert second.result.metrics["top1"] == first.result.metrics["top1"]


@pytest.mark.parametrize("error", [OSError(errno.ENOSPC, "No space left on device"), "SafetensorError"],
                         ids=["disk-full", "safetensors-error"])
def test_a_cache_that_cannot_be_written_warns_once_and_the_run_goes_on(cached, error, monkeypatch):
    import safetensors.torch
    from safetensors import SafetensorError

    exc = SafetensorError("Error while serializing: IoError") if error == "SafetensorError" else error

    def failing_writer(*args, **kwargs):
        raise exc

    monkeypatch.setattr(safetensors.torch, "save_file", failing_writer)
    uncached = cached.fresh_copy()
    uncached.feature_cache = None
    expected, _ = extract_features(uncached, random_images(), ctx())  # the reference, computed without a cache
    with pytest.warns(UserWarning) as caught:
        feats, _ = extract_features(cached, random_images(), ctx())
        extract_features(cached, random_images(seed=1), ctx())
    writes = [w for w in caught if "cannot write the feature cache" in str(w.message)]
    assert len(writes) == 1, [str(w.message) for w in caught]
    assert type(exc).__name__ in str(writes[0].message) and "UDABENCH_CACHE" in str(writes[0].message)
    assert torch.equal(feats, expected)
    assert not list(cached.feature_cache.root.rglob("*.safetensors"))


def test_a_cache_root_that_cannot_be_created_names_udabench_cache(mlflow_uri, backbone_spec, tmp_path,
                                                                  monkeypatch):
    """UDABENCH_CACHE under a regular file: the feature cache and the generated digits cannot be
    written; each says so, naming the variable, and the run finishes with the same numbers."""
    (reference,) = run("zeroshot", mlflow_uri, backbone_spec)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("UDABENCH_CACHE", str(blocker / "cache"))
    with pytest.warns(UserWarning) as caught:
        (record,) = run("zeroshot", mlflow_uri, backbone_spec)
    texts = [str(w.message) for w in caught]
    assert any("cannot write the feature cache" in t and "set UDABENCH_CACHE" in t for t in texts), texts
    assert any("cannot write the digits data" in t and "Set UDABENCH_CACHE" in t for t in texts), texts
    assert record.result.metrics["top1"] == reference.result.metrics["top1"]


@pytest.mark.parametrize("damage", ["truncated", "wrong-shape"])
def test_a_damaged_digits_file_is_named_dropped_and_drawn_again(damage, tmp_path, monkeypatch):
    from safetensors.numpy import load_file, save_file

    from udabench_plugins.datasets.digits.storage import domain_file, load_split

    domain = "dotmatrix"
    good = load_split(domain, "all")  # the session's copy
    source = domain_file(domain)
    monkeypatch.setenv("UDABENCH_CACHE", str(tmp_path / "cache"))
    path = domain_file(domain)
    path.parent.mkdir(parents=True)
    if damage == "truncated":
        path.write_bytes(source.read_bytes()[: source.stat().st_size // 3])
    else:
        save_file({"images": np.zeros((5, 8, 8, 3), np.uint8), "labels": np.zeros(5, np.int64)}, str(path))
    with pytest.warns(UserWarning, match=f"the digits data file {path} is not usable") as caught:
        again = load_split(domain, "all")
    assert "deleting it and drawing the domain again" in str(caught[0].message)
    assert np.array_equal(again.source.array, good.source.array) and np.array_equal(again.labels, good.labels)
    assert np.array_equal(load_file(str(path))["images"], good.source.array)  # written again, whole


# == 4. bad weights files ============================================================================
def toyclip_specs(path: Path) -> list:
    """Both loaders of a checkpoint file: the toyclip plugin's, and open_clip's (create_open_clip)."""
    from udabench import create_open_clip

    return [lambda: load_backbone(f"toyclip:{path}"), lambda: create_open_clip(f"toyclip:{path}")]


@pytest.mark.parametrize("name,content,problem", [
    ("garbage.pt", b"\x80\x02garbage" * 10, "torch.load cannot read it as a checkpoint"),
    ("garbage.safetensors", b"garbage" * 10, "it is not a valid safetensors file"),
    ("empty.pt", b"", "it is truncated or not a checkpoint (EOFError)"),
    ("other-model.safetensors", "other", "its tensors do not fit the architecture"),
])
def test_a_bad_weights_file_is_one_error_naming_it(name, content, problem, tmp_path, toy_backbone):
    path = tmp_path / name
    if content == "other":
        from safetensors.torch import save_file

        save_file({"layer.weight": torch.zeros(2, 2)}, str(path))
    else:
        path.write_bytes(content)
    for load in toyclip_specs(path):
        with pytest.raises(WeightsUnavailableError) as err:
            load()
        msg = str(err.value)
        assert f"{path} is not a usable checkpoint: {problem}" in msg, msg
        assert "It should be a" in msg and "state dict" in msg and "weights_only" not in msg


class Payload:
    """A pickle that, unpickled, creates a folder: what a malicious checkpoint would do."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return os.mkdir, (self.marker,)


def test_a_malicious_pickle_is_never_run_and_never_excused(tmp_path, toy_backbone):
    marker, evil = tmp_path / "pwned", tmp_path / "evil.pt"
    torch.save({"visual.conv1.weight": Payload(marker)}, evil)
    torch.load(evil, weights_only=False)  # the payload is real: unpickled unsafely, it runs
    assert marker.is_dir()
    marker.rmdir()
    for load in toyclip_specs(evil):
        with pytest.raises(WeightsUnavailableError) as err:
            load()
        msg = str(err.value)
        assert not marker.exists()
        assert f"{evil} is not a usable checkpoint: it is a pickle that holds Python objects" in msg
        assert "could run code" in msg and "weights_only" not in msg and "trusted source" not in msg


def test_a_local_dir_without_config_or_weights_is_named(tmp_path):
    folder = tmp_path / "model"
    with pytest.raises(WeightsUnavailableError, match=f"folder {folder} does not exist"):
        load_backbone(f"local-dir:{folder}")
    folder.mkdir()
    (folder / "open_clip_model.safetensors").write_bytes(b"x")
    with pytest.raises(WeightsUnavailableError, match=f"{folder} has no open_clip_config.json"):
        load_backbone(f"local-dir:{folder}")
    (folder / "open_clip_model.safetensors").unlink()
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": {}}))
    with pytest.raises(WeightsUnavailableError, match="holds no weights file .* random weights"):
        load_backbone(f"local-dir:{folder}")


# == 5. a plugin that calls sys.exit at import =======================================================
EXITS_AT_IMPORT = "import sys\nsys.exit('this plugin quits')\n"
EXITS_IN_HOOK = """
    import sys
    from udabench import hookimpl
    @hookimpl
    def register_methods(register):
        sys.exit(3)
"""


def test_a_plugin_that_exits_is_isolated(tmp_path, monkeypatch):
    site = make_distribution(tmp_path / "site", "quitter", "quitter_mod", EXITS_AT_IMPORT, {"quitter": "quitter_mod"})
    make_distribution(site, "hookquit", "hookquit_mod", EXITS_IN_HOOK, {"hookquit": "hookquit_mod"})
    monkeypatch.syspath_prepend(str(site))
    reg = Registry()
    reg.load_entry_points()
    failed = {p.name: p.error for p in reg.failed()}
    assert failed == {"quitter": "SystemExit('this plugin quits'): the plugin called sys.exit (udabench went on "
                                 "without it)",
                      "hookquit": "register_methods: SystemExit(3): the plugin called sys.exit (udabench went on "
                                  "without it)"}
    assert BUILTIN_METHODS <= set(reg.methods)

    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-m", "udabench", "list"], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "quitter" in out.stdout and "this plugin quits" in out.stdout and "zeroshot" in out.stdout


def test_ctrl_c_while_a_plugin_imports_still_stops(tmp_path, monkeypatch):
    site = make_distribution(tmp_path / "site", "ctrlc", "ctrlc_mod", "raise KeyboardInterrupt\n", {"ctrlc": "ctrlc_mod"})
    monkeypatch.syspath_prepend(str(site))
    with pytest.raises(KeyboardInterrupt):
        Registry().load_entry_points()


# == 6. file-system refusals in a data tree ==========================================================
def loop(path: Path) -> Path:
    """A symbolic link that leads to itself: stat gives ELOOP."""
    os.symlink(path.name, path)
    return path


def test_a_symlink_loop_as_a_class_folder_is_a_data_error_naming_it(tmp_path, mlflow_uri, backbone_spec, capsys):
    root = build_office31(tmp_path / "data")
    mug = root / "office31" / "webcam" / "images" / "mug"
    shutil.rmtree(mug)
    loop(mug)
    with pytest.raises(DataError, match=f"cannot read {mug}: it is a symbolic link loop"):
        Office31(root).load("webcam", "all")
    # `udabench data info`: listed as a problem, no traceback
    assert udabench.cli.main(["data", "info", "office31", "--root", str(root), "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert f"cannot read {mug}: it is a symbolic link loop" in out and "amazon" in out
    # `udabench run`: exit 2 with the message
    argv = ["run", "--method", "zeroshot", "--dataset", "office31", "--root", str(root), "--backbone", backbone_spec,
            "--device", "cpu", "--tracking-uri", mlflow_uri, "--no-progress", "--task", "A2W"]
    assert udabench.cli.main(argv) == 2
    err = capsys.readouterr().err
    assert f"cannot read {mug}: it is a symbolic link loop" in err and "Traceback" not in err


def test_a_symlink_loop_as_a_listed_class_folder_is_a_data_error_naming_it(tmp_path):
    root = build_visda(tmp_path)
    bike = root / "visda2017" / "validation" / "bicycle"
    shutil.rmtree(bike)
    loop(bike)
    with pytest.raises(DataError, match=f"cannot read {bike}: it is a symbolic link loop"):
        VisDA2017(root).load("validation", "all")


def test_a_symlink_loop_among_the_images_is_named_and_skip_bad_images_leaves_it_out(
        tmp_path, mlflow_uri, backbone_spec, small_confusion_plot, capsys):
    root = build_office31(tmp_path / "data")
    looped = loop(root / "office31" / "webcam" / "images" / "bike" / "frame_0002.jpg")
    odd = loop(root / "office31" / "webcam" / "images" / "mug" / "notes")
    with pytest.raises(DataError, match=f"cannot read {odd}: it is a symbolic link loop"):
        Office31(root).load("webcam", "all")  # an entry that is not an image: named by the scan
    os.unlink(odd)
    images = Office31(root).load("webcam", "all")
    assert str(looped) in images.source.paths  # an image that cannot be read: kept, to fail or be skipped
    # `data info --verify` names it
    assert udabench.cli.main(["data", "info", "office31", "--root", str(root), "--verify", "--no-progress"]) == 1
    out = capsys.readouterr().out
    assert f"cannot read image {looped}" in out and "Too many levels of symbolic links" in out
    argv = ["run", "--method", "zeroshot", "--dataset", "office31", "--root", str(root), "--backbone", backbone_spec,
            "--device", "cpu", "--tracking-uri", mlflow_uri, "--no-progress", "--task", "A2W"]
    # by default the run fails, naming it ...
    assert udabench.cli.main(argv) == 2
    err = capsys.readouterr().err
    assert f"cannot read image {looped}" in err and "Traceback" not in err
    # ... and --skip-bad-images leaves it out, counted
    assert udabench.cli.main(argv + ["--skip-bad-images"]) == 0
    (finished,) = Tracker(mlflow_uri).task_runs("office31")
    assert finished.data.tags["udabench.skipped_bad_images"] == "1"
    assert finished.data.tags["udabench.skipped_bad_images_examples"] == str(looped)
