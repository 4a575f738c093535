"""What a run leaves in MLflow: experiment, parent and child runs, tags, params, metrics,
artifacts and end status (finished, failed, interrupted), and the leaderboard drawn from it.

The backbone is a random-weight toyclip written once per module, and digits is cut to 20
images per class and split: these tests check tracking, not accuracy, so they depend neither on
the shipped pretrained weights nor on the size of the data.
"""

from __future__ import annotations

import csv
import io
import json
import types
from pathlib import Path

import numpy as np
import pytest

import udabench
import udabench.cli
import udabench.protocol.runner
from udabench import HParam, Method, Setting, hookimpl
from udabench.contract.registry import PluginInfo, get_registry
from udabench.protocol.options import RunOptions
from udabench.protocol.runner import RunRequest, RunsFailedError, execute, resolve_config

DATASET = "digits"
TASK = "printed2handwritten"
CHILD_TAGS = ("method", "setting", "dataset", "task", "source", "target", "backbone", "seed", "version",
              "git_commit", "config_hash")
CHILD_ARTIFACTS = {"config.yaml", "per_class_accuracy.csv", "confusion_matrix.png"}
FAILING = "test-failing"


# -- fixtures ----------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _small_digits(small_digits):
    small_digits(20)


def _request(method: str, uri: str, spec: str, seeds=(0,), **kw) -> RunRequest:
    return RunRequest(method=method, dataset=DATASET, tasks=[TASK], seeds=list(seeds) if seeds else None,
                      backbone=spec, options=RunOptions(tracking_uri=uri, progress=False, device="cpu"), **kw)


def _run(method: str, uri: str, spec: str, seeds=(0,), **kw):
    return execute(_request(method, uri, spec, seeds, **kw), echo=lambda s: None)


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _runs(client, kind: str | None = None) -> list:
    exp = client.get_experiment_by_name(DATASET)
    assert exp is not None, f"no experiment named {DATASET!r}"
    flt = f"tags.`udabench.kind` = '{kind}'" if kind else ""
    return client.search_runs([exp.experiment_id], filter_string=flt, max_results=1000)


def _parent_and_child(client):
    parents, children = _runs(client, "command"), _runs(client, "task")
    assert len(parents) == 1, [r.info.run_name for r in parents]
    assert len(children) == 1, [r.info.run_name for r in children]
    return parents[0], children[0]


def _read_artifact(client, run_id: str, path: str, dst: Path) -> bytes:
    dst.mkdir(parents=True, exist_ok=True)
    local = client.download_artifacts(run_id, path, str(dst))
    return Path(local).read_bytes()


class FailingMethod(Method):
    """Logs a training metric, then raises what its `error` hyperparameter says."""

    name = FAILING
    setting = Setting.ZERO_SHOT
    summary = "test only: fails during adaptation"
    hparams = (HParam("error", "runtime", "what adapt raises",
                      choices=("runtime", "interrupt", "seed0", "protocol-metric")),)

    def adapt(self, ctx, backbone, data):
        if self.config.error == "protocol-metric":
            ctx.log_metrics({"top1": 99.0}, 5)
        ctx.log_metrics({"train/loss": 1.0}, 1)
        if self.config.error == "interrupt":
            raise KeyboardInterrupt
        if self.config.error == "seed0" and ctx.seed != 0:
            from udabench import FeatureClassifier, text_head

            return FeatureClassifier(backbone, text_head(backbone.text_classifier(data.prompt_names, data.templates)))
        raise RuntimeError("boom in adapt")


@pytest.fixture
def failing_method():
    """`test-failing`, registered in the process registry for one test, then removed."""
    reg = get_registry()

    @hookimpl
    def register_methods(register):
        register(FailingMethod)

    plugin = types.ModuleType("udabench_test_failing_plugin")
    plugin.register_methods = register_methods
    info = PluginInfo(name="test-failing-plugin", module="tests")
    reg.add_plugin(plugin, info)
    assert info.error is None, info.error
    assert reg.methods.get(FAILING) is FailingMethod
    try:
        yield FAILING
    finally:
        reg.methods.pop(FAILING, None)
        reg.origin.pop(("method", FAILING), None)
        reg.plugins.pop(info.name, None)
        if reg.pm.is_registered(plugin):
            reg.pm.unregister(plugin)
        assert FAILING not in reg.methods


def test_one_failed_run_does_not_stop_the_others(mlflow_uri, backbone_spec, failing_method):
    with pytest.raises(RunsFailedError, match="1 of 2 runs failed"):
        _run(failing_method, mlflow_uri, backbone_spec, seeds=(0, 1), set_pairs={"error": "seed0"})
    client = _client(mlflow_uri)
    status = {r.data.tags["udabench.seed"]: r.info.status for r in _runs(client, "task")}
    assert status == {"0": "FAILED", "1": "FINISHED"}
    (parent,) = _runs(client, "command")
    assert parent.info.status == "FAILED" and "avg_top1" in parent.data.metrics  # the summary was kept


def test_a_method_cannot_overwrite_the_protocols_metrics(mlflow_uri, backbone_spec, failing_method):
    with pytest.raises(RunsFailedError, match="protocol owns those names"):
        _run(failing_method, mlflow_uri, backbone_spec, set_pairs={"error": "protocol-metric"})


# -- 1. a finished run ---------------------------------------------------------------------------
def test_finished_run_is_fully_recorded(mlflow_uri, backbone_spec, tmp_path):
    import yaml

    records = _run("source-ft", mlflow_uri, backbone_spec, set_pairs={"epochs": 1})
    assert len(records) == 1
    rec = records[0]
    client = _client(mlflow_uri)

    # one experiment, named after the dataset, holding every run
    names = {e.name for e in client.search_experiments()} - {"Default"}
    assert names == {DATASET}
    parent, child = _parent_and_child(client)
    assert len(_runs(client)) == 2
    assert child.info.run_id == rec.run_id

    # nesting and status
    assert parent.data.tags["udabench.kind"] == "command"
    assert "mlflow.parentRunId" not in parent.data.tags
    assert child.data.tags["udabench.kind"] == "task"
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert parent.info.status == "FINISHED"
    assert child.info.status == "FINISHED"
    assert "udabench.error" not in child.data.tags and "udabench.error" not in parent.data.tags

    # tags
    method_cls = get_registry().method("source-ft")
    digest = resolve_config(_request("source-ft", mlflow_uri, backbone_spec, set_pairs={"epochs": 1}),
                            method_cls, get_registry().dataset(DATASET)).digest()
    tags = child.data.tags
    for name in CHILD_TAGS:
        assert tags.get(f"udabench.{name}"), f"child run lacks tag udabench.{name}"
    expected = {"method": "source-ft", "setting": "source-only", "dataset": DATASET, "task": TASK,
                "source": "printed", "target": "handwritten", "backbone": backbone_spec, "seed": "0",
                "version": udabench.__version__, "config_hash": digest}
    assert {k: tags[f"udabench.{k}"] for k in expected} == expected
    assert parent.data.tags["udabench.config_hash"] == digest

    # params: every declared hyperparameter, with its resolved value, plus the seed
    params = child.data.params
    declared = {h.name for h in method_cls.hparams}
    assert declared <= set(params), declared - set(params)
    assert params["seed"] == "0"
    assert params["epochs"] == "1"  # the --set value, not the default 10
    assert params["batch_size"] == "64"  # the digits override
    assert declared <= set(parent.data.params)

    # metrics
    m = child.data.metrics
    for name in ("top1", "mean_class_acc", "eval_images_per_s", "peak_mem_mb", "wall_s", "adapt_images_per_s"):
        assert name in m, f"child run lacks metric {name}"
        assert np.isfinite(m[name])
    assert m["top1"] == pytest.approx(rec.result.metrics["top1"])
    assert m["mean_class_acc"] == pytest.approx(rec.result.metrics["mean_class_acc"])
    assert 0 <= m["top1"] <= 100
    for name in ("eval_images_per_s", "peak_mem_mb", "wall_s", "adapt_images_per_s"):
        assert m[name] > 0, name
    history = client.get_metric_history(child.info.run_id, "train/loss")
    steps = sorted(h.step for h in history)
    assert len(steps) > 1
    assert steps == list(range(1, len(steps) + 1))  # one value per optimisation step
    assert parent.data.metrics["avg_top1"] == pytest.approx(m["top1"])

    # child artifacts
    assert {a.path for a in client.list_artifacts(child.info.run_id)} >= CHILD_ARTIFACTS
    cfg = yaml.safe_load(_read_artifact(client, child.info.run_id, "config.yaml", tmp_path / "a"))
    assert cfg["method"] == "source-ft" and cfg["tasks"] == [TASK] and cfg["seeds"] == [0]
    assert cfg["hyperparameters"]["epochs"] == 1
    rows = list(csv.reader(io.StringIO(
        _read_artifact(client, child.info.run_id, "per_class_accuracy.csv", tmp_path / "b").decode())))
    assert rows[0] == ["class", "accuracy", "support"]
    assert len(rows) == 11
    assert [r[0] for r in rows[1:]] == list(get_registry().dataset(DATASET).classes)
    assert sum(int(r[2]) for r in rows[1:]) == rec.result.metrics["eval_images"]
    png = _read_artifact(client, child.info.run_id, "confusion_matrix.png", tmp_path / "c")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")

    # parent artifact: the results table
    table = json.loads(_read_artifact(client, parent.info.run_id, "results.json", tmp_path / "d"))
    row = dict(zip(table["columns"], table["data"][0]))
    assert len(table["data"]) == 1
    assert row["task"] == TASK and row["seeds"] == 1
    assert row["mean"] == pytest.approx(m["top1"])


# -- 2. an exception during adaptation ------------------------------------------------------------
def test_failed_run_is_marked_failed_with_its_metrics(mlflow_uri, backbone_spec, failing_method):
    with pytest.raises(RunsFailedError, match=r"(?s)1 of 1 runs failed.*RuntimeError: boom in adapt"):
        _run(failing_method, mlflow_uri, backbone_spec)
    client = _client(mlflow_uri)
    parent, child = _parent_and_child(client)
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert child.info.status == "FAILED"
    assert parent.info.status == "FAILED"
    assert child.data.metrics.get("train/loss") == 1.0  # measured before the failure, flushed
    for run in (child, parent):  # the parent's error lists the failed runs
        error = run.data.tags.get("udabench.error", "")
        assert "RuntimeError" in error and "boom in adapt" in error, (run.info.run_name, error)
    assert child.data.params["error"] == "runtime"
    assert "top1" not in child.data.metrics


# -- 3. Ctrl-C during adaptation --------------------------------------------------------------------
def test_interrupted_run_is_marked_killed(mlflow_uri, backbone_spec, failing_method):
    with pytest.raises(KeyboardInterrupt):
        _run(failing_method, mlflow_uri, backbone_spec, set_pairs={"error": "interrupt"})
    client = _client(mlflow_uri)
    parent, child = _parent_and_child(client)
    assert child.info.status == "KILLED"
    assert parent.info.status == "KILLED"
    assert child.data.metrics.get("train/loss") == 1.0
    assert "udabench.error" not in child.data.tags


def test_cli_returns_130_on_interrupt(mlflow_uri, backbone_spec, failing_method, capsys):
    code = udabench.cli.main(["run", "--method", failing_method, "--dataset", DATASET, "--task", TASK,
                              "--seeds", "0", "--backbone", backbone_spec, "--device", "cpu",
                              "--set", "error=interrupt", "--tracking-uri", mlflow_uri, "--no-progress"])
    assert code == 130
    assert "interrupted" in capsys.readouterr().err
    parent, child = _parent_and_child(_client(mlflow_uri))
    assert (child.info.status, parent.info.status) == ("KILLED", "KILLED")
    assert child.data.metrics.get("train/loss") == 1.0


# -- 4. the leaderboard ----------------------------------------------------------------------------
def _leaderboard_csv(uri: str, capsys) -> tuple[list[str], dict[str, dict[str, str]]]:
    capsys.readouterr()
    code = udabench.cli.main(["leaderboard", "--dataset", DATASET, "--tracking-uri", uri, "--format", "csv"])
    out = capsys.readouterr().out
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    header = rows[0]
    assert header[:4] == ["method", "label", "backbone", "config"] and f"{TASK} mean" in header
    return header, {r[1]: dict(zip(header, r)) for r in rows[1:] if r}  # by label


def test_leaderboard_counts_finished_runs_only(mlflow_uri, backbone_spec, capsys, monkeypatch):
    zs = _run("zeroshot", mlflow_uri, backbone_spec, seeds=None)
    assert len(zs) == 1  # seed-independent: one seed by default
    zs_hash = _client(mlflow_uri).get_run(zs[0].run_id).data.tags["udabench.config_hash"]
    lp = _run("linear-probe", mlflow_uri, backbone_spec, seeds=(0, 1))
    assert [r.seed for r in lp] == [0, 1]

    # A zeroshot run (same config, backbone and task, another seed) that measured top1 and then
    # failed writing an artifact: FAILED, so not a value, but counted as failed.
    def broken_csv(result):
        raise OSError("disk full")

    with monkeypatch.context() as mp:
        mp.setattr(udabench.protocol.runner, "per_class_csv", broken_csv)
        with pytest.raises(RunsFailedError, match="disk full"):
            _run("zeroshot", mlflow_uri, backbone_spec, seeds=(1,))
    client = _client(mlflow_uri)
    failed = [r for r in _runs(client, "task") if r.info.status == "FAILED"]
    assert len(failed) == 1 and failed[0].data.tags["udabench.seed"] == "1"
    assert failed[0].data.tags["udabench.config_hash"] == zs_hash
    assert "top1" in failed[0].data.metrics  # it would count, were status not checked

    header, rows = _leaderboard_csv(mlflow_uri, capsys)
    assert {"zeroshot", "linear-probe"} <= set(rows), list(rows)
    lp_row, zs_row = rows["linear-probe"], rows["zeroshot"]
    assert lp_row["backbone"] == zs_row["backbone"] == backbone_spec

    vals = np.array([r.result.metrics["top1"] for r in lp])
    assert float(lp_row[f"{TASK} mean"]) == pytest.approx(vals.mean(), abs=1e-4)
    assert float(lp_row[f"{TASK} std"]) == pytest.approx(vals.std(ddof=1), abs=1e-4)
    assert (lp_row[f"{TASK} n"], lp_row["seeds"], lp_row["failed"]) == ("2", "2", "0")

    assert float(zs_row[f"{TASK} mean"]) == pytest.approx(zs[0].result.metrics["top1"], abs=1e-4)
    assert zs_row[f"{TASK} std"] == ""  # one value: no std
    assert (zs_row[f"{TASK} n"], zs_row["seeds"]) == ("1", "1")  # the failed seed-1 run is left out ...
    assert zs_row["failed"] == "1"  # ... and counted as failed
    for col in header[header.index("weights") + 1:header.index("avg")]:
        if not col.startswith(TASK):
            assert lp_row[col] == zs_row[col] == ("0" if col.endswith(" n") else ""), col
    assert lp_row["complete"] == "false"  # not every standard task was run


# -- 5. against a real tracking server (`python -m pytest -m slow`: the server takes 30-50 s to start) --
@pytest.mark.slow
@pytest.mark.server
def test_end_to_end_against_tracking_server(mlflow_server, backbone_spec, tmp_path, monkeypatch, capsys):
    url = mlflow_server
    monkeypatch.chdir(tmp_path)  # nothing may land in the working directory instead of the server
    records = _run("zeroshot", url, backbone_spec)
    client = _client(url)
    child = client.get_run(records[0].run_id)
    assert child.info.status == "FINISHED"
    assert child.data.tags["udabench.kind"] == "task"
    parent = client.get_run(child.data.tags["mlflow.parentRunId"])
    assert parent.info.status == "FINISHED"
    assert parent.data.tags["udabench.kind"] == "command"
    assert client.get_experiment(child.info.experiment_id).name == DATASET
    assert child.data.metrics["top1"] == pytest.approx(records[0].result.metrics["top1"])
    assert {"top1", "mean_class_acc", "eval_images_per_s", "peak_mem_mb", "wall_s"} <= set(child.data.metrics)
    assert child.data.params["logit_scale"] == "100.0"

    assert {a.path for a in client.list_artifacts(child.info.run_id)} >= CHILD_ARTIFACTS
    assert "results.json" in {a.path for a in client.list_artifacts(parent.info.run_id)}
    rows = list(csv.reader(io.StringIO(
        _read_artifact(client, child.info.run_id, "per_class_accuracy.csv", tmp_path / "dl").decode())))
    assert rows[0] == ["class", "accuracy", "support"] and len(rows) == 11
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / "mlflow.db").exists()

    _, lb = _leaderboard_csv(url, capsys)
    assert "zeroshot" in lb
    assert float(lb["zeroshot"][f"{TASK} mean"]) == pytest.approx(records[0].result.metrics["top1"], abs=1e-4)
