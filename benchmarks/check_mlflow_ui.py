"""What a new user sees in the MLflow UI after two tiny digits runs: a check to run by hand.

    python benchmarks/check_mlflow_ui.py [--keep]

Not a test of the default run (pytest collects ``test_*.py`` and ``bench_*.py`` only). It makes a
store in a temporary folder with ``udabench run --method zeroshot`` and ``--method linear-probe``
(seeds 0 and 1) on digits' ``printed2handwritten`` with the ``toyclip`` backbone, then checks:

1. through MLflow's REST client: the experiment's kind tag (``mlflow.experimentKind``), udabench's
   saved runs-table view, the run names (``method · backbone`` and ``method · task · sN``), the
   parent runs' ``top1/<task>`` and ``top1/avg`` (the means of their children), and
   ``udabench leaderboard --plot``'s run (``leaderboard · digits``, with its figure);
2. in a browser: it starts ``mlflow ui`` on a free port (30-50 s here), opens the runs link udabench
   prints (``#/experiments/ID/runs?workflowType=machine_learning&viewStateShareKey=...``) in headless
   Chromium (``--dump-dom`` and ``--screenshot``) and checks that the parent runs are listed with
   their top-1 column and values; it also reports what the bare experiment link
   (``#/experiments/ID``, a first click in the experiment list) opens.

It installs nothing: without ``chromium``, ``chromium-browser`` or ``google-chrome`` on the PATH
it does part 1 and ends with ``SKIPPED: <reason>`` (exit 0). Exit 1 when a check fails.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TASK = "printed2handwritten"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
RUNS = (("zeroshot", ["0"]), ("linear-probe", ["0", "1"]))
SERVER_WAIT_S = 150
#: Headless, and quiet: without the background-networking flags a closed network refuses Chromium's
#: own connections. Each page gets a new empty profile (``--user-data-dir``).
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars")


class CheckFailed(Exception):
    """One check did not hold."""


def check(condition: bool, what: str) -> None:
    """Print one check's outcome; raise :class:`CheckFailed` when it does not hold."""
    print(f"  [{'ok' if condition else 'FAILED'}] {what}", flush=True)
    if not condition:
        raise CheckFailed(what)


def udabench(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """``udabench ARGS`` in a new process (the interpreter running this script)."""
    return subprocess.run([sys.executable, "-m", "udabench", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600, check=False)


def make_store(work: Path, uri: str) -> None:
    """The two commands a new user runs first, into the store at ``uri``."""
    for method, seeds in RUNS:
        print(f"udabench run --method {method} --dataset digits --backbone toyclip --task {TASK} --seeds "
              f"{' '.join(seeds)}", flush=True)
        done = udabench("run", "--method", method, "--dataset", "digits", "--backbone", "toyclip", "--task", TASK,
                        "--seeds", *seeds, "--tracking-uri", uri, "--no-progress", cwd=work)
        if done.returncode != 0:
            raise CheckFailed(f"udabench run --method {method} exited {done.returncode}:\n{done.stderr[-2000:]}")


# -- 1. what the store holds (the REST API) -----------------------------------------------------------
def check_store(work: Path, uri: str) -> dict:
    """The checks that need no browser; returns what the browser checks look for."""
    from mlflow import MlflowClient

    from udabench.tracking.mlflow_ui import (
        EXPERIMENT_KIND_TAG,
        LEADERBOARD_FIGURE,
        TRAINING_KIND,
        VIEW_ID,
        VIEW_PREFIX,
        read_view,
    )

    print("\n1. the store, through MLflow's REST client")
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("digits")
    check(exp is not None, "an experiment named digits")
    check(exp.tags.get(EXPERIMENT_KIND_TAG) == TRAINING_KIND,
          f"experiment tag {EXPERIMENT_KIND_TAG} = {exp.tags.get(EXPERIMENT_KIND_TAG)!r} (want {TRAINING_KIND})")
    columns, _ = read_view(exp.tags.get(VIEW_PREFIX + VIEW_ID))
    check({"metrics.`top1/avg`", f"metrics.`top1/{TASK}`", "metrics.`top1`"} <= set(columns),
          f"saved view {VIEW_ID!r} selects the top-1 columns: {columns}")
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    parents = {r.data.tags["udabench.method"]: r for r in runs if r.data.tags.get("udabench.kind") == "command"}
    children = [r for r in runs if r.data.tags.get("udabench.kind") == "task"]
    check(set(parents) == {m for m, _ in RUNS}, f"one parent run per command: {sorted(parents)}")
    expected = {f"{m} · {TASK} · s{s}" for m, seeds in RUNS for s in seeds}
    check({r.info.run_name for r in children} == expected, f"child run names {sorted(expected)}")
    shown = {}
    for method, parent in parents.items():
        check(parent.info.run_name == f"{method} · toyclip", f"parent run name {parent.info.run_name!r}")
        mine = [c.data.metrics["top1"] for c in children if c.data.tags["mlflow.parentRunId"] == parent.info.run_id]
        mean = sum(mine) / len(mine)
        m = parent.data.metrics
        check(abs(m.get(f"top1/{TASK}", -1) - mean) < 1e-6 and abs(m.get("top1/avg", -1) - mean) < 1e-6,
              f"{method}: parent top1/{TASK} = top1/avg = {m.get('top1/avg')} = the mean of its "
              f"{len(mine)} children")
        shown[parent.info.run_name] = m["top1/avg"]

    done = udabench("leaderboard", "--dataset", "digits", "--tracking-uri", uri, "--plot", str(work / "lb.png"),
                    cwd=work)
    check(done.returncode == 0 and (work / "lb.png").is_file(), "udabench leaderboard --plot wrote lb.png")
    boards = [r for r in client.search_runs([exp.experiment_id], "tags.`udabench.kind` = 'leaderboard'")]
    check(len(boards) == 1 and boards[0].info.run_name == "leaderboard · digits"
          and LEADERBOARD_FIGURE in {a.path for a in client.list_artifacts(boards[0].info.run_id)},
          f"one run 'leaderboard · digits' holding {LEADERBOARD_FIGURE}")
    return {"experiment_id": exp.experiment_id, "parents": shown}


# -- 2. what the browser shows --------------------------------------------------------------------------
def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def start_ui(uri: str, work: Path) -> tuple[subprocess.Popen, str]:
    """``mlflow ui`` on a free port, once it answers ``/health`` (as ``udabench ui`` starts it)."""
    from udabench.contract.errors import UdabenchError
    from udabench.tracking.ui_server import free_port, start_mlflow_ui

    try:
        return start_mlflow_ui(uri, "127.0.0.1", free_port(), work / "mlflow-ui.log", SERVER_WAIT_S, cwd=work)
    except UdabenchError as exc:
        raise CheckFailed(str(exc)) from exc


def browse(browser: str, url: str, work: Path, name: str) -> str:
    """The DOM of ``url`` after its scripts ran, in a fresh headless profile; a screenshot beside it."""
    common = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={work / ('profile-' + name)}", "--window-size=1600,1000",
              "--virtual-time-budget=30000"]
    dom = subprocess.run([*common, "--dump-dom", url], capture_output=True, text=True, timeout=180,
                         check=False).stdout
    (work / f"{name}.html").write_text(dom)
    subprocess.run([*common, f"--screenshot={work / (name + '.png')}", url], capture_output=True, timeout=180,
                   check=False)
    return dom


def shown_as_number(value: float, dom: str) -> bool:
    """Whether ``value`` appears in the page in one of the ways a table may round it."""
    return any(text in dom for text in {f"{value:.2f}", f"{value:.1f}", f"{value:.3g}", f"{value:.4g}", repr(value)})


def check_browser(browser: str, uri: str, work: Path, found: dict) -> None:
    from udabench.tracking.mlflow_ui import runs_url

    print(f"\n2. the UI, with {browser}")
    proc, base = start_ui(uri, work)
    try:
        url = runs_url(base, found["experiment_id"])
        dom = browse(browser, url, work, "runs")
        print(f"  opened {url} (screenshot: {work / 'runs.png'})")
        check("top1/avg" in dom, "the runs table has the top1/avg column")
        for name, value in found["parents"].items():
            check(name in dom, f"run {name!r} is listed")
            check(shown_as_number(value, dom), f"its top1/avg {value:.2f} is shown")
        first = browse(browser, f"{base}/#/experiments/{found['experiment_id']}", work, "first-click")
        listed = all(name in first for name in found["parents"])
        print(f"  the bare experiment link (a first click, fresh browser) "
              f"{'lists the runs' if listed else 'does not list the runs (the UI opened another view)'}; "
              f"screenshot: {work / 'first-click.png'}")
    finally:
        from udabench.tracking.ui_server import stop

        stop(proc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (store, DOM, screenshots)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="udabench-ui-check-"))
    uri = f"sqlite:///{work / 'mlflow.db'}"
    print(f"store: {uri}")
    try:
        make_store(work, uri)
        found = check_store(work, uri)
        browser = find_browser()
        if browser is None:
            print(f"\nSKIPPED: no Chromium found (looked for {', '.join(BROWSERS)} on the PATH); the store "
                  f"checks above passed, the browser checks did not run")
            return 0
        check_browser(browser, uri, work, found)
        print("\nall checks passed")
        return 0
    except CheckFailed as exc:
        print(f"\nFAILED: {exc}")
        return 1
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.pop("MLFLOW_TRACKING_URI", None)  # every command gets the temporary store explicitly
    sys.exit(main())
