"""Sweeps: expansion into jobs, run keys, skip and resume, launchers as plugins, and the
sweep's leaderboard; end to end through the local, submitit and Ray launchers against a real
MLflow server (many processes, one store)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from udabench.cli import main
from udabench.contract.errors import ConfigError, UnknownNameError
from udabench.contract.registry import get_registry
from udabench.protocol.options import RunOptions
from udabench.protocol.runner import RUN_KEY_TAG, run_key
from udabench.sweep.jobs import FAILED, FINISHED, MISSING, SWEEP_TAG, JobState, SweepError, select
from udabench.sweep.spec import expand, load_sweep

DATASET = "digits"
#: The sweep of the end-to-end tests: 2 seeded methods x 2 tasks x 3 seeds = 12 jobs, each a
#: few seconds on CPU. Each launcher's test gets its own two tasks, so that the three sweeps,
#: which share one MLflow server, have no run key in common.
METHODS = """\
methods:
  linear-probe: {set: {c_values: [1.0], max_iter: 100}}
  source-ft: {set: {epochs: 1}}
"""


def write_sweep(path, name: str, body: str, backbone: str | None = None, tasks=None, seeds=(0, 1, 2)) -> str:
    text = f"name: {name}\ndatasets: [{DATASET}]\n" + textwrap.dedent(body)
    if tasks:
        text += f"tasks: [{', '.join(tasks)}]\n"
    if seeds:
        text += f"seeds: [{', '.join(map(str, seeds))}]\n"
    if backbone:
        text += f"backbones: ['{backbone}']\n"
    file = path / f"{name}.yaml"
    file.write_text(text)
    return str(file)


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def sweep_task_runs(uri: str, name: str) -> list:
    client = _client(uri)
    exp = client.get_experiment_by_name(DATASET)
    if exp is None:
        return []
    return client.search_runs([exp.experiment_id], max_results=1000,
                              filter_string=f"tags.`udabench.kind` = 'task' and tags.`{SWEEP_TAG}` = '{name}'")


# -- the sweep file and its jobs -------------------------------------------------------------------
def test_a_sweep_expands_into_one_job_per_run(tmp_path):
    spec = load_sweep(write_sweep(tmp_path, "grid", """\
        methods:
          zeroshot: {}
          source-ft: {set: {epochs: 1}, grid: {lr_head: [0.001, 0.01]}}
        """, tasks=["printed2handwritten", "blended2sevenseg"], seeds=(0, 1, 2)))
    jobs = expand(spec, "sqlite:///rel.db")
    # zeroshot is seed-independent: one seed; source-ft: 2 grid points x 2 tasks x 3 seeds
    assert len(jobs) == 2 + 2 * 2 * 3
    assert [j.index for j in jobs] == list(range(1, len(jobs) + 1))
    assert len({j.key for j in jobs}) == len(jobs)
    zs = [j for j in jobs if j.method == "zeroshot"]
    assert {(j.task, j.seed) for j in zs} == {("printed2handwritten", 0), ("blended2sevenseg", 0)}
    ft = [j for j in jobs if j.method == "source-ft"]
    assert {j.label for j in ft} == {"source-ft [lr_head=0.001]", "source-ft [lr_head=0.01]"}
    assert all(j.set_pairs["epochs"] == 1 for j in ft)
    assert len({j.config_hash for j in ft}) == 2
    assert all(j.backbone == "toyclip" for j in jobs)  # the dataset's default backbone
    assert all(j.tracking_uri == f"sqlite:///{Path('rel.db').resolve()}" for j in jobs)  # made absolute
    # the config hash is the one `udabench run` tags its runs with
    from udabench.protocol.runner import RunRequest, resolve_config

    job = ft[0]
    req = RunRequest(method=job.method, dataset=DATASET, set_pairs=job.set_pairs)
    assert job.config_hash == resolve_config(req, get_registry().method(job.method), get_registry().dataset(DATASET)).digest()
    assert jobs == expand(spec, "sqlite:///rel.db")  # deterministic


KEY = "7271968179c143e7"


def test_the_run_key_is_deterministic_and_covers_each_field():
    base = ("linear-probe", "digits", "printed2handwritten", 0, "toyclip", "12051f482d", RunOptions())
    assert run_key(*base) == KEY  # the same on every machine and Python version
    for i, other in enumerate(("source-ft", "office31", "printed2sevenseg", 1, "ViT-B-16:openai", "0",
                               RunOptions(precision="bf16"), RunOptions(skip_bad_images=True))):
        changed = list(base)
        changed[min(i, 6)] = other
        assert run_key(*changed) != run_key(*base), f"field {i} is not part of the key"
    # Options that do not change the numbers do not change the key.
    same = RunOptions(workers=2, batch_size=64, cache=False, progress=False, device="cpu", root="/data")
    assert run_key(*base[:6], same) == KEY


@pytest.mark.parametrize("body, message", [
    ("methods: [zeroshot]\nset: {epoch: 3}\n", "'epoch'"),
    ("methods: [zerosht]\n", "Did you mean 'zeroshot'"),
    ("methods: [zeroshot]\ngrid: {logit_scale: 50}\n", "non-empty list"),
    ("methods: [zeroshot]\nseed: [1]\n", "unknown sweep key 'seed'. Did you mean 'seeds'"),
    ("methods: [zeroshot]\nrun: {workers: two}\n", "workers must be int"),
    ("methods: [zeroshot]\ntasks: [printed2mnist]\n", "printed2mnist"),
])
def test_a_bad_sweep_file_fails_before_any_job_naming_the_input(tmp_path, body, message):
    path = write_sweep(tmp_path, "bad", body, seeds=None)
    with pytest.raises((SweepError, ConfigError, UnknownNameError), match=message):
        expand(load_sweep(path))


def test_select_skips_finished_and_failed_and_runs_the_rest(tmp_path):
    spec = load_sweep(write_sweep(tmp_path, "sel", "methods: [linear-probe]\n",
                                  tasks=["printed2handwritten"], seeds=(0, 1, 2, 3)))
    jobs = expand(spec, "sqlite:///x.db")
    states = {jobs[0].key: JobState(FINISHED, "FINISHED"), jobs[1].key: JobState(FAILED, "FAILED"),
              jobs[2].key: JobState(MISSING, "KILLED"), jobs[3].key: JobState()}
    assert select(jobs, states) == ([jobs[2], jobs[3]], [jobs[0], jobs[1]])
    assert select(jobs, states, rerun_failed=True) == ([jobs[1], jobs[2], jobs[3]], [jobs[0]])
    assert select(jobs, states, force=True) == (jobs, [])


# -- launchers as plugins --------------------------------------------------------------------------
def test_launchers_are_plugins_from_the_entry_point_group():
    reg = get_registry()
    for name, module in (("serial", "serial"), ("local", "local"), ("submitit", "slurm"), ("ray", "ray_cluster")):
        assert reg.launcher(name).name == name
        assert reg.origin[("launcher", name)].module == f"udabench_plugins.launchers.{module}"
    with pytest.raises(UnknownNameError, match="Did you mean 'local'"):
        reg.launcher("locl")


def test_launcher_options_are_checked_by_name_and_type():
    cls = get_registry().launcher("submitit")
    opts = cls.resolve_options({"partition": "gpu", "time": 30}, {"time": "120", "gpus_per_job": 2})
    assert (opts["partition"], opts["time"], opts["gpus_per_job"], opts["cluster"]) == ("gpu", 120, 2, "slurm")
    with pytest.raises(ConfigError, match="unknown option 'partiton' of launcher 'submitit'.*'partition'"):
        cls.resolve_options({"partiton": "gpu"}, None)
    with pytest.raises(ConfigError, match="--launcher-set: time must be int"):
        cls.resolve_options(None, {"time": "soon"})


@pytest.mark.parametrize("launcher, module, extra", [("submitit", "submitit", "slurm"), ("ray", "ray", "ray")])
def test_a_missing_extra_names_the_install_command(tmp_path, mlflow_uri, monkeypatch, capsys, launcher, module,
                                                    extra):
    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    path = write_sweep(tmp_path, "extra", "methods: [zeroshot]\n", tasks=["printed2handwritten"])
    assert main(["sweep", path, "--launcher", launcher, "--tracking-uri", mlflow_uri]) == 2
    err = capsys.readouterr().err
    assert f"pip install 'udabench[{extra}]'" in err and f"{module!r}" in err and "Traceback" not in err
    assert _client(mlflow_uri).get_experiment_by_name("udabench.sweeps") is None  # nothing recorded


def test_sqlite_is_refused_for_jobs_on_other_machines(tmp_path, mlflow_uri, capsys):
    path = write_sweep(tmp_path, "remote", "methods: [zeroshot]\n", tasks=["printed2handwritten"])
    assert main(["sweep", path, "-l", "ray", "--launcher-set", "address=auto", "--tracking-uri", mlflow_uri]) == 2
    err = capsys.readouterr().err
    assert "runs jobs on other machines" in err and "mlflow server" in err and "MLFLOW_TRACKING_URI=http" in err


# -- resume, skip, and the sweep's leaderboard (serial launcher, in this process) -------------------
def test_rerun_resumes_and_the_sweep_leaderboard_counts_failed_and_missing(tmp_path, mlflow_uri, backbone_spec,
                                                                         capsys, small_digits):
    small_digits(20)  # what is checked is the bookkeeping: 200 images per split will do
    tasks = ["printed2handwritten", "printed2sevenseg", "printed2dotmatrix"]
    path = write_sweep(tmp_path, "resume", "methods: [zeroshot]\n", backbone_spec, tasks=tasks, seeds=None)

    assert main(["sweep", path, "--dry-run", "--tracking-uri", mlflow_uri]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if "zeroshot" in line]
    assert len(rows) == 3 and all(row.split()[-1] == "run" for row in rows)
    assert sweep_task_runs(mlflow_uri, "resume") == []  # a dry run runs nothing

    assert main(["sweep", path, "--tracking-uri", mlflow_uri]) == 0
    runs = {r.data.tags["udabench.task"]: r for r in sweep_task_runs(mlflow_uri, "resume")}
    assert set(runs) == set(tasks) and all(r.info.status == "FINISHED" for r in runs.values())
    keys = {j.task: j.key for j in expand(load_sweep(path), mlflow_uri)}
    assert {t: r.data.tags[RUN_KEY_TAG] for t, r in runs.items()} == keys

    # One job's run failed, another's was killed half-way: the board shows both, counted.
    client = _client(mlflow_uri)
    client.set_tag(runs[tasks[1]].info.run_id, "udabench.error", "RuntimeError: boom")
    client.set_terminated(runs[tasks[1]].info.run_id, "FAILED")
    client.set_terminated(runs[tasks[2]].info.run_id, "KILLED")
    capsys.readouterr()
    assert main(["leaderboard", "--sweep", "resume", "--tracking-uri", mlflow_uri]) == 0
    out = capsys.readouterr().out
    assert "sweep resume: 3 jobs, 1 finished, 1 failed, 1 missing" in out
    row = next(line for line in out.splitlines() if line.startswith("zeroshot"))
    top1 = runs[tasks[0]].data.metrics["top1"]
    assert row.split()[2:] == [f"{top1:.1f}", f"{top1:.1f}*", "1", "1", "1", "1"]
    assert "FAILED: RuntimeError: boom" in out and "KILLED" in out
    assert main(["leaderboard", "--sweep", "resume", "--tracking-uri", mlflow_uri, "--format", "csv"]) == 0
    csv_out = capsys.readouterr().out
    assert csv_out.splitlines()[0].endswith("finished,failed,missing")

    # Running the sweep again runs the killed job only; --rerun-failed the failed one too.
    assert main(["sweep", path, "--tracking-uri", mlflow_uri]) == 1  # the failed job still is
    out = capsys.readouterr().out
    assert "1 to run" in out and "2 skipped (1 finished, 1 failed" in out
    assert "3 job(s): 2 finished, 1 failed, 0 missing (ran 1, skipped 2)" in out
    assert main(["sweep", path, "--rerun-failed", "--tracking-uri", mlflow_uri]) == 0
    assert "3 job(s): 3 finished, 0 failed, 0 missing (ran 1, skipped 2)" in capsys.readouterr().out
    finished = [r for r in sweep_task_runs(mlflow_uri, "resume") if r.info.status == "FINISHED"]
    assert sorted(r.data.tags["udabench.task"] for r in finished) == sorted(tasks)  # one each, no duplicate

    assert main(["leaderboard", "--tracking-uri", mlflow_uri]) == 2
    err = capsys.readouterr().err
    assert "--dataset NAME" in err and "--sweep NAME" in err
    assert main(["leaderboard", "--sweep", "nosuch", "--tracking-uri", mlflow_uri]) == 2
    err = capsys.readouterr().err
    assert "no sweep named 'nosuch'" in err and "sweeps there: resume" in err


# -- many processes, one store ---------------------------------------------------------------------
WRITES = 600  # metric values per writer: three flushes of the run's buffer


def _write_one_run(uri: str, tag: str) -> str:
    """One writer process: a run with params, WRITES metric values and an artifact."""
    from udabench.tracking.tracker import Tracker

    try:
        tracker = Tracker(uri)
        with tracker.start_run("concurrency", tag, {"udabench.kind": "task", "writer": tag}) as run:
            run.log_params({f"p{i}": i for i in range(20)})
            for step in range(WRITES):
                run.log_metrics({"loss": 1.0 / (step + 1)}, step)
            run.log_text(tag, "writer.txt")
        return "ok"
    except Exception as exc:  # noqa: BLE001 - the test reads what each writer was told
        return f"error: {type(exc).__name__}: {exc}"


@pytest.mark.parametrize("store", [pytest.param("server", marks=[pytest.mark.server, pytest.mark.slow]), "sqlite"])
def test_concurrent_writers_lose_nothing_or_say_to_start_a_server(store, request, tmp_path):
    import multiprocessing as mp

    uri = request.getfixturevalue("mlflow_server") if store == "server" else request.getfixturevalue("mlflow_uri")
    tags = [f"{store}-writer-{i}-{tmp_path.name}" for i in range(4)]
    with mp.get_context("spawn").Pool(4) as pool:
        results = dict(zip(tags, pool.starmap(_write_one_run, [(uri, t) for t in tags])))
    client = _client(uri)
    exp = client.get_experiment_by_name("concurrency")
    runs = {r.data.tags["writer"]: r for r in client.search_runs([exp.experiment_id], max_results=1000)
            if r.data.tags.get("writer") in tags}
    for tag, result in results.items():
        if result == "ok":
            run = runs[tag]
            assert run.info.status == "FINISHED"
            assert len(run.data.params) == 20
            assert len(client.get_metric_history(run.info.run_id, "loss")) == WRITES
            assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["writer.txt"]
        else:  # only SQLite may refuse, and then it must say what to do; the run is never FINISHED
            assert store == "sqlite", result
            assert "mlflow server" in result and "NOT recorded" in result, result
            assert tag not in runs or runs[tag].info.status != "FINISHED"
    if store == "server":
        assert set(results.values()) == {"ok"}


def test_a_locked_sqlite_store_fails_with_the_fix_and_never_reads_finished():
    from mlflow.exceptions import MlflowException

    from udabench.tracking.store_guard import TrackingStoreBusyError, guard
    from udabench.tracking.tracker import TrackedRun

    class LockedClient:
        def __init__(self):
            self.terminated = []

        def log_batch(self, run_id, **kw):
            raise MlflowException("(sqlite3.OperationalError) database is locked")

        def set_terminated(self, run_id, status, end_time=None):
            self.terminated.append(status)

    raw = LockedClient()
    run = TrackedRun(guard(raw, "sqlite:///mlflow.db"), "r1")
    busy = r"log_batch.*NOT recorded.*mlflow server --backend-store-uri sqlite:///mlflow.db"
    with pytest.raises(TrackingStoreBusyError, match=busy), run:
        run.log_metrics({"top1": 50.0})
    assert raw.terminated == ["FAILED"]  # its metrics were not written: not FINISHED
    assert guard(raw, "http://127.0.0.1:5000") is raw  # a server's errors pass as they are


# -- end to end: 12 jobs through each launcher, against a real MLflow server -----------------------
def _assert_twelve_finished(url: str, name: str, spec_path: str) -> list:
    expected = {j.key: j for j in expand(load_sweep(spec_path), url)}
    assert len(expected) == 12
    runs = sweep_task_runs(url, name)
    finished = [r for r in runs if r.info.status == "FINISHED"]
    keys = [r.data.tags[RUN_KEY_TAG] for r in finished]
    assert len(finished) == 12, sorted((r.data.tags["udabench.method"], r.info.status) for r in runs)
    assert len(set(keys)) == 12 and set(keys) == set(expected)  # exactly the jobs, no duplicate
    for run in finished:  # no metric lost on the way
        job = expected[run.data.tags[RUN_KEY_TAG]]
        assert run.data.tags["udabench.config_hash"] == job.config_hash
        assert (run.data.tags["udabench.task"], run.data.tags["udabench.seed"]) == (job.task, str(job.seed))
        assert {"top1", "mean_class_acc", "eval_images_per_s", "wall_s", "peak_mem_mb"} <= set(run.data.metrics)
    client = _client(url)
    steps = {len(client.get_metric_history(r.info.run_id, "train/loss"))
             for r in finished if r.data.tags["udabench.method"] == "source-ft"}
    assert len(steps) == 1 and steps.pop() > 1  # every fine-tuning run logged every step
    return finished


@pytest.mark.slow
@pytest.mark.server
def test_local_sweep_killed_half_way_resumes_to_twelve_runs(mlflow_server, backbone_spec, tmp_path):
    url = mlflow_server
    path = write_sweep(tmp_path, "local-e2e", METHODS, backbone_spec, tasks=["printed2handwritten", "printed2sevenseg"])
    cmd = [sys.executable, "-m", "udabench", "sweep", path, "--launcher", "local",
           "--launcher-set", "workers=4", "--tracking-uri", url]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    log = tmp_path / "first.log"
    with open(log, "w") as out:  # a file, not a pipe: nobody reads a pipe while the sweep runs
        first = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
                                 start_new_session=True)
    deadline = time.time() + 300
    done_at_kill = []
    try:
        while time.time() < deadline and first.poll() is None:
            done_at_kill = [r for r in sweep_task_runs(url, "local-e2e") if r.info.status == "FINISHED"]
            if len(done_at_kill) >= 4:
                break
            time.sleep(0.5)
    finally:
        os.killpg(first.pid, signal.SIGKILL)  # the sweep and its workers die at once, mid-run
        first.wait()
    assert first.returncode == -signal.SIGKILL, log.read_text()[-3000:]
    assert 4 <= len(done_at_kill) < 12

    second = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600, check=False)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "12 job(s): 12 finished, 0 failed, 0 missing" in second.stdout
    skipped = int(second.stdout.split(" skipped (")[0].rsplit(" ", 1)[-1])
    assert len(done_at_kill) <= skipped < 12  # what finished before the kill is not run again
    _assert_twelve_finished(url, "local-e2e", path)

    board = subprocess.run([sys.executable, "-m", "udabench", "leaderboard", "--sweep", "local-e2e",
                            "--tracking-uri", url], capture_output=True, text=True, env=env, timeout=120,
                           check=False)
    assert "sweep local-e2e: 12 jobs, 12 finished, 0 failed, 0 missing" in board.stdout, board.stderr
    rows = {line.split()[0]: line.split() for line in board.stdout.splitlines() if line.startswith(("linear", "source"))}
    assert set(rows) == {"linear-probe", "source-ft"}
    assert all(row[-4:] == ["3", "6", "0", "0"] for row in rows.values())  # seeds, finished, failed, missing


@pytest.mark.slow
@pytest.mark.server
def test_sweep_through_submitit_local_executor(mlflow_server, backbone_spec, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    path = write_sweep(tmp_path, "submitit-e2e", METHODS + textwrap.dedent("""\
        launcher: {name: submitit, cluster: local, jobs_per_task: 3, time: 20}
        """), backbone_spec, tasks=["blended2handwritten", "blended2sevenseg"])
    assert main(["sweep", path, "--tracking-uri", mlflow_server]) == 0
    out = capsys.readouterr().out
    assert "4 local array task(s)" in out and "12 finished, 0 failed, 0 missing (ran 12, skipped 0)" in out
    _assert_twelve_finished(mlflow_server, "submitit-e2e", path)
    assert len(list((tmp_path / "submitit" / "submitit-e2e").glob("*/*_result.pkl"))) == 4


@pytest.mark.slow
@pytest.mark.server
def test_sweep_through_a_local_ray_instance(mlflow_server, backbone_spec, tmp_path, capsys):
    ray = pytest.importorskip("ray")  # installed by the dev extra; this guards a partial install only
    path = write_sweep(tmp_path, "ray-e2e", METHODS, backbone_spec, tasks=["printed2dotmatrix", "blended2dotmatrix"])
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        assert main(["sweep", path, "-l", "ray", "--tracking-uri", mlflow_server]) == 0
        assert ray.is_initialized()  # a Ray connection the launcher did not open is left open
    finally:
        ray.shutdown()
    out = capsys.readouterr().out
    assert "12 task(s) on a cluster of 2 CPU" in out and "12 finished, 0 failed, 0 missing" in out
    _assert_twelve_finished(mlflow_server, "ray-e2e", path)
