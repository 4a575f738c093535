"""The tracking store: checked before any work, a server that dies mid-run loses nothing,
concurrent writers on a new SQLite file, runs whose process died (docs/reliability.md,
"Tracking store")."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import types
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

from udabench import HParam, Method, Setting, hookimpl
from udabench.cli import main
from udabench.contract.registry import PluginInfo, get_registry
from udabench.tracking.spool import pending, spool_root

DATASET, TASK = "digits", "printed2handwritten"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def registered(*methods: type):
    """Method classes registered in the process registry for one test, then removed."""
    reg = get_registry()

    @hookimpl
    def register_methods(register):
        for cls in methods:
            register(cls)

    plugin = types.ModuleType(f"udabench_test_store_{id(methods)}")
    plugin.register_methods = register_methods
    info = PluginInfo(name=f"test-store-{id(methods)}", module="tests")
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


# -- A. the store is checked before any work --------------------------------------------------------
@contextmanager
def silent_listener():
    """A TCP port that accepts connections and never answers (a hung server)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


@pytest.mark.parametrize("kind", ["nothing-listens", "never-answers"])
def test_a_store_that_cannot_be_reached_fails_in_seconds_before_the_weights(kind, tmp_path, capsys, monkeypatch):
    """The backbone is a file that does not exist: had the weights been loaded first, the error
    would name them. Here the store is named, with how to start a server, in seconds."""
    for key in ("MLFLOW_HTTP_REQUEST_TIMEOUT", "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
                "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER"):
        monkeypatch.delenv(key, raising=False)
    with (silent_listener() if kind == "never-answers" else _nothing()) as url:
        url = url or f"http://127.0.0.1:{_free_port()}"
        start = time.monotonic()
        rc = main(["run", "--method", "zeroshot", "--dataset", DATASET, "--task", TASK, "--device", "cpu",
                   "--backbone", f"toyclip:{tmp_path / 'missing.safetensors'}", "--tracking-uri", url])
        elapsed = time.monotonic() - start
    err = capsys.readouterr().err
    assert rc == 2, err
    assert f"cannot use the MLflow store {url}" in err and "mlflow server --backend-store-uri" in err, err
    assert "missing.safetensors" not in err and "Traceback" not in err, err
    assert ("connection refused" if kind == "nothing-listens" else "did not answer in time") in err, err
    assert elapsed < (8 if kind == "nothing-listens" else 20), elapsed


@contextmanager
def _nothing():
    yield None


def test_udabench_sets_short_http_limits_only_where_the_user_has_not(monkeypatch):
    from udabench.tracking.tracker import (
        HTTP_DEFAULTS,
        Tracker,
        TrackingStoreUnavailableError,
    )

    for key in HTTP_DEFAULTS:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # the user's
    with pytest.raises(TrackingStoreUnavailableError):
        Tracker(f"http://127.0.0.1:{_free_port()}")
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "0"
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == HTTP_DEFAULTS["MLFLOW_HTTP_REQUEST_TIMEOUT"]
    from mlflow.environment_variables import (
        MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR,
        MLFLOW_HTTP_REQUEST_TIMEOUT,
    )

    assert MLFLOW_HTTP_REQUEST_TIMEOUT.get() == 10 and MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR.get() == 1


def test_a_store_mlflow_cannot_open_is_one_udabench_error(tmp_path, capsys):
    """A SQLite file under a regular file: MLflow's own exception becomes the message, exit 2."""
    (tmp_path / "afile").write_text("not a folder")
    uri = f"sqlite:///{tmp_path / 'afile' / 'mlflow.db'}"
    rc = main(["leaderboard", "--dataset", DATASET, "--tracking-uri", uri])
    err = capsys.readouterr().err
    assert rc == 2 and f"udabench: error: cannot use the MLflow store {uri}" in err, err
    assert "Traceback" not in err


# -- C. writers that create one new SQLite store at once ---------------------------------------------
def _one_writer(uri: str, i: int, barrier, cache: str) -> None:
    os.environ["UDABENCH_CACHE"] = cache
    from udabench.tracking.tracker import Tracker

    barrier.wait()
    tracker = Tracker(uri)
    with tracker.start_run("concurrent", f"writer {i}", {"udabench.kind": "task", "writer": i}) as run:
        run.log_metrics({"top1": float(i)})


@pytest.mark.parametrize("writers", [2, pytest.param(8, marks=pytest.mark.slow)])  # 8: about 15 s
def test_writers_creating_one_new_sqlite_store_at_once_are_all_recorded(writers, tmp_path):
    uri = f"sqlite:///{tmp_path / 'new.db'}"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(writers)
    procs = [ctx.Process(target=_one_writer, args=(uri, i, barrier, str(tmp_path / "cache"))) for i in range(writers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0] * writers
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("concurrent").experiment_id])
    assert sorted(r.data.metrics["top1"] for r in runs) == [float(i) for i in range(writers)]
    assert {r.info.status for r in runs} == {"FINISHED"}
    assert not list((tmp_path / "cache" / "spool").iterdir())  # stored: no spool left


# -- 8. a process killed mid-run ---------------------------------------------------------------------
def _killed_writer(uri: str, cache: str) -> None:
    os.environ["UDABENCH_CACHE"] = cache
    from udabench.tracking.tracker import Tracker

    tracker = Tracker(uri)
    run = tracker.start_run("killed", "killed run", {"udabench.kind": "task"})
    run.log_metrics({"train/loss": 0.5}, step=1)
    run.flush()
    run.log_metrics({"train/loss": 0.25}, step=2)  # buffered only: lost with the process
    os.kill(os.getpid(), signal.SIGKILL)


def test_sync_marks_the_run_of_a_killed_process_killed_with_what_it_wrote(tmp_path, mlflow_uri, monkeypatch, capsys):
    cache = tmp_path / "cache"
    ctx = multiprocessing.get_context("spawn")
    p = ctx.Process(target=_killed_writer, args=(mlflow_uri, str(cache)))
    p.start()
    p.join(120)
    assert p.exitcode == -signal.SIGKILL
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_uri)
    exp = client.get_experiment_by_name("killed").experiment_id
    (run,) = client.search_runs([exp])
    assert run.info.status == "RUNNING"
    monkeypatch.setenv("UDABENCH_CACHE", str(cache))
    assert len(pending()) == 1
    assert main(["sync"]) == 0
    out = capsys.readouterr().out
    assert "it never ended: marked KILLED" in out, out
    (run,) = client.search_runs([exp])
    assert run.info.status == "KILLED"
    assert "killed" in run.data.tags["udabench.error"]
    assert run.data.metrics["train/loss"] == 0.5
    assert pending() == []


# -- B. a tracking server that dies mid-run -----------------------------------------------------------
def _start_server(work: Path, db: Path, port: int) -> subprocess.Popen:
    log = open(work / f"server-{port}.log", "w")
    return subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{db}", "--artifacts-destination", str(work / "artifacts"),
         "--workers", "1"], stdout=log, stderr=subprocess.STDOUT, cwd=work, start_new_session=True,
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})  # no job runner: lighter


def _kill_server(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """The server and its uvicorn worker (its own process group, started above)."""
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    proc.wait(30)


def _wait_for(proc: subprocess.Popen, url: str, timeout: float = 150) -> None:
    deadline = time.time() + timeout
    while True:
        assert proc.poll() is None, "mlflow server exited"
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        assert time.time() < deadline, "mlflow server did not answer"
        time.sleep(0.5)


SERVER: dict = {}


class KillsTheStore(Method):
    """Zero-shot, but the tracking server is killed while it adapts; it logs before and after."""

    name = "test-kills-store"
    setting = Setting.ZERO_SHOT
    fidelity = "exact"
    seed_independent = True
    summary = "test: kills the tracking server from inside adapt"
    hparams = (HParam("logit_scale", 100.0, "logit scale", exclusive_minimum=0),)

    def adapt(self, ctx, backbone, data):
        from udabench import FeatureClassifier, text_head

        ctx.log_metrics({"train/before_kill": 1.0}, 0)
        _kill_server(SERVER["proc"])
        ctx.log_metrics({"train/after_kill": 2.0}, 1)
        weights = backbone.text_classifier(data.prompt_names, data.templates)
        return FeatureClassifier(backbone, text_head(weights, self.config.logit_scale))


@pytest.mark.slow
@pytest.mark.server
def test_a_server_killed_mid_run_loses_nothing_and_sync_puts_it_back(tmp_path, _mlflow_template, monkeypatch,
                                                                      capsys):
    """Two servers on one backend store start together (each takes 30-50 s here): the run writes to
    the first, which its method kills; the command ends in seconds with exit 2 and the spool; then
    `udabench sync --tracking-uri` the second puts every metric and artifact in the store."""
    from mlflow.tracking import MlflowClient

    work = tmp_path / "server"
    work.mkdir()
    db = work / "server.db"
    shutil.copy(_mlflow_template, db)
    monkeypatch.setenv("UDABENCH_CACHE", str(tmp_path / "cache"))
    port1, port2 = _free_port(), _free_port()
    url1, url2 = f"http://127.0.0.1:{port1}", f"http://127.0.0.1:{port2}"
    first, second = _start_server(work, db, port1), _start_server(work, db, port2)
    try:
        _wait_for(first, url1)
        SERVER["proc"] = first
        with registered(KillsTheStore):
            start = time.monotonic()
            rc = main(["run", "--method", KillsTheStore.name, "--dataset", DATASET, "--task", TASK,
                       "--device", "cpu", "--tracking-uri", url1])
            elapsed = time.monotonic() - start
        captured = capsys.readouterr()
        assert rc == 2, captured.err
        assert f"the MLflow store {url1} stopped answering" in captured.err, captured.err
        assert "udabench sync" in captured.err and str(spool_root()) in captured.err
        assert f"{TASK:<24} seed 0: top1" in captured.out  # evaluated, then kept in the spool
        assert elapsed < 60, elapsed
        assert len(pending()) == 2  # the command's parent run and the task run
        _wait_for(second, url2)
        # A new command, as a user types it (in this process MLflow would reuse the artifact
        # repository it cached for the dead server's address).
        sync = subprocess.run([sys.executable, "-m", "udabench", "sync", "--tracking-uri", url2],
                              capture_output=True, text=True, timeout=120)
        assert sync.returncode == 0, sync.stdout + sync.stderr
        assert "2 run(s) synced." in sync.stdout, sync.stdout
        assert pending() == []
        client = MlflowClient(tracking_uri=url2)
        exp = client.get_experiment_by_name(DATASET).experiment_id
        runs = client.search_runs([exp])
        (child,) = [r for r in runs if r.data.tags.get("udabench.kind") == "task"]
        (parent,) = [r for r in runs if r.data.tags.get("udabench.kind") == "command"]
        assert len(runs) == 2  # the runs created before the kill are continued, not duplicated
        assert child.info.status == "FINISHED" and child.data.tags["mlflow.parentRunId"] == parent.info.run_id
        for metric in ("top1", "mean_class_acc", "wall_s", "eval_images_per_s", "train/before_kill",
                       "train/after_kill"):
            assert metric in child.data.metrics, metric
        assert child.data.params["logit_scale"] == "100.0"
        artifacts = {a.path for a in client.list_artifacts(child.info.run_id)}
        assert {"config.yaml", "per_class_accuracy.csv", "confusion_matrix.png"} <= artifacts, artifacts
        assert parent.info.status == "FAILED" and "stopped answering" in parent.data.tags["udabench.error"]
    finally:
        for proc in (first, second):
            try:
                _kill_server(proc, signal.SIGTERM)
            except subprocess.TimeoutExpired:
                _kill_server(proc)


# -- D. runs whose process died: the heartbeat -------------------------------------------------------
DEAD_TAGS = {"udabench.kind": "task", "udabench.method": "zeroshot", "udabench.backbone": "toyclip",
             "udabench.config_hash": "c0ffee", "udabench.weights": "w", "udabench.precision": "fp32",
             "udabench.task": TASK, "udabench.seed": "1", "udabench.dataset": DATASET}


def _killed_task_run(uri: str, cache: str) -> None:
    os.environ["UDABENCH_CACHE"] = cache
    from udabench.tracking.tracker import Tracker

    run = Tracker(uri).start_run(DATASET, "zeroshot · seed 1", DEAD_TAGS)
    run.log_metrics({"train/loss": 0.5})
    run.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _leaderboard(capsys) -> list[dict]:
    import json

    assert main(["leaderboard", "--dataset", DATASET, "--format", "json", "--no-references"]) == 0
    return [r for r in json.loads(capsys.readouterr().out) if r["method"] == "zeroshot"]


def test_a_run_whose_process_was_killed_is_shown_dead_and_runs_gc_marks_it_killed(tmp_path, mlflow_uri, monkeypatch,
                                                                                 capsys):
    from mlflow.tracking import MlflowClient

    from udabench.tracking.tracker import HEARTBEAT_TAG

    p = multiprocessing.get_context("spawn").Process(target=_killed_task_run, args=(mlflow_uri, str(tmp_path / "c")))
    p.start()
    p.join(120)
    assert p.exitcode == -signal.SIGKILL
    client = MlflowClient(tracking_uri=mlflow_uri)
    (run,) = client.search_runs([client.get_experiment_by_name(DATASET).experiment_id])
    assert run.info.status == "RUNNING" and HEARTBEAT_TAG in run.data.tags
    # Within the heartbeat's grace it may still be running: not a failure, not a result.
    monkeypatch.setenv("UDABENCH_DEAD_AFTER_MIN", "10")
    assert _leaderboard(capsys) == []
    time.sleep(1.2)
    monkeypatch.setenv("UDABENCH_DEAD_AFTER_MIN", "0.01")  # 0.6 s without a heartbeat: dead
    (row,) = _leaderboard(capsys)
    assert row["failed"] == 1 and row["failures"][0]["reason"].startswith("died: RUNNING with no heartbeat since")
    assert "udabench runs gc" in row["failures"][0]["reason"]
    assert main(["runs", "gc", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert run.info.run_id in out and "1 dead run(s)" in out and "would be marked KILLED (dry run)" in out, out
    assert client.get_run(run.info.run_id).info.status == "RUNNING"
    assert main(["runs", "gc"]) == 0
    assert "-> KILLED" in capsys.readouterr().out
    after = client.get_run(run.info.run_id)
    assert after.info.status == "KILLED" and after.data.tags["udabench.error"].startswith("died: RUNNING")
    assert after.data.metrics["train/loss"] == 0.5
    (row,) = _leaderboard(capsys)
    assert row["failed"] == 1 and row["failures"][0]["reason"] == "interrupted (KILLED)"


def test_a_live_run_refreshes_its_heartbeat(mlflow_uri):
    from udabench.tracking.tracker import HEARTBEAT_TAG, Tracker

    tracker = Tracker(mlflow_uri)
    with tracker.start_run("beats", "live", {"udabench.kind": "task"}) as run:
        first = int(tracker.client.get_run(run.run_id).data.tags[HEARTBEAT_TAG])
        run._beat.set()  # the 30-s thread of this run: replaced by a fast one for the test
        run._beat = None
        run.start_heartbeat(every=0.2)
        deadline = time.time() + 10
        while int(tracker.client.get_run(run.run_id).data.tags[HEARTBEAT_TAG]) <= first:
            assert time.time() < deadline, "the heartbeat was not refreshed"
            time.sleep(0.3)
    assert tracker.client.get_run(run.run_id).info.status == "FINISHED"


def test_sweep_dry_run_names_a_dead_job(tmp_path, mlflow_uri, monkeypatch):
    from udabench.sweep.jobs import DEAD, JobState, _fold

    p = multiprocessing.get_context("spawn").Process(target=_killed_task_run, args=(mlflow_uri, str(tmp_path / "c")))
    p.start()
    p.join(120)
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_uri)
    (run,) = client.search_runs([client.get_experiment_by_name(DATASET).experiment_id])
    state = JobState()
    _fold(state, run)
    assert state.run_status == "RUNNING"  # within the grace
    time.sleep(1.2)
    monkeypatch.setenv("UDABENCH_DEAD_AFTER_MIN", "0.01")
    state = JobState()
    _fold(state, run)
    assert state.run_status == DEAD and state.status == "missing" and "no heartbeat" in state.error
