"""MLflow: one experiment per dataset, a parent run per command, a child run per
(method, task, seed); and the queries the leaderboard is drawn from.

The default store is ``sqlite:///mlflow.db`` in the working directory;
``MLFLOW_TRACKING_URI`` (or ``--tracking-uri``) points udabench at a real
tracking server. A run that raises is marked FAILED, one interrupted with
Ctrl-C KILLED; what it measured until then is flushed first. Commands that only
read (the leaderboard, ``runs gc``) open a store with ``create_store=False``: a
SQLite file or store folder that does not exist is an error, not a new empty store.
Experiments udabench writes to are tagged for the MLflow UI's training views
(``mlflow_ui.py``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..contract.errors import UdabenchError
from .mlflow_ui import (
    EXPERIMENT_KIND_TAG,
    LEADERBOARD_FIGURE,
    LEADERBOARD_KIND,
    LEADERBOARD_TABLE,
    TRAINING_KIND,
    leaderboard_run_name,
    mark_training,
    update_view,
    where_to_look,
)

DEFAULT_URI = "sqlite:///mlflow.db"
TAG_KIND = "udabench.kind"  # "command" (parent), "task" (child), "sweep", "leaderboard" (mlflow_ui.py)
#: Run tag of every run that adapts on an unlabeled target: "true" when that target is the evaluation
#: split itself (``--transductive``, ReCLIP's protocol, or a transductive benchmark), else "false".
TRANSDUCTIVE_TAG = "udabench.transductive"
FLUSH_EVERY = 200  # buffered metric values before a write


def tracking_uri(explicit: str | None = None) -> str:
    return explicit or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI


#: udabench's defaults for an HTTP store, set only where the user has not set them: MLflow's own
#: (120 s per request, 7 retries with a backoff factor of 2) wait minutes for a server that is gone.
#: MLflow reads them at each request (``mlflow.utils.rest_utils.http_request``); MLFLOW_HTTP_REQUEST_TIMEOUT
#: and ..._BACKOFF_FACTOR are parsed as integers.
HTTP_DEFAULTS = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "10", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
                 "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1", "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0"}
#: The same for the one request that checks the store before a command starts (a server that
#: accepts connections and never answers: about 11 s).
HTTP_CHECK_DEFAULTS = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "5", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1"}
#: MLflow error codes that mean the store answered and refused a write (a bug to report), not that
#: it is gone (then the write is kept in the spool).
REFUSALS = {"INVALID_PARAMETER_VALUE", "RESOURCE_ALREADY_EXISTS", "RESOURCE_DOES_NOT_EXIST", "BAD_REQUEST",
            "INVALID_STATE", "PERMISSION_DENIED", "UNAUTHENTICATED", "INVALID_REQUEST"}


#: A tag every run refreshes (Unix seconds) while its process lives: a RUNNING run whose heartbeat
#: is older than :func:`dead_after_minutes` died without ending (SIGKILL, power cut, lost node).
HEARTBEAT_TAG = "udabench.heartbeat"
HEARTBEAT_S = 30.0
DEAD_AFTER_MIN = 10.0  # default; UDABENCH_DEAD_AFTER_MIN overrides it


def dead_after_minutes() -> float:
    value = os.environ.get("UDABENCH_DEAD_AFTER_MIN")
    try:
        return float(value) if value else DEAD_AFTER_MIN
    except ValueError:
        raise UdabenchError(f"UDABENCH_DEAD_AFTER_MIN must be a number of minutes, got {value!r}") from None


def dead_since(run, minutes: float | None = None, now: float | None = None) -> float | None:
    """When a RUNNING run last showed life (Unix seconds), if that is more than ``minutes`` ago; else None.
    A run without a heartbeat (written by an older udabench) is judged by its start time, a day."""
    if run.info.status != "RUNNING":
        return None
    minutes = dead_after_minutes() if minutes is None else minutes
    now = time.time() if now is None else now
    beat = run.data.tags.get(HEARTBEAT_TAG)
    try:
        last = float(beat) if beat else (run.info.start_time or 0) / 1000
    except ValueError:
        last = (run.info.start_time or 0) / 1000
    limit = minutes * 60 if beat else max(minutes * 60, 86400)
    return last if now - last > limit else None


def dead_reason(last: float) -> str:
    return (f"died: RUNNING with no heartbeat since {time.strftime('%Y-%m-%d %H:%M', time.localtime(last))} "
            f"(its process was killed?); `udabench runs gc` marks it KILLED")


def is_http(uri: str) -> bool:
    return uri.startswith(("http://", "https://"))


def http_defaults() -> None:
    """udabench's :data:`HTTP_DEFAULTS`, for the variables the user has not set."""
    for key, value in HTTP_DEFAULTS.items():
        if key not in os.environ:
            os.environ[key] = value
            _OURS.add(key)


_OURS: set[str] = set()  # the MLFLOW_HTTP_* variables udabench set (not the user)


@contextlib.contextmanager
def http_check_defaults():
    """Tighter limits for the store check, where udabench (not the user) set them."""
    saved = {k: os.environ[k] for k in HTTP_CHECK_DEFAULTS if k in _OURS}
    os.environ.update({k: HTTP_CHECK_DEFAULTS[k] for k in saved})
    try:
        yield
    finally:
        os.environ.update(saved)


def is_refusal(exc: BaseException) -> bool:
    return getattr(exc, "error_code", None) in REFUSALS


class TrackingStoreUnavailableError(UdabenchError):
    """The MLflow store cannot be reached or opened: said before any work starts."""


def unavailable_message(uri: str, exc: BaseException) -> str:
    from .spool import _short

    if is_http(uri):
        fix = ("Start the server, e.g. `mlflow server --backend-store-uri sqlite:///mlflow.db --host "
               "127.0.0.1 --port 5000` (and MLFLOW_TRACKING_URI=http://127.0.0.1:5000), or pass "
               "--tracking-uri sqlite:///mlflow.db to record into a local file")
    else:
        fix = ("Check that its folder exists and is writable, or pass --tracking-uri (e.g. sqlite:///mlflow.db, "
               "or a server started with `mlflow server --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 "
               "--port 5000`)")
    return f"cannot use the MLflow store {uri} ({_short(exc)}). {fix}. Nothing was run."


class TrackingStoreMissingError(UdabenchError):
    """A command that only reads was pointed at a store that does not exist."""


def missing_store(uri: str) -> str | None:
    """Why there is no store at ``uri`` (a SQLite file or a store folder that does not exist), or
    None when there may be one (it exists, or only a connection can tell: a server, a database).
    A path that runs through a regular file is not "missing" but broken: opening it says so."""
    path = sqlite_path(uri)
    if path is None and (uri.startswith("file:") or ("://" not in uri and not uri.startswith("databricks"))):
        path = Path(uri[len("file://"):] if uri.startswith("file://") else uri.removeprefix("file:")).expanduser()
        kind, present = "folder", path.is_dir()
    elif path is not None:
        kind, present = "file", path.is_file()
    else:
        return None
    if present or path.exists():
        return None
    existing = next((p for p in path.absolute().parents if p.exists()), None)
    if existing is not None and not existing.is_dir():
        return None
    return f"the {kind} {path.resolve()} does not exist"


def require_store(uri: str) -> None:
    """Raise :class:`TrackingStoreMissingError` (naming the store and how to point at one) when
    there is no store at ``uri``; a read must not create one."""
    reason = missing_store(uri)
    if reason is None:
        return
    default = (f" (the default when neither --tracking-uri nor MLFLOW_TRACKING_URI is set: {DEFAULT_URI} in "
               f"the working directory)" if uri == DEFAULT_URI else "")
    raise TrackingStoreMissingError(
        f"no MLflow tracking store at {uri}{default}: {reason}, and this command only reads, so it creates "
        f"none. Point udabench at the store your runs were recorded in: --tracking-uri URI, or "
        f"MLFLOW_TRACKING_URI=URI (e.g. sqlite:////path/to/mlflow.db, or http://host:5000 for a tracking "
        f"server); `udabench run` creates the store when it records its first run")


@contextlib.contextmanager
def schema_lock(uri: str):
    """For a SQLite store: one process at a time creates (or migrates) its schema, so that runs
    starting together on a new file do not race in alembic (``fcntl.flock`` on ``<db>.lock``)."""
    path = sqlite_path(uri)
    if path is None or not path.parent.is_dir():
        yield
        return
    try:
        fh = open(f"{path}.lock", "a+")
    except OSError:  # a read-only folder: no schema will be created there either
        yield
        return
    with fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def sqlite_path(uri: str) -> Path | None:
    if not uri.startswith("sqlite:///"):
        return None
    rest = uri[len("sqlite:///"):].split("?")[0]
    return Path(rest).expanduser() if rest and rest != ":memory:" else None


class TrackedRun:
    """One MLflow run: buffered metrics, params, tags, artifacts, and its end status.

    Use as a context manager: a clean exit ends it FINISHED, an exception
    FAILED, KeyboardInterrupt KILLED; buffered metrics are written in every case.

    Every write goes to the run's spool first (``spool.py``), then to the store. When the store
    stops answering, the run goes on in the spool alone (so later writes cost nothing), and
    :meth:`end` raises :class:`TrackingStoreLostError` naming ``udabench sync``.
    """

    def __init__(self, client, run_id: str | None, tracker: Tracker | None = None, spool=None):
        self.client = client
        self.run_id = run_id or ""
        self.tracker = tracker
        self.spool = spool
        self._buffer: list = []
        self._beat: threading.Event | None = None

    def start_heartbeat(self, every: float = HEARTBEAT_S) -> None:
        """Refresh :data:`HEARTBEAT_TAG` every ``every`` seconds from a daemon thread, until the run ends."""
        if not self.run_id or self._beat is not None:
            return
        stop = self._beat = threading.Event()

        def beat():
            while not stop.wait(every):
                if self.tracker is not None and self.tracker.lost is not None:
                    return
                try:
                    self.client.set_tag(self.run_id, HEARTBEAT_TAG, str(int(time.time())))
                except Exception:  # noqa: BLE001, S110 - a missed beat is not a lost measurement
                    pass
        threading.Thread(target=beat, name=f"udabench-heartbeat-{self.run_id[:8]}", daemon=True).start()

    def _do(self, record: dict, call: Callable[[], Any]) -> None:
        """Spool one write, then send it to the store unless the store is gone."""
        seq = self.spool.append(record) if self.spool is not None else None
        if self.tracker is not None and self.tracker.lost is not None:
            return
        if not self.run_id:
            return
        try:
            call()
        except Exception as exc:
            if self.spool is None or self.tracker is None or is_refusal(exc):
                raise
            self.tracker.lost = exc
            return
        if seq is not None:
            self.spool.ack(seq)

    # -- logging -------------------------------------------------------------------------------
    def log_params(self, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        values = {k: _param_value(v) for k, v in params.items()}
        items = [Param(k, v) for k, v in values.items()]

        def send():
            for i in range(0, len(items), 100):
                self.client.log_batch(self.run_id, params=items[i:i + 100])
        self._do({"op": "params", "items": values}, send)

    def set_tags(self, tags: dict[str, Any]) -> None:
        from mlflow.entities import RunTag

        if tags:
            values = {k: str(v) for k, v in tags.items()}
            self._do({"op": "tags", "items": values},
                     lambda: self.client.log_batch(self.run_id, tags=[RunTag(k, v) for k, v in values.items()]))

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
            values = [[k, float(v), t, s] for k, v, t, s in chunk]
            self._do({"op": "metrics", "items": values},
                     lambda values=values: self.client.log_batch(self.run_id,
                                                                 metrics=[Metric(*m) for m in values]))

    def _artifact(self, kind: str, artifact_file: str, save: Callable[[Path], None],
                  send: Callable[[], None]) -> None:
        if self.spool is not None:
            save(self.spool.artifact_path(artifact_file))
        self._do({"op": "artifact", "kind": kind, "file": artifact_file}, send)

    def log_text(self, text: str, artifact_file: str) -> None:
        self._artifact("text", artifact_file, lambda p: p.write_text(text, encoding="utf-8"),
                       lambda: self.client.log_text(self.run_id, text, artifact_file))

    def log_figure(self, figure, artifact_file: str) -> None:
        """Render ``figure`` once (drawing is most of its cost) and send that file to the store."""
        import tempfile

        with tempfile.TemporaryDirectory(prefix="udabench-figure-") as scratch:
            path = self.spool.artifact_path(artifact_file) if self.spool is not None else \
                Path(scratch) / Path(artifact_file).name
            figure.savefig(path)
            folder = str(Path(artifact_file).parent)
            self._do({"op": "artifact", "kind": "file", "file": artifact_file},
                     lambda: self.client.log_artifact(self.run_id, str(path), None if folder == "." else folder))

    def log_table(self, rows: list[dict], artifact_file: str) -> None:
        if rows:
            columns = {k: [r.get(k) for r in rows] for k in rows[0]}
            self._artifact("table", artifact_file, lambda p: p.write_text(json.dumps(columns), encoding="utf-8"),
                           lambda: self.client.log_table(self.run_id, columns, artifact_file))

    # -- life cycle ----------------------------------------------------------------------------
    def end(self, status: str) -> None:
        try:
            self.flush()
        except BaseException:
            # Metrics were not all written: such a run must not read FINISHED (a sweep would
            # skip it, and a leaderboard count it), so it ends FAILED and the error goes on.
            self._end("FAILED" if status == "FINISHED" else status)
            raise
        self._end(status)

    def _end(self, status: str) -> None:
        if self._beat is not None:
            self._beat.set()
        now = int(time.time() * 1000)
        self._do({"op": "end", "status": status, "end_time": now},
                 lambda: self.client.set_terminated(self.run_id, status=status, end_time=now))
        lost = self.tracker.lost if self.tracker is not None else None
        if self.spool is not None:
            self.spool.close(remove=lost is None)
            self.spool = None
        if lost is not None:
            from .spool import TrackingStoreLostError, lost_message

            raise TrackingStoreLostError(lost_message(self.tracker.uri, lost)) from lost

    def __enter__(self) -> TrackedRun:
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
    """Creates experiments and runs in one MLflow store.

    The store is checked when the tracker is made (a command makes it before loading weights or
    data): an HTTP store gets short timeouts and few retries (:data:`HTTP_DEFAULTS`), and a store
    that cannot be used is one :class:`TrackingStoreUnavailableError` naming the URI and the fix.
    A SQLite store's schema is created under a file lock (:func:`schema_lock`). With
    ``create_store=False`` (the commands that only read) a store that does not exist is a
    :class:`TrackingStoreMissingError` and nothing is created."""

    def __init__(self, uri: str | None = None, create_store: bool = True):
        from mlflow.tracking import MlflowClient

        from .store_guard import guard

        self.uri = tracking_uri(uri)
        if not create_store:
            require_store(self.uri)
        self.lost: BaseException | None = None  # the error of the store that stopped answering
        if is_http(self.uri):
            http_defaults()
        try:
            with schema_lock(self.uri), http_check_defaults():
                self.client = guard(MlflowClient(tracking_uri=self.uri), self.uri)
                self.client.search_experiments(max_results=1)  # creates a new SQLite store's schema
        except UdabenchError:
            raise
        except Exception as exc:
            raise TrackingStoreUnavailableError(unavailable_message(self.uri, exc)) from exc

    def experiment_id(self, name: str, create: bool = True) -> str | None:
        """The id of experiment ``name``; with ``create`` (a writer) it is made if missing, restored
        if deleted, and tagged for the MLflow UI's training views (``mlflow_ui.mark_training``)."""
        exp = self.client.get_experiment_by_name(name)
        if exp is not None:
            if exp.lifecycle_stage == "deleted":
                self.client.restore_experiment(exp.experiment_id)
            if create:
                mark_training(self.client, exp)
            return exp.experiment_id
        if not create:
            return None
        try:
            return self.client.create_experiment(name, tags={EXPERIMENT_KIND_TAG: TRAINING_KIND})
        except Exception:  # created meanwhile by another process
            exp = self.client.get_experiment_by_name(name)
            if exp is None:
                raise
            return exp.experiment_id

    def start_run(self, experiment: str, name: str, tags: dict[str, Any],
                  parent: TrackedRun | None = None) -> TrackedRun:
        from .spool import Spool

        tags = {k: str(v) for k, v in tags.items()}
        tags[HEARTBEAT_TAG] = str(int(time.time()))
        if parent is not None and parent.run_id:
            tags["mlflow.parentRunId"] = parent.run_id
        start = int(time.time() * 1000)
        run_id = None
        if self.lost is None:
            try:
                run_id = self.client.create_run(self.experiment_id(experiment), run_name=name, tags=tags,
                                                start_time=start).info.run_id
            except Exception as exc:
                if is_refusal(exc):
                    raise
                self.lost = exc
        parent_spool = getattr(parent, "spool", None)
        spool = Spool.create({"uri": self.uri, "experiment": experiment, "name": name, "tags": tags,
                              "start_time": start, "run_id": run_id,
                              "parent_run_id": parent.run_id if parent is not None and parent.run_id else None,
                              "parent_spool": parent_spool.id if parent_spool is not None else None})
        if run_id is None and spool is None:
            raise TrackingStoreUnavailableError(unavailable_message(self.uri, self.lost))
        run = TrackedRun(self.client, run_id, self, spool)
        run.start_heartbeat()
        return run

    def dead_runs(self, minutes: float | None = None) -> list[tuple[Any, float]]:
        """Every RUNNING run of the store whose process is gone (see :func:`dead_since`), with its last
        sign of life; not the leaderboard's run (:meth:`publish_leaderboard`), which is no method run."""
        exp_ids = [e.experiment_id for e in self.client.search_experiments(max_results=50000)]
        out, token = [], None
        while exp_ids:
            page = self.client.search_runs(exp_ids, filter_string="attributes.status = 'RUNNING'",
                                           max_results=1000, page_token=token)
            now = time.time()
            out.extend((run, last) for run in page if run.data.tags.get(TAG_KIND) != LEADERBOARD_KIND
                       and (last := dead_since(run, minutes, now)) is not None)
            token = page.token
            if not token:
                break
        return out

    def mark_killed(self, run, last: float) -> None:
        self.client.set_tag(run.info.run_id, "udabench.error", dead_reason(last).split(";")[0])
        self.client.set_terminated(run.info.run_id, status="KILLED", end_time=int(last * 1000))

    def show_in_ui(self, experiment: str, summary_keys: list[str]) -> str | None:
        """Add a command's summary metrics (``top1/<task>``, ``top1/avg``) to the experiment's saved
        runs-table view (``mlflow_ui.update_view``) and return where to see that table in the UI
        (``mlflow_ui.where_to_look``); nothing once the store is lost."""
        if self.lost is None:
            with contextlib.suppress(Exception):  # a UI nicety: the runs are recorded already
                exp_id = self.experiment_id(experiment, create=False)
                if exp_id is not None:
                    update_view(self.client, exp_id, summary_keys)
                    return where_to_look(self.uri, exp_id, served=is_http(self.uri))
        return None

    def publish_leaderboard(self, dataset: str, figure, records_json: str, metric: str) -> str:
        """Log the leaderboard figure and its rows to the dataset experiment's leaderboard run (the
        newest run tagged ``udabench.kind = leaderboard``, named ``leaderboard · <dataset>``; made on
        first use), replacing what an earlier call logged there; returns its id. Queries of method
        runs select ``udabench.kind = task`` and :meth:`dead_runs` skips it, so no table, sweep or
        ``runs gc`` counts this run."""
        exp_id = self.experiment_id(dataset)
        found = self.client.search_runs([exp_id], filter_string=f"tags.`{TAG_KIND}` = '{LEADERBOARD_KIND}'",
                                        max_results=1, order_by=["attributes.start_time DESC"])
        if found:
            run_id = found[0].info.run_id
        else:
            run_id = self.client.create_run(exp_id, run_name=leaderboard_run_name(dataset),
                                            tags={TAG_KIND: LEADERBOARD_KIND, "udabench.dataset": dataset}).info.run_id
        self.client.log_figure(run_id, figure, LEADERBOARD_FIGURE)
        self.client.log_text(run_id, records_json, LEADERBOARD_TABLE)
        self.client.set_tag(run_id, "udabench.leaderboard.metric", metric)
        self.client.set_terminated(run_id, status="FINISHED", end_time=int(time.time() * 1000))
        return run_id

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

    def show_in_ui(self, experiment: str, summary_keys: list[str]) -> str | None:
        return None


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
