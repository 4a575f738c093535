"""The leaderboard: task runs from MLflow, as method x task, mean ± std over seeds, with what failed.

Rows are groups of task runs with equal (method, backbone, configuration hash, weights,
precision). Within a row, each (task, seed) counts once:

* **finished**: the newest FINISHED run of the (task, seed) gives its value;
* **failed**: a (task, seed) with no FINISHED run at all counts each of its FAILED and KILLED
  runs in the row's ``failed`` column, and in the table of failures by reason below the
  leaderboard (the ``udabench.error`` tag of a FAILED run; "interrupted (KILLED)" for a KILLED
  one). A (task, seed) that has a FINISHED run is finished, whatever failed before or after it
  (the rule ``udabench sweep`` uses for its jobs): a failed attempt that was run again
  successfully is not a failure of the row.

Runs still RUNNING are left out; one whose heartbeat stopped (its process died without ending it,
``tracker.dead_since``) counts as failed, with that reason. A row whose runs
all failed is still a row, with empty cells and its failed count.

Rows are labelled by what their configuration changes: ``dapl (lr=0.001, epochs=5)`` names
the hyperparameters (MLflow params) whose values differ from the method's defaults on this
dataset (``defaults``, passed in by the caller: what a run with no ``--config`` and no ``--set``
resolves to there, per-dataset schedules included), or, for a method that is not installed here, those that differ among the method's
rows. Precision and weights are added where a method's rows on one backbone differ in them; the
configuration hash stays in its own ``config`` column (and in ``[cfg ...]`` only where two rows
would otherwise read the same).

Output: text tables (``render``), a CSV with ``<task> mean``, ``<task> std`` and ``<task> n``
columns (``build_table(..., csv=True)``), and JSON records with numeric fields (``records``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .references import Reference, references_for
from .tracker import TRANSDUCTIVE_TAG, _param_value, dead_reason, dead_since

#: tabulate's name for each text format.
FORMATS = {"simple": "simple", "github": "github", "latex": "latex", "csv": "csv", "plain": "plain"}
#: Every ``--format`` of the leaderboard commands.
OUTPUT_FORMATS = (*FORMATS, "json")
ERROR_TAG = "udabench.error"
FAILED_STATUSES = ("FAILED", "KILLED")
#: Params that are not hyperparameters of the configuration (precision has a column of its own).
NOT_HPARAMS = ("seed", "precision")
REASON_WIDTH = 120
LABEL_VALUE_WIDTH = 24
FAILED_NOTE = "failed = FAILED or KILLED runs of a (task, seed) that never finished"


@dataclass
class Entry:
    """One leaderboard row: a method with one backbone and one configuration."""

    method: str
    label: str
    backbone: str
    config_hash: str
    weights: str
    precision: str
    fidelity: str = ""
    #: Adapted on the very images it is scored on (run tag ``udabench.transductive``): a row of its own.
    transductive: bool = False
    params: dict[str, str] = field(default_factory=dict)  # the configuration, as MLflow params
    overrides: dict[str, str] = field(default_factory=dict)  # what the label names
    per_task: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    eval_ips: list[float] = field(default_factory=list)
    adapt_ips: list[float] = field(default_factory=list)
    peak_mem: list[float] = field(default_factory=list)
    eval_cached: int = 0  # runs evaluated on cached features (left out of eval img/s)
    failures: Counter = field(default_factory=Counter)  # reason -> runs

    @property
    def failed(self) -> int:
        return sum(self.failures.values())

    @property
    def has_results(self) -> bool:
        return any(self.per_task.values())


def failure_reason(run) -> str:
    """One line for why a run did not finish: its error's first line, or that it was interrupted."""
    if run.info.status == "KILLED":
        return "interrupted (KILLED)"
    if run.info.status == "RUNNING":
        last = dead_since(run)
        if last is not None:
            return dead_reason(last)
    return first_line(run.data.tags.get(ERROR_TAG, "")) or "FAILED, no error recorded"


def reference_label(ref: Reference) -> str:
    """A paper's row, with how it chose the state it reports (its model selection)."""
    return f"{ref.label} [paper; selection: {ref.selection}]"


def metric_value(metrics: Mapping[str, float], metric: str) -> float | None:
    """A run's value of ``metric``; for a selection metric (``top1_<rule>``) of a run with one
    scored state (nothing to choose from: zero-shot, a probe), that state's ``top1``."""
    if metric in metrics:
        return metrics[metric]
    if metric.startswith("top1_") and metrics.get("epochs_scored") == 1.0:
        return metrics.get("top1")
    return None


def selection_gaps(runs, rules: list[str]) -> tuple[list[str], list[list[str]]]:
    """Per method (and configuration) that trained over several scored epochs: how many points
    below the oracle (the best epoch by target test accuracy) each rule's choice lands, averaged
    over its finished task runs (tasks and seeds): "last" and each label-free validator."""
    gaps: dict[tuple, dict[str, list[float]]] = {}
    for run in runs:
        m, t = run.data.metrics, run.data.tags
        if run.info.status != "FINISHED" or "top1_oracle" not in m or m.get("epochs_scored", 0) < 2:
            continue
        row = gaps.setdefault((t.get("udabench.method", "?"), t.get("udabench.config_hash", "")[:10]), {})
        for rule in ["last", *rules]:
            value = m.get("top1" if rule == "last" else f"top1_{rule}")
            if value is not None:
                row.setdefault(rule, []).append(m["top1_oracle"] - value)
    header = ["method", "config", "last", *rules, "runs"]
    rows = [[method, config, *[f"{np.mean(g[r]):.1f}" if r in g else "" for r in ["last", *rules]],
             str(max(len(v) for v in g.values()))] for (method, config), g in sorted(gaps.items())]
    return header, rows


def collect(runs, metric: str, defaults: Mapping[str, Mapping[str, Any]] | None = None) -> list[Entry]:
    """Group task runs (any status, newest first) into rows; see the module docstring for which
    runs count. ``defaults``: method name -> its default hyperparameters on this dataset, for
    the labels (a method missing from it is labelled by what differs among its rows)."""
    entries: dict[tuple, Entry] = {}
    taken: set[tuple] = set()  # (task, seed) slots whose value is in
    finished: set[tuple] = set()  # slots with any FINISHED run
    failed: list[tuple[tuple, tuple, str]] = []
    for run in runs:  # newest first
        status = run.info.status
        if status != "FINISHED" and status not in FAILED_STATUSES and dead_since(run) is None:
            continue  # running: not a result, not (yet) a failure
        t = run.data.tags
        key = (t.get("udabench.method"), t.get("udabench.backbone"), t.get("udabench.config_hash"),
               t.get("udabench.weights"), t.get("udabench.precision"), t.get(TRANSDUCTIVE_TAG) == "true")
        slot = key + (t.get("udabench.task"), t.get("udabench.seed"))
        e = entries.get(key)
        if e is None:
            e = entries[key] = Entry(key[0] or "?", key[0] or "?", key[1] or "?", key[2] or "", key[3] or "",
                                     key[4] or "", fidelity=t.get("udabench.fidelity", ""), transductive=key[5],
                                     params={k: v for k, v in run.data.params.items() if k not in NOT_HPARAMS})
        if status != "FINISHED":
            failed.append((key, slot, failure_reason(run)))
            continue
        finished.add(slot)
        value = metric_value(run.data.metrics, metric)
        if slot in taken or value is None:
            continue
        taken.add(slot)
        m = run.data.metrics
        e.per_task[t.get("udabench.task")].append(value)
        for name, bucket in (("eval_images_per_s", e.eval_ips), ("adapt_images_per_s", e.adapt_ips),
                             ("peak_mem_mb", e.peak_mem)):
            if name == "eval_images_per_s" and m.get("eval_from_cache"):
                e.eval_cached += 1  # the head's rate on cached features: not comparable with encoding
            elif name in m and np.isfinite(m[name]):
                bucket.append(m[name])
    for key, slot, reason in failed:
        if slot not in finished:
            entries[key].failures[reason] += 1
    out = list(entries.values())
    label_entries(out, defaults)
    return out


# -- labels ------------------------------------------------------------------------------------------
def label_entries(entries: list[Entry], defaults: Mapping[str, Mapping[str, Any]] | None = None) -> None:
    """Set each entry's ``overrides`` and ``label`` (module docstring)."""
    by_method: dict[str, list[Entry]] = defaultdict(list)
    for e in entries:
        by_method[e.method].append(e)
    for method, group in by_method.items():
        known = (defaults or {}).get(method)
        if known is not None:
            base = {k: _param_value(v) for k, v in known.items()}
            for e in group:
                e.overrides = {k: e.params[k] for k in base if k in e.params and not _same(e.params[k], base[k])}
        else:  # not installed here: name what differs among its rows
            keys = sorted({k for e in group for k in e.params})
            varying = [k for k in keys if len({e.params.get(k) for e in group}) > 1]
            for e in group:
                e.overrides = {k: e.params[k] for k in varying if k in e.params}
        for e in group:
            e.label = _base_label(e)
    by_row: dict[tuple, list[Entry]] = defaultdict(list)
    for e in entries:
        by_row[(e.method, e.backbone)].append(e)
    for group in by_row.values():
        precisions, weights = {e.precision for e in group}, {e.weights for e in group}
        for e in group:
            extra = ([e.precision or "?"] if len(precisions) > 1 else []) + \
                    ([f"weights {e.weights[:8]}"] if len(weights) > 1 else [])
            e.label += f" [{', '.join(extra)}]" if extra else ""
        seen = Counter(e.label for e in group)
        for e in group:
            if seen[e.label] > 1:  # same visible differences, other hash (e.g. a renamed default)
                e.label += f" [cfg {e.config_hash[:6]}]"


def _base_label(e: Entry) -> str:
    parts = (["reconstruction"] if e.fidelity == "reconstruction" else []) + \
        (["transductive"] if e.transductive else []) + \
        [", ".join(f"{k}={_short(v)}" for k, v in e.overrides.items())] * bool(e.overrides)
    return f"{e.method} ({'; '.join(parts)})" if parts else e.method


def _short(value: str) -> str:
    return value if len(value) <= LABEL_VALUE_WIDTH else value[:LABEL_VALUE_WIDTH - 3] + "..."


def _same(a: str, b: str) -> bool:
    """Whether two param strings say the same value ("0.001" and "1e-3"; "True" and "true")."""
    if a == b:
        return True
    try:
        return float(a) == float(b)
    except ValueError:
        bools = {"true": True, "false": False}
        return a.lower() in bools and bools[a.lower()] == bools.get(b.lower())


# -- numbers ----------------------------------------------------------------------------------------
def task_stats(values: list[float]) -> dict[str, Any]:
    """{"mean", "std", "n"} of one cell: std over seeds (ddof 1), None for fewer than two."""
    n = len(values)
    return {"mean": float(np.mean(values)) if n else None,
            "std": float(np.std(values, ddof=1)) if n > 1 else None, "n": n}


def cell(values: list[float]) -> str:
    """A text cell: "40.7 ± 0.5", "33.1" for one value, "" for none."""
    return stats_cell(task_stats(values))


def stats_cell(s: Mapping[str, Any]) -> str:
    """The text cell of ``task_stats``."""
    if s["mean"] is None:
        return ""
    return f"{s['mean']:.1f}" if s["std"] is None else f"{s['mean']:.1f} ± {s['std']:.1f}"


def stat_columns(task_names: list[str]) -> list[str]:
    """The CSV columns of the tasks: ``<task> mean``, ``<task> std``, ``<task> n``."""
    return [f"{t} {k}" for t in task_names for k in ("mean", "std", "n")]


def stat_cells(values: list[float]) -> list[str]:
    s = task_stats(values)
    return [num(s["mean"]), num(s["std"]), str(s["n"])]


def first_line(error: str, width: int = REASON_WIDTH) -> str:
    """An error's first line, cut to ``width``."""
    error = (error or "").strip()
    line = error.splitlines()[0] if error else ""
    return line if len(line) <= width else line[:width - 3] + "..."


def num(x: float | None) -> str:
    """A number for CSV: plain ASCII, 4 decimals at most, "" for none."""
    return "" if x is None or not np.isfinite(x) else repr(round(float(x), 4))


def _avg(e: Entry, task_names: list[str]) -> tuple[float, bool]:
    means = [float(np.mean(e.per_task[t])) for t in task_names if e.per_task.get(t)]
    extra = [float(np.mean(v)) for t, v in e.per_task.items() if t not in task_names and v]
    if not means and extra:  # only non-standard tasks were run
        return float(np.mean(extra)), True
    return (float(np.mean(means)) if means else float("nan")), len(means) == len(task_names)


def _order(entries: list[Entry], task_names: list[str]) -> list[Entry]:
    """By backbone, best average first; rows without a finished run last."""
    def key(e):
        avg = _avg(e, task_names)[0]
        return e.backbone, not np.isfinite(avg), -avg if np.isfinite(avg) else 0.0, e.label
    return sorted(entries, key=key)


# -- tables ------------------------------------------------------------------------------------------
def records(entries: list[Entry], task_names: list[str], dataset: str, metric: str,
            references: bool = True) -> list[dict[str, Any]]:
    """One JSON-ready record per row, with numbers as numbers (``None`` where there is none)."""
    out = []
    for e in _order(entries, task_names):
        avg, complete = _avg(e, task_names)
        out.append({
            "dataset": dataset, "metric": metric, "reference": False,
            "method": e.method, "label": e.label, "fidelity": e.fidelity, "backbone": e.backbone,
            "config": e.config_hash, "precision": e.precision, "weights": e.weights,
            "overrides": dict(e.overrides),
            "tasks": {t: task_stats(e.per_task.get(t, [])) for t in task_names},
            "avg": avg if np.isfinite(avg) else None, "complete": bool(complete and np.isfinite(avg)),
            "failed": e.failed,
            "failures": [{"reason": r, "runs": n} for r, n in e.failures.most_common()],
            "eval_images_per_s": float(np.mean(e.eval_ips)) if e.eval_ips else None,
            "eval_cached_runs": e.eval_cached,
            "adapt_images_per_s": float(np.mean(e.adapt_ips)) if e.adapt_ips else None,
            "peak_mem_mb": float(np.max(e.peak_mem)) if e.peak_mem else None,
        })
    if references:
        out += [_reference_record(ref, task_names, dataset, metric) for ref in references_for(dataset)]
    return out


def _reference_record(ref: Reference, task_names: list[str], dataset: str, metric: str) -> dict[str, Any]:
    return {"dataset": dataset, "metric": metric, "reference": True, "source": ref.source,
            "method": ref.method, "label": reference_label(ref), "fidelity": "", "backbone": ref.backbone,
            "config": "", "precision": "", "weights": "", "overrides": {},
            "tasks": {t: {"mean": ref.values.get(t), "std": None, "n": None} for t in task_names},
            "avg": ref.values.get("avg"), "complete": all(t in ref.values for t in task_names),
            "failed": None, "failures": [], "eval_images_per_s": None, "eval_cached_runs": None,
            "adapt_images_per_s": None, "peak_mem_mb": None}


def build_table(entries: list[Entry], task_names: list[str], dataset: str,
                references: bool = True, csv: bool = False) -> tuple[list[str], list[list[str]]]:
    """Header and rows. Text: one "mean ± std" cell per task; the avg column is over the standard
    tasks, marked * when some are missing. CSV: separate mean, std and n columns per task,
    plain numbers, and ``complete`` instead of the *."""
    if csv:
        header = ["method", "label", "backbone", "config", "precision", "weights", *stat_columns(task_names),
                  "avg", "complete", "seeds", "failed", "eval img/s", "adapt img/s", "peak MB"]
    else:
        header = ["method", "backbone", "config", *task_names, "avg", "seeds", "failed",
                  "eval img/s", "adapt img/s", "peak MB"]
    rows = []
    for e in _order(entries, task_names):
        avg, complete = _avg(e, task_names)
        seeds = "/".join(map(str, sorted({len(v) for v in e.per_task.values() if v})))
        if csv:
            rows.append([e.method, e.label, e.backbone, e.config_hash, e.precision, e.weights,
                         *[c for t in task_names for c in stat_cells(e.per_task.get(t, []))],
                         num(avg), str(bool(complete and np.isfinite(avg))).lower(), seeds, str(e.failed),
                         num(np.mean(e.eval_ips)) if e.eval_ips else "",
                         num(np.mean(e.adapt_ips)) if e.adapt_ips else "",
                         num(np.max(e.peak_mem)) if e.peak_mem else ""])
            continue
        rows.append([e.label, e.backbone, e.config_hash, *[cell(e.per_task.get(t, [])) for t in task_names],
                     (f"{avg:.1f}" if np.isfinite(avg) else "") + ("" if complete or not np.isfinite(avg) else "*"),
                     seeds, str(e.failed),
                     f"{np.mean(e.eval_ips):.0f}" if e.eval_ips else ("cached" if e.eval_cached else ""),
                     f"{np.mean(e.adapt_ips):.0f}" if e.adapt_ips else "",
                     f"{np.max(e.peak_mem):.0f}" if e.peak_mem else ""])
    if references:
        for ref in references_for(dataset):
            if csv:
                rows.append([ref.method, reference_label(ref), ref.backbone, "", "", "",
                             *[c for t in task_names for c in (num(ref.values.get(t)), "", "")],
                             num(ref.values.get("avg")), str(all(t in ref.values for t in task_names)).lower(),
                             "", "", "", "", ""])
            else:
                rows.append([reference_label(ref), ref.backbone, "",
                             *[f"{ref.values[t]:.1f}" if t in ref.values else "" for t in task_names],
                             f"{ref.values['avg']:.1f}" if "avg" in ref.values else "", "", "", "", "", ""])
    return header, rows


def failure_table(entries: list[Entry], task_names: list[str]) -> tuple[list[str], list[list[str]]]:
    """The failed runs, one line per (row, reason) with its count of runs, in the rows' order."""
    rows = [[e.label, e.backbone, e.config_hash, str(n), reason]
            for e in _order(entries, task_names) for reason, n in e.failures.most_common()]
    return ["method", "backbone", "config", "runs", "reason"], rows


def render(header: list[str], rows: list[list[str]], fmt: str) -> str:
    if fmt == "csv":
        import csv
        import io

        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(header)
        w.writerows(rows)
        return buf.getvalue()
    from tabulate import tabulate

    return tabulate(rows, headers=header, tablefmt=FORMATS[fmt], disable_numparse=True)


def to_json(data: Any) -> str:
    """JSON text of records: a number that is not finite becomes null (JSON has no NaN)."""
    import json

    def clean(x):
        if isinstance(x, float) and not np.isfinite(x):
            return None
        if isinstance(x, dict):
            return {k: clean(v) for k, v in x.items()}
        if isinstance(x, (list, tuple)):
            return [clean(v) for v in x]
        return x

    return json.dumps(clean(data), indent=2, allow_nan=False, default=str)
