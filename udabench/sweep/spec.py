"""Sweep files: methods x datasets x tasks x seeds x backbones x hyperparameter grid, expanded
into jobs, each one ``udabench run``.

::

    name: digits-baselines            # tags every run (udabench.sweep); default: the file's name
    methods:                          # a list of names, or name -> {set: ..., grid: ...}
      linear-probe: {}
      source-ft: {set: {epochs: 2}, grid: {lr_head: [0.001, 0.01]}}
    datasets: [digits]
    tasks: [printed2handwritten]      # default: each dataset's standard tasks (or dataset -> list)
    seeds: [0, 1, 2]                  # default: as `udabench run`; one seed for seed-independent methods
    backbones: [toyclip]              # default: each dataset's default backbone
    set: {}                           # --set values for every method
    grid: {}                          # key -> list of values, for every method: one job per combination
    config: hparams.yaml              # as --config (relative to this file)
    run: {device: auto, precision: fp32, batch_size: 256, workers: 0, root: ~/data, skip_bad_images: false,
          cache: true, compile: false, channels_last: auto}   # any option of `udabench run` (RunOptions)
    tracking_uri: http://mlflow:5000  # default: --tracking-uri, $MLFLOW_TRACKING_URI, sqlite:///mlflow.db
    launcher: {name: submitit, partition: gpu, time: 120, gpus_per_job: 1}

Read with ``yaml.safe_load`` only. Every name, key and value is checked here, before a job
runs: an unknown method or hyperparameter fails the sweep, not job 37 of 40.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..contract.errors import ConfigError
from ..contract.names import unknown_message
from ..protocol.options import RunOptions
from .jobs import Job, SweepError, portable_uri

TOP_KEYS = ("name", "methods", "datasets", "tasks", "seeds", "backbones", "set", "grid", "config", "run",
            "tracking_uri", "launcher")
METHOD_KEYS = ("set", "grid")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


@dataclass
class SweepSpec:
    """A sweep file, checked for shape (names are checked against the registry by :func:`expand`)."""

    name: str
    path: Path
    text: str
    methods: dict[str, dict[str, dict[str, Any]]]  # method -> {"set": {...}, "grid": {...}}
    datasets: list[str]
    tasks: list[str] | dict[str, list[str]] | None = None
    seeds: list[int] | None = None
    backbones: list[str] | None = None
    set: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    config: str | None = None
    run: dict[str, Any] = field(default_factory=dict)
    tracking_uri: str | None = None
    launcher: dict[str, Any] = field(default_factory=dict)


def load_sweep(path: str | Path) -> SweepSpec:
    import yaml

    path = Path(path)
    where = f"sweep file {path}"
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SweepError(f"{where}: no such file") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SweepError(f"{where}: not valid YAML ({exc})") from None
    if not isinstance(doc, dict):
        raise SweepError(f"{where}: expected a mapping with at least `methods` and `datasets`")
    for key in doc:
        if key not in TOP_KEYS:
            raise SweepError(f"{where}: " + unknown_message("sweep key", str(key), TOP_KEYS))
    for key in ("methods", "datasets"):
        if not doc.get(key):
            raise SweepError(f"{where}: `{key}` is required (a list of names; see `udabench list`)")
    name = str(doc.get("name") or path.stem)
    if not _NAME.match(name):
        raise SweepError(f"{where}: name {name!r} may hold only letters, digits, '-', '_' and '.'")
    config = doc.get("config")
    if config is not None:
        config = str((path.parent / Path(str(config)).expanduser()).resolve())
    run = _mapping(doc.get("run"), f"{where}: run")
    try:
        RunOptions.from_mapping(run, f"{where}: run")  # every name and value checked now, not in job 37
    except ConfigError as exc:
        raise SweepError(str(exc)) from None
    tasks = doc.get("tasks")
    if tasks is not None and not isinstance(tasks, dict):
        tasks = [str(t) for t in _list(tasks, f"{where}: tasks")]
    launcher = doc.get("launcher") or {}
    if isinstance(launcher, str):
        launcher = {"name": launcher}
    return SweepSpec(
        name=name, path=path, text=text, methods=_methods(doc["methods"], where),
        datasets=[str(d) for d in _list(doc["datasets"], f"{where}: datasets")], tasks=tasks,
        seeds=[_int(s, f"{where}: seeds") for s in _list(doc["seeds"], f"{where}: seeds")] if doc.get("seeds")
        else None,
        backbones=[str(b) for b in _list(doc["backbones"], f"{where}: backbones")] if doc.get("backbones") else None,
        set=_mapping(doc.get("set"), f"{where}: set"), grid=_grid(doc.get("grid"), f"{where}: grid"),
        config=config, run=run, tracking_uri=doc.get("tracking_uri"),
        launcher=dict(_mapping(launcher, f"{where}: launcher")))


def _methods(raw: Any, where: str) -> dict[str, dict[str, dict[str, Any]]]:
    if isinstance(raw, (list, tuple, str)):
        return {str(m): {"set": {}, "grid": {}} for m in _list(raw, f"{where}: methods")}
    if not isinstance(raw, dict):
        raise SweepError(f"{where}: methods must be a list of names or a mapping name -> {{set, grid}}")
    out = {}
    for method, body in raw.items():
        body = _mapping(body, f"{where}: methods: {method}")
        for key in body:
            if key not in METHOD_KEYS:
                raise SweepError(f"{where}: methods: {method}: " + unknown_message("key", key, METHOD_KEYS))
        out[str(method)] = {"set": _mapping(body.get("set"), f"{where}: methods: {method}: set"),
                            "grid": _grid(body.get("grid"), f"{where}: methods: {method}: grid")}
    return out


def _grid(raw: Any, where: str) -> dict[str, list[Any]]:
    grid = _mapping(raw, where)
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise SweepError(f"{where}: {key} must be a non-empty list of values, got {values!r}")
    return grid


def _mapping(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise SweepError(f"{where} must be a mapping, got {raw!r}")
    return {str(k): v for k, v in raw.items()}


def _list(raw: Any, where: str) -> list:
    if isinstance(raw, (str, int)):
        return [raw]
    if not isinstance(raw, list):
        raise SweepError(f"{where} must be a list, got {raw!r}")
    return raw


def _int(raw: Any, where: str) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise SweepError(f"{where}: {raw!r} is not an integer seed")
    return raw


# -- expansion -----------------------------------------------------------------------------------
def expand(spec: SweepSpec, tracking_uri: str | None = None, root: str | None = None) -> list[Job]:
    """Every job of the sweep, in a stable order, without duplicates; each configuration
    resolved (and so validated) the way ``udabench run`` resolves it."""
    from ..contract.registry import get_registry
    from ..protocol.runner import DEFAULT_SEEDS, RunRequest, resolve_config
    from ..protocol.task import check_tasks
    from ..tracking.tracker import tracking_uri as resolve_uri

    reg = get_registry()
    uri = portable_uri(resolve_uri(tracking_uri or spec.run.get("tracking_uri") or spec.tracking_uri))
    root = root or spec.run.get("root")
    root = str(Path(root).expanduser().resolve()) if root else None
    options = {**spec.run, "root": root, "tracking_uri": uri}
    jobs: dict[str, Job] = {}
    for dataset_name in spec.datasets:
        dataset_cls = reg.dataset(dataset_name)
        tasks = dataset_cls.resolve_tasks(_tasks_for(spec, dataset_cls.name))
        for backbone in spec.backbones or [dataset_cls.default_backbone]:
            for method_name, body in spec.methods.items():
                method_cls = reg.method(method_name)
                try:
                    check_tasks(method_cls, dataset_cls, tasks)  # e.g. uda on a one-domain dataset
                except ConfigError as exc:
                    raise SweepError(f"sweep {spec.name}: {exc}") from None
                seeds = spec.seeds or (list(DEFAULT_SEEDS) if not method_cls.seed_independent else [0])
                if method_cls.seed_independent:
                    seeds = seeds[:1]  # the result does not depend on it: one run, not len(seeds)
                fixed = {**spec.set, **body["set"]}
                grid = {**spec.grid, **body["grid"]}
                for values in itertools.product(*grid.values()):
                    point = dict(zip(grid, values))
                    pairs = {**fixed, **point}
                    req = RunRequest(method=method_cls.name, dataset=dataset_cls.name, config_file=spec.config,
                                     set_pairs=pairs)
                    try:
                        digest = resolve_config(req, method_cls, dataset_cls).digest()
                    except ConfigError as exc:
                        raise SweepError(f"sweep {spec.name}: method {method_cls.name}: {exc}") from None
                    for task in tasks:
                        for seed in seeds:
                            job = Job(sweep=spec.name, index=len(jobs) + 1, method=method_cls.name,
                                      dataset=dataset_cls.name, task=task.name, seed=seed, backbone=backbone,
                                      config_hash=digest, set_pairs=pairs, grid_point=point,
                                      config_file=spec.config, options=dict(options))
                            jobs.setdefault(job.key, job)
    return list(jobs.values())


def _tasks_for(spec: SweepSpec, dataset: str) -> list[str] | None:
    if isinstance(spec.tasks, dict):
        tasks = spec.tasks.get(dataset)
        return [str(t) for t in _list(tasks, f"sweep {spec.name}: tasks: {dataset}")] if tasks else None
    return spec.tasks
