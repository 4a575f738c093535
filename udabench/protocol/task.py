"""The common protocol: one run = (method, dataset, task, seed).

This module is the only place that

* decides what data a method sees (``build_adapt_data``, from the setting's
  row in ``settings.DATA_RULES``): target labels never leave it except into
  ``evaluate``;
* evaluates (``evaluate``): the classifier the method returned, on the
  target's evaluation split (``top1``: the last state), and, through ``selection``, every
  state the method handed over at an epoch's end (the oracle and the label-free validators).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..model.backbone import ClipBackbone
from ..contract.config import Config
from .context import RunContext, seed_everything
from ..data.images import ImageList, TargetView, sample_shots, stratified_split
from ..contract.dataset import Dataset, Task
from .distributed import combine_meters
from ..contract.errors import ConfigError, DataError, PluginError
from .measure import PeakMemory, ThroughputMeter, timed
from ..contract.method import AdaptData, Method
from .metrics import summarize
from ..tracking.tracker import TRANSDUCTIVE_TAG
from .scoring import ClassSubset, logits_of, predict, scores_on_features  # noqa: F401 (predict, scores_on_features: re-exported)
from .selection import Selection, validators_for
from ..contract.settings import DATA_RULES, Setting


@dataclass
class EvalSet:
    """The target images the protocol scores, with their labels: never handed to a method. For
    model selection, also the target images the method adapts on (``target``; their labels are
    read by no one) and the labeled source slice held out from the method (``source_holdout``).

    ``keep``: for a target domain that holds some of the classes only (``Dataset.domain_classes``),
    the classifier outputs scored (labels of ``images`` and ``target`` are positions in ``keep``)."""

    images: ImageList
    excluded: int = 0  # few-shot support images removed from a transductive evaluation set
    skipped: list[str] = field(default_factory=list)  # unreadable image files dropped (skip_bad_images)
    target: ImageList | None = None
    target_is_evaluation: bool = False  # a transductive benchmark: the same images
    source_holdout: ImageList | None = None
    keep: ClassSubset | None = None


def check_tasks(method_cls: type[Method], dataset_cls: type[Dataset], tasks: list[Task]) -> None:
    """Refuse, before any weights or data are loaded, a task the method's setting cannot run: a
    setting with a labeled source (uda, source-only) on a single-domain task has no source apart
    from what it is scored on."""
    setting = Setting(method_cls.setting)
    single = [t.name for t in tasks if t.single_domain]
    if DATA_RULES[setting][0] and single:
        raise ConfigError(
            f"{method_cls.name} is a {setting} method: it trains on a labeled source domain and is scored on "
            f"another, but {dataset_cls.name}'s task {', '.join(single)} has one domain "
            f"({', '.join(dataset_cls.domains)}). Run a zero-shot, few-shot or source-free method on it "
            f"(`udabench list` shows each method's setting), or pick a dataset with two domains or more.")


def adapt_split(dataset: Dataset, transductive: bool = False) -> str:
    """The split of the target a method adapts on: the evaluation split itself with ``transductive``
    (ReCLIP's protocol), else the dataset's ``adapt_split``."""
    return dataset.eval_split if transductive else dataset.adapt_split


def splits_read(method_cls: type[Method], dataset: Dataset, task: Task,
                transductive: bool = False) -> list[tuple[str, str]]:
    """The (domain, split) pairs a run of ``task`` reads, in the order ``build_adapt_data`` reads them."""
    wants_source, wants_target, wants_shots = DATA_RULES[Setting(method_cls.setting)]
    pairs = [(task.target, dataset.eval_split)]
    if wants_source:
        pairs.append((task.source, dataset.train_split))
    if wants_target:
        pairs.append((task.target, adapt_split(dataset, transductive)))
    if wants_shots:
        pairs.append((task.shot_domain, dataset.train_split))
        if dataset.val_split is not None:
            pairs.append((task.shot_domain, dataset.val_split))
    return list(dict.fromkeys(pairs))


def check_data(method_cls: type[Method], dataset: Dataset, tasks: list[Task], transductive: bool = False) -> None:
    """Find every split the runs will read (the dataset's DataError names what is missing), before
    any weights are loaded: a user without the data learns it before fetching a backbone."""
    for task in tasks:
        for domain, split in splits_read(method_cls, dataset, task, transductive):
            dataset.load(domain, split)


def build_adapt_data(method_cls: type[Method], config: Config, dataset: Dataset, task: Task,
                     seed: int, skip_bad_images: bool = False,
                     source_holdout: float = 0.0, transductive: bool = False) -> tuple[AdaptData, EvalSet]:
    """Hand the method exactly what its setting allows; keep the evaluation set for ourselves.

    Few-shot: K shots per class from the train split of the task's shot domain (the target, or the
    source of a cross-dataset task), and the shot domain's val split (when the dataset has one)
    for choosing hyperparameters; the evaluation split is never handed over.

    ``source_holdout``: the fraction of every source class held out from the method (drawn from
    ``seed``) for the source-accuracy validator; 0: the method sees the whole source.

    ``transductive``: the unlabeled target is the evaluation split itself (``adapt_split``).

    ``skip_bad_images``: drop the image files PIL cannot read from every list the run reads
    (``ImageList.without_unreadable``), recording their paths in ``EvalSet.skipped``; by
    default nothing is checked and an unreadable image fails the run when it is loaded."""
    skipped: dict[str, None] = {}  # ordered and without repeats (a transductive split is read twice)

    def load(domain: str, split: str) -> ImageList:
        images = dataset.load(domain, split)
        if not skip_bad_images:
            return images
        kept, bad = images.without_unreadable()
        skipped.update(dict.fromkeys(bad))
        if len(images) and not len(kept):
            raise DataError(f"{dataset.name}: every image of {domain}/{split} is unreadable "
                            f"({len(bad)} files, e.g. {bad[0]})")
        return kept

    setting = Setting(method_cls.setting)
    wants_source, wants_target, wants_shots = DATA_RULES[setting]
    data = AdaptData(
        setting=setting, classes=tuple(dataset.classes), prompt_names=dataset.class_prompt_names(),
        templates=tuple(dataset.templates), dataset=dataset.name,
        source_domain=task.source if wants_source else None, target_domain=task.target,
        domain_prompt_names={d: dataset.domain_prompt_name(d) for d in dataset.domains},
        hflip_ok=dataset.hflip_ok,
    )
    evaluation = load(task.target, dataset.eval_split)
    excluded, adapt, holdout = 0, None, None
    if wants_source:
        data.source = load(task.source, dataset.train_split)
        if source_holdout > 0:
            held, kept = stratified_split(data.source.labels, source_holdout, seed)
            data.source, holdout = data.source.subset(kept), data.source.subset(held)
    split = adapt_split(dataset, transductive)
    if wants_target:
        adapt = load(task.target, split)
        data.target = TargetView(adapt.source, task.target, seed)  # the pixels only: labels stay here
    if wants_shots:
        if "shots" not in config:
            raise PluginError(f"few-shot method {method_cls.name!r} must declare a `shots` hyperparameter")
        domain = task.shot_domain
        pool = load(domain, dataset.train_split)
        picked = sample_shots(pool.labels, int(config["shots"]), len(dataset.classes), seed)
        data.shots = pool.subset(picked)
        if dataset.val_split is not None:
            data.val = load(domain, dataset.val_split)
        if domain == task.target and dataset.train_split == dataset.eval_split:
            keep_idx = np.setdiff1d(np.arange(len(evaluation)), picked)  # transductive: shots never scored
            evaluation, excluded = evaluation.subset(keep_idx), len(picked)
    keep = None
    if task.target in dataset.domain_classes:
        keep = ClassSubset(tuple(dataset.domain_classes[task.target]), len(dataset.classes))
        evaluation = keep.relabel(evaluation)
        adapt = keep.relabel(adapt) if adapt is not None else None
    return data, EvalSet(evaluation, excluded, list(skipped), adapt,
                         adapt is not None and split == dataset.eval_split and not excluded, holdout,
                         keep)


#: Run tags of ``--skip-bad-images``: how many image files were dropped, and the first few paths.
SKIPPED_TAG = "udabench.skipped_bad_images"
SKIPPED_EXAMPLES_TAG = "udabench.skipped_bad_images_examples"  # up to SKIPPED_EXAMPLES paths, one a line
SKIPPED_EXAMPLES = 5


def skipped_tags(skipped: list[str]) -> dict[str, str]:
    tags = {SKIPPED_TAG: str(len(skipped))}
    if skipped:
        tags[SKIPPED_EXAMPLES_TAG] = "\n".join(skipped[:SKIPPED_EXAMPLES])
    return tags


@dataclass
class EvalResult:
    metrics: dict
    per_class: np.ndarray
    confusion: np.ndarray
    meter: ThroughputMeter
    logits: "torch.Tensor | None" = None  # (N, C), in one process (None under torchrun)


def evaluate(classifier: Callable, evaluation: EvalSet, backbone: ClipBackbone, ctx: RunContext) -> EvalResult:
    """Score the classifier on the evaluation set: the one place target labels are read."""
    meter = ThroughputMeter(ctx.device)
    images = evaluation.images
    if ctx.dist.enabled:  # under torchrun each process scores a contiguous shard, in rank order
        images = images.subset(ctx.dist.shard(len(images)))
    logits = logits_of(classifier, images, backbone, ctx, meter, keep=evaluation.keep)
    preds = logits.argmax(1).numpy()
    if ctx.dist.enabled:  # the whole set's predictions, in its order, on every process
        preds, meter = np.concatenate(ctx.dist.all_gather(preds)), combine_meters(ctx.dist, meter)
        logits = None
    s = summarize(evaluation.images.labels, preds, evaluation.images.num_classes)
    metrics = {"top1": s["top1"], "mean_class_acc": s["mean_class_acc"],
               "eval_images_per_s": meter.images_per_s, "eval_s": meter.wall_s,
               "eval_data_wait_s": meter.data_wait_s, "eval_images": len(preds),
               "eval_from_cache": float(meter.from_cache)}
    return EvalResult(metrics, s["per_class"], s["confusion"], meter, logits)


@dataclass
class RunResult:
    metrics: dict
    per_class: np.ndarray
    confusion: np.ndarray
    classes: tuple[str, ...]
    config: Config
    extra_tags: dict = field(default_factory=dict)
    #: (epoch, metrics) of every state the selection scored: ``select/...`` metric histories.
    history: list = field(default_factory=list)


def run_task(method_cls: type[Method], config: Config, dataset: Dataset, task: Task, seed: int,
             backbone: ClipBackbone, ctx: RunContext,
             on_adapted: Callable[[dict], None] | None = None, skip_bad_images: bool = False,
             select_every: int = 1, validators: dict[str, type] | None = None,
             source_holdout: float = 0.0, transductive: bool = False) -> RunResult:
    """Build the data, adapt, evaluate. ``on_adapted`` receives the adaptation metrics as soon
    as they exist, so they are recorded even if evaluation then fails. ``skip_bad_images``: see
    ``build_adapt_data``; the count and the first paths skipped become run tags.

    Model selection (``selection``): every ``select_every``-th epoch the method hands over, and
    the state it returns, are scored; 0 turns it off (and so does torchrun, for now). The
    ``validators`` (name -> Validator class) the method's setting allows choose label-free;
    ``source_holdout`` of the source is held out from the method for the source ones."""
    import torch

    t0 = time.perf_counter()
    seed_everything(seed)
    cache = backbone.feature_cache
    lookups_before = (cache.hits, cache.misses) if cache is not None else None
    with PeakMemory(ctx.device) as memory:
        data, evaluation = build_adapt_data(method_cls, config, dataset, task, seed, skip_bad_images,
                                            source_holdout, transductive)
        selection = None
        if select_every > 0 and not ctx.dist.enabled:
            selection = Selection(evaluation.images, evaluation.target, evaluation.target_is_evaluation,
                                  evaluation.source_holdout,
                                  validators_for(method_cls.setting, validators or {}, evaluation.source_holdout
                                                 is not None), backbone, ctx, select_every, evaluation.keep)
            ctx.on_epoch_end = selection.on_epoch_end
        model = backbone.fresh_copy()
        method = method_cls(config)
        ctx.method_name, ctx.finite_loss = method_cls.name, not method_cls.allows_nonfinite_loss
        with timed(ctx.meter):
            classifier = method.adapt(ctx, model, data)
            ctx.check_loss()  # the last step's loss: a diverged run fails here, before it is scored
        ctx.on_epoch_end = None
        model.eval()  # also when the classifier is a closure over the model (not built: nothing to do)
        adapting = combine_meters(ctx.dist, ctx.meter, split=ctx.data_parallel)  # ctx.meter in one process
        adapt_metrics = {"adapt_s": adapting.wall_s, "adapt_data_wait_s": adapting.data_wait_s}
        if adapting.images:
            adapt_metrics["adapt_images_per_s"] = adapting.images_per_s
            adapt_metrics["adapt_images"] = adapting.images
        # Under torchrun: one model scores every shard (rank 0's; see DistributedInfo.sync_module).
        if ctx.dist.enabled:
            ctx.dist.sync_module(classifier if isinstance(classifier, torch.nn.Module) else model.model,
                                 parameters_must_agree=ctx.data_parallel)
        if on_adapted:
            on_adapted(adapt_metrics)
        result = evaluate(classifier, evaluation, backbone, ctx)  # our preprocessing, not the method's copy
        if selection is not None:
            selection.add_last(classifier, result.logits, ctx.epochs_ended)
    peak_mb = max(ctx.dist.all_gather(memory.mb))  # the largest process's
    metrics = {**adapt_metrics, **result.metrics, "peak_mem_mb": peak_mb, "wall_s": time.perf_counter() - t0}
    if selection is not None:
        metrics.update(selection.metrics())
    if lookups_before is not None:
        hits, misses = cache.hits - lookups_before[0], cache.misses - lookups_before[1]
        # The fraction of this run's feature-cache lookups that were served from disk.
        metrics.update({"cache_hit": hits / (hits + misses) if hits + misses else 0.0,
                        "cache_lookups": hits + misses})
    tags = {"udabench.eval_excluded_shots": str(evaluation.excluded)} if evaluation.excluded else {}
    if data.target is not None:  # adapted on the very images it is scored on, or on others
        tags[TRANSDUCTIVE_TAG] = str(evaluation.target_is_evaluation).lower()
    if skip_bad_images:
        tags.update(skipped_tags(evaluation.skipped))
    classes = tuple(dataset.classes)
    if evaluation.keep is not None:
        classes = tuple(classes[i] for i in evaluation.keep.labels)
        tags["udabench.scored_classes"] = str(len(classes))
    return RunResult(metrics, result.per_class, result.confusion, classes, config, tags,
                     selection.history() if selection is not None else [])
