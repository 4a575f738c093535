"""What udabench writes for the MLflow UI: the experiment's kind, a saved runs-table view with the
top-1 columns, a description that links to it, and the run that holds the leaderboard figure.

What the UI does with them was read in MLflow 3.17.2's own bundle
(``mlflow/server/js/build/static/js``: ``main.*.js`` and the experiment-page chunks):

* **Experiment kind.** The experiment tag ``mlflow.experimentKind`` takes ``genai_development``,
  ``custom_model_development`` (the training views: the runs table and its charts), their
  ``*_inferred`` forms, ``no_inferred_type``, ``finetuning``, ``forecasting``, ``classification``,
  ``regression`` or ``automl``. MLflow 3 UIs that read it open an experiment tagged
  ``custom_model_development`` on its runs. The 3.17.2 UI no longer reads it to pick the first page
  (a feature flag compiled in as on): it follows its "workflow type" switch, taken from the URL
  (``?workflowType=machine_learning`` or ``genai``), else from the browser's local storage
  (``mlflow.workflowType``), else ``genai``; a fresh browser therefore lands on the GenAI
  overview whatever the tag says. :func:`runs_url` is the link that opens the runs table there.
* **Saved views.** An experiment tag ``mlflow.sharedViewState.<id>`` holding the JSON
  ``{"name", "createdAt", "updatedAt", "state"}`` (``state``: the JSON text of the runs page's
  search facets and table state, e.g. ``selectedColumns`` as ``metrics.`KEY``` and ``orderByKey``)
  is listed under the runs page's "Views" menu and opened by ``?viewStateShareKey=<id>``. The runs
  table shows no metric column until one is selected (its default selection is Source, Models
  and Dataset), so udabench keeps one view, :data:`VIEW_ID`, with the top-1 columns. Its state
  also holds ``columnOrder`` and ``columnWidths`` (column id to pixels; the UI applies the widths
  of the columns the order lists, and puts the columns it does not list after them): without
  them the table gives a metric 100 px (``40.4006677…``, ``top1/printed2ha…``) and the run name
  190 px (``linear-probe · printed2ha…``), so udabench sets widths that fit.
* **Description.** The experiment tag ``mlflow.note.content`` (Markdown) is shown at the top of
  every page of the experiment, the GenAI overview a first click opens included, and in the
  experiment list's Description column. An experiment that has none gets :func:`note_text`, a
  link to the runs table with udabench's view.
* **Charts.** The chart view draws one chart per metric, grouped in sections by the part of the
  name before the last ``/``: the parent runs' ``top1/<task>`` and ``top1/avg`` form a ``top1``
  section with one bar chart per task.

Nothing here may fail a run: a store that refuses a tag leaves the UI as MLflow would show it.
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
TRAINING_KIND = "custom_model_development"
#: Kinds that already open the training views: left as they are (a user's choice among them).
TRAINING_KINDS = frozenset({TRAINING_KIND, "finetuning", "forecasting", "classification", "regression",
                            "automl"})
#: The UI's workflow type that shows training runs (3.17.2: ``workflowType`` in the URL).
WORKFLOW_TYPE = "machine_learning"

VIEW_PREFIX = "mlflow.sharedViewState."
VIEW_ID = "udabench-top1"
VIEW_NAME = "udabench: top-1 per task"
#: The runs table's name column (its id in the table) and the widths udabench's view gives it and
#: the metric columns: a full run name (``linear-probe · printed2handwritten · s1``), a full
#: metric value (``40.40066777963272``) and a column name of ``CHAR_PX`` per character.
RUN_NAME_COLUMN = "attributes.`Run Name`"
RUN_NAME_PX = 300
METRIC_MIN_PX = 150
CHAR_PX, HEADER_PAD_PX = 7, 30
NOTE_TAG = "mlflow.note.content"
#: Where ``mlflow ui`` answers unless told otherwise.
DEFAULT_UI = "http://127.0.0.1:5000"
#: The parent runs' summary metrics: ``<metric>/<task>`` and ``<metric>/avg``.
AVG = "avg"

#: ``udabench.kind`` of the run holding the leaderboard figure (one per dataset experiment).
LEADERBOARD_KIND = "leaderboard"
LEADERBOARD_FIGURE = "leaderboard.png"
LEADERBOARD_TABLE = "leaderboard.json"


def parent_run_name(method: str, backbone: str) -> str:
    """A command's run: ``dapl · ViT-B-16:openai`` (the dataset is the experiment's name; a
    checkpoint path is cut to its file name, the tag ``udabench.backbone`` keeps it whole)."""
    arch, sep, rest = backbone.partition(":")
    if sep and rest.startswith(("/", "~", ".")):
        backbone = f"{arch}:{rest.rstrip('/').rsplit('/', 1)[-1]}"
    return f"{method} · {backbone}"


def task_run_name(method: str, task: str, seed: int) -> str:
    """A (task, seed) run, short enough for the runs table's name column: ``dapl · A2W · s0``."""
    return f"{method} · {task} · s{seed}"


def summary_key(metric: str, task: str) -> str:
    """The parent run's metric for one task (or :data:`AVG`): ``top1/A2W``, ``top1/avg``."""
    return f"{metric}/{task}"


def needs_kind_tag(tags: dict[str, str]) -> bool:
    """Whether an experiment's tags lack a kind that opens the training views."""
    return tags.get(EXPERIMENT_KIND_TAG, "") not in TRAINING_KINDS


def mark_training(client, experiment) -> None:
    """Tag an existing experiment ``custom_model_development`` unless it already has a training kind."""
    if needs_kind_tag(dict(experiment.tags or {})):
        with contextlib.suppress(Exception):  # a UI hint: the run's own writes say if the store is gone
            client.set_experiment_tag(experiment.experiment_id, EXPERIMENT_KIND_TAG, TRAINING_KIND)


def column(key: str) -> str:
    """The runs table's column id of a metric."""
    return f"metrics.`{key}`"


def view_columns(summary_keys: list[str], old: list[str] | None = None) -> list[str]:
    """The view's metric columns: the ``*/avg`` ones, then each task's, then the child runs' own
    metric (``top1``), keeping the columns an earlier command added (other tasks)."""
    own = [column(k.split("/")[0]) for k in summary_keys]
    keys = list(dict.fromkeys([*(old or []), *(column(k) for k in summary_keys), *own]))
    avgs = [c for c in keys if c.endswith(f"/{AVG}`")]
    tasks = [c for c in keys if "/" in c and c not in avgs]
    return avgs + tasks + [c for c in keys if "/" not in c]


def column_width(column_id: str) -> int:
    """Pixels for a metric column: its name (``top1/printed2handwritten``) and a full value fit."""
    key = column_id.removeprefix("metrics.`").removesuffix("`")
    return max(METRIC_MIN_PX, CHAR_PX * len(key) + HEADER_PAD_PX)


def view_state(columns: list[str]) -> dict[str, Any]:
    """The runs page's state in udabench's view: the top-1 columns right after the run name, in
    widths that show them whole, best ``*/avg`` first."""
    state: dict[str, Any] = {"selectedColumns": columns, "columnOrder": [RUN_NAME_COLUMN, *columns],
                             "columnWidths": {RUN_NAME_COLUMN: RUN_NAME_PX, **{c: column_width(c) for c in columns}}}
    avg = next((c for c in columns if c.endswith(f"/{AVG}`")), None)
    if avg is not None:
        state.update(orderByKey=avg, orderByAsc=False)
    return state


def view_value(columns: list[str], created: int | None = None) -> str:
    """The tag value of udabench's saved view (:func:`view_state`)."""
    now = int(time.time() * 1000)
    return json.dumps({"name": VIEW_NAME, "createdAt": created or now, "updatedAt": now,
                       "state": json.dumps(view_state(columns))})


def _view_state(value: str | None) -> tuple[dict[str, Any], int | None]:
    """(state, creation time) of a saved view's tag value; nothing for a value that does not parse."""
    try:
        envelope = json.loads(value or "")
        state = json.loads(envelope["state"])
        return (state, envelope.get("createdAt")) if isinstance(state, dict) else ({}, None)
    except (ValueError, KeyError, TypeError):
        return {}, None


def read_view(value: str | None) -> tuple[list[str], int | None]:
    """(columns, creation time) of a saved view's tag value; nothing for a value that does not parse."""
    state, created = _view_state(value)
    columns = state.get("selectedColumns", [])
    return ([c for c in columns if isinstance(c, str)] if isinstance(columns, list) else []), created


def update_view(client, experiment_id: str, summary_keys: list[str]) -> None:
    """Add a command's summary metrics to the experiment's saved view (created on first use; an
    older udabench's view gains the column order and widths), and give an experiment without a
    description :func:`note_text`."""
    if not summary_keys:
        return
    with contextlib.suppress(Exception):  # a UI nicety: never a failed run
        tags = client.get_experiment(experiment_id).tags or {}
        value = tags.get(VIEW_PREFIX + VIEW_ID)
        old, created = read_view(value)
        columns = view_columns(summary_keys, old)
        if view_state(columns) != _view_state(value)[0]:
            client.set_experiment_tag(experiment_id, VIEW_PREFIX + VIEW_ID, view_value(columns, created))
        if not tags.get(NOTE_TAG, "").strip():  # a description of the user's own stays
            client.set_experiment_tag(experiment_id, NOTE_TAG, note_text(experiment_id))


def runs_link(experiment_id: str) -> str:
    """The UI's own address of an experiment's runs table with udabench's view, in MLflow 3.17's
    UI too (the part after the server's address: relative, so it works wherever the UI runs)."""
    return f"#/experiments/{experiment_id}/runs?workflowType={WORKFLOW_TYPE}&viewStateShareKey={VIEW_ID}"


def runs_url(base: str, experiment_id: str) -> str:
    """:func:`runs_link` on the server at ``base`` (where ``mlflow ui`` answers, e.g.
    ``http://127.0.0.1:5000``)."""
    return f"{base.rstrip('/')}/{runs_link(experiment_id)}"


def where_to_look(store_uri: str, experiment_id: str, served: bool) -> str:
    """The runs table's address for a user reading a command's output: on the tracking server
    itself when the store is one (``served``), else where ``mlflow ui`` answers by default, with
    the command that starts it on this store."""
    if served:
        return runs_url(store_uri, experiment_id)
    return f"{runs_url(DEFAULT_UI, experiment_id)} (after `mlflow ui --backend-store-uri {store_uri}`)"


def note_text(experiment_id: str) -> str:
    """The description udabench gives an experiment that has none: a link to the runs table (a
    first click in MLflow 3.17 opens the GenAI overview, where this text stands at the top)."""
    return (f"udabench: [runs table, top-1 per task]({runs_link(experiment_id)}) (MLflow's Model "
            f"training view: the switch at the top left)")


# -- the leaderboard's run (``Tracker.publish_leaderboard``) -------------------------------------------
def leaderboard_run_name(dataset: str) -> str:
    return f"leaderboard · {dataset}"
