"""The leaderboard as a figure (``udabench leaderboard --plot FILE.png``), drawn from the rows the
table shows (``leaderboard.records``), with matplotlib's Agg backend (no display needed).

Two panels:

(a) the metric per task and row, one group of bars per task plus the ``avg`` column, each bar the
    mean over seeds with an error bar of ± one standard deviation (none for a single seed); the
    papers' reference rows, when shown, are hatched bars without error bars;
(b) the average over tasks against the adaptation throughput (``adapt_images_per_s``, the images
    per second of the method's adaptation pass, mean over its runs; log scale). A row without it
    has no adaptation pass over images (zero-shot CLIP): it is drawn as a dashed horizontal line
    at its average, labelled "no adaptation pass". Reference rows have no measured throughput and
    are not in (b). An average marked ``*`` is over the tasks that were run, not all standard ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

NO_ADAPTATION = "no adaptation pass"


def leaderboard_figure(recs: Sequence[dict[str, Any]], task_names: Sequence[str], dataset: str, metric: str,
                       chosen: str = "the last epoch"):
    """A matplotlib ``Figure`` of the leaderboard records (``leaderboard.records``): panels (a)
    and (b) of the module docstring. ``chosen`` says which epoch each run's value is from."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    rows = [r for r in recs if r["avg"] is not None or any(s["mean"] is not None for s in r["tasks"].values())]
    groups = [*task_names, "avg"]
    width = min(max(8.0, 0.9 + 0.22 * len(groups) * max(len(rows), 1)), 24.0) + 3.0  # + the legend
    fig = Figure(figsize=(width, 10), dpi=100, layout="constrained")
    ax_tasks, ax_speed = fig.subplots(2, 1, gridspec_kw={"height_ratios": [3, 2]})
    labels = row_labels(rows)
    colors = {id(r): f"C{i % 10}" for i, r in enumerate(rows)}
    _task_bars(ax_tasks, rows, labels, colors, groups)
    ax_tasks.set_title(f"(a) {dataset}: {metric} per task at {chosen}, mean ± std over seeds")
    ax_tasks.set_ylabel(f"{metric} (%)")
    ax_tasks.set_xlabel("task")
    _throughput(ax_speed, [r for r in rows if not r["reference"]], labels, colors)
    ax_speed.set_title(f"(b) {dataset}: average {metric} against adaptation throughput")
    ax_speed.set_xlabel("adaptation throughput (images/s, adapt_images_per_s)")
    ax_speed.set_ylabel(f"{metric}, average over tasks (%)")
    return fig


def row_labels(rows: Sequence[dict[str, Any]]) -> dict[int, str]:
    """Each row's legend label: its table label, with its backbone when rows differ in it, and
    ``*`` when its average is not over every standard task."""
    several = len({r["backbone"] for r in rows}) > 1
    out = {}
    for r in rows:
        label = r["label"] + (f" [{r['backbone']}]" if several and not r["reference"] else "")
        out[id(r)] = label + ("*" if r["avg"] is not None and not r["complete"] else "")
    return out


def _task_bars(ax, rows, labels: dict[int, str], colors: dict[int, str], groups: list[str]) -> None:
    """Panel (a): per task (and avg) one bar per row, ± std over seeds."""
    x = np.arange(len(groups))
    step = 0.8 / max(len(rows), 1)
    for i, r in enumerate(rows):
        means = [_nan(r["tasks"][t]["mean"]) for t in groups[:-1]] + [_nan(r["avg"])]
        stds = [_nan(r["tasks"][t]["std"]) for t in groups[:-1]] + [np.nan]
        offset = (i - (len(rows) - 1) / 2) * step
        yerr = None if r["reference"] or all(np.isnan(stds)) else np.nan_to_num(stds, nan=0.0)
        ax.bar(x + offset, means, step * 0.95, yerr=yerr, capsize=2, color=colors[id(r)], label=labels[id(r)],
               hatch="//" if r["reference"] else None, alpha=0.55 if r["reference"] else 1.0,
               error_kw={"elinewidth": 1})
    crowded = sum(map(len, groups)) > 60
    ax.set_xticks(x, groups, rotation=25 if crowded else 0, ha="right" if crowded else "center")
    ax.set_ylim(0, 100)
    ax.grid(axis="y", alpha=0.3)
    if rows:
        ax.legend(fontsize=7, ncol=1 if len(rows) <= 20 else 2, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def _throughput(ax, rows, labels: dict[int, str], colors: dict[int, str]) -> None:
    """Panel (b): a point per row that trains; a dashed line per row without an adaptation pass."""
    trained = [r for r in rows if r["avg"] is not None and r["adapt_images_per_s"]]
    for r in trained:
        ax.scatter([r["adapt_images_per_s"]], [r["avg"]], color=colors[id(r)], s=40, label=labels[id(r)], zorder=3)
        ax.annotate(labels[id(r)], (r["adapt_images_per_s"], r["avg"]), textcoords="offset points",
                    xytext=(5, 4), fontsize=7)
    if trained:
        speeds = [r["adapt_images_per_s"] for r in trained]
        ax.set_xscale("log")
        ax.set_xlim(min(speeds) / 3, max(speeds) * 3)
    for r in rows:
        if r["avg"] is not None and not r["adapt_images_per_s"]:
            ax.axhline(r["avg"], color=colors[id(r)], linestyle="--", linewidth=1,
                       label=f"{labels[id(r)]} ({NO_ADAPTATION})")
            ax.annotate(f"{labels[id(r)]} ({NO_ADAPTATION})", (0.01, r["avg"]), xycoords=("axes fraction", "data"),
                        xytext=(0, 3), textcoords="offset points", fontsize=7)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)


def _nan(value: float | None) -> float:
    return np.nan if value is None else float(value)
