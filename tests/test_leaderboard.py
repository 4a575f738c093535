"""The leaderboard of a dataset: what failed (counted, and listed by reason), configurations
labelled by what they change, and the machine-readable formats (json, csv); ``udabench list
--format json``; a sweep's table as json and csv.

One store is built once for the module (about 10 runs on one task with a random-weight toyclip)
and only read by the tests:

* ``zeroshot`` defaults: seed 0 finished; seed 1 failed ("disk full"), then finished when run
  again; seed 2 failed and never finished. So: 2 seeds in, 1 failed.
* ``zeroshot`` with ``logit_scale=50``: seed 0 finished.
* ``linear-probe`` with ``holdout=0.3, max_iter=200``: seed 0 finished.
* ``test-lb-failing`` defaults: seeds 0 and 1 FAILED ("RuntimeError: boom in adapt").
* ``test-lb-failing`` with ``error=interrupt``: seed 0 KILLED.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import types

import pytest

import udabench.protocol.runner
from udabench import HParam, Method, Setting, hookimpl
from udabench.cli import main
from udabench.contract.registry import PluginInfo, get_registry
from udabench.protocol.options import RunOptions
from udabench.protocol.runner import RunRequest, RunsFailedError, execute

DATASET = "digits"
TASK = "printed2handwritten"
FAILING = "test-lb-failing"
BUILTIN_METHODS = {"zeroshot", "linear-probe", "source-ft", "dapl", "dampl", "clipdiv", "reclip", "dac",
                   "fewshot-probe"}


class FailingMethod(Method):
    """Raises during adaptation (RuntimeError), or is interrupted (KeyboardInterrupt)."""

    name = FAILING
    setting = Setting.ZERO_SHOT
    summary = "test only: fails during adaptation"
    hparams = (HParam("error", "runtime", "what adapt raises", choices=("runtime", "interrupt")),)

    def adapt(self, ctx, backbone, data):
        if self.config.error == "interrupt":
            raise KeyboardInterrupt
        raise RuntimeError("boom in adapt")


def _run(uri: str, spec: str, method: str, seeds, set_pairs=None):
    req = RunRequest(method=method, dataset=DATASET, tasks=[TASK], seeds=list(seeds), backbone=spec,
                     set_pairs=set_pairs or {},
                     options=RunOptions(tracking_uri=uri, progress=False, device="cpu", workers=0))
    return execute(req, echo=lambda s: None)


def _disk_full(result):
    raise OSError("disk full")


@pytest.fixture(scope="module")
def store(tmp_path_factory, _mlflow_template, backbone_spec):
    """The module's store (see the module docstring); yields its URI and what the runs measured."""
    work = tmp_path_factory.mktemp("leaderboard")
    shutil.copy(_mlflow_template, work / "mlflow.db")
    uri = f"sqlite:///{work / 'mlflow.db'}"
    mp = pytest.MonkeyPatch()
    mp.chdir(work)  # artifacts of the SQLite store land under ./mlruns
    mp.setenv("MLFLOW_TRACKING_URI", uri)
    from mlflow.tracking import MlflowClient

    reg = get_registry()

    @hookimpl
    def register_methods(register):
        register(FailingMethod)

    plugin = types.ModuleType("udabench_test_leaderboard_plugin")
    plugin.register_methods = register_methods
    info = PluginInfo(name="test-leaderboard-plugin", module="tests")
    reg.add_plugin(plugin, info)
    assert info.error is None, info.error
    try:
        finished = {}
        (finished["zeroshot", 0],) = _run(uri, backbone_spec, "zeroshot", [0])
        for seed in (1, 2):
            with mp.context() as m:
                m.setattr(udabench.protocol.runner, "per_class_csv", _disk_full)
                with pytest.raises(RunsFailedError, match="disk full"):  # top1 logged, then FAILED
                    _run(uri, backbone_spec, "zeroshot", [seed])
        (finished["zeroshot", 1],) = _run(uri, backbone_spec, "zeroshot", [1])  # seed 1 again: finishes
        (finished["zeroshot-50", 0],) = _run(uri, backbone_spec, "zeroshot", [0], {"logit_scale": 50})
        (finished["linear-probe", 0],) = _run(uri, backbone_spec, "linear-probe", [0],
                                              {"holdout": 0.3, "max_iter": 200})
        # A random backbone scores 10% everywhere: give the finished runs values that tell them apart
        # (a later step of the same metric is the run's value). The failed runs keep their 10%.
        top1 = {("zeroshot", 0): 40.0, ("zeroshot", 1): 42.0, ("zeroshot-50", 0): 30.0, ("linear-probe", 0): 55.5}
        client = MlflowClient(tracking_uri=uri)
        for slot, value in top1.items():
            client.log_metric(finished[slot].run_id, "top1", value, step=1)
        with pytest.raises(RunsFailedError, match="2 of 2 runs failed"):
            _run(uri, backbone_spec, FAILING, [0, 1])
        with pytest.raises(KeyboardInterrupt):
            _run(uri, backbone_spec, FAILING, [0], {"error": "interrupt"})
        yield types.SimpleNamespace(uri=uri, top1=top1, backbone=backbone_spec)
    finally:
        reg.methods.pop(FAILING, None)
        reg.origin.pop(("method", FAILING), None)
        reg.plugins.pop(info.name, None)
        if reg.pm.is_registered(plugin):
            reg.pm.unregister(plugin)
        mp.undo()


def _board(store, capsys, *extra) -> str:
    capsys.readouterr()
    assert main(["leaderboard", "--dataset", DATASET, "--tracking-uri", store.uri, "--no-references", *extra]) == 0
    return capsys.readouterr().out


def _json_rows(store, capsys) -> dict[str, dict]:
    rows = json.loads(_board(store, capsys, "--format", "json"))
    assert isinstance(rows, list)
    return {r["label"]: r for r in rows}


def _cells(line: str) -> list[str]:
    """The cells of a row of a `github` table."""
    return [c.strip() for c in line.strip().strip("|").split("|")]


def _md_rows(text: str) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the first `github` table in ``text``."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    return _cells(lines[0]), [_cells(line) for line in lines[2:]]


# -- what failed ---------------------------------------------------------------------------------------
def test_failed_runs_are_counted_and_listed_by_reason(store, capsys):
    out = _board(store, capsys, "--format", "github")
    head, _, failures = out.partition("Failed runs")
    assert "failed = FAILED or KILLED runs" in head.splitlines()[0]
    header, table = _md_rows(head)
    assert header[:3] == ["method", "backbone", "config"] and "failed" in header
    rows = {c[0]: dict(zip(header, c)) for c in table}
    assert (rows["zeroshot"][TASK], rows["zeroshot"]["avg"], rows["zeroshot"]["seeds"]) == ("41.0 ± 1.4", "41.0*", "2")
    assert (rows[FAILING][TASK], rows[FAILING]["avg"], rows[FAILING]["seeds"]) == ("", "", "")
    # zeroshot seed 1 failed, then finished: not a failure; seed 2 never finished: one.
    assert rows["zeroshot"]["failed"] == "1"
    assert rows["zeroshot (logit_scale=50.0)"]["failed"] == "0"
    assert rows[FAILING]["failed"] == "2"
    assert rows[f"{FAILING} (error=interrupt)"]["failed"] == "1"

    assert failures.startswith(" (4)")  # 1 + 2 + 1 runs
    header, table = _md_rows(failures)
    assert header == ["method", "backbone", "config", "runs", "reason"]
    assert sorted((r[0], r[3], r[4]) for r in table) == sorted([
        ("zeroshot", "1", "OSError: disk full"),
        (FAILING, "2", "RuntimeError: boom in adapt"),  # two runs, one line
        (f"{FAILING} (error=interrupt)", "1", "interrupted (KILLED)"),
    ])


def test_a_row_whose_runs_all_failed_still_appears(store, capsys):
    rows = _json_rows(store, capsys)
    row = rows[FAILING]
    assert row["failed"] == 2
    assert row["failures"] == [{"reason": "RuntimeError: boom in adapt", "runs": 2}]
    assert row["avg"] is None and row["complete"] is False
    assert all(s == {"mean": None, "std": None, "n": 0} for s in row["tasks"].values())
    assert list(rows)[:3] == ["linear-probe (holdout=0.3, max_iter=200)", "zeroshot",
                              "zeroshot (logit_scale=50.0)"]  # best average first, rows without results last
    assert set(list(rows)[3:]) == {FAILING, f"{FAILING} (error=interrupt)"}
    csv_rows = {r["label"]: r for r in csv.DictReader(io.StringIO(_board(store, capsys, "--format", "csv")))}
    assert csv_rows[FAILING]["failed"] == "2" and csv_rows[FAILING][f"{TASK} n"] == "0"
    assert csv_rows[FAILING][f"{TASK} mean"] == "" and csv_rows[FAILING]["avg"] == ""


# -- labels ---------------------------------------------------------------------------------------------
def test_configurations_are_labelled_by_what_differs_from_the_defaults(store, capsys):
    from mlflow.tracking import MlflowClient

    rows = _json_rows(store, capsys)
    assert {"zeroshot", "zeroshot (logit_scale=50.0)", "linear-probe (holdout=0.3, max_iter=200)"} <= set(rows)
    assert rows["zeroshot"]["overrides"] == {}
    assert rows["zeroshot (logit_scale=50.0)"]["overrides"] == {"logit_scale": "50.0"}
    # linear-probe is alone, yet labelled: its configuration is not the default one
    assert rows["linear-probe (holdout=0.3, max_iter=200)"]["overrides"] == {"holdout": "0.3", "max_iter": "200"}

    # the config column is the runs' configuration hash
    client = MlflowClient(tracking_uri=store.uri)
    exp = client.get_experiment_by_name(DATASET)
    hashes = {(r.data.tags["udabench.method"], r.data.params.get("logit_scale")): r.data.tags["udabench.config_hash"]
              for r in client.search_runs([exp.experiment_id], "tags.`udabench.kind` = 'task'")}
    assert rows["zeroshot"]["config"] == hashes["zeroshot", "100.0"]
    assert rows["zeroshot (logit_scale=50.0)"]["config"] == hashes["zeroshot", "50.0"]
    assert rows["zeroshot"]["config"] != rows["zeroshot (logit_scale=50.0)"]["config"]
    out = _board(store, capsys, "--format", "github")
    header, table = _md_rows(out)
    (row,) = [r for r in table if r[0] == "zeroshot (logit_scale=50.0)"]
    assert row[header.index("config")] == hashes["zeroshot", "50.0"]
    assert "[cfg" not in out


def test_without_the_method_installed_labels_name_what_differs_among_its_rows(store):
    from udabench.tracking.leaderboard import collect
    from udabench.tracking.tracker import Tracker

    runs = Tracker(store.uri).task_runs(DATASET, status=None)
    labels = {e.label for e in collect(runs, "top1", defaults={})}  # no method known
    assert {"zeroshot (logit_scale=100.0)", "zeroshot (logit_scale=50.0)", "linear-probe",
            f"{FAILING} (error=runtime)", f"{FAILING} (error=interrupt)"} <= labels


# -- machine-readable -----------------------------------------------------------------------------------
def test_json_has_numbers_not_rendered_cells(store, capsys):
    rows = _json_rows(store, capsys)
    zs = rows["zeroshot"]
    assert (zs["method"], zs["backbone"], zs["dataset"], zs["metric"]) == ("zeroshot", store.backbone, DATASET, "top1")
    cell = zs["tasks"][TASK]
    assert cell == {"mean": 41.0, "std": pytest.approx(2 ** 0.5), "n": 2}  # seeds 0 and 1 (its retry)
    assert zs["avg"] == 41.0 and zs["complete"] is False  # one of six tasks
    assert zs["failed"] == 1 and zs["failures"] == [{"reason": "OSError: disk full", "runs": 1}]
    assert isinstance(zs["eval_images_per_s"], float) and zs["eval_images_per_s"] > 0
    assert isinstance(zs["peak_mem_mb"], float)
    one = rows["zeroshot (logit_scale=50.0)"]["tasks"][TASK]
    assert one == {"mean": store.top1["zeroshot-50", 0], "std": None, "n": 1}
    assert rows["linear-probe (holdout=0.3, max_iter=200)"]["avg"] == store.top1["linear-probe", 0]
    assert all(s["n"] == 0 for t, s in zs["tasks"].items() if t != TASK)


def test_csv_has_mean_std_and_n_columns(store, capsys):
    out = _board(store, capsys, "--format", "csv")
    assert out.isascii() and "±" not in out
    reader = csv.DictReader(io.StringIO(out))
    assert reader.fieldnames[:4] == ["method", "label", "backbone", "config"]
    assert [f"{TASK} mean", f"{TASK} std", f"{TASK} n"] == [c for c in reader.fieldnames if c.startswith(TASK)]
    rows = {r["label"]: r for r in reader}
    zs = rows["zeroshot"]
    assert float(zs[f"{TASK} mean"]) == 41.0
    assert float(zs[f"{TASK} std"]) == pytest.approx(2 ** 0.5, abs=1e-4)
    assert float(zs["avg"]) == 41.0
    assert zs[f"{TASK} n"] == "2" and zs["failed"] == "1" and zs["complete"] == "false"
    lp = rows["linear-probe (holdout=0.3, max_iter=200)"]
    assert float(lp[f"{TASK} mean"]) == store.top1["linear-probe", 0]
    assert lp[f"{TASK} std"] == "" and lp[f"{TASK} n"] == "1" and lp["method"] == "linear-probe"


def test_list_as_json_names_every_builtin(capsys):
    assert main(["list", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"methods", "datasets", "backbones", "launchers", "validators", "failed_plugins"}
    methods = {m["name"]: m for m in data["methods"]}
    assert BUILTIN_METHODS <= set(methods), BUILTIN_METHODS - set(methods)
    zs = methods["zeroshot"]
    assert zs["setting"] == "zero-shot" and zs["seed_independent"] is True
    scale = next(h for h in zs["hparams"] if h["name"] == "logit_scale")
    assert (scale["default"], scale["type"], scale["choices"]) == (100.0, "float", None)
    assert zs["from"]["plugin"] and zs["from"]["origin"]
    assert methods["dampl"]["label"] == "dampl (reconstruction)"
    digits = next(d for d in data["datasets"] if d["name"] == DATASET)
    assert TASK in {t["name"] for t in digits["tasks"]} and len(digits["classes"]) == 10
    assert "toyclip" in {b["name"] for b in data["backbones"]}
    assert {"serial", "local", "submitit", "ray"} <= {l["name"] for l in data["launchers"]}
    assert isinstance(data["failed_plugins"], list)


# -- a sweep's table -------------------------------------------------------------------------------------
def test_sweep_table_as_json_and_csv():
    from udabench.sweep.jobs import FAILED, FINISHED, MISSING, Job, JobState
    from udabench.sweep.report import sweep_csv, sweep_records, sweep_table

    tasks = ["printed2handwritten", "printed2sevenseg"]
    jobs = [Job("s", i, "linear-probe", DATASET, t, seed, "toyclip", "abc1234567") for i, (t, seed) in
            enumerate([(t, s) for t in tasks for s in (0, 1)], 1)]
    states = {jobs[0].key: JobState(FINISHED, "FINISHED", metrics={"top1": 40.0}),
              jobs[1].key: JobState(FINISHED, "FINISHED", metrics={"top1": 42.0}),
              jobs[2].key: JobState(FAILED, "FAILED", error="RuntimeError: boom\ntraceback..."),
              jobs[3].key: JobState(MISSING)}
    (rec,) = sweep_records(jobs, states, "top1", sweep="s")
    assert rec["tasks"][tasks[0]] == {"mean": 41.0, "std": pytest.approx(2 ** 0.5), "n": 2}
    assert rec["tasks"][tasks[1]] == {"mean": None, "std": None, "n": 0}
    assert (rec["avg"], rec["complete"], rec["finished"], rec["failed"], rec["missing"]) == (41.0, False, 2, 1, 1)
    assert rec["failures"] == [{"reason": "RuntimeError: boom", "runs": 1}]
    assert rec["config"] == "abc1234567"
    json.loads(json.dumps(rec))

    header, rows = sweep_csv([rec])
    assert header[-3:] == ["finished", "failed", "missing"]
    row = dict(zip(header, rows[0]))
    assert (row[f"{tasks[0]} mean"], row[f"{tasks[0]} n"], row[f"{tasks[1]} mean"]) == ("41.0", "2", "")
    assert float(row[f"{tasks[0]} std"]) == pytest.approx(2 ** 0.5, abs=1e-4)
    header, rows = sweep_table(jobs, states, "top1")
    assert rows[0][2:] == ["41.0 ± 1.4", "", "41.0*", "2", "2", "1", "1"]
