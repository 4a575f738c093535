"""One ``udabench run`` command: plugins resolved, backbone loaded once, every
(task, seed) run through the protocol and recorded in MLflow."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..contract.version import __version__
from ..contract.config import Config, load_yaml_overrides
from .context import RunContext
from ..contract.dataset import SMALL_IMAGE, SMALL_IMAGE_PX, Dataset, Task, cache_root
from .distributed import DistributedInfo, RankMeanMetrics
from ..contract.errors import ConfigError, PluginError, UdabenchError
from ..model.fast_paths import configure_backends, prepare_model, wants_channels_last
from ..model.feature_cache import FeatureCache
from .measure import ThroughputMeter
from .options import RunOptions
from .selection import SELECTION_METRICS
from .task import SKIPPED_EXAMPLES_TAG, SKIPPED_TAG, RunResult, check_data, check_tasks, run_task
from ..contract.registry import get_registry, load_backbone
from ..tracking.mlflow_ui import AVG, parent_run_name, summary_key, task_run_name
from ..tracking.tracker import TAG_KIND, NullTracker, Tracker, confusion_figure

DEFAULT_SEEDS = (0, 1, 2)
#: The tag of every task run that names what ran (see :func:`run_key`): sweeps skip keys that finished.
RUN_KEY_TAG = "udabench.run_key"


def run_key(method: str, dataset: str, task: str, seed: int, backbone: str, config_hash: str,
            options: RunOptions) -> str:
    """What identifies one run: equal inputs give the same key on every machine and Python version.
    Everything that changes a run's numbers is in it: the method, data, task, seed, backbone and
    resolved configuration, and the run options marked ``keyed`` (the precision, and whether
    unreadable images were dropped from the evaluation set)."""
    blob = json.dumps([method, dataset, task, int(seed), backbone, config_hash, *options.keyed()]).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@dataclass
class RunRequest:
    """Everything a run command asks for: what runs, and how (``options``)."""

    method: str
    dataset: str
    tasks: list[str] | None = None
    seeds: list[int] | None = None
    backbone: str | None = None
    config_file: str | None = None
    set_pairs: dict[str, Any] = field(default_factory=dict)
    options: RunOptions = field(default_factory=RunOptions)
    extra_tags: dict[str, str] = field(default_factory=dict)  # on every run, e.g. a sweep's run key


@dataclass
class TaskRecord:
    task: Task
    seed: int
    run_id: str
    result: RunResult


def pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"--device {device}: CUDA is not available on this machine (try --device cpu)")
    return device


def git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             timeout=5, cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or "unknown"
    except Exception:
        return "unknown"


def resolve_config(req: RunRequest, method_cls, dataset_cls) -> Config:
    """The request's hyperparameters for a method on a dataset (``Method.resolve_config``)."""
    file_overrides = load_yaml_overrides(req.config_file, method_cls.name) if req.config_file else None
    return method_cls.resolve_config(dataset_cls, file_overrides, req.set_pairs)


def execute(req: RunRequest, echo: Callable[[str], None] = print) -> list[TaskRecord]:
    """Run every requested (task, seed); return what each measured.

    Under ``torchrun --nproc_per_node N`` this is one of N processes that run the same
    commands together (``distributed.py``): rank 0 prints and writes to MLflow, the others
    record nothing of their own."""
    dist = DistributedInfo.from_env()
    device = dist.device(pick_device(req.options.device))
    with dist.process_group(device):
        return _execute(req, echo if dist.is_main else _silent, dist, device)


def _distinct_seeds(method_cls, requested: list[int] | None) -> tuple[list[int], str]:
    """The seeds to run, each distinct result once, and a note on the seeds left out ("" if none).

    A seed given twice runs once; a seed-independent method (``Method.seed_independent``) runs
    its first seed only, since every seed gives the same numbers."""
    if not requested:
        return ([0] if method_cls.seed_independent else list(DEFAULT_SEEDS)), ""
    seeds = list(dict.fromkeys(requested))
    if method_cls.seed_independent and len(seeds) > 1:
        skipped = ", ".join(map(str, seeds[1:]))
        return seeds[:1], (f"  note: running seed {seeds[0]} only; seed(s) {skipped} skipped: {method_cls.name} "
                           f"does not depend on the seed, so every seed gives the same result")
    return seeds, ""


def _silent(line: str) -> None:
    pass


def use_threads(n: int) -> None:
    """Let torch and the BLAS libraries (numpy, scikit-learn) use ``n`` threads: no more threads
    than the cores a run was given, so that runs side by side do not slow each other down."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(n)
    threadpool_limits(limits=n)


def _execute(req: RunRequest, echo: Callable[[str], None], dist: DistributedInfo, device: str) -> list[TaskRecord]:
    opts = req.options
    threads = opts.resolved_threads()
    use_threads(threads)
    reg = get_registry()
    method_cls = reg.method(req.method)
    dataset_cls = reg.dataset(req.dataset)
    tasks = dataset_cls.resolve_tasks(req.tasks)
    seeds, seed_note = _distinct_seeds(method_cls, req.seeds)
    config = resolve_config(req, method_cls, dataset_cls)
    dataset: Dataset = dataset_cls(opts.root)
    spec = req.backbone or dataset_cls.default_backbone
    reg.backbone_for(spec)  # a spec no backbone plugin takes fails here, before the store is touched
    echo(f"udabench: {method_cls.label()} on {dataset_cls.name}, {len(tasks)} task(s) x {len(seeds)} seed(s), "
         f"backbone {spec}, {device}" + (f", {dist.world_size} processes" if dist.enabled else ""))
    if seed_note:
        echo(seed_note)
    if dist.enabled and not method_cls.data_parallel:
        echo(f"  note: {method_cls.name} does not train data-parallel: each process adapts on all the data; "
             f"only evaluation is split")
    # The store is checked before any weights or data are loaded: a store that cannot be used fails
    # the command in seconds, naming the fix (one MLflow record per run, written by rank 0).
    tracker = Tracker(opts.tracking_uri) if dist.is_main else NullTracker()
    check_tasks(method_cls, dataset_cls, tasks)  # then the data, then the weights: the cheap checks first
    check_data(method_cls, dataset, tasks, opts.transductive)
    backbone = load_backbone(spec, device=device,
                             feature_cache=FeatureCache(cache_root() / "features") if opts.cache else None)
    method_cls(config).check_backbone(backbone, dataset)  # e.g. prompts that cannot fit: refused now
    _warn_undeclared_small_images(method_cls, dataset, tasks[0], echo)
    configure_backends(device)
    channels_last = wants_channels_last(opts.channels_last, device, lambda: backbone.model)
    if channels_last or opts.compile:  # run copies inherit both; a deferred model stays unbuilt without
        prepare_model(backbone.model, channels_last, opts.compile)
    common = {
        "udabench.method": method_cls.name, "udabench.setting": str(method_cls.setting),
        "udabench.fidelity": method_cls.fidelity, "udabench.dataset": dataset_cls.name,
        "udabench.backbone": spec, "udabench.weights": backbone.weights_id,
        "udabench.version": __version__, "udabench.git_commit": git_commit(),
        "udabench.config_hash": config.digest(), "udabench.precision": opts.precision, **req.extra_tags,
        "udabench.compile": str(opts.compile), "udabench.channels_last": str(channels_last),
        "udabench.feature_cache": str(opts.cache), "udabench.threads": str(threads),
    }
    parent_name = parent_run_name(method_cls.name, spec)
    records: list[TaskRecord] = []
    command = _Command(tracker, common, method_cls, config, dataset, backbone, device, req, echo, dist,
                       channels_last)
    with tracker.start_run(dataset_cls.name, parent_name, {**common, TAG_KIND: "command"}) as parent:
        parent.log_params(config.to_dict())
        parent.log_text(_config_yaml(req, config, tasks, seeds, spec), "config.yaml")
        command.parent = parent
        failures = []
        for task in tasks:
            for seed in seeds:
                try:
                    records.append(_run_one(command, task, seed))
                except KeyboardInterrupt:
                    raise
                except Exception as exc:
                    if isinstance(exc, UdabenchError) and not isinstance(exc, PluginError):
                        raise  # bad input (config, data, weights) fails every run alike: stop here
                    if dist.enabled:
                        raise  # the other processes may be waiting in a collective of this run: stop all
                    # One broken run is marked FAILED with its error; the others go on.
                    failures.append(f"{task.name} seed {seed}: {type(exc).__name__}: {exc}")
                    echo(f"  {task.name:<24} seed {seed}: FAILED ({type(exc).__name__}: {exc})")
        if records:
            parent.log_table(summary_rows(records, dataset_cls), "results.json")
            summary = _parent_metrics(records, dataset_cls.headline_metric)
            parent.log_metrics(summary)
            ui = tracker.show_in_ui(dataset_cls.name, [k for k in summary if "/" in k])
            if ui:
                echo(f"  MLflow UI, runs table with top-1 per task: {ui}")
        if failures:
            raise RunsFailedError(f"{len(failures)} of {len(tasks) * len(seeds)} runs failed (marked FAILED in "
                                  f"MLflow with their error):\n  " + "\n  ".join(failures))
    return records


def _warn_undeclared_small_images(method_cls, dataset: Dataset, task: Task, echo: Callable[[str], None]) -> None:
    """Profiles follow what a dataset declares (``image_size``), so that a configuration is known
    before any data is read. A dataset that declares no size but holds small images gets the
    methods' defaults: say so, with the fix, when one of its images shows it."""
    if dataset.profile is not None or dataset.hparam_profile() is not None or SMALL_IMAGE not in method_cls.profiles:
        return
    try:
        width, height = dataset.load(task.target, dataset.eval_split).source.load(0).size
    except Exception:  # noqa: BLE001 - missing data is reported where the run reads it
        return
    if max(width, height) <= SMALL_IMAGE_PX:
        values = ", ".join(f"{k}={v}" for k, v in method_cls.profiles[SMALL_IMAGE].items())
        echo(f"  warning: {dataset.name} declares no image_size, and its images are {width}x{height} px: "
             f"{method_cls.name}'s small-image profile ({values}) does not apply. Declare "
             f"`image_size = {width if width == height else (width, height)}` in the dataset plugin, "
             f"or pass those values with --set.")


class RunsFailedError(UdabenchError):
    """Some (task, seed) runs of a command raised; the others finished and were recorded."""


@dataclass
class _Command:
    """What every (task, seed) run of one command shares."""

    tracker: Any
    common: dict[str, Any]  # the tags of every run
    method_cls: type
    config: Config
    dataset: Dataset
    backbone: Any
    device: str
    req: RunRequest
    echo: Callable[[str], None]
    dist: DistributedInfo
    channels_last: bool
    parent: Any = None  # the command's parent run, once started


def _run_one(command: _Command, task: Task, seed: int) -> TaskRecord:
    tracker, parent, common, method_cls = command.tracker, command.parent, command.common, command.method_cls
    config, dataset, backbone, device = command.config, command.dataset, command.backbone, command.device
    req, echo, dist, opts = command.req, command.echo, command.dist, command.req.options
    tags = {RUN_KEY_TAG: run_key(method_cls.name, dataset.name, task.name, seed, common["udabench.backbone"],
                                 config.digest(), opts),
            **common, TAG_KIND: "task", "udabench.task": task.name, "udabench.source": task.source,
            "udabench.target": task.target, "udabench.seed": seed}
    with tracker.start_run(dataset.name, task_run_name(method_cls.name, task.name, seed), tags,
                           parent=parent) as run:
        run.log_params({**config.to_dict(), "seed": seed, "precision": opts.precision})
        run.log_text(_config_yaml(req, config, [task], [seed], tags["udabench.backbone"]), "config.yaml")
        # Under torchrun a method's metrics are buffered in every process, then averaged over them.
        method_metrics = RankMeanMetrics(dist, run.log_metrics) if dist.enabled else run
        ctx = RunContext(device=device, seed=seed, precision=opts.precision, workers=opts.workers,
                         eval_batch_size=opts.batch_size, show_progress=opts.progress and dist.is_main,
                         cache_dir=cache_root(), meter=ThroughputMeter(device),
                         log_metrics=method_metric_logger(method_metrics),
                         dist=dist, data_parallel=method_cls.data_parallel,
                         channels_last=command.channels_last)

        def adapted(metrics: dict) -> None:
            if dist.enabled:
                method_metrics.flush()  # a collective: every process calls it here, once per run
            run.log_metrics(metrics)

        try:
            result = run_task(method_cls, config, dataset, task, seed, backbone, ctx,
                              on_adapted=adapted, skip_bad_images=opts.skip_bad_images,
                              select_every=opts.select_every, validators=get_registry().validators,
                              source_holdout=opts.source_holdout, transductive=opts.transductive)
        except BaseException:
            if dist.enabled:  # what rank 0 measured before the failure, without the collective
                method_metrics.flush_local()
            raise
        skipped = int(result.extra_tags.get(SKIPPED_TAG, 0))
        if skipped:
            examples = result.extra_tags[SKIPPED_EXAMPLES_TAG].split("\n")
            echo(f"  warning: {task.name} seed {seed}: skipped {skipped} unreadable image(s) "
                 f"(--skip-bad-images), e.g. {', '.join(examples[:2])}")
        run.log_metrics({k: v for k, v in result.metrics.items() if not k.startswith("adapt")})
        for epoch, scores in result.history:
            run.log_metrics(scores, step=epoch)
        run.set_tags(result.extra_tags)
        run.log_text(per_class_csv(result), "per_class_accuracy.csv")
        fig = confusion_figure(result.confusion, result.classes, f"{method_cls.name} {task.name} seed {seed}")
        run.log_figure(fig, "confusion_matrix.png")
        echo(f"  {task.name:<24} seed {seed}: top1 {result.metrics['top1']:.2f}  "
             f"mean-class {result.metrics['mean_class_acc']:.2f}  ({result.metrics['wall_s']:.1f}s)")
    return TaskRecord(task, seed, run.run_id, result)


#: Metrics only the protocol writes: a method's own metric of the same name would replace them.
PROTOCOL_METRICS = frozenset({"top1", "mean_class_acc", "eval_images_per_s", "eval_s", "eval_data_wait_s",
                              "eval_images", "adapt_images_per_s", "adapt_images", "adapt_s",
                              "adapt_data_wait_s", "peak_mem_mb", "wall_s",
                              "cache_hit", "cache_lookups", "eval_from_cache", *SELECTION_METRICS})
#: Prefixes of the metrics model selection writes: ``top1_<rule>``, ``epoch_<rule>``, ``select/...``.
PROTOCOL_PREFIXES = ("top1_", "epoch_", "select/")


def protocol_owned(name: str) -> bool:
    """Whether a metric name is the protocol's: a method may not log it."""
    return name in PROTOCOL_METRICS or name.startswith(PROTOCOL_PREFIXES)


def method_metric_logger(run):
    """``ctx.log_metrics`` for a method: anything but the protocol's own metric names, passed on
    to ``run.log_metrics`` (a TrackedRun, or RankMeanMetrics under torchrun)."""
    def log(metrics: dict, step: int | None = None) -> None:
        clash = {name for name in metrics if protocol_owned(name)}
        if clash:
            raise PluginError(f"a method may not log {sorted(clash)}: the protocol owns those names; "
                              f"log under a prefix such as 'train/{sorted(clash)[0]}'")
        run.log_metrics(metrics, step)
    return log


def per_class_csv(result: RunResult) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["class", "accuracy", "support"])
    support = result.confusion.sum(1)
    for name, acc, n in zip(result.classes, result.per_class, support):
        w.writerow([name, "" if np.isnan(acc) else f"{acc:.2f}", int(n)])
    return buf.getvalue()


def _config_yaml(req: RunRequest, config: Config, tasks, seeds, spec) -> str:
    import yaml

    doc = {"method": req.method, "dataset": req.dataset, "tasks": [t.name for t in tasks],
           "seeds": list(seeds), "backbone": spec, "options": req.options.to_dict(),
           "hyperparameters": config.to_dict(), "sources": dict(config.sources)}
    return yaml.safe_dump(doc, sort_keys=False)


def summary_rows(records: list[TaskRecord], dataset_cls) -> list[dict]:
    """Per task: mean and std over seeds of the headline metric, plus throughput."""
    rows = []
    for task in dict.fromkeys(r.task for r in records):
        rs = [r for r in records if r.task == task]
        vals = np.array([r.result.metrics[dataset_cls.headline_metric] for r in rs])
        rows.append({"task": task.name, "metric": dataset_cls.headline_metric, "mean": float(vals.mean()),
                     "std": float(vals.std(ddof=1)) if len(vals) > 1 else 0.0, "seeds": len(vals),
                     "eval_images_per_s": float(np.mean([r.result.metrics["eval_images_per_s"] for r in rs]))})
    return rows


def _parent_metrics(records: list[TaskRecord], headline: str = "top1") -> dict:
    """The command's summary on its parent run: ``avg_top1`` and ``avg_mean_class_acc`` (over every
    run), and per task the mean over its seeds, ``top1/<task>``, with their mean over the command's
    tasks, ``top1/avg`` (the leaderboard's cells and avg column, for this command's runs); the
    same for the dataset's headline metric when it is not top1."""
    if not records:
        return {}
    out = {"avg_top1": float(np.mean([r.result.metrics["top1"] for r in records])),
           "avg_mean_class_acc": float(np.mean([r.result.metrics["mean_class_acc"] for r in records]))}
    tasks = list(dict.fromkeys(r.task.name for r in records))
    for metric in dict.fromkeys((headline, "top1")):  # the headline first: the saved view sorts by it
        if not all(metric in r.result.metrics for r in records):
            continue
        means = {t: float(np.mean([r.result.metrics[metric] for r in records if r.task.name == t])) for t in tasks}
        out.update({summary_key(metric, t): v for t, v in means.items()})
        out[summary_key(metric, AVG)] = float(np.mean(list(means.values())))
    return out
