"""Conformance kit: check, from a plugin's own tests, that it keeps udabench's contract.

    from udabench.testing import check_dataset, check_method

    def test_my_method_keeps_the_contract():
        check_method(MyMethod, overrides={"epochs": 1})

    def test_my_dataset_keeps_the_contract(tmp_path):
        check_dataset(MyDataset, root=build_tiny_tree(tmp_path))

The built-in plugins pass the same checks in udabench's own test suite, so the kit and
the contract cannot drift apart. A failure raises :class:`ConformanceError` naming the
plugin and the rule it breaks.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

import numpy as np

from ..contract.errors import PluginError
from ..protocol.measure import ThroughputMeter


class ConformanceError(AssertionError):
    """A plugin breaks a rule of the contract."""

    def __init__(self, plugin: str, rule: str, detail: str):
        self.plugin, self.rule = plugin, rule
        super().__init__(f"{plugin} breaks the rule '{rule}': {detail}")


@contextlib.contextmanager
def _no_direct_data_access(dataset_cls, plugin: str):
    """While a method adapts, reading the benchmark through its dataset plugin (where the
    target labels are) is an error: a method gets its data from the protocol only."""
    original = dataset_cls.load

    def guarded(self, domain, split):
        raise ConformanceError(plugin, "data only from the protocol",
                               f"adapt() called {dataset_cls.__name__}.load({domain!r}, {split!r}), which "
                               f"returns labels; use the AdaptData it is handed")

    dataset_cls.load = guarded
    try:
        yield
    finally:
        dataset_cls.load = original


def _small(dataset_cls, per_class: int):
    """The dataset with every split cut to ``per_class`` images per class (a seeded choice)."""

    class Small(dataset_cls):
        def load(self, domain, split):
            full = super().load(domain, split)
            rng = np.random.default_rng(0)
            keep = [rng.permutation(np.flatnonzero(full.labels == c))[:per_class] for c in range(full.num_classes)]
            return full.subset(np.sort(np.concatenate(keep)))

    Small.__name__ = dataset_cls.__name__
    return Small


def check_method(method_cls, backbone: Any = "toyclip", dataset: str = "digits", task: str | None = None,
                 overrides: dict | None = None, images_per_class: int = 8, seconds: float = 120.0) -> dict:
    """Run ``method_cls`` twice (seed 0) on a small slice of ``dataset`` and check the contract:

    * the class declaration (name, setting, hyperparameters and their defaults) is valid;
    * ``overrides`` resolve against the declared hyperparameters;
    * it adapts with only the data its setting allows, without reading the dataset itself;
    * it logs no metric under a name the protocol owns;
    * it returns a classifier of images -> logits of shape (batch, classes);
    * the same seed gives the same predictions;
    * it survives a resume: udabench resumes an interrupted command by running the unfinished
      (task, seed) runs again from their start (``udabench sweep`` skips the finished ones), so
      a run interrupted mid-adaptation (a KeyboardInterrupt at its first batch or first logged
      metric) must leave nothing behind — no state in class attributes or module globals, no
      edit of shared data or weights — that changes the next run's predictions;
    * it finishes within ``seconds`` on the toy backbone.

    Returns the metrics of the first run.
    """
    from ..contract.config import resolve
    from ..protocol.context import RunContext
    from ..contract.validation import validate_plugin_class
    from ..protocol.task import build_adapt_data, evaluate
    from ..contract.registry import get_registry, load_backbone
    from ..protocol.runner import PROTOCOL_METRICS

    plugin = f"method {getattr(method_cls, 'name', method_cls)!r}"
    try:
        validate_plugin_class("method", method_cls, plugin="(under test)")
        cfg = resolve(method_cls.name, method_cls.hparams, dataset, method_cls.dataset_overrides,
                      set_overrides=overrides)
    except PluginError as exc:
        raise ConformanceError(plugin, "declaration", str(exc)) from None
    except Exception as exc:
        raise ConformanceError(plugin, "hyperparameters", str(exc)) from None
    bb = load_backbone(backbone) if isinstance(backbone, str) else backbone
    dataset_cls = get_registry().dataset(dataset)
    small = _small(dataset_cls, images_per_class)()
    the_task = dataset_cls.task(task) if task else dataset_cls.tasks[0]

    def log(metrics, step=None):
        clash = PROTOCOL_METRICS.intersection(metrics)
        if clash:
            raise ConformanceError(plugin, "protocol-owned metrics", f"logged {sorted(clash)}")

    def once(interrupt: bool = False):
        t0 = time.perf_counter()
        meter = _InterruptingMeter() if interrupt else None
        ctx = RunContext(device=str(bb.device), seed=0, show_progress=False,
                         log_metrics=meter.interrupting(log) if interrupt else log)
        if meter is not None:
            ctx.meter = meter
        from ..protocol.context import seed_everything

        seed_everything(0)
        try:
            data, evaluation = build_adapt_data(method_cls, cfg, small, the_task, seed=0)
        except PluginError as exc:
            raise ConformanceError(plugin, "declaration", str(exc)) from None
        copy = bb.fresh_copy()
        with _no_direct_data_access(dataset_cls, plugin):
            classifier = method_cls(cfg).adapt(ctx, copy, data)
        if not callable(classifier):
            raise ConformanceError(plugin, "returns a classifier", f"adapt() returned {type(classifier).__name__}")
        copy.model.eval()
        try:
            result = evaluate(classifier, evaluation, bb, ctx)
        except PluginError as exc:
            raise ConformanceError(plugin, "logits shape", str(exc)) from None
        return result, time.perf_counter() - t0

    first, took = once()
    if took > seconds:
        raise ConformanceError(plugin, "runs in seconds on the toy backbone", f"took {took:.0f} s > {seconds:.0f} s")
    second, _ = once()
    if not np.array_equal(first.confusion, second.confusion):
        raise ConformanceError(plugin, "determinism", "two runs with seed 0 predicted differently")
    try:
        once(interrupt=True)
        interrupted = False  # nothing to interrupt: no batch and no metric before the end
    except KeyboardInterrupt:
        interrupted = True
    if interrupted:
        resumed, _ = once()
        if not np.array_equal(first.confusion, resumed.confusion):
            raise ConformanceError(plugin, "survives a resume",
                                   "after a run interrupted mid-adaptation, the run again with seed 0 "
                                   "predicted differently from an uninterrupted one: the method keeps "
                                   "state between runs (a class attribute, a module global, or an edit "
                                   "of shared data or weights)")
    return {**first.metrics, "check_seconds": took, "resume_checked": interrupted}


class _InterruptingMeter(ThroughputMeter):
    """Ctrl-C in mid-adaptation: a KeyboardInterrupt at the first batch this meter counts, or
    (through :meth:`interrupting`) right after the first metric the method logs."""

    def add(self, images: int) -> None:
        raise KeyboardInterrupt("conformance kit: simulated interruption")

    @staticmethod
    def interrupting(log):
        def interrupted(metrics, step=None):
            log(metrics, step)
            raise KeyboardInterrupt("conformance kit: simulated interruption")
        return interrupted


def check_dataset(dataset_cls, root=None, images: int = 4) -> None:
    """Load every split every standard task needs from ``root`` and check what comes back:
    an ImageList of the declared classes, non-empty, labels in range, the first ``images``
    images readable as RGB."""
    from ..contract.validation import validate_plugin_class
    from ..data.images import ImageList

    plugin = f"dataset {getattr(dataset_cls, 'name', dataset_cls)!r}"
    try:
        validate_plugin_class("dataset", dataset_cls, plugin="(under test)")
    except PluginError as exc:
        raise ConformanceError(plugin, "declaration", str(exc)) from None
    ds = dataset_cls(root)
    needed = {(t.source, ds.train_split) for t in ds.tasks}
    needed |= {(t.target, s) for t in ds.tasks for s in (ds.adapt_split, ds.eval_split)}
    for domain, split in sorted(needed):
        where = f"load({domain!r}, {split!r})"
        got = ds.load(domain, split)
        if not isinstance(got, ImageList):
            raise ConformanceError(plugin, "load returns an ImageList", f"{where} returned {type(got).__name__}")
        if got.num_classes != len(ds.classes):
            raise ConformanceError(plugin, "classes", f"{where} has {got.num_classes} classes, "
                                                      f"the plugin declares {len(ds.classes)}")
        if len(got) == 0:
            raise ConformanceError(plugin, "non-empty splits", f"{where} is empty")
        for i in range(min(images, len(got))):
            img = got.source.load(i)
            if img.mode != "RGB":
                raise ConformanceError(plugin, "RGB images", f"{where} image {i} is {img.mode}")


def check_backbone(backbone_cls, spec: str | None = None) -> None:
    """Load ``spec`` (default: the plugin's name) and check what a method relies on: the
    preprocessing gives (3, S, S) tensors, image and text embeddings share one width, and the
    prompt-ensemble classifier has unit rows."""
    import torch
    from PIL import Image

    from ..model.backbone import ClipBackbone
    from ..contract.validation import validate_plugin_class

    plugin = f"backbone {getattr(backbone_cls, 'name', backbone_cls)!r}"
    try:
        validate_plugin_class("backbone", backbone_cls, plugin="(under test)")
    except PluginError as exc:
        raise ConformanceError(plugin, "declaration", str(exc)) from None
    spec = spec or backbone_cls.name
    if not backbone_cls.handles(spec):
        raise ConformanceError(plugin, "handles its specs", f"handles({spec!r}) is False")
    bb = backbone_cls().load(spec, device="cpu")
    if not isinstance(bb, ClipBackbone):
        raise ConformanceError(plugin, "load returns a ClipBackbone", f"got {type(bb).__name__}")
    x = bb.preprocess(Image.new("RGB", (50, 37), (120, 30, 200)))
    if tuple(x.shape) != (3, bb.image_size, bb.image_size):
        raise ConformanceError(plugin, "preprocessing", f"gave {tuple(x.shape)} for image size {bb.image_size}")
    with torch.no_grad():
        img = bb.encode_image(x[None])
        text = bb.text_classifier(("cat", "dog"), ("a photo of a {}.", "a {}."))
    if img.shape[-1] != text.shape[-1] or img.shape[-1] != bb.embed_dim:
        raise ConformanceError(plugin, "one embedding width",
                               f"image {img.shape[-1]}, text {text.shape[-1]}, embed_dim {bb.embed_dim}")
    if not torch.allclose(text.norm(dim=-1), torch.ones(2), atol=1e-4):
        raise ConformanceError(plugin, "normalised text classifier", f"row norms {text.norm(dim=-1).tolist()}")
