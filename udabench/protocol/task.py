"""The common protocol: one run = (method, dataset, task, seed).

This module is the only place that

* decides what data a method sees (``build_adapt_data``, from the setting's
  row in ``settings.DATA_RULES``): target labels never leave it except into
  ``evaluate``;
* evaluates (``evaluate``): the classifier the method returned, on the
  target's evaluation split, last epoch only, no model selection.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..model.backbone import ClipBackbone
from ..contract.config import Config
from .context import RunContext, seed_everything
from ..data.images import ImageList, TargetView, sample_shots
from ..contract.dataset import Dataset, Task
from .distributed import combine_meters
from ..contract.errors import DataError, PluginError
from .measure import PeakMemory, ThroughputMeter, timed
from ..contract.method import AdaptData, Method
from .metrics import summarize
from ..contract.settings import DATA_RULES, Setting


@dataclass
class EvalSet:
    """The target images the protocol scores, with their labels: never handed to a method."""

    images: ImageList
    excluded: int = 0  # few-shot support images removed from a transductive evaluation set
    skipped: list[str] = field(default_factory=list)  # unreadable image files dropped (skip_bad_images)


def build_adapt_data(method_cls: type[Method], config: Config, dataset: Dataset, task: Task,
                     seed: int, skip_bad_images: bool = False) -> tuple[AdaptData, EvalSet]:
    """Hand the method exactly what its setting allows; keep the evaluation set for ourselves.

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
    excluded = 0
    if wants_source:
        data.source = load(task.source, dataset.train_split)
    if wants_target:
        adapt = load(task.target, dataset.adapt_split)
        data.target = TargetView(adapt.source, task.target, seed)  # the pixels only: labels stay here
    if wants_shots:
        if "shots" not in config:
            raise PluginError(f"few-shot method {method_cls.name!r} must declare a `shots` hyperparameter")
        pool = load(task.target, dataset.adapt_split)
        picked = sample_shots(pool.labels, int(config["shots"]), len(dataset.classes), seed)
        data.shots = pool.subset(picked)
        if dataset.adapt_split == dataset.eval_split:  # transductive: the shots are never scored
            keep = np.setdiff1d(np.arange(len(evaluation)), picked)
            evaluation, excluded = evaluation.subset(keep), len(picked)
    return data, EvalSet(evaluation, excluded, list(skipped))


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


def predict(classifier: Callable, images: ImageList, backbone: ClipBackbone, ctx: RunContext,
            meter: ThroughputMeter) -> np.ndarray:
    """Argmax predictions of ``classifier`` on ``images`` (eval preprocessing, no gradients)."""
    import torch

    if isinstance(classifier, torch.nn.Module):
        classifier.eval()
    if scores_on_features(classifier, backbone):
        return _predict_from_features(classifier, images, backbone, ctx, meter)
    loader = ctx.loader(images.dataset(backbone.preprocess), batch_size=ctx.eval_batch_size)
    preds = []
    with torch.inference_mode(), ctx.autocast(), timed(meter):
        for x, _ in ctx.progress(meter.iterate(loader), desc="evaluate", total=len(loader)):
            logits = classifier(ctx.to_device(x))
            _check_logits(logits, images.num_classes)
            preds.append(logits.argmax(1).cpu())
    return torch.cat(preds).numpy() if preds else np.zeros(0, np.int64)


def scores_on_features(classifier: Callable, backbone: ClipBackbone) -> bool:
    """Whether ``classifier`` may be scored on the loaded backbone's image features (from the
    feature cache when there is one): a ``FeatureHead`` that keeps its ``forward`` and
    ``features``, over an image tower that is the loaded one, unchanged (``same_tower``)."""
    from ..model.backbone import same_tower
    from ..model.classifiers import FeatureHead

    if not isinstance(classifier, FeatureHead):
        return False
    kind = type(classifier)
    if kind.forward is not FeatureHead.forward or kind.features is not FeatureHead.features:
        return False
    return same_tower(classifier.model, backbone.model, "visual")


def _predict_from_features(classifier, images: ImageList, backbone: ClipBackbone, ctx: RunContext,
                           meter: ThroughputMeter) -> np.ndarray:
    """``predict`` for a FeatureHead on the frozen tower: embed once (or read the cache), then
    the head, batch by batch as ``forward`` would see them: the same logits, bit for bit."""
    import torch

    from ..model.features import extract_features

    encoding = ThroughputMeter(ctx.device)
    cache = backbone.feature_cache
    hits = cache.hits if cache is not None else 0
    with timed(meter):
        feats, _ = extract_features(backbone, images, ctx, desc="evaluate", meter=encoding)
        meter.from_cache = cache is not None and cache.hits > hits
        meter.data_wait_s += encoding.data_wait_s
        preds = []
        with torch.inference_mode():
            for start in range(0, len(feats), ctx.eval_batch_size):
                f = ctx.to_device(feats[start:start + ctx.eval_batch_size])
                logits = classifier.logits_from_features(f)
                _check_logits(logits, images.num_classes)
                meter.add(len(f))
                preds.append(logits.argmax(1).cpu())
    return torch.cat(preds).numpy() if preds else np.zeros(0, np.int64)


def _check_logits(logits, num_classes: int) -> None:
    if logits.ndim != 2 or logits.shape[1] != num_classes:
        raise PluginError(f"the classifier returned logits of shape {tuple(logits.shape)}; "
                          f"expected (batch, {num_classes})")


def evaluate(classifier: Callable, evaluation: EvalSet, backbone: ClipBackbone, ctx: RunContext) -> EvalResult:
    """Score the classifier on the evaluation set: the one place target labels are read."""
    meter = ThroughputMeter(ctx.device)
    images = evaluation.images
    if ctx.dist.enabled:  # under torchrun each process scores a contiguous shard, in rank order
        images = images.subset(ctx.dist.shard(len(images)))
    preds = predict(classifier, images, backbone, ctx, meter)
    if ctx.dist.enabled:  # the whole set's predictions, in its order, on every process
        preds, meter = np.concatenate(ctx.dist.all_gather(preds)), combine_meters(ctx.dist, meter)
    s = summarize(evaluation.images.labels, preds, evaluation.images.num_classes)
    metrics = {"top1": s["top1"], "mean_class_acc": s["mean_class_acc"],
               "eval_images_per_s": meter.images_per_s, "eval_s": meter.wall_s,
               "eval_data_wait_s": meter.data_wait_s, "eval_images": len(preds),
               "eval_from_cache": float(meter.from_cache)}
    return EvalResult(metrics, s["per_class"], s["confusion"], meter)


@dataclass
class RunResult:
    metrics: dict
    per_class: np.ndarray
    confusion: np.ndarray
    classes: tuple[str, ...]
    config: Config
    extra_tags: dict = field(default_factory=dict)


def run_task(method_cls: type[Method], config: Config, dataset: Dataset, task: Task, seed: int,
             backbone: ClipBackbone, ctx: RunContext,
             on_adapted: Callable[[dict], None] | None = None, skip_bad_images: bool = False) -> RunResult:
    """Build the data, adapt, evaluate. ``on_adapted`` receives the adaptation metrics as soon
    as they exist, so they are recorded even if evaluation then fails. ``skip_bad_images``: see
    ``build_adapt_data``; the count and the first paths skipped become run tags."""
    import torch

    t0 = time.perf_counter()
    seed_everything(seed)
    cache = backbone.feature_cache
    lookups_before = (cache.hits, cache.misses) if cache is not None else None
    with PeakMemory(ctx.device) as memory:
        data, evaluation = build_adapt_data(method_cls, config, dataset, task, seed, skip_bad_images)
        model = backbone.fresh_copy()
        method = method_cls(config)
        with timed(ctx.meter):
            classifier = method.adapt(ctx, model, data)
        model.model.eval()  # also when the classifier is a closure over the model
        adapting = combine_meters(ctx.dist, ctx.meter, split=ctx.data_parallel)  # ctx.meter in one process
        adapt_metrics = {"adapt_s": adapting.wall_s, "adapt_data_wait_s": adapting.data_wait_s}
        if adapting.images:
            adapt_metrics["adapt_images_per_s"] = adapting.images_per_s
            adapt_metrics["adapt_images"] = adapting.images
        # Under torchrun: one model scores every shard (rank 0's; see DistributedInfo.sync_module).
        ctx.dist.sync_module(classifier if isinstance(classifier, torch.nn.Module) else model.model,
                             parameters_must_agree=ctx.data_parallel)
        if on_adapted:
            on_adapted(adapt_metrics)
        result = evaluate(classifier, evaluation, backbone, ctx)  # our preprocessing, not the method's copy
    peak_mb = max(ctx.dist.all_gather(memory.mb))  # the largest process's
    metrics = {**adapt_metrics, **result.metrics, "peak_mem_mb": peak_mb, "wall_s": time.perf_counter() - t0}
    if lookups_before is not None:
        hits, misses = cache.hits - lookups_before[0], cache.misses - lookups_before[1]
        # The fraction of this run's feature-cache lookups that were served from disk.
        metrics.update({"cache_hit": hits / (hits + misses) if hits + misses else 0.0,
                        "cache_lookups": hits + misses})
    tags = {"udabench.eval_excluded_shots": str(evaluation.excluded)} if evaluation.excluded else {}
    if skip_bad_images:
        tags.update(skipped_tags(evaluation.skipped))
    return RunResult(metrics, result.per_class, result.confusion, tuple(dataset.classes), config, tags)
