"""``udabench leaderboard --sweep NAME``: one sweep's table, drawn from its own jobs.

Rows are the sweep's (method, grid point, backbone) groups and cells its finished runs,
mean ± std over seeds; every row also counts its finished, failed and missing jobs, so a
group whose jobs all failed is a row of zeros and dashes, not an absent row. A job counts as
finished when any run with its key finished, whichever sweep ran it.

Formats: the text tables of ``udabench leaderboard``; ``csv``, one table for every dataset of the
sweep with ``<task> mean``, ``<task> std`` and ``<task> n`` columns; ``json``, a list of one
object per row with numeric fields and the failed jobs' errors by reason. With csv and json the
summary line goes to stderr, so that stdout parses.
"""

from __future__ import annotations

import sys
from collections import Counter
from typing import Any

import numpy as np

from ..tracking.leaderboard import first_line, num, render, stat_columns, stats_cell, task_stats, to_json
from .jobs import FAILED, FINISHED, MISSING, Job, JobState, job_states


def sweep_leaderboard(name: str, tracking_uri: str | None, metric: str | None, fmt: str) -> int:
    from ..tracking.tracker import tracking_uri as resolve_uri
    from .record import load_sweep_jobs

    uri = resolve_uri(tracking_uri)
    jobs = load_sweep_jobs(name, uri)
    states = job_states(jobs, uri)
    counts = {s: sum(states[j.key].status == s for j in jobs) for s in (FINISHED, FAILED, MISSING)}
    summary = (f"sweep {name}: {len(jobs)} jobs, {counts[FINISHED]} finished, {counts[FAILED]} failed, "
               f"{counts[MISSING]} missing")
    machine = fmt in ("csv", "json")
    print(summary, file=sys.stderr if machine else sys.stdout)
    datasets = list(dict.fromkeys(j.dataset for j in jobs))
    if machine:
        recs = [r for dataset in datasets
                for r in sweep_records([j for j in jobs if j.dataset == dataset], states,
                                       metric or _headline_metric(dataset), sweep=name)]
        if fmt == "json":
            print(to_json(recs))
        else:
            print(render(*sweep_csv(recs), "csv"), end="")
        return 0
    if len(datasets) > 1 and all(len({j.task for j in jobs if j.dataset == d}) == 1 for d in datasets):
        # A suite of one-task datasets (CoOp's few-shot suite): one table, a dataset a column.
        header, rows = suite_table(jobs, states, metric, name)
        shown_metric = metric or "each dataset's headline metric"
        print(f"\n{name}: {shown_metric} (%), mean ± std over seeds, a dataset a "
              f"column; * = a dataset without a finished job; [paper] rows: published numbers")
        print(render(header, rows, fmt))
    else:
        for dataset in datasets:
            ds_jobs = [j for j in jobs if j.dataset == dataset]
            ds_metric = metric or _headline_metric(dataset)
            header, rows = sweep_table(ds_jobs, states, ds_metric)
            rows += reference_rows([dataset], list(dict.fromkeys(j.task for j in ds_jobs)), len(header))
            print(f"\n{dataset}: {ds_metric} (%), mean ± std over seeds; * = a task without a finished job")
            print(render(header, rows, fmt))
    unfinished = [j for j in jobs if states[j.key].status != FINISHED]
    if unfinished:
        print(f"\nNot finished ({len(unfinished)}; `udabench sweep` on the same file runs the missing ones, "
              f"with --rerun-failed the failed ones too):")
        print(job_table(unfinished, states))
    return 0


def sweep_records(jobs: list[Job], states: dict[str, JobState], metric: str,
                  sweep: str = "") -> list[dict[str, Any]]:
    """One record per row of one dataset's jobs of a sweep, with numbers as numbers."""
    tasks = list(dict.fromkeys(j.task for j in jobs))
    groups: dict[tuple, list[Job]] = {}
    for job in jobs:
        groups.setdefault((job.method, job.label, job.backbone, job.config_hash), []).append(job)
    labels = [key[1] for key in groups]
    out = []
    for (method, label, backbone, config_hash), members in groups.items():
        shown = _method_label(method, label) + (f" [cfg {config_hash[:6]}]" if labels.count(label) > 1 else "")
        per_task = {t: [states[j.key].metrics[metric] for j in members
                        if j.task == t and states[j.key].status == FINISHED and metric in states[j.key].metrics]
                    for t in tasks}
        means = [float(np.mean(v)) for v in per_task.values() if v]
        reasons = Counter(first_line(states[j.key].error) or "FAILED, no error recorded"
                          for j in members if states[j.key].status == FAILED)
        out.append({
            "sweep": sweep, "dataset": members[0].dataset, "metric": metric, "method": method, "label": shown,
            "backbone": backbone, "config": config_hash, "grid": dict(members[0].grid_point),
            "tasks": {t: task_stats(per_task[t]) for t in tasks},
            "avg": float(np.mean(means)) if means else None, "complete": len(means) == len(tasks),
            **{s: sum(states[j.key].status == s for j in members) for s in (FINISHED, FAILED, MISSING)},
            "failures": [{"reason": r, "runs": n} for r, n in reasons.most_common()],
        })
    return out


def suite_table(jobs: list[Job], states: dict[str, JobState], metric: str | None,
                sweep: str = "") -> tuple[list[str], list[list[str]]]:
    """Header and rows of a sweep over one-task datasets: a row per (method, grid point, backbone),
    whatever each dataset's own hyperparameters (its config hash), a column per dataset, then the
    published rows of the same datasets."""
    datasets = list(dict.fromkeys(j.dataset for j in jobs))
    groups: dict[tuple, list[Job]] = {}
    for job in jobs:
        groups.setdefault((job.method, job.label, job.backbone), []).append(job)
    header = ["method", "backbone", *datasets, "avg", "seeds", "finished", "failed", "missing"]
    rows = []
    for (method, label, backbone), members in groups.items():
        cells, means, seeds = [], [], set()
        for dataset in datasets:
            values = [states[j.key].metrics[metric or _headline_metric(dataset)] for j in members
                      if j.dataset == dataset and states[j.key].status == FINISHED
                      and (metric or _headline_metric(dataset)) in states[j.key].metrics]
            stats = task_stats(values)
            cells.append(stats_cell(stats))
            if values:
                means.append(float(np.mean(values)))
                seeds.add(len(values))
        avg = (f"{np.mean(means):.1f}" if means else "") + ("" if len(means) == len(datasets) else "*")
        rows.append([_method_label(method, label), backbone, *cells, avg, "/".join(map(str, sorted(seeds))),
                     *[str(sum(states[j.key].status == s for j in members)) for s in (FINISHED, FAILED, MISSING)]])
    tasks = [next(j.task for j in jobs if j.dataset == d) for d in datasets]
    return header, rows + reference_rows(datasets, tasks, len(header)) + suite_reference_rows(sweep, datasets, len(header))


def suite_reference_rows(sweep: str, columns: list[str], width: int) -> list[list[str]]:
    """The rows a paper gives for its whole suite only (an average over its datasets)."""
    from ..tracking.leaderboard import reference_label
    from ..tracking.references import references_for

    return [([reference_label(ref), ref.backbone, *[""] * len(columns), f"{ref.values['avg']:.2f}"] + [""] * width)[:width]
            for ref in references_for(f"suite:{sweep}") if "avg" in ref.values]


def reference_rows(datasets: list[str], columns: list[str], width: int) -> list[list[str]]:
    """The published rows (``tracking.references``) of these datasets, one row per paper row, a cell
    per column (a task name; a one-task dataset's task is its own name), padded to ``width``."""
    from ..tracking.leaderboard import reference_label
    from ..tracking.references import references_for

    rows: dict[tuple, dict[str, float]] = {}
    for dataset in datasets:
        for ref in references_for(dataset):
            for column in columns:
                if column in ref.values:
                    rows.setdefault((reference_label(ref), ref.backbone), {})[column] = ref.values[column]
    out = []
    for (label, backbone), values in rows.items():
        cells = [f"{values[c]:.2f}" if c in values else "" for c in columns]
        shown = [values[c] for c in columns if c in values]
        avg = f"{np.mean(shown):.1f}" + ("" if len(shown) == len(columns) else "*")
        out.append(([label, backbone, *cells, avg] + [""] * width)[:width])
    return out


def sweep_table(jobs: list[Job], states: dict[str, JobState], metric: str) -> tuple[list[str], list[list[str]]]:
    """Header and text rows for one dataset's jobs of a sweep."""
    recs = sweep_records(jobs, states, metric)
    tasks = list(dict.fromkeys(j.task for j in jobs))
    header = ["method", "backbone", *tasks, "avg", "seeds", "finished", "failed", "missing"]
    rows = []
    for r in recs:
        avg = (f"{r['avg']:.1f}" if r["avg"] is not None else "") + ("" if r["complete"] else "*")
        rows.append([r["label"], r["backbone"], *[stats_cell(r["tasks"][t]) for t in tasks], avg, _seeds(r),
                     *[str(r[s]) for s in (FINISHED, FAILED, MISSING)]])
    return header, rows


def sweep_csv(recs: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """One CSV table for every dataset of a sweep: the union of their tasks as column triples."""
    tasks = list(dict.fromkeys(t for r in recs for t in r["tasks"]))
    header = ["sweep", "dataset", "method", "label", "backbone", "config", *stat_columns(tasks),
              "avg", "complete", "seeds", FINISHED, FAILED, MISSING]
    rows = []
    for r in recs:
        cells = []
        for t in tasks:
            s = r["tasks"].get(t)
            cells += [num(s["mean"]), num(s["std"]), str(s["n"])] if s else ["", "", ""]
        rows.append([r["sweep"], r["dataset"], r["method"], r["label"], r["backbone"], r["config"], *cells,
                     num(r["avg"]), str(r["complete"]).lower(), _seeds(r),
                     *[str(r[s]) for s in (FINISHED, FAILED, MISSING)]])
    return header, rows


def _seeds(record: dict[str, Any]) -> str:
    return "/".join(map(str, sorted({s["n"] for s in record["tasks"].values() if s["n"]})))


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
