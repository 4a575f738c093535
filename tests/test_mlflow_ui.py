"""What a user finds in the MLflow UI, and the commands around it: the experiment's kind tag,
udabench's saved runs-table view (columns, order, widths), the description and the line of a
run's output that link to it, run names, the parent runs' per-task summary metrics,
``leaderboard --plot`` (the figure and its dedicated MLflow run, which no table counts),
``udabench ui`` (``mlflow ui`` on the store, the runs-table links), and read commands that refuse
a store that does not exist instead of creating an empty one.

One store is built for the module (random-weight toyclip, digits cut to 20 images per class):
``zeroshot`` seed 0 on two tasks, ``linear-probe`` seeds 0 and 1 on one, into an experiment
that an older MLflow UI had tagged ``genai_development``.
"""

from __future__ import annotations

import json
import shutil
import types

import numpy as np
import pytest

from udabench.cli import main
from udabench.contract.registry import get_registry
from udabench.protocol.options import RunOptions
from udabench.protocol.runner import RunRequest, execute
from udabench.tracking import leaderboard_plot, mlflow_ui
from udabench.tracking.tracker import Tracker

DATASET = "digits"
TASKS = ["printed2handwritten", "handwritten2printed"]
KIND = "mlflow.experimentKind"
VIEW_TAG = "mlflow.sharedViewState.udabench-top1"


def _run(uri: str, spec: str, method: str, tasks, seeds, echo=lambda s: None):
    req = RunRequest(method=method, dataset=DATASET, tasks=list(tasks), seeds=list(seeds), backbone=spec,
                     options=RunOptions(tracking_uri=uri, progress=False, device="cpu", workers=0))
    return execute(req, echo=echo)


def _first_per_class(images, per_class: int):
    """The first ``per_class`` images of each class (conftest's ``small_digits``, for a module's store)."""
    keep = [np.flatnonzero(images.labels == c)[:per_class] for c in range(images.num_classes)]
    return images.subset(np.sort(np.concatenate(keep)))


@pytest.fixture(scope="module")
def store(tmp_path_factory, _mlflow_template, backbone_spec):
    """The module's store (module docstring): its URI and client."""
    from mlflow.tracking import MlflowClient
    from udabench_plugins.datasets.digits import Digits

    work = tmp_path_factory.mktemp("mlflow-ui")
    shutil.copy(_mlflow_template, work / "mlflow.db")
    uri = f"sqlite:///{work / 'mlflow.db'}"
    mp = pytest.MonkeyPatch()
    mp.chdir(work)
    mp.setenv("MLFLOW_TRACKING_URI", uri)
    full = Digits.load
    mp.setattr(Digits, "load", lambda self, domain, split: _first_per_class(full(self, domain, split), 20))
    client = MlflowClient(tracking_uri=uri)
    client.create_experiment(DATASET, tags={KIND: "genai_development"})  # as an older UI's guess left it
    try:
        _run(uri, backbone_spec, "zeroshot", TASKS, [0])
        said: list[str] = []
        _run(uri, backbone_spec, "linear-probe", TASKS[:1], [0, 1], echo=said.append)
        yield types.SimpleNamespace(uri=uri, client=client, work=work, backbone=backbone_spec, said=said,
                                    exp=client.get_experiment_by_name(DATASET))
    finally:
        mp.undo()


def _runs(store, kind: str) -> list:
    return store.client.search_runs([store.exp.experiment_id], f"tags.`udabench.kind` = '{kind}'", max_results=100)


# -- the experiment ----------------------------------------------------------------------------------
def test_an_existing_experiment_is_tagged_for_the_training_views_when_written_to(store):
    assert store.exp.tags[KIND] == "custom_model_development"  # was genai_development before the runs


def test_a_new_experiment_is_created_with_the_tag_and_a_chosen_training_kind_is_kept(mlflow_uri):
    tracker = Tracker(mlflow_uri)
    new = tracker.experiment_id("fresh")
    assert tracker.client.get_experiment(new).tags[KIND] == "custom_model_development"
    kept = tracker.client.create_experiment("classified", tags={KIND: "classification"})
    tracker.experiment_id("classified")
    assert tracker.client.get_experiment(kept).tags[KIND] == "classification"
    untagged = tracker.client.create_experiment("read-only")
    assert tracker.experiment_id("read-only", create=False) == untagged  # a reader tags nothing
    assert KIND not in tracker.client.get_experiment(untagged).tags


def test_the_saved_view_selects_the_top1_columns_best_average_first(store):
    envelope = json.loads(store.exp.tags[VIEW_TAG])
    assert envelope["name"] == mlflow_ui.VIEW_NAME
    assert isinstance(envelope["createdAt"], int) and envelope["updatedAt"] >= envelope["createdAt"]
    state = json.loads(envelope["state"])  # MLflow's runs page reads the state as JSON text
    assert state["selectedColumns"] == ["metrics.`top1/avg`", *[f"metrics.`top1/{t}`" for t in TASKS],
                                        "metrics.`top1`"]
    assert (state["orderByKey"], state["orderByAsc"]) == ("metrics.`top1/avg`", False)
    # The run name, then the top-1 columns, each wide enough for its name and a full float value
    # (the UI's default of 100 px shows ``top1/printed2ha…`` and ``40.4006677…``).
    assert state["columnOrder"] == ["attributes.`Run Name`", *state["selectedColumns"]]
    widths = state["columnWidths"]
    assert set(widths) == set(state["columnOrder"]) and widths["attributes.`Run Name`"] == 300
    assert widths["metrics.`top1/avg`"] == 150 == widths["metrics.`top1`"]
    assert widths["metrics.`top1/printed2handwritten`"] == 7 * len("top1/printed2handwritten") + 30
    url = mlflow_ui.runs_url("http://127.0.0.1:5000/", store.exp.experiment_id)
    assert url == (f"http://127.0.0.1:5000/#/experiments/{store.exp.experiment_id}/runs?"
                   f"workflowType=machine_learning&viewStateShareKey=udabench-top1")


def test_a_run_prints_where_the_ui_shows_its_runs_table(store):
    (line,) = [s for s in store.said if "MLflow UI" in s]
    url = mlflow_ui.runs_url(mlflow_ui.DEFAULT_UI, store.exp.experiment_id)
    assert line.endswith(f"{url} (after `mlflow ui --backend-store-uri {store.uri}`)")
    assert mlflow_ui.where_to_look("http://host:5000", "7", served=True) == mlflow_ui.runs_url("http://host:5000", "7")


def test_the_experiment_description_links_to_the_runs_table(store):
    note = store.exp.tags["mlflow.note.content"]  # shown atop the GenAI overview a first click opens
    link = mlflow_ui.runs_link(store.exp.experiment_id)
    assert f"]({link})" in note and link.startswith(f"#/experiments/{store.exp.experiment_id}/runs?")


def test_an_older_view_is_widened_and_a_users_description_is_kept(mlflow_uri):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=mlflow_uri)
    old_state = json.dumps({"selectedColumns": ["metrics.`top1/avg`", "metrics.`top1/A2W`", "metrics.`top1`"]})
    exp = client.create_experiment("x", tags={VIEW_TAG: json.dumps({"name": mlflow_ui.VIEW_NAME, "createdAt": 5,
                                                                     "updatedAt": 5, "state": old_state}),
                                              "mlflow.note.content": "my own notes"})
    mlflow_ui.update_view(client, exp, ["top1/W2A", "top1/avg"])
    tags = client.get_experiment(exp).tags
    assert tags["mlflow.note.content"] == "my own notes"
    envelope = json.loads(tags[VIEW_TAG])
    state = json.loads(envelope["state"])
    assert envelope["createdAt"] == 5 and envelope["updatedAt"] > 5
    assert state["columnOrder"] == ["attributes.`Run Name`", "metrics.`top1/avg`", "metrics.`top1/A2W`",
                                    "metrics.`top1/W2A`", "metrics.`top1`"]
    assert set(state["columnWidths"]) == set(state["columnOrder"])
    mlflow_ui.update_view(client, exp, ["top1/W2A", "top1/avg"])  # nothing new: the tag is left alone
    assert client.get_experiment(exp).tags[VIEW_TAG] == tags[VIEW_TAG]


# -- runs ----------------------------------------------------------------------------------------------
def test_run_names_fit_a_narrow_column(store):
    checkpoint = store.backbone.split("/")[-1]  # toyclip:/tmp/.../random.safetensors
    assert {r.info.run_name for r in _runs(store, "command")} == {f"zeroshot · toyclip:{checkpoint}",
                                                                   f"linear-probe · toyclip:{checkpoint}"}
    assert {r.info.run_name for r in _runs(store, "task")} == {
        "zeroshot · printed2handwritten · s0", "zeroshot · handwritten2printed · s0",
        "linear-probe · printed2handwritten · s0", "linear-probe · printed2handwritten · s1"}
    assert mlflow_ui.parent_run_name("dapl", "ViT-B-16:openai") == "dapl · ViT-B-16:openai"


def test_parent_runs_carry_the_means_of_their_children(store):
    children = _runs(store, "task")
    parents = {r.data.tags["udabench.method"]: r for r in _runs(store, "command")}
    assert set(parents) == {"zeroshot", "linear-probe"}
    for method, parent in parents.items():
        mine = [c for c in children if c.data.tags["mlflow.parentRunId"] == parent.info.run_id]
        per_task = {t: np.mean([c.data.metrics["top1"] for c in mine if c.data.tags["udabench.task"] == t])
                    for t in dict.fromkeys(c.data.tags["udabench.task"] for c in mine)}
        m = parent.data.metrics
        summary = {k: v for k, v in m.items() if k.startswith("top1/")}
        assert set(summary) == {f"top1/{t}" for t in per_task} | {"top1/avg"}, method
        for task, mean in per_task.items():
            assert summary[f"top1/{task}"] == pytest.approx(mean), (method, task)
        assert summary["top1/avg"] == pytest.approx(np.mean(list(per_task.values())))
        assert m["avg_top1"] == pytest.approx(np.mean([c.data.metrics["top1"] for c in mine]))  # kept
    assert len([c for c in children if c.data.tags["udabench.method"] == "linear-probe"]) == 2


# -- leaderboard --plot --------------------------------------------------------------------------------
def _bars(ax) -> list:
    """The bar groups of an axes (one per leaderboard row), not their error-bar containers."""
    from matplotlib.container import BarContainer

    return [c for c in ax.containers if isinstance(c, BarContainer)]


def test_plot_writes_the_figure_and_logs_it_to_one_dedicated_run(store, tmp_path, capsys, monkeypatch):
    drawn, draw = [], leaderboard_plot.leaderboard_figure

    def spy(*args, **kw):
        drawn.append(draw(*args, **kw))
        return drawn[-1]

    monkeypatch.setattr(leaderboard_plot, "leaderboard_figure", spy)
    png = tmp_path / "board.png"
    for _ in range(2):  # the second call replaces what the first logged
        assert main(["leaderboard", "--dataset", DATASET, "--tracking-uri", store.uri, "--plot", str(png)]) == 0
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert "leaderboard · digits" in capsys.readouterr().err

    fig = drawn[-1]
    tasks_ax, speed_ax = fig.axes[:2]
    standard = [t.name for t in get_registry().dataset(DATASET).tasks]
    extra = [t for t in TASKS if t not in standard]  # run, not standard: a column of the table too
    assert [t.get_text() for t in tasks_ax.get_xticklabels()] == [*standard, *extra, "avg"]
    assert tasks_ax.get_ylabel() == "top1 (%)" and "per task" in tasks_ax.get_title()
    bars = [c.get_label() for c in _bars(tasks_ax)]
    assert sorted(bars) == ["linear-probe*", "zeroshot*"]  # * = not all standard tasks run
    assert [t.get_text() for t in tasks_ax.get_legend().get_texts()] == bars
    assert "adapt_images_per_s" in speed_ax.get_xlabel() and speed_ax.get_xscale() == "log"
    assert [p.get_label() for p in speed_ax.collections] == ["linear-probe*"]  # it trains: a point
    (line,) = [ln for ln in speed_ax.get_lines() if leaderboard_plot.NO_ADAPTATION in ln.get_label()]
    assert line.get_label().startswith("zeroshot")  # no adaptation pass: a line at its average

    (board,) = _runs(store, mlflow_ui.LEADERBOARD_KIND)
    assert board.info.run_name == "leaderboard · digits" and board.info.status == "FINISHED"
    assert {a.path for a in store.client.list_artifacts(board.info.run_id)} >= {"leaderboard.png",
                                                                                "leaderboard.json"}
    # No table, sweep or maintenance command counts it as a method run.
    capsys.readouterr()
    assert main(["leaderboard", "--dataset", DATASET, "--tracking-uri", store.uri, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["label"] + "*" for r in rows if not r["reference"]] == bars  # the table's rows, in its order
    assert board.info.run_id not in {r.info.run_id for r in Tracker(store.uri).task_runs(DATASET, status=None)}
    store.client.update_run(board.info.run_id, status="RUNNING")  # as if killed mid-update, a day ago
    store.client.set_tag(board.info.run_id, "udabench.heartbeat", "1000")
    try:
        assert main(["runs", "gc", "--dry-run", "--tracking-uri", store.uri]) == 0
        assert "0 dead run(s)" in capsys.readouterr().out
    finally:
        store.client.set_terminated(board.info.run_id, "FINISHED")


def test_the_figure_shows_the_seed_spread_and_what_stands_for_a_missing_throughput():
    def rec(label, means, stds, avg, adapt, reference=False):
        return {"label": label, "backbone": "RN50", "reference": reference, "avg": avg, "complete": True,
                "tasks": {t: {"mean": m, "std": s, "n": None} for t, m, s in zip(("A2W", "W2A"), means, stds)},
                "adapt_images_per_s": adapt}

    recs = [rec("dapl", [70.0, 60.0], [2.0, None], 65.0, 150.0), rec("zeroshot", [50.0, 40.0], [None, None], 45.0, None),
            rec("DAPL [paper]", [72.0, 61.0], [None, None], 66.5, None, reference=True)]
    fig = leaderboard_plot.leaderboard_figure(recs, ["A2W", "W2A"], "officehome", "top1")
    tasks_ax, speed_ax = fig.axes[:2]
    dapl, zeroshot, paper = _bars(tasks_ax)
    assert [b.get_height() for b in dapl] == [70.0, 60.0, 65.0]
    spans = [tuple(seg[:, 1]) for seg in dapl.errorbar.lines[2][0].get_segments()]
    assert spans[0] == (68.0, 72.0)  # ± one std over seeds
    assert spans[1] == (60.0, 60.0) and spans[2] == (65.0, 65.0)  # one seed; the avg column: no spread
    assert zeroshot.errorbar is None and paper.errorbar is None
    assert paper.patches[0].get_hatch() == "//"
    assert speed_ax.collections[0].get_offsets().tolist() == [[150.0, 65.0]]
    lines = {ln.get_label(): ln.get_ydata()[0] for ln in speed_ax.get_lines()}
    assert lines == {f"zeroshot ({leaderboard_plot.NO_ADAPTATION})": 45.0}  # the paper row has no throughput


def test_leaderboard_help_describes_the_table_and_its_flags(capsys):
    with pytest.raises(SystemExit):
        main(["leaderboard", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for phrase in ("mean ± std over seeds", "--plot FILE.png", "adapt_images_per_s", "--tracking-uri",
                   "it must exist", "leaderboard · DATASET"):
        assert phrase in text, phrase


# -- read commands never create a store ----------------------------------------------------------------
READS = [["leaderboard", "--dataset", DATASET], ["leaderboard", "--dataset", DATASET, "--plot", "board.png"],
         ["leaderboard", "--sweep", "nightly"], ["runs", "gc", "--dry-run"], ["runs", "gc"]]


@pytest.mark.parametrize("explicit", [False, True], ids=["default-uri", "tracking-uri"])
def test_read_commands_on_a_missing_store_fail_and_create_nothing(tmp_path, monkeypatch, capsys, explicit):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    uri = f"sqlite:///{tmp_path / 'elsewhere' / 'mlflow.db'}" if explicit else "sqlite:///mlflow.db"
    for argv in READS:
        capsys.readouterr()
        code = main(argv + (["--tracking-uri", uri] if explicit else []))
        err = capsys.readouterr().err
        assert code != 0, argv
        assert f"no MLflow tracking store at {uri}" in err, (argv, err)
        assert "--tracking-uri" in err and "MLFLOW_TRACKING_URI" in err, argv
        assert list(tmp_path.iterdir()) == [], (argv, list(tmp_path.iterdir()))


def test_a_sweep_dry_run_on_a_missing_store_creates_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(f"name: s\nmethods: [zeroshot]\ndatasets: [{DATASET}]\n"
                                     f"tasks: [{TASKS[0]}]\nseeds: [0]\n")
    assert main(["sweep", "s.yaml", "--dry-run"]) == 0
    assert "1 would run" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["s.yaml"]


# -- udabench ui -----------------------------------------------------------------------------------------
def test_ui_serves_the_store_and_prints_each_experiments_runs_table(store, monkeypatch, capsys):
    from udabench.tracking import ui_server

    started, stopped = [], []

    class Serving:  # what start_mlflow_ui returns: a server that runs until the user's Ctrl-C
        returncode = None

        def wait(self):
            raise KeyboardInterrupt

    def start(uri, host, port, log, **_):
        started.append((uri, host, port))
        return Serving(), f"http://{host}:{port}"

    monkeypatch.setattr(ui_server, "start_mlflow_ui", start)
    monkeypatch.setattr(ui_server, "stop", stopped.append)
    assert main(["ui", "--tracking-uri", store.uri, "--port", "5011", "--no-browser"]) == 0
    out, err = capsys.readouterr()
    url = mlflow_ui.runs_url("http://127.0.0.1:5011", store.exp.experiment_id)
    assert started == [(store.uri, "127.0.0.1", 5011)] and len(stopped) >= 1
    assert f"{DATASET:<24} {url}" in out.splitlines()
    assert f"Open the runs table of {DATASET}: {url}" in err and "Stopped." in err

    assert main(["ui", "--tracking-uri", store.uri, "--dataset", "office31", "--no-browser"]) == 2
    assert f"no experiment 'office31' in {store.uri}: it holds {DATASET}" in capsys.readouterr().err


def test_ui_names_a_taken_port_and_starts_nothing(tmp_path, monkeypatch):
    import socket
    import subprocess

    from udabench.contract.errors import UdabenchError
    from udabench.tracking.ui_server import start_mlflow_ui

    monkeypatch.setattr(subprocess, "Popen", lambda *a, **k: pytest.fail("a server was started"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(UdabenchError, match=f"port {port} on 127.0.0.1 is taken .*--port N"):
            start_mlflow_ui("sqlite:///x.db", "127.0.0.1", port, tmp_path / "log")


def test_ui_refuses_a_store_that_does_not_exist(tmp_path, capsys):
    db = tmp_path / "mlflow.db"
    assert main(["ui", "--tracking-uri", f"sqlite:///{db}", "--no-browser"]) == 2
    assert "no MLflow tracking store at" in capsys.readouterr().err and not db.exists()


@pytest.mark.slow
def test_ui_starts_a_real_mlflow_ui_and_stops_it_on_ctrl_c(store, tmp_path):
    import signal
    import subprocess
    import sys
    import time
    import urllib.request

    from udabench.tracking.ui_server import free_port, port_free

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "udabench", "ui", "--tracking-uri", store.uri, "--port",
                             str(port), "--no-browser"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path)
    try:
        lines = []
        while not any(line.startswith("Serving at") for line in lines):
            line = proc.stderr.readline()
            assert line, f"udabench ui ended early: {''.join(lines)}"
            lines.append(line)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as r:
            assert r.status == 200
        proc.send_signal(signal.SIGINT)
        assert proc.wait(30) == 0
    finally:
        proc.kill()
    deadline = time.monotonic() + 10
    while not port_free("127.0.0.1", port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert port_free("127.0.0.1", port), "the mlflow ui server outlived udabench ui"
