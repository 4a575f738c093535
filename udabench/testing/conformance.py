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

from ..contract.errors import DataError, PluginError
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
    from ..protocol.context import RunContext
    from ..contract.validation import validate_plugin_class
    from ..protocol.task import build_adapt_data, evaluate
    from ..contract.registry import get_registry, load_backbone
    from ..protocol.runner import protocol_owned

    plugin = f"method {getattr(method_cls, 'name', method_cls)!r}"
    try:
        validate_plugin_class("method", method_cls, plugin="(under test)")
    except PluginError as exc:
        raise ConformanceError(plugin, "declaration", str(exc)) from None
    dataset_cls = get_registry().dataset(dataset)
    try:
        cfg = method_cls.resolve_config(dataset_cls, set_overrides=overrides)
    except PluginError as exc:
        raise ConformanceError(plugin, "declaration", str(exc)) from None
    except Exception as exc:
        raise ConformanceError(plugin, "hyperparameters", str(exc)) from None
    bb = load_backbone(backbone) if isinstance(backbone, str) else backbone
    small = _small(dataset_cls, images_per_class)()
    the_task = dataset_cls.task(task) if task else dataset_cls.tasks[0]

    def log(metrics, step=None):
        clash = {name for name in metrics if protocol_owned(name)}
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
    """Check a dataset plugin on the data under ``root`` (default: the plugin's default root).

    Quick by design: it opens ``images`` images per (domain, split), not every image.

    * the declaration keeps the contract (what registration checks: tasks name declared
      domains, templates, ``image_size``/``image_mode`` well formed, ...);
    * class names, and the prompt names, are unique and printable: not empty, no control or
      other non-printable character, no leading or trailing whitespace;
    * every (domain, split) the standard tasks need loads (a ``DataError`` is a failure) as an
      ImageList of the declared classes, non-empty, with images of every class (of a domain that
      declares ``domain_classes``: of every class it declares, and of no other);
    * ``images`` images of each, spread over the split (the first one included), decode, come
      out of ``ImageSource.load`` as RGB, and have the declared ``image_size`` and
      ``image_mode`` when the plugin declares them;
    * a second ``load`` of each (from a new instance) gives the same labels in the same order
      and the same images (the same file paths; for in-memory images, the same pixels of the
      sampled ones).

    A failure raises :class:`ConformanceError` naming the dataset, the rule and the domain,
    split, class or image.
    """
    from ..contract.validation import validate_plugin_class
    from ..data.images import ImageList

    plugin = f"dataset {getattr(dataset_cls, 'name', dataset_cls)!r}"
    try:
        validate_plugin_class("dataset", dataset_cls, plugin="(under test)")
    except PluginError as exc:
        raise ConformanceError(plugin, "declaration", str(exc)) from None
    problems = _name_problems("class", dataset_cls.classes)
    if dataset_cls.prompt_names is not None:
        problems += _name_problems("prompt name", dataset_cls.prompt_names)
    if problems:
        raise ConformanceError(plugin, "class names", "; ".join(problems))
    size, mode = dataset_cls.declared_image_size(), dataset_cls.image_mode
    ds = dataset_cls(root)
    needed = {(t.source, ds.train_split) for t in ds.tasks}
    needed |= {(t.target, s) for t in ds.tasks for s in (ds.adapt_split, ds.eval_split)}
    for domain, split in sorted(needed):
        where = f"load({domain!r}, {split!r})"
        got = _load(ds, domain, split, plugin, where)
        if not isinstance(got, ImageList):
            raise ConformanceError(plugin, "load returns an ImageList", f"{where} returned {type(got).__name__}")
        if got.num_classes != len(ds.classes):
            raise ConformanceError(plugin, "classes", f"{where} has {got.num_classes} classes, "
                                                      f"the plugin declares {len(ds.classes)}")
        if len(got) == 0:
            raise ConformanceError(plugin, "non-empty splits", f"{where} is empty")
        counts = np.bincount(got.labels, minlength=got.num_classes)
        held = np.asarray(ds.domain_classes.get(domain, range(got.num_classes)), np.int64)  # a subset: its classes
        absent = held[counts[held] == 0]
        outside = np.setdiff1d(np.flatnonzero(counts), held)
        if outside.size:
            named = ", ".join(f"{ds.classes[c]!r} (label {c})" for c in outside[:10])
            raise ConformanceError(plugin, "domain_classes", f"{where}: domain {domain!r} declares "
                                   f"{held.size} classes (domain_classes) but has images of {named}")
        if absent.size:
            named = ", ".join(f"{ds.classes[c]!r} (label {c})" for c in absent[:10])
            more = f" and {absent.size - 10} more" if absent.size > 10 else ""
            raise ConformanceError(plugin, "every class in every split",
                                   f"{where}: domain {domain!r}, split {split!r} has no image of class "
                                   f"{named}{more} (a class folder missing in this domain?)")
        sample = _spread(len(got), images)
        for i in sample:
            _check_image(got, i, f"{where} image {i}", plugin, dataset_cls, size, mode)
        again = _load(dataset_cls(root), domain, split, plugin, where)
        _check_same_order(got, again, sample, where, plugin, ds.classes)


def _name_problems(kind: str, names) -> list[str]:
    """What is wrong with a list of class (or prompt) names: empty, non-printable, padded, repeated."""
    problems, first = [], {}
    for i, name in enumerate(names):
        if not isinstance(name, str):
            problems.append(f"{kind} {i} is {name!r}, not a str")
            continue
        if not name.strip():
            problems.append(f"{kind} {i} is empty ({name!r})")
        elif name != name.strip():
            problems.append(f"{kind} {i} ({name!r}) has leading or trailing whitespace")
        elif not name.isprintable():
            bad = next(c for c in name if not c.isprintable())
            problems.append(f"{kind} {i} ({name!r}) holds the non-printable character U+{ord(bad):04X}")
        if first.setdefault(name, i) != i:
            problems.append(f"{kind} {i} ({name!r}) repeats {kind} {first[name]}")
    return problems


def _load(ds, domain: str, split: str, plugin: str, where: str):
    try:
        return ds.load(domain, split)
    except DataError as exc:
        raise ConformanceError(plugin, "loads every split its tasks need",
                               f"{where} (domain {domain!r}, split {split!r}) raised DataError: {exc}") from exc


def _spread(n: int, k: int) -> list[int]:
    """Up to ``k`` indices spread evenly over ``range(n)``, the first and the last included."""
    if n <= 0 or k <= 0:
        return []
    return sorted({int(i) for i in np.linspace(0, n - 1, min(k, n)).round()})


def _check_image(got, i: int, what: str, plugin: str, dataset_cls, size, mode) -> None:
    """Image ``i`` decodes, is handed out as RGB, and has the declared size and stored mode."""
    from PIL import Image

    paths = got.source.paths
    if paths is not None:
        what = f"{what} ({paths[i]})"
    try:
        img = got.source.load(i)
    except DataError as exc:
        raise ConformanceError(plugin, "images decode", f"{what}: {exc}") from None
    if img.mode != "RGB":
        raise ConformanceError(plugin, "RGB images", f"{what} is {img.mode}")
    if size is not None and img.size != size:
        raise ConformanceError(plugin, "declared image size",
                               f"{what} is {img.size[0]}x{img.size[1]} pixels (width x height); the plugin "
                               f"declares image_size = {dataset_cls.image_size!r} ({size[0]}x{size[1]})")
    if mode is not None:
        stored = img.mode  # an in-memory array: what it holds
        if paths is not None:
            with Image.open(paths[i]) as raw:
                stored = raw.mode
        if stored != mode:
            raise ConformanceError(plugin, "declared image mode",
                                   f"{what} is stored as {stored}; the plugin declares image_mode = {mode!r}")


def _check_same_order(first, again, sample: list[int], where: str, plugin: str, classes) -> None:
    """A second load gives the same labels, in the same order, of the same images."""
    from ..data.images import ImageList

    rule = "same order on every load"
    fix = "Sort what you list (os.listdir, glob and set order are not fixed) and seed any shuffle."
    second = f"a second {where}, from a new instance,"
    if not isinstance(again, ImageList) or len(again) != len(first):
        raise ConformanceError(plugin, rule, f"{second} gave {len(again)} images, the first one {len(first)}")
    differ = np.flatnonzero(first.labels != again.labels)
    if differ.size:
        j = int(differ[0])
        a, b = int(first.labels[j]), int(again.labels[j])
        raise ConformanceError(plugin, rule, f"{second} gave other labels: image {j} is {classes[a]!r} "
                                             f"(label {a}), then {classes[b]!r} (label {b}); {differ.size} "
                                             f"of {len(first)} labels differ. {fix}")
    p1, p2 = first.source.paths, again.source.paths
    if (p1 is None) != (p2 is None):
        raise ConformanceError(plugin, rule, f"{second} gave {'files' if p2 is not None else 'in-memory images'}, "
                                             f"the first one {'files' if p1 is not None else 'in-memory images'}")
    if p1 is not None:
        if p1 != p2:
            j = next(k for k, (x, y) in enumerate(zip(p1, p2)) if x != y)
            raise ConformanceError(plugin, rule, f"{second} gave other files: image {j} is {p1[j]}, "
                                                 f"then {p2[j]}. {fix}")
        return
    for i in sample:
        if np.asarray(first.source.load(i)).tobytes() != np.asarray(again.source.load(i)).tobytes():
            raise ConformanceError(plugin, rule, f"{second} gave other pixels for image {i}. {fix}")


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
