"""Sweep jobs: the run key, what the store says each job is, which jobs to run, and the one
function every launcher calls to run a job.

A job is exactly one ``udabench run`` (one method, dataset, task, seed, backbone and
configuration). Its **run key** hashes those six, with the resolved configuration's hash,
and is written as the tag ``udabench.run_key`` on the job's MLflow runs. The tracking store is
the only record of what ran: a job whose key has a FINISHED task run is skipped, so running a
sweep again resumes it, wherever its jobs ran and however the last attempt died.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..contract.errors import UdabenchError
from ..protocol.options import RunOptions
from ..protocol.runner import RUN_KEY_TAG, run_key

SWEEP_TAG = "udabench.sweep"
#: Statuses of a job, as the store tells them. "missing": no run, or only runs that were
#: interrupted or are (or were, until their process died) still running.
FINISHED, FAILED, MISSING = "finished", "failed", "missing"
#: ``JobState.run_status`` of a RUNNING run whose heartbeat stopped (its process died).
DEAD = "RUNNING (dead: no heartbeat)"
PER_KEY_QUERIES = 8  # up to this many keys, ask the store for each; beyond, read the dataset's runs


class SweepError(UdabenchError):
    """A sweep file, a launcher choice or a store that cannot serve the sweep."""


@dataclass
class Job:
    """One ``udabench run``, as a picklable record for other processes and machines."""

    sweep: str
    index: int  # 1-based position in the sweep, for messages
    method: str
    dataset: str
    task: str
    seed: int
    backbone: str
    config_hash: str
    set_pairs: dict[str, Any] = field(default_factory=dict)
    grid_point: dict[str, Any] = field(default_factory=dict)  # the grid's values, for labels
    config_file: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # RunOptions fields; unset ones take the default
    force: bool = False  # run even when the key has a FINISHED run (--force)

    @property
    def run_options(self) -> RunOptions:
        return RunOptions.from_mapping(self.options, self.describe())

    @property
    def tracking_uri(self) -> str | None:
        return self.options.get("tracking_uri")

    @property
    def key(self) -> str:
        return run_key(self.method, self.dataset, self.task, self.seed, self.backbone, self.config_hash,
                       self.run_options)

    @property
    def label(self) -> str:
        point = ", ".join(f"{k}={v}" for k, v in self.grid_point.items())
        return f"{self.method} [{point}]" if point else self.method

    def describe(self) -> str:
        return f"job {self.index} ({self.label} · {self.dataset} {self.task} · seed {self.seed})"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "key": self.key}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Job:
        d = {k: v for k, v in d.items() if k != "key"}
        # A job list written before run options were one record kept them as fields of their own.
        legacy = {"eval_batch_size": "batch_size", **{name: name for name in _LEGACY_OPTIONS}}
        options = dict(d.pop("options", {}))
        for old, new in legacy.items():
            if old in d:
                options[new] = d.pop(old)
        return cls(**d, options=options)


_LEGACY_OPTIONS = ("root", "device", "precision", "workers", "skip_bad_images", "tracking_uri")


@dataclass
class JobOutcome:
    """What a launcher reports for one job; the store, not this, decides the sweep's result."""

    key: str
    status: str  # "finished", "failed", "skipped" (found finished when it came to run)
    run_id: str | None = None
    error: str = ""
    wall_s: float = 0.0


@dataclass
class JobState:
    """What the store holds for one key."""

    status: str = MISSING
    run_status: str = ""  # the MLflow status behind it (FINISHED, FAILED, KILLED, RUNNING) or ""
    run_id: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    error: str = ""
    finished_runs: int = 0


SQLITE = "sqlite:///"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a SQLite store URI (relative to the working folder or absolute), else None."""
    return Path(uri[len(SQLITE):]) if uri.startswith(SQLITE) else None


def portable_uri(uri: str) -> str:
    """A relative SQLite path made absolute, so that workers in other folders write the same file."""
    path = sqlite_path(uri)
    return SQLITE + str(path.resolve()) if path is not None and not path.is_absolute() else uri


def is_remote_store(uri: str) -> bool:
    """Whether processes on other machines can reach the store: anything but a local file
    (SQLite, a file store, a bare path) is a server (http, databricks, postgresql, mysql ...)."""
    scheme = uri.split(":", 1)[0] if "://" in uri else ""
    return scheme not in ("", "sqlite", "file")


# -- what the store holds ------------------------------------------------------------------------
def job_states(jobs: Iterable[Job], tracking_uri: str | None = None) -> dict[str, JobState]:
    """The state of every job's key: one query per (store, dataset), however many jobs."""
    from ..tracking.tracker import tracking_uri as resolve_uri

    jobs = list(jobs)
    states = {job.key: JobState() for job in jobs}
    groups: dict[tuple[str, str], set[str]] = {}
    for job in jobs:
        uri = resolve_uri(tracking_uri or job.tracking_uri)  # an explicit store wins (a copied store)
        groups.setdefault((uri, job.dataset), set()).add(job.key)
    for (uri, dataset), keys in groups.items():
        if _sqlite_file_missing(uri):
            continue  # nothing ran there yet; do not create a database to find that out
        for run in _runs_of(uri, dataset, keys):  # newest first
            key = run.data.tags.get(RUN_KEY_TAG)
            if key in keys:
                _fold(states[key], run)
    return states


def _runs_of(uri: str, dataset: str, keys: set[str]) -> list:
    """The task runs that may carry ``keys``: a query per key for a few keys (a worker checking
    its job), else one pass over the dataset's task runs (a sweep checking all of its jobs)."""
    from ..tracking.tracker import TAG_KIND, Tracker

    tracker = Tracker(uri)
    if len(keys) > PER_KEY_QUERIES:
        return tracker.task_runs(dataset, status=None)
    exp_id = tracker.experiment_id(dataset, create=False)
    if exp_id is None:
        return []
    return [run for key in sorted(keys) for run in tracker.client.search_runs(
        [exp_id], filter_string=f"tags.`{TAG_KIND}` = 'task' and tags.`{RUN_KEY_TAG}` = '{key}'",
        max_results=1000, order_by=["attributes.start_time DESC"])]


def _fold(state: JobState, run) -> None:
    """Fold one run (newest first) into its key's state: any FINISHED run wins, else the newest."""
    status = run.info.status
    if status == "FINISHED":
        state.finished_runs += 1
        if state.status != FINISHED:
            state.status, state.run_status, state.run_id = FINISHED, status, run.info.run_id
            state.metrics, state.error = dict(run.data.metrics), ""
        return
    if state.run_status:
        return  # a newer run already spoke
    state.run_status, state.run_id = status, run.info.run_id
    state.status = FAILED if status == "FAILED" else MISSING
    state.error = run.data.tags.get("udabench.error", "")
    if status == "RUNNING":
        from ..tracking.tracker import dead_reason, dead_since

        last = dead_since(run)
        if last is not None:  # its process died: the job is run again, and the table says why
            state.run_status, state.error = DEAD, dead_reason(last)


def _sqlite_file_missing(uri: str) -> bool:
    path = sqlite_path(uri)
    return path is not None and not path.exists()


def select(jobs: list[Job], states: dict[str, JobState], rerun_failed: bool = False,
           force: bool = False) -> tuple[list[Job], list[Job]]:
    """(to run, to skip): finished jobs are skipped, and failed ones unless ``rerun_failed``;
    ``force`` runs everything. Missing ones (never run, killed, or died running) always run."""
    run, skip = [], []
    for job in jobs:
        status = states[job.key].status
        if force or status == MISSING or (status == FAILED and rerun_failed):
            run.append(job)
        else:
            skip.append(job)
    return run, skip


# -- running one job -----------------------------------------------------------------------------
def run_job(job: Job) -> JobOutcome:
    """Run one job as ``udabench run`` would, tagged with its key and sweep; every launcher
    calls this (directly, in a worker process, in a Slurm task or as a Ray task).

    It checks the store first: a key that finished meanwhile (a requeued Slurm task, a job
    that a second copy of the sweep already ran) is not run again. There is no lock: two copies
    of a sweep running at the same time can both run a job that neither has finished.
    """
    from ..contract.registry import get_registry
    from ..protocol.runner import RunRequest, execute, resolve_config

    t0 = time.time()
    echo = _job_echo(job)
    if not job.force:
        state = job_states([job])[job.key]
        if state.status == FINISHED:
            echo("already finished (skipped)")
            return JobOutcome(job.key, "skipped", state.run_id, wall_s=time.time() - t0)
    req = RunRequest(method=job.method, dataset=job.dataset, tasks=[job.task], seeds=[job.seed],
                     backbone=job.backbone, config_file=job.config_file, set_pairs=dict(job.set_pairs),
                     options=job.run_options.replace(progress=False), extra_tags={SWEEP_TAG: job.sweep})
    try:
        reg = get_registry()
        digest = resolve_config(req, reg.method(job.method), reg.dataset(job.dataset)).digest()
        if digest != job.config_hash:
            raise SweepError(f"{job.describe()}: this worker resolves the configuration to hash {digest}, "
                             f"the sweep to {job.config_hash}: run the sweep and its workers with the same "
                             f"udabench version and plugins")
        records = execute(req, echo=echo)
    except Exception as exc:  # noqa: BLE001 - one job's failure is its outcome; the run is marked FAILED
        message = f"{type(exc).__name__}: {exc}"
        echo(f"FAILED: {message}")
        return JobOutcome(job.key, "failed", error=message, wall_s=time.time() - t0)
    return JobOutcome(job.key, "finished", records[0].run_id, wall_s=time.time() - t0)


def run_jobs(jobs: list[Job]) -> list[JobOutcome]:
    """Several jobs one after another in one process: imports and plugins are loaded once."""
    return [run_job(job) for job in jobs]


def _job_echo(job: Job) -> Callable[[str], None]:
    prefix = f"[{job.sweep} {job.index}] "

    def echo(line: str) -> None:
        for part in str(line).splitlines() or [""]:
            print(prefix + part.strip(), flush=True)
    return echo


def forwarded_environment() -> dict[str, str]:
    """The variables a job on another machine needs from this one (store, data, caches)."""
    return {k: v for k, v in os.environ.items() if k.startswith(("UDABENCH_", "MLFLOW_"))}
