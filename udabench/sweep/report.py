"""``udabench leaderboard --sweep NAME``: one sweep's table, drawn from its own jobs.

Rows are the sweep's (method, grid point, backbone) groups and cells its finished runs,
mean ± std over seeds; every row also counts its finished, failed and missing jobs, so a
group whose jobs all failed is a row of zeros and dashes, not an absent row. A job counts as
finished when any run with its key finished, whichever sweep ran it.
"""

from __future__ import annotations

import sys

import numpy as np

from ..tracking.leaderboard import _cell, render
from .jobs import FAILED, FINISHED, MISSING, Job, JobState, job_states


def sweep_leaderboard(name: str, tracking_uri: str | None, metric: str | None, fmt: str) -> int:
    from .record import load_sweep_jobs
    from ..tracking.tracker import tracking_uri as resolve_uri

    uri = resolve_uri(tracking_uri)
    jobs = load_sweep_jobs(name, uri)
    states = job_states(jobs, uri)
    counts = {s: sum(states[j.key].status == s for j in jobs) for s in (FINISHED, FAILED, MISSING)}
    summary = (f"sweep {name}: {len(jobs)} jobs, {counts[FINISHED]} finished, {counts[FAILED]} failed, "
               f"{counts[MISSING]} missing")
    print(summary, file=sys.stderr if fmt == "csv" else sys.stdout)
    for dataset in dict.fromkeys(j.dataset for j in jobs):
        ds_jobs = [j for j in jobs if j.dataset == dataset]
        ds_metric = metric or _headline_metric(dataset)
        header, rows = sweep_table(ds_jobs, states, ds_metric, csv=fmt == "csv")
        if fmt != "csv":
            print(f"\n{dataset}: {ds_metric} (%), mean ± std over seeds; * = a task without a finished job")
        print(render(header, rows, fmt))
    unfinished = [j for j in jobs if states[j.key].status != FINISHED]
    if unfinished and fmt != "csv":
        print(f"\nNot finished ({len(unfinished)}; `udabench sweep` on the same file runs the missing ones, "
              f"with --rerun-failed the failed ones too):")
        print(job_table(unfinished, states))
    return 0


def sweep_table(jobs: list[Job], states: dict[str, JobState], metric: str,
                csv: bool = False) -> tuple[list[str], list[list[str]]]:
    """Header and rows for one dataset's jobs of a sweep."""
    tasks = list(dict.fromkeys(j.task for j in jobs))
    groups: dict[tuple, list[Job]] = {}
    for job in jobs:
        groups.setdefault((job.method, job.label, job.backbone, job.config_hash), []).append(job)
    labels = [key[1] for key in groups]
    header = ["method", "backbone", *tasks, "avg", "seeds", "finished", "failed", "missing"]
    rows = []
    for (method, label, backbone, config_hash), members in groups.items():
        shown = _method_label(method, label) + (f" [cfg {config_hash[:6]}]" if labels.count(label) > 1 else "")
        per_task = {t: [states[j.key].metrics[metric] for j in members
                        if j.task == t and states[j.key].status == FINISHED and metric in states[j.key].metrics]
                    for t in tasks}
        means = [float(np.mean(v)) for v in per_task.values() if v]
        complete = len(means) == len(tasks)
        avg = (f"{np.mean(means):.1f}" if means else "") + ("" if complete else "*")
        seeds = sorted({len(v) for v in per_task.values() if v})
        rows.append([shown, backbone, *[_cell(per_task[t], csv) for t in tasks], avg,
                     "/".join(map(str, seeds)),
                     *[str(sum(states[j.key].status == s for j in members)) for s in (FINISHED, FAILED, MISSING)]])
    return header, rows


def _method_label(method: str, label: str) -> str:
    from ..contract.registry import get_registry

    cls = get_registry().methods.get(method)
    if cls is not None and cls.fidelity == "reconstruction":
        return label.replace(method, f"{method} (reconstruction)", 1)
    return label


def _headline_metric(dataset: str) -> str:
    from ..contract.registry import get_registry

    cls = get_registry().datasets.get(dataset)
    return cls.headline_metric if cls is not None else "top1"


def job_table(jobs: list[Job], states: dict[str, JobState], will_run: set[str] | None = None) -> str:
    """One row per job: what it is, its key, what the store has, and (given ``will_run``) whether
    it would run now."""
    from tabulate import tabulate

    rows = []
    for job in jobs:
        state = states[job.key]
        store = state.run_status or "-"
        if state.status == FAILED and state.error:
            store += f": {state.error.splitlines()[0][:60]}"
        rows.append([job.index, job.label, job.dataset, job.task, job.seed, job.backbone, job.config_hash,
                     job.key, store, "" if will_run is None else "run" if job.key in will_run else "skip"])
    headers = ["#", "method", "dataset", "task", "seed", "backbone", "config", "run key", "in store", "now"]
    if will_run is None:
        headers, rows = headers[:-1], [r[:-1] for r in rows]
    return tabulate(rows, headers=headers, disable_numparse=True)
