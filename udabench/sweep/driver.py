"""The sweep as a whole: skip what the store has, hand the rest to a launcher, read back
from the store what each job ended as."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass

from ..tracking.tracker import tracking_uri as resolve_uri
from .jobs import FAILED, FINISHED, Job, JobOutcome, JobState, SweepError, is_remote_store, job_states, select
from .record import SweepRecord


@dataclass
class SweepResult:
    jobs: list[Job]
    ran: list[Job]
    skipped: list[Job]
    states: dict[str, JobState]  # after the launch, from the store
    outcomes: list[JobOutcome]

    def count(self, status: str) -> int:
        return sum(self.states[j.key].status == status for j in self.jobs)

    @property
    def lost(self) -> list[Job]:
        """Jobs a launcher reported finished whose FINISHED run the store does not have."""
        reported = {o.key for o in self.outcomes if o.status in ("finished", "skipped")}
        return [j for j in self.jobs if j.key in reported and self.states[j.key].status != FINISHED]


def run_sweep(name: str, jobs: list[Job], launcher, spec_text: str, tracking_uri: str | None,
              rerun_failed: bool = False, force: bool = False,
              echo: Callable[[str], None] = print) -> SweepResult:
    """Skip what the store has, launch the rest, then read back from the store what each job is."""
    uri = resolve_uri(tracking_uri)
    launcher.check_available()
    check_store_for(launcher, uri)
    states = job_states(jobs, uri)
    to_run, skipped = select(jobs, states, rerun_failed, force)
    for job in to_run:
        job.force = force
    failed_skipped = sum(states[j.key].status == FAILED for j in skipped)
    echo(f"udabench sweep {name}: {len(jobs)} job(s), {len(to_run)} to run with the {launcher.name!r} "
         f"launcher, {len(skipped)} skipped ({len(skipped) - failed_skipped} finished, {failed_skipped} "
         f"failed{'; --rerun-failed runs these again' if failed_skipped else ''}); tracking: {uri}")
    with SweepRecord.start(uri, name, jobs, spec_text) as record:
        outcomes = launcher.launch(to_run, echo) if to_run else []
        result = SweepResult(jobs, to_run, skipped, job_states(jobs, uri), outcomes)
        record.finish(result.count(FINISHED) == len(jobs))
    return result


def check_store_for(launcher, uri: str) -> None:
    """SQLite is one file on one machine: refuse it for jobs on other machines, warn for many
    local writers (the problems ``store_problem`` finds)."""
    problem = store_problem(launcher, uri)
    if problem is None:
        return
    refused, message = problem
    if refused:
        raise SweepError(message)
    print(f"udabench: note: {message}", file=sys.stderr)


def store_problem(launcher, uri: str) -> tuple[bool, str] | None:
    """What is wrong with tracking ``launcher``'s jobs in the store ``uri``: ``(True, why)`` when
    a sweep must refuse to start (SQLite, a file on this machine, for jobs on other machines),
    ``(False, why)`` for a risk worth a note (several local processes writing to SQLite), None
    when nothing is. ``udabench sweep`` refuses or notes it; ``--dry-run`` prints it as a warning."""
    if is_remote_store(uri):
        return None
    server = ("start a tracking server (mlflow server --backend-store-uri sqlite:///mlflow.db "
              "--host 0.0.0.0 --port 5000) and set MLFLOW_TRACKING_URI=http://HOST:5000")
    if launcher.spans_machines():
        return True, (f"the {launcher.name!r} launcher runs jobs on other machines, but the tracking store "
                      f"is {uri}, a file on this one: {server}")
    if launcher.parallel:
        return False, (f"several processes will write to {uri}. SQLite takes one writer at a time; "
                       f"if runs fail with 'database is locked', {server}.")
    return None
