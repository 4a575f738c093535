"""The leaderboard: finished task runs from MLflow, as method x task, mean ± std over seeds."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from .references import references_for

FORMATS = {"simple": "simple", "github": "github", "latex": "latex", "csv": "csv", "plain": "plain"}


@dataclass
class Entry:
    """One leaderboard row: a method with one backbone and one configuration."""

    method: str
    label: str
    backbone: str
    config_hash: str
    weights: str
    precision: str
    per_task: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    eval_ips: list[float] = field(default_factory=list)
    adapt_ips: list[float] = field(default_factory=list)
    peak_mem: list[float] = field(default_factory=list)
    eval_cached: int = 0  # runs evaluated on cached features (left out of eval img/s)


def collect(runs, metric: str) -> list[Entry]:
    """Group runs by (method, backbone, config, weights, precision); keep the newest run of each
    (task, seed)."""
    entries: dict[tuple, Entry] = {}
    seen: set[tuple] = set()
    for run in runs:  # newest first
        t = run.data.tags
        key = (t.get("udabench.method"), t.get("udabench.backbone"), t.get("udabench.config_hash"),
               t.get("udabench.weights"), t.get("udabench.precision"))
        slot = key + (t.get("udabench.task"), t.get("udabench.seed"))
        if slot in seen or metric not in run.data.metrics:
            continue
        seen.add(slot)
        method = t.get("udabench.method", "?")
        label = f"{method} (reconstruction)" if t.get("udabench.fidelity") == "reconstruction" else method
        e = entries.setdefault(key, Entry(method, label, key[1] or "?", key[2] or "", key[3] or "", key[4] or ""))
        m = run.data.metrics
        e.per_task[t.get("udabench.task")].append(m[metric])
        for name, bucket in (("eval_images_per_s", e.eval_ips), ("adapt_images_per_s", e.adapt_ips),
                             ("peak_mem_mb", e.peak_mem)):
            if name == "eval_images_per_s" and m.get("eval_from_cache"):
                e.eval_cached += 1  # the head's rate on cached features: not comparable with encoding
            elif name in m and np.isfinite(m[name]):
                bucket.append(m[name])
    out = list(entries.values())
    # Show what differs only where one method+backbone has several groups.
    counts = defaultdict(int)
    for e in out:
        counts[(e.method, e.backbone)] += 1
    for e in out:
        if counts[(e.method, e.backbone)] > 1:
            e.label += f" [cfg {e.config_hash[:6]}, {e.precision}, weights {e.weights[:8]}]"
    return out


def _cell(values: list[float], csv: bool) -> str:
    if not values:
        return ""
    mean = float(np.mean(values))
    if len(values) == 1:
        return f"{mean:.1f}"
    std = float(np.std(values, ddof=1))
    return f"{mean:.1f} ± {std:.1f}" if not csv else f"{mean:.2f}±{std:.2f}"


def build_table(entries: list[Entry], task_names: list[str], dataset: str,
                references: bool = True, csv: bool = False) -> tuple[list[str], list[list[str]]]:
    """Header and rows; the avg column is over the standard tasks, marked * when some are missing."""
    header = ["method", "backbone", *task_names, "avg", "seeds", "eval img/s", "adapt img/s", "peak MB"]
    rows = []
    for e in sorted(entries, key=lambda e: (e.backbone, -_avg(e, task_names)[0])):
        avg, complete = _avg(e, task_names)
        seeds = sorted({len(v) for v in e.per_task.values()})
        rows.append([e.label, e.backbone, *[_cell(e.per_task.get(t, []), csv) for t in task_names],
                     (f"{avg:.1f}" if np.isfinite(avg) else "") + ("" if complete else "*"),
                     "/".join(map(str, seeds)),
                     f"{np.mean(e.eval_ips):.0f}" if e.eval_ips else ("cached" if e.eval_cached else ""),
                     f"{np.mean(e.adapt_ips):.0f}" if e.adapt_ips else "",
                     f"{np.max(e.peak_mem):.0f}" if e.peak_mem else ""])
    if references:
        for ref in references_for(dataset):
            rows.append([f"{ref.label} [paper]", ref.backbone,
                         *[f"{ref.values[t]:.1f}" if t in ref.values else "" for t in task_names],
                         f"{ref.values['avg']:.1f}" if "avg" in ref.values else "", "", "", "", ""])
    return header, rows


def _avg(e: Entry, task_names: list[str]) -> tuple[float, bool]:
    means = [float(np.mean(e.per_task[t])) for t in task_names if e.per_task.get(t)]
    extra = [float(np.mean(v)) for t, v in e.per_task.items() if t not in task_names]
    if not means and extra:  # only non-standard tasks were run
        return float(np.mean(extra)), True
    return (float(np.mean(means)) if means else float("nan")), len(means) == len(task_names)


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
