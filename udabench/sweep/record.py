"""A sweep's own MLflow run: which jobs the sweep is made of, so that a job that never ran can
be counted as missing (``udabench leaderboard --sweep NAME``) instead of going unseen.

Each ``udabench sweep`` that launches writes one such run, in the experiment
``udabench.sweeps``, tagged ``udabench.sweep`` = the sweep's name, with its job list
(``jobs.json``) and sweep file (``sweep.yaml``); the newest one of a name is the sweep.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path

from .jobs import SWEEP_TAG, Job, SweepError
from ..tracking.tracker import TAG_KIND, TrackedRun, Tracker

EXPERIMENT = "udabench.sweeps"
JOBS_FILE = "jobs.json"


class SweepRecord:
    """The run of one sweep invocation: FINISHED when every job is, else FAILED (KILLED on Ctrl-C)."""

    def __init__(self, run: TrackedRun):
        self.run = run
        self.status = "FAILED"

    @classmethod
    def start(cls, uri: str, name: str, jobs: list[Job], spec_text: str) -> SweepRecord:
        tracker = Tracker(uri)
        run = tracker.start_run(EXPERIMENT, name, {TAG_KIND: "sweep", SWEEP_TAG: name, "udabench.jobs": len(jobs)})
        run.log_text(json.dumps([j.to_dict() for j in jobs], indent=1), JOBS_FILE)
        run.log_text(spec_text, "sweep.yaml")
        return cls(run)

    def finish(self, complete: bool) -> None:
        self.status = "FINISHED" if complete else "FAILED"

    def __enter__(self) -> SweepRecord:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.run.end(self.status)
        else:
            self.run.__exit__(exc_type, exc, tb)


def load_sweep_jobs(name: str, uri: str) -> list[Job]:
    """The jobs of the newest sweep called ``name`` in the store at ``uri``."""
    tracker = Tracker(uri)
    exp_id = tracker.experiment_id(EXPERIMENT, create=False)
    runs = [] if exp_id is None else tracker.client.search_runs(
        [exp_id], filter_string=f"tags.`{SWEEP_TAG}` = '{_quote(name)}'", max_results=1,
        order_by=["attributes.start_time DESC"])
    if not runs:
        known = [] if exp_id is None else sorted({r.data.tags.get(SWEEP_TAG, "") for r in tracker.client.search_runs(
            [exp_id], max_results=1000)} - {""})
        raise SweepError(f"no sweep named {name!r} in {uri} (sweeps there: {', '.join(known) or 'none'}); "
                         f"run it with `udabench sweep SWEEP.yaml`, or pass the store it used with --tracking-uri")
    with tempfile.TemporaryDirectory() as tmp, _no_progress_bar():
        path = tracker.client.download_artifacts(runs[0].info.run_id, JOBS_FILE, tmp)
        return [Job.from_dict(d) for d in json.loads(Path(path).read_text())]


@contextlib.contextmanager
def _no_progress_bar():
    """MLflow draws a progress bar for every download, even of one small file."""
    key = "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"
    old = os.environ.get(key)
    os.environ[key] = "false"
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old


def _quote(text: str) -> str:
    return text.replace("'", "\\'")
