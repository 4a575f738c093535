"""MLflow: one experiment per dataset, a parent run per command, a child run per
(method, task, seed); and the queries the leaderboard is drawn from.

The default store is ``sqlite:///mlflow.db`` in the working directory;
``MLFLOW_TRACKING_URI`` (or ``--tracking-uri``) points udabench at a real
tracking server. A run that raises is marked FAILED, one interrupted with
Ctrl-C KILLED; what it measured until then is flushed first.
"""

from __future__ import annotations

import os
import time
from typing import Any, Iterable

DEFAULT_URI = "sqlite:///mlflow.db"
TAG_KIND = "udabench.kind"  # "command" (parent) or "task" (child)
FLUSH_EVERY = 200  # buffered metric values before a write


def tracking_uri(explicit: str | None = None) -> str:
    return explicit or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI


class TrackedRun:
    """One MLflow run: buffered metrics, params, tags, artifacts, and its end status.

    Use as a context manager: a clean exit ends it FINISHED, an exception
    FAILED, KeyboardInterrupt KILLED; buffered metrics are written in every case.
    """

    def __init__(self, client, run_id: str):
        self.client = client
        self.run_id = run_id
        self._buffer: list = []

    # -- logging -------------------------------------------------------------------------------
    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, _param_value(v)) for k, v in params.items()]
        for i in range(0, len(items), 100):
            self.client.log_batch(self.run_id, params=items[i:i + 100])

    def set_tags(self, tags: dict[str, Any]) -> None:
        from mlflow.entities import RunTag

        if tags:
            self.client.log_batch(self.run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Buffer values (numbers or 0-d tensors; tensors are read only at flush, so logging
        every step does not force a device sync every step)."""
        now = int(time.time() * 1000)
        for k, v in metrics.items():
            if v is not None:
                self._buffer.append((k, v, now, int(step or 0)))
        if len(self._buffer) >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        from mlflow.entities import Metric

        while self._buffer:
            chunk, self._buffer = self._buffer[:1000], self._buffer[1000:]
            self.client.log_batch(self.run_id, metrics=[Metric(k, float(v), t, s) for k, v, t, s in chunk])

    def log_text(self, text: str, artifact_file: str) -> None:
        self.client.log_text(self.run_id, text, artifact_file)

    def log_figure(self, figure, artifact_file: str) -> None:
        self.client.log_figure(self.run_id, figure, artifact_file)

    def log_table(self, rows: list[dict], artifact_file: str) -> None:
        if rows:
            columns = {k: [r.get(k) for r in rows] for k in rows[0]}
            self.client.log_table(self.run_id, columns, artifact_file)

    # -- life cycle ----------------------------------------------------------------------------
    def end(self, status: str) -> None:
        try:
            self.flush()
        except BaseException:
            # Metrics were not all written: such a run must not read FINISHED (a sweep would
            # skip it, and a leaderboard count it), so it ends FAILED and the error goes on.
            self.client.set_terminated(self.run_id, status="FAILED" if status == "FINISHED" else status)
            raise
        self.client.set_terminated(self.run_id, status=status)

    def __enter__(self) -> "TrackedRun":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.end("FINISHED")
        elif issubclass(exc_type, KeyboardInterrupt):
            self.end("KILLED")
        else:
            try:
                self.set_tags({"udabench.error": f"{exc_type.__name__}: {exc}"[:5000]})
            finally:  # even if the store refuses the tag, end the run and keep its metrics
                self.end("FAILED")


def _param_value(v: Any) -> str:
    s = ",".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)
    return s[:6000]


class Tracker:
    """Creates experiments and runs in one MLflow store."""

    def __init__(self, uri: str | None = None):
        from mlflow.tracking import MlflowClient

        from .store_guard import guard

        self.uri = tracking_uri(uri)
        self.client = guard(MlflowClient(tracking_uri=self.uri), self.uri)

    def experiment_id(self, name: str, create: bool = True) -> str | None:
        exp = self.client.get_experiment_by_name(name)
        if exp is not None:
            if exp.lifecycle_stage == "deleted":
                self.client.restore_experiment(exp.experiment_id)
            return exp.experiment_id
        if not create:
            return None
        try:
            return self.client.create_experiment(name)
        except Exception:  # created meanwhile by another process
            exp = self.client.get_experiment_by_name(name)
            if exp is None:
                raise
            return exp.experiment_id

    def start_run(self, experiment: str, name: str, tags: dict[str, Any],
                  parent: TrackedRun | None = None) -> TrackedRun:
        tags = {k: str(v) for k, v in tags.items()}
        if parent is not None:
            tags["mlflow.parentRunId"] = parent.run_id
        run = self.client.create_run(self.experiment_id(experiment), run_name=name, tags=tags)
        return TrackedRun(self.client, run.info.run_id)

    def task_runs(self, experiment: str, status: str | None = "FINISHED") -> list:
        """Every child run of an experiment (optionally only those that finished), newest first."""
        exp_id = self.experiment_id(experiment, create=False)
        if exp_id is None:
            return []
        flt = f"tags.`{TAG_KIND}` = 'task'"
        if status:
            flt += f" and attributes.status = '{status}'"
        out, token = [], None
        while True:
            page = self.client.search_runs([exp_id], filter_string=flt, max_results=1000,
                                           order_by=["attributes.start_time DESC"], page_token=token)
            out.extend(page)
            token = page.token
            if not token:
                return out


class NullRun:
    """A run that records nothing: under torchrun every process but rank 0 gets these, so
    that each (task, seed) is one MLflow run, written once."""

    run_id = ""

    def log_params(self, params: dict[str, Any]) -> None:
        pass

    def set_tags(self, tags: dict[str, Any]) -> None:
        pass

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        pass

    def flush(self) -> None:
        pass

    def log_text(self, text: str, artifact_file: str) -> None:
        pass

    def log_figure(self, figure, artifact_file: str) -> None:
        pass

    def log_table(self, rows: list[dict], artifact_file: str) -> None:
        pass

    def end(self, status: str) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        pass


class NullTracker:
    """``Tracker.start_run`` of the processes that must not write to MLflow."""

    def start_run(self, experiment: str, name: str, tags: dict[str, Any],
                  parent: TrackedRun | NullRun | None = None) -> NullRun:
        return NullRun()


def confusion_figure(confusion, classes: Iterable[str], title: str):
    """A confusion-matrix plot (matplotlib's Agg backend, no display needed)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    classes = list(classes)
    n = len(classes)
    size = min(4 + 0.12 * n, 12)  # 345 DomainNet classes: 12 in, not a 4000-px image
    fig = Figure(figsize=(size, size), dpi=100)
    ax = fig.add_subplot()
    im = ax.imshow(confusion, cmap="Blues")
    fig.colorbar(im, ax=ax, fraction=0.046)
    if n <= 40:
        ax.set_xticks(range(n), classes, rotation=90, fontsize=7)
        ax.set_yticks(range(n), classes, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.tight_layout()
    return fig
