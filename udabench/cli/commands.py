"""The ``udabench`` command line: parsing, printing, nothing of the maths.

Heavy imports (torch, open_clip, MLflow) happen inside the commands, so that
``udabench --help`` answers at once.
"""

from __future__ import annotations

import argparse
import sys

from ..contract.version import __version__
from ..contract.errors import UdabenchError
from ..protocol.options import add_arguments as add_run_options, bound_openmp_spinning
from ..protocol.signals import terminate_as_interrupt

EPILOG = """examples:
  udabench run --method zeroshot --dataset digits
  udabench run --method linear-probe --dataset digits --seeds 0 1 2
  udabench run --method source-ft --dataset digits --task printed2handwritten
  udabench list
  udabench leaderboard --dataset digits
  udabench sweep sweep.yaml --dry-run
  udabench sweep sweep.yaml --launcher local --launcher-set workers=4
  udabench leaderboard --sweep digits-baselines
  udabench data info office31 --root ~/data
  udabench sync
  udabench runs gc --dry-run
  udabench ui --dataset digits
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="udabench", description="Benchmark CLIP-based domain adaptation under one protocol.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"udabench {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run a method on a dataset's tasks and seeds, logged to MLflow",
                         description="Run METHOD on DATASET: every task (or --task), every seed, one MLflow "
                                     "run each, nested under one parent run.")
    run.add_argument("--method", "-m", required=True, help="method name (see `udabench list`)")
    run.add_argument("--dataset", "-d", required=True, help="dataset name (see `udabench list`)")
    run.add_argument("--task", "-t", nargs="+", default=None, metavar="TASK",
                     help="task names such as A2W, or any SOURCE2TARGET pair; default: all standard tasks")
    run.add_argument("--seeds", nargs="+", type=int, default=None,
                     help="seeds (default 0 1 2; one seed for seed-independent methods such as zeroshot)")
    run.add_argument("--backbone", "-b", default=None,
                     help="toyclip, an open_clip ARCH:TAG (ViT-B-16:openai), ARCH:/path/to/checkpoint, "
                          "or hf-hub:ORG/REPO; default: the dataset's")
    run.add_argument("--config", dest="config_file", default=None, help="YAML file of hyperparameters")
    run.add_argument("--set", dest="set_pairs", action="append", default=[], metavar="KEY=VALUE",
                     help="override one hyperparameter (repeatable)")
    add_run_options(run)

    ls = sub.add_parser("list", help="list methods, datasets, backbones, launchers and validators, and where each "
                                     "comes from",
                        description="List what the installed plugins provide, each with the plugin it comes "
                                    "from: methods (setting, fidelity, summary), datasets (domains, tasks, "
                                    "classes), backbones, sweep launchers and label-free validators, then any "
                                    "plugin that failed to load. The names are those of run --method / "
                                    "--dataset / --backbone, sweep --launcher and leaderboard --selection.")
    ls.add_argument("--format", default="simple", choices=["simple", "json"],
                    help="simple: one table per kind (default); json: one object of methods, datasets, "
                         "backbones, launchers, validators (with their fields and plugin) and failed plugins")
    ls.add_argument("--open-clip", dest="open_clip", action="store_true",
                    help="instead: every open_clip architecture with its pretrained tags, i.e. the ARCH:TAG "
                         "specs --backbone accepts (imports open_clip)")

    sw = sub.add_parser("sweep", help="run a sweep file's jobs, each one `udabench run`, with a launcher",
                        description="Expand SWEEP.yaml (methods x datasets x tasks x seeds x backbones x "
                                    "hyperparameter grid) into jobs and run those the tracking store has not "
                                    "finished: running a sweep again resumes it.")
    sw.add_argument("spec", metavar="SWEEP.yaml", help="the sweep file (format: see `udabench/sweep/spec.py` or the README)")
    add_sweep_options(sw)

    su = sub.add_parser("suite", help="run a seed paper's whole table: a sweep file shipped with udabench",
                        description="Without NAME: list the shipped suites (dac-fewshot, dac-robustness, ...). "
                                    "With NAME: `udabench sweep` on that suite's file (every dataset x method x "
                                    "shots x seed of the paper's table), with the same options; `udabench "
                                    "leaderboard --sweep NAME` then prints the table.")
    su.add_argument("name", nargs="?", default=None, help="the suite (omit it to list them)")
    add_sweep_options(su)

    lb = sub.add_parser(
        "leaderboard", help="print the leaderboard of a dataset (or of one sweep) from MLflow",
        description="Read the task runs of DATASET from the MLflow store and print one row per method, backbone "
                    "and configuration: per task the metric (--metric; default the dataset's headline) as mean ± "
                    "std over seeds, its average over the standard tasks (* when some were not run), the number "
                    "of seeds, the (task, seed) runs that failed and never finished, evaluation and adaptation "
                    "throughput and peak memory; then the papers' reference rows, how far each model-selection "
                    "rule lands below the oracle, and the failed runs by reason. --sweep NAME shows one sweep's "
                    "jobs instead. --plot FILE.png also draws it (accuracy per task with the seed spread; "
                    "accuracy against adaptation throughput) and logs the figure to the run 'leaderboard · "
                    "DATASET' of the dataset's MLflow experiment. It only reads: a store that does not exist is "
                    "an error (point at yours with --tracking-uri or MLFLOW_TRACKING_URI).")
    lb.add_argument("--dataset", "-d", default=None,
                    help="the dataset's leaderboard (every finished run, and a count of the failed ones)")
    lb.add_argument("--sweep", default=None, metavar="NAME",
                    help="one sweep's table instead: its jobs only, failed and missing ones counted")
    lb.add_argument("--format", default="simple", choices=["simple", "github", "latex", "csv", "plain", "json"],
                    help="a text table (simple, github, latex, plain), or for scripts: csv (mean, std and n "
                         "columns per task) or json (a list of rows with numeric fields)")
    lb.add_argument("--metric", default=None, choices=["top1", "mean_class_acc"],
                    help="default: the dataset's headline metric (mean_class_acc for VisDA)")
    lb.add_argument("--selection", default="last", metavar="RULE",
                    help="which epoch of each run: last (default, the headline), oracle (the best by target "
                         "test accuracy: selected with target labels, as DAPL's and ReCLIP's code report), or a "
                         "label-free validator (entropy, im, snd, source-acc, or a plugin's; see udabench list)")
    lb.add_argument("--no-references", dest="references", action="store_false",
                    help="hide the papers' reference rows")
    lb.add_argument("--plot", default=None, metavar="FILE.png",
                    help="also write the table as a figure: (a) the metric per task and row, mean with ± std "
                         "over seeds as error bars, (b) the average against adaptation throughput "
                         "(adapt_images_per_s; a method with no adaptation pass, e.g. zeroshot, is a dashed "
                         "line at its average); and log it to the run 'leaderboard · DATASET' in MLflow, "
                         "replaced on each call (with --dataset only)")
    lb.add_argument("--tracking-uri", default=None,
                    help="the MLflow store to read (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in "
                         "the working directory); it must exist")

    ui = sub.add_parser(
        "ui", help="open the MLflow UI on the runs table (top-1 per task) of a dataset's experiment",
        description="Start `mlflow ui` on the store (for a tracking server, use the server itself), wait until it "
                    "answers, print the link to each experiment's runs table with udabench's view (the top-1 "
                    "columns, best average first, in MLflow's Model training view: a bare click on an experiment "
                    "opens MLflow 3's GenAI overview instead), open the chosen one in a browser where there is "
                    "one, and serve until Ctrl-C. It only reads: a store that does not exist is an error.")
    ui.add_argument("--dataset", "-d", default=None,
                    help="the experiment to open (default: the one written to last)")
    ui.add_argument("--host", default="127.0.0.1", help="where `mlflow ui` listens (default: 127.0.0.1)")
    ui.add_argument("--port", type=int, default=5000, help="its port (default: 5000)")
    ui.add_argument("--no-browser", dest="browser", action="store_false", help="print the links, open nothing")
    ui.add_argument("--tracking-uri", default=None,
                    help="the MLflow store (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the "
                         "working directory); it must exist")

    sy = sub.add_parser("sync", help="write the runs kept in the local spool (the store was down) to MLflow",
                        description="Replay every run kept in the local spool ($UDABENCH_CACHE/spool: a command "
                                    "whose tracking store stopped answering keeps its params, metrics, tags and "
                                    "artifacts there) to its store, or to --tracking-uri. A replayed spool is "
                                    "removed; a run whose process died before ending it is marked KILLED.")
    sy.add_argument("--tracking-uri", default=None,
                    help="write every spooled run to this store instead of the one it was started on")

    runs = sub.add_parser("runs", help="maintenance of the runs in the tracking store (gc: mark dead runs KILLED)")
    runs_sub = runs.add_subparsers(dest="runs_command", metavar="ACTION", required=True)
    gc = runs_sub.add_parser("gc", help="mark KILLED the RUNNING runs whose process died (no heartbeat)",
                             description="Every run refreshes a heartbeat tag (udabench.heartbeat) every 30 s while "
                                         "its process lives. A RUNNING run whose heartbeat is older than --older-than "
                                         "minutes died without ending (SIGKILL, lost node): mark it KILLED, with the "
                                         "reason in its udabench.error tag. Runs left in the local spool are ended by "
                                         "`udabench sync` instead.")
    gc.add_argument("--older-than", type=float, default=None, metavar="MINUTES",
                    help="minutes without a heartbeat (default: $UDABENCH_DEAD_AFTER_MIN, else 10)")
    gc.add_argument("--dry-run", action="store_true", help="list them, change nothing")
    gc.add_argument("--tracking-uri", default=None)

    data = sub.add_parser("data", help="a dataset's layout and sources, what a data root holds, downloads",
                          description="Describe a dataset and check a data root (info), or fetch it (download).")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    info = data_sub.add_parser("info", help="domains, tasks, expected layout, sources, and what --root holds",
                               description="Print what DATASET is and needs, and check what --root holds "
                                           "(exit status 1 when something is missing).")
    dl = data_sub.add_parser("download", help="download, verify and unpack a dataset into --root",
                             description="Stream every file of one packaging (resuming partial downloads, "
                                         "trying each mirror in turn, checking md5s where published) and "
                                         "unpack it into the layout the dataset reads.")
    for action in (info, dl):
        action.add_argument("name", metavar="DATASET", help="dataset name (see `udabench list`)")
        action.add_argument("--root", default=None, help="data root (default: $UDABENCH_DATA or ~/data)")
        action.add_argument("--no-progress", dest="progress", action="store_false", help="hide progress bars")
    info.add_argument("--verify", action="store_true", help="also decode every image, naming each unreadable one")
    dl.add_argument("--from", dest="packaging", default=None, metavar="PACKAGING",
                    help="which packaging to fetch (default: the first `data info` lists)")
    dl.add_argument("--mirror", action="append", default=[], metavar="URL",
                    help="a base URL serving URL/<folder>/<file>, tried before the public mirrors "
                         "(repeatable; also $UDABENCH_DATA_MIRRORS)")
    dl.add_argument("--keep-archives", action="store_true", help="keep the archives after unpacking them")
    return p


def cmd_run(args) -> int:
    from ..contract.config import parse_set_pairs
    from ..protocol.options import RunOptions
    from ..protocol.runner import RunRequest, execute

    options = RunOptions.from_args(args)
    options.progress = options.progress and sys.stderr.isatty()
    req = RunRequest(method=args.method, dataset=args.dataset, tasks=args.task, seeds=args.seeds,
                     backbone=args.backbone, config_file=args.config_file,
                     set_pairs=parse_set_pairs(args.set_pairs), options=options)
    records = execute(req)
    from ..protocol.distributed import DistributedInfo

    if not DistributedInfo.from_env().is_main:
        return 0  # under torchrun, rank 0 prints the table
    from ..tracking.leaderboard import render
    from ..contract.registry import get_registry
    from ..protocol.runner import summary_rows

    rows = summary_rows(records, get_registry().dataset(args.dataset))
    table = [[r["task"], f"{r['mean']:.2f}", f"{r['std']:.2f}", r["seeds"], f"{r['eval_images_per_s']:.0f}"]
             for r in rows]
    import numpy as np

    table.append(["avg", f"{np.mean([r['mean'] for r in rows]):.2f}", "", "", ""])
    metric = rows[0]["metric"] if rows else "top1"
    print()
    print(render(["task", f"{metric} mean", "std", "seeds", "eval img/s"], table, "simple"))
    print(f"\nLogged to MLflow ({_uri(args.tracking_uri)}). "
          f"See `udabench leaderboard --dataset {args.dataset}`.")
    return 0


def cmd_list(args) -> int:
    from ..contract.registry import get_registry

    if args.open_clip:
        return _list_open_clip(args.format)
    reg = get_registry()
    if args.format == "json":
        from ..tracking.leaderboard import to_json

        print(to_json(_registry_record(reg)))
        return 0
    from tabulate import tabulate

    rows = [[cls.label(), str(cls.setting), cls.fidelity, reg.origin[("method", n)].origin, cls.summary]
            for n, cls in sorted(reg.methods.items())]
    print("Methods\n" + tabulate(rows, headers=["name", "setting", "fidelity", "from", "summary"]))
    rows = [[n, ", ".join(cls.domains), len(cls.tasks), len(cls.classes), reg.origin[("dataset", n)].origin]
            for n, cls in sorted(reg.datasets.items())]
    print("\nDatasets\n" + tabulate(rows, headers=["name", "domains", "tasks", "classes", "from"]))
    rows = [[n, reg.origin[("backbone", n)].origin, cls.summary] for n, cls in sorted(reg.backbones.items())]
    print("\nBackbones\n" + tabulate(rows, headers=["name", "from", "summary"]))
    rows = [[n, reg.origin[("launcher", n)].origin, cls.summary] for n, cls in sorted(reg.launchers.items())]
    print("\nLaunchers (udabench sweep)\n" + tabulate(rows, headers=["name", "from", "summary"]))
    rows = [[n, cls.uses, "higher" if cls.higher_is_better else "lower", reg.origin[("validator", n)].origin,
             cls.summary] for n, cls in sorted(reg.validators.items())]
    print("\nValidators (label-free model selection: leaderboard --selection NAME)\n"
          + tabulate(rows, headers=["name", "reads", "better", "from", "summary"]))
    failed = reg.failed()
    if failed:
        print("\nPlugins that failed to load (set UDABENCH_LOAD_PLUGINS to skip them)")
        print(tabulate([[p.name, p.origin, p.error] for p in failed], headers=["plugin", "from", "error"]))
    return 0


def _list_open_clip(fmt: str) -> int:
    """``udabench list --open-clip``: each open_clip architecture and its pretrained tags, one per line."""
    import textwrap

    import open_clip

    tags: dict[str, list[str]] = {arch: [] for arch in open_clip.list_models()}
    for arch, tag in open_clip.list_pretrained():
        tags.setdefault(arch, []).append(tag)
    if fmt == "json":
        from ..tracking.leaderboard import to_json

        print(to_json({"open_clip_architectures": [{"name": a, "pretrained": t} for a, t in sorted(tags.items())]}))
        return 0
    width = max(map(len, tags)) + 2
    print(f"open_clip architectures ({len(tags)}) and their pretrained tags: --backbone ARCH:TAG\n"
          f"(- : no pretrained tag; give a checkpoint instead, --backbone ARCH:/path/to/weights.safetensors)")
    for arch, arch_tags in sorted(tags.items(), key=lambda kv: kv[0].casefold()):
        print(textwrap.fill(", ".join(arch_tags) or "-", 100, initial_indent=f"  {arch:<{width}}",
                            subsequent_indent=" " * (width + 2), break_on_hyphens=False))
    return 0


def _registry_record(reg) -> dict:
    """What ``udabench list --format json`` prints: every registered class with its declared
    fields and the plugin it comes from, and the plugins that failed to load."""
    def plugin(kind, name):
        info = reg.origin[(kind, name)]
        return {"plugin": info.name, "module": info.module, "distribution": info.distribution,
                "version": info.version, "origin": info.origin}

    def params(declared):
        return [{"name": h.name, "default": h.default, "type": h.kind.__name__, "help": h.help,
                 "choices": list(h.choices) if h.choices is not None else None} for h in declared]

    return {
        "methods": [{"name": n, "label": cls.label(), "setting": str(cls.setting), "fidelity": cls.fidelity,
                     "summary": cls.summary, "seed_independent": cls.seed_independent,
                     "data_parallel": cls.data_parallel, "hparams": params(cls.hparams),
                     "profiles": {k: dict(o) for k, o in getattr(cls, "profiles", {}).items()},
                     "dataset_overrides": {d: dict(o) for d, o in cls.dataset_overrides.items()},
                     "from": plugin("method", n)} for n, cls in sorted(reg.methods.items())],
        "datasets": [{"name": n, "domains": list(cls.domains),
                      "tasks": [{"name": t.name, "source": t.source, "target": t.target} for t in cls.tasks],
                      "classes": list(cls.classes), "headline_metric": cls.headline_metric,
                      "default_backbone": cls.default_backbone, "from": plugin("dataset", n)}
                     for n, cls in sorted(reg.datasets.items())],
        "backbones": [{"name": n, "summary": cls.summary, "from": plugin("backbone", n)}
                      for n, cls in sorted(reg.backbones.items())],
        "launchers": [{"name": n, "summary": cls.summary, "parallel": cls.parallel,
                       "requires": list(cls.requires) if cls.requires else None, "options": params(cls.options),
                       "from": plugin("launcher", n)} for n, cls in sorted(reg.launchers.items())],
        "validators": [{"name": n, "summary": cls.summary, "uses": cls.uses,
                        "higher_is_better": cls.higher_is_better, "from": plugin("validator", n)}
                       for n, cls in sorted(reg.validators.items())],
        "failed_plugins": [{"plugin": p.name, "module": p.module, "origin": p.origin, "error": p.error}
                           for p in reg.failed()],
    }


def cmd_leaderboard(args) -> int:
    from ..contract.registry import get_registry
    from ..contract.names import unknown_message
    from ..tracking.leaderboard import (FAILED_NOTE, build_table, collect, failure_table, records, render,
                                        selection_gaps, to_json)
    from ..tracking.tracker import Tracker, require_store

    require_store(_uri(args.tracking_uri))  # a read: a missing store is an error, not a new empty one
    if args.sweep:
        from ..sweep.report import sweep_leaderboard

        if args.plot:
            raise UdabenchError("--plot draws a dataset's leaderboard: use it with --dataset, not --sweep")
        return sweep_leaderboard(args.sweep, args.tracking_uri, args.metric, args.format)
    if not args.dataset:
        raise UdabenchError("leaderboard needs --dataset NAME (a dataset's table) or --sweep NAME (a sweep's)")
    reg = get_registry()
    dataset_cls = reg.dataset(args.dataset)
    metric = args.metric or dataset_cls.headline_metric
    if args.selection != "last":
        rules = ["oracle", *reg.validators]
        if args.selection not in rules:
            raise UdabenchError(unknown_message("--selection", args.selection, ["last", *rules],
                                                "oracle selects with target labels; the others are validators "
                                                "(udabench list)."))
        if metric != "top1":
            print(f"note: selection rules choose by top1; showing top1_{args.selection}, not {metric}",
                  file=sys.stderr)
        metric = f"top1_{args.selection}"
    defaults = {}  # each installed method's defaults on this dataset: the labels name what differs
    for name, cls in reg.methods.items():
        try:
            # what a run with no --config and no --set resolves to: the labels' reference
            defaults[name] = cls.resolve_config(dataset_cls).to_dict()
        except UdabenchError:
            pass  # overrides that do not resolve: labelled as an uninstalled method is
    tracker = Tracker(args.tracking_uri, create_store=False)
    runs = tracker.task_runs(dataset_cls.name, status=None)
    entries = collect(runs, metric, defaults)
    standard = [t.name for t in dataset_cls.tasks]
    extra = sorted({t for e in entries for t, v in e.per_task.items() if v and t not in standard})
    tasks = standard + extra
    if not any(e.has_results for e in entries):
        failed = sum(e.failed for e in entries)
        print(f"No finished runs for {dataset_cls.name} in {_uri(args.tracking_uri)}"
              + (f" ({failed} failed)" if failed else "")
              + f". Run e.g. `udabench run --method zeroshot --dataset {dataset_cls.name}`.", file=sys.stderr)
    chosen = {"last": "the last epoch", "oracle": "the best epoch by target test accuracy (selected with "
                                                   "target labels)"}.get(args.selection,
                                                                          f"the epoch validator {args.selection!r} chose")
    if args.plot:
        _plot_leaderboard(args.plot, tracker, records(entries, tasks, dataset_cls.name, metric, args.references),
                          tasks, dataset_cls.name, metric, chosen)
    if args.format == "json":
        print(to_json(records(entries, tasks, dataset_cls.name, metric, args.references)))
        return 0
    header, rows = build_table(entries, tasks, dataset_cls.name, args.references, args.format == "csv")
    if args.format == "csv":
        print(render(header, rows, "csv"), end="")
        return 0
    print(f"{dataset_cls.name}: {metric} (%) at {chosen}, mean ± std over seeds; * = not all standard tasks run; "
          f"{FAILED_NOTE}")
    print(render(header, rows, args.format))
    gheader, grows = selection_gaps(runs, sorted(reg.validators))
    if grows:
        print("\nModel selection: points below the oracle (the best epoch by target test accuracy) of each rule's "
              "choice,\n"
              "averaged over task runs; the label-free validators use only what the setting allows:")
        print(render(gheader, grows, args.format))
    fheader, frows = failure_table(entries, tasks)
    if frows:
        print(f"\nFailed runs ({sum(e.failed for e in entries)}), by row and reason "
              f"(`udabench.error` tag of each run in MLflow):")
        print(render(fheader, frows, args.format))
    return 0


def _plot_leaderboard(path: str, tracker, recs: list[dict], tasks: list[str], dataset: str, metric: str,
                      chosen: str) -> None:
    """``leaderboard --plot``: write the figure of the table's rows to ``path`` and log it to the
    dataset's leaderboard run in MLflow; what was done goes to stderr (stdout keeps the table)."""
    from pathlib import Path

    from ..tracking.leaderboard import to_json
    from ..tracking.leaderboard_plot import leaderboard_figure
    from ..tracking.mlflow_ui import LEADERBOARD_FIGURE, leaderboard_run_name, where_to_look
    from ..tracking.tracker import is_http

    out = Path(path).expanduser()
    if not out.parent.is_dir():
        raise UdabenchError(f"--plot {path}: the folder {out.parent} does not exist")
    if not any(not r["reference"] and r["avg"] is not None for r in recs):
        raise UdabenchError(f"--plot: no finished runs for {dataset} in {tracker.uri}, so there is nothing to draw")
    fig = leaderboard_figure(recs, tasks, dataset, metric, chosen)
    fig.savefig(out)
    run_id = tracker.publish_leaderboard(dataset, fig, to_json(recs), metric)
    exp_id = tracker.experiment_id(dataset, create=False)
    print(f"Wrote {out}; logged as {LEADERBOARD_FIGURE} to the run '{leaderboard_run_name(dataset)}' "
          f"({run_id}) of the MLflow experiment {dataset}. Runs table with the top-1 columns: "
          f"{where_to_look(tracker.uri, exp_id, served=is_http(tracker.uri))}", file=sys.stderr)


def cmd_ui(args) -> int:
    import shutil
    import tempfile
    import webbrowser
    from pathlib import Path

    from ..tracking.mlflow_ui import runs_url
    from ..tracking.tracker import Tracker, is_http, require_store
    from ..tracking.ui_server import start_mlflow_ui, stop

    uri = _uri(args.tracking_uri)
    require_store(uri)  # a read: a missing store is an error, not a new empty one
    client = Tracker(uri).client
    experiments = [e for e in client.search_experiments() if e.name != "Default"]
    if not experiments:
        raise UdabenchError(f"no experiments in {uri} yet: `udabench run` records one per dataset")
    if args.dataset:
        chosen = next((e for e in experiments if e.name == args.dataset), None)
        if chosen is None:
            raise UdabenchError(f"no experiment {args.dataset!r} in {uri}: it holds "
                                f"{', '.join(sorted(e.name for e in experiments))}")
    else:  # the experiment of the newest run
        newest = client.search_runs([e.experiment_id for e in experiments], max_results=1,
                                    order_by=["attributes.start_time DESC"])
        chosen = next((e for e in experiments if newest and e.experiment_id == newest[0].info.experiment_id),
                      experiments[0])
    proc = None
    if is_http(uri):
        base = uri
    else:
        log = Path(tempfile.mkdtemp(prefix="udabench-ui-")) / "mlflow-ui.log"
        print(f"Starting `mlflow ui --backend-store-uri {uri} --host {args.host} --port {args.port}` "
              f"(seconds; up to a minute on a small, busy machine)...", file=sys.stderr, flush=True)
        proc, base = start_mlflow_ui(uri, args.host, args.port, log)
    try:
        for e in sorted(experiments, key=lambda e: e.name):
            print(f"{e.name:<24} {runs_url(base, e.experiment_id)}")
        url = runs_url(base, chosen.experiment_id)
        opened = args.browser and _has_display() and webbrowser.open(url)
        print(f"\n{'Opened' if opened else 'Open'} the runs table of {chosen.name}: {url}", file=sys.stderr)
        if proc is None:
            return 0
        print(f"Serving at {base} (log: {log}); Ctrl-C stops it.", file=sys.stderr, flush=True)
        try:
            proc.wait()
        except KeyboardInterrupt:
            stop(proc)
            shutil.rmtree(log.parent, ignore_errors=True)  # kept, and named, when the server failed
            print("\nStopped.", file=sys.stderr)
            return 0
        raise UdabenchError(f"`mlflow ui` exited with status {proc.returncode} (its output: {log})")
    finally:
        if proc is not None:
            stop(proc)


def _has_display() -> bool:
    """Whether a graphical browser can open here (without one, Python's ``webbrowser`` may start a
    text browser in the terminal, which a server command must not do)."""
    import os

    return sys.platform in ("darwin", "win32") or bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def cmd_sweep(args) -> int:
    from .sweep import sweep_command

    return sweep_command(args)


def cmd_sync(args) -> int:
    from ..tracking.spool import pending, spool_root
    from ..tracking.sync import sync

    if not pending():
        print(f"Nothing to sync: the spool ({spool_root()}) holds no run.")
        return 0
    done, failed = sync(args.tracking_uri)
    print(f"{done} run(s) synced" + (f", {failed} NOT synced (kept in {spool_root()}; run `udabench sync` "
                                     f"again once the store answers)" if failed else "") + ".")
    return 1 if failed else 0


def cmd_runs(args) -> int:
    import time

    from ..tracking.tracker import Tracker, dead_reason

    if args.older_than is not None and not args.older_than >= 0:
        raise UdabenchError(f"--older-than must be a number of minutes >= 0, got {args.older_than}")
    tracker = Tracker(args.tracking_uri, create_store=False)  # nothing to mark in a store that does not exist
    dead = tracker.dead_runs(args.older_than)
    for run, last in dead:
        if not args.dry_run:
            tracker.mark_killed(run, last)
        name = run.data.tags.get("mlflow.runName", run.info.run_name or "")
        print(f"  {run.info.run_id}  {name}: {dead_reason(last).split(';')[0]}"
              + ("" if args.dry_run else " -> KILLED"))
    verb = "would be marked" if args.dry_run else "marked"
    print(f"{len(dead)} dead run(s) in {tracker.uri} {verb} KILLED" + (" (dry run)" if args.dry_run else "")
          + f"; as of {time.strftime('%Y-%m-%d %H:%M')}.")
    return 0


def cmd_data(args) -> int:
    from .data import data_command

    return data_command(args)


def _uri(explicit):
    from ..tracking.tracker import tracking_uri

    return tracking_uri(explicit)


def add_sweep_options(parser: argparse.ArgumentParser) -> None:
    """The options of `udabench sweep`, shared by `udabench suite`."""
    parser.add_argument("--launcher", "-l", default=None,
                    help="serial, local, submitit, ray, or a plugin's (see `udabench list`); default: the "
                         "sweep file's launcher.name, else serial")
    parser.add_argument("--launcher-set", dest="launcher_pairs", action="append", default=[], metavar="KEY=VALUE",
                    help="a launcher option over the sweep file's, e.g. workers=4, partition=gpu, time=120, "
                         "address=auto (repeatable)")
    parser.add_argument("--dry-run", action="store_true",
                    help="print the job table with what the store holds of each job, and run nothing")
    parser.add_argument("--rerun-failed", action="store_true",
                    help="run again the jobs whose last run FAILED (default: skip them, like finished ones)")
    parser.add_argument("--force", action="store_true", help="run every job, even those that finished")
    parser.add_argument("--root", default=None, help="data root (default: the sweep file's, $UDABENCH_DATA or ~/data)")
    parser.add_argument("--tracking-uri", default=None,
                    help="MLflow tracking URI (default: the sweep file's, $MLFLOW_TRACKING_URI or "
                         "sqlite:///mlflow.db); a server (http://...) for parallel or remote launchers")


def cmd_suite(args) -> int:
    from tabulate import tabulate

    from ..sweep.suites import suite_names, suite_path, suite_summary

    if args.name is None:
        rows = [[name, suite_summary(name), str(suite_path(name))] for name in suite_names()]
        print(tabulate(rows, headers=["suite", "what it runs", "sweep file"]))
        print("\n`udabench suite NAME --dry-run` lists its jobs; `udabench suite NAME --root DATA` runs them.")
        return 0
    args.spec = str(suite_path(args.name))
    return cmd_sweep(args)


COMMANDS = {"run": cmd_run, "list": cmd_list, "leaderboard": cmd_leaderboard, "data": cmd_data,
            "sweep": cmd_sweep, "suite": cmd_suite, "sync": cmd_sync, "runs": cmd_runs, "ui": cmd_ui}


def main(argv: list[str] | None = None) -> int:
    bound_openmp_spinning()  # before anything imports torch
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    terminate_as_interrupt()
    try:
        return COMMANDS[args.command](args)
    except UdabenchError as exc:
        print(f"udabench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        note = {"run": "; the MLflow run is marked KILLED with what it measured",
                "sweep": "; running jobs are marked KILLED: run the same sweep again to resume it"
                }.get(args.command, "")
        print(f"udabench: interrupted{note}.", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader of our output went away (`udabench list | head`): not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
