"""The dataset plugin contract: domains, classes in label order, prompts, tasks, splits."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Mapping

from .errors import PluginError, UnknownNameError
from .names import unknown_message


@dataclass(frozen=True)
class Task:
    """One task: train on ``source``, adapt to and evaluate on ``target``.

    Three kinds, one type:

    * adaptation (``A2W``): two domains of one dataset;
    * single-domain (``caltech101``): ``source == target``, the dataset's one domain: few-shot
      methods take their shots from its train split, and it is scored on its test split; settings
      that need a labeled source apart from the target (uda, source-only) refuse it;
    * cross-dataset (``imagenet-a``, shots from ImageNet scored on ImageNet-A): ``shots_from``
      is ``"source"``, so a few-shot method's K labeled shots come from the source's train split
      (CoOp's domain-generalisation protocol); for every other setting it is an adaptation task.
    """

    name: str
    source: str
    target: str
    #: Which domain a few-shot method's shots are drawn from: "target" (K labeled target images per
    #: class, the few-shot adaptation setting) or "source" (trained on the source, scored on the target).
    shots_from: str = "target"

    @property
    def single_domain(self) -> bool:
        return self.source == self.target

    @property
    def shot_domain(self) -> str:
        """The domain whose train split a few-shot method's shots come from."""
        return self.source if self.shots_from == "source" else self.target


#: Kinds of data a method may keep a hyperparameter profile for (``Method.profiles``).
#: ``small-image``: images of at most ``SMALL_IMAGE_PX`` pixels a side (digits, CIFAR-like), where
#: a crop of 8% of the image keeps nothing and a 25-epoch schedule made for 224-px photos and
#: ViT-B/16 is far too long for a small backbone.
SMALL_IMAGE = "small-image"
SMALL_IMAGE_PX = 64
PROFILES = (SMALL_IMAGE,)
#: The ``Dataset.profile`` that keeps the methods' defaults whatever ``image_size`` says: for images
#: stored small but meant to be seen as photos (EuroSAT's 64-px tiles, which CoOp's protocol
#: resizes to 224 px and trains with the schedule of its other datasets).
NO_PROFILE = "none"


def default_data_root() -> Path:
    return Path(os.environ.get("UDABENCH_DATA", "~/data")).expanduser()


def cache_root() -> Path:
    """Where udabench keeps what it generates or computes (``UDABENCH_CACHE``, else ~/.cache/udabench)."""
    return Path(os.environ.get("UDABENCH_CACHE", "~/.cache/udabench")).expanduser()


class Dataset:
    """A benchmark: subclass, fill the class attributes, implement :meth:`load`.

    Splits: the protocol reads the source from ``train_split``, hands the
    method the target's ``adapt_split`` (labels stripped), and evaluates on the
    target's ``eval_split``. A transductive benchmark (Office-31, Office-Home)
    sets all three to the same split, the whole domain.
    """

    name: ClassVar[str]
    #: Class names in label order (label i is ``classes[i]``).
    classes: ClassVar[tuple[str, ...]]
    #: How prompts name each class ("alarm clock" for ``Alarm_Clock``); defaults to ``classes``.
    prompt_names: ClassVar[tuple[str, ...] | None] = None
    domains: ClassVar[tuple[str, ...]]
    #: How domain-specific prompts name each domain ("a clipart of a ..."); defaults to the domain name.
    domain_prompt_names: ClassVar[dict[str, str]] = {}
    #: The standard task list, in the order the papers report it.
    tasks: ClassVar[tuple[Task, ...]]
    #: Zero-shot prompt templates, each with one ``{}`` for the class name.
    templates: ClassVar[tuple[str, ...]] = ("a photo of a {}.",)
    #: "top1", or "mean_class_acc" for benchmarks ranked by the mean of per-class accuracies (VisDA).
    headline_metric: ClassVar[str] = "top1"
    train_split: ClassVar[str] = "train"
    adapt_split: ClassVar[str] = "train"
    eval_split: ClassVar[str] = "test"
    #: A labeled split for choosing hyperparameters (CoOp's ``val``), or None. Few-shot methods get
    #: the shot domain's val split as ``AdaptData.val``; no method is ever handed the eval split.
    val_split: ClassVar[str | None] = None
    #: Domain -> the labels (positions in ``classes``) its images can have, for a domain that holds
    #: only some of the classes (ImageNet-A and -R: 200 of ImageNet's 1,000). The protocol scores
    #: such a domain over those classes only (the classifier's other logits are dropped); methods
    #: are never told which classes are kept. Domains not named hold every class.
    domain_classes: ClassVar[Mapping[str, tuple[int, ...]]] = {}
    default_backbone: ClassVar[str] = "ViT-B-16:openai"
    #: Whether a horizontal flip keeps an image's class (not for digits).
    hflip_ok: ClassVar[bool] = True
    #: Where the data comes from, shown when it is missing.
    source_info: ClassVar[str] = ""
    #: The size of every image as stored, in pixels: an int for square images (32 is 32x32), or a
    #: ``(width, height)`` tuple (PIL's order). None (the default): sizes vary, as in photo
    #: benchmarks. The conformance kit checks it; ``hparam_profile`` reads it.
    image_size: ClassVar[int | tuple[int, int] | None] = None
    #: The PIL mode of every image as stored ("RGB", "L", "RGBA", ...; an in-memory array is
    #: "RGB"). None (the default): any mode. Whatever is stored, ``ImageSource.load`` hands
    #: methods RGB images. Only the conformance kit reads it.
    image_mode: ClassVar[str | None] = None
    #: The hyperparameter profile of this dataset's kind of data (one of ``PROFILES``), or None: the
    #: methods' defaults. Leave it unset to have it follow from ``image_size`` (at most 64 px a side:
    #: ``small-image``); set it when the images are stored larger than they are meant to be seen,
    #: or to ``NO_PROFILE`` when they are stored smaller (the methods' defaults, whatever the size).
    profile: ClassVar[str | None] = None

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root).expanduser() if root else default_data_root()

    # -- to implement --------------------------------------------------------------------------
    def load(self, domain: str, split: str) -> ImageList:
        """The labeled images of ``domain``'s ``split``. Raise DataError naming what is missing."""
        raise NotImplementedError

    # -- provided ------------------------------------------------------------------------------
    def data_location(self) -> Path:
        """Where this dataset's files are, as ``udabench data info`` and ``data download`` say it:
        the data root (``--root``, ``$UDABENCH_DATA``, ``~/data``) by default. A dataset that
        generates its own images instead of reading them from the root overrides it with the
        folder it keeps them in (under ``cache_root()``)."""
        return self.root

    @classmethod
    def class_prompt_names(cls) -> tuple[str, ...]:
        return tuple(cls.prompt_names or cls.classes)

    @classmethod
    def domain_prompt_name(cls, domain: str) -> str:
        return cls.domain_prompt_names.get(domain, domain.replace("_", " "))

    @classmethod
    def single_domain(cls) -> bool:
        """Whether this is a one-domain benchmark (CoOp's few-shot datasets): one task, its own name."""
        return len(cls.domains) == 1

    @classmethod
    def task(cls, name: str) -> Task:
        """A standard task by name, or any ``<source>2<target>`` pair of known domains."""
        for t in cls.tasks:
            if t.name == name:
                return t
        m = re.fullmatch(r"(.+?)2(.+)", name)
        if m and m.group(1) in cls.domains and m.group(2) in cls.domains and m.group(1) != m.group(2):
            return Task(name, m.group(1), m.group(2))
        raise UnknownNameError(unknown_message(
            f"task of dataset {cls.name}", name, [t.name for t in cls.tasks],
            f"Any '<source>2<target>' pair of the domains {', '.join(cls.domains)} also works."))

    @classmethod
    def resolve_tasks(cls, names: list[str] | None) -> list[Task]:
        if not names or names == ["all"]:
            return list(cls.tasks)
        return [cls.task(n) for n in names]

    @classmethod
    def check_contract(cls, where: str) -> None:
        for attr in ("classes", "domains", "tasks"):
            if not getattr(cls, attr, None):
                raise PluginError(f"{where} must declare `{attr}`")
        if cls.prompt_names is not None and len(cls.prompt_names) != len(cls.classes):
            raise PluginError(f"{where}: prompt_names has {len(cls.prompt_names)} entries for "
                              f"{len(cls.classes)} classes")
        for t in cls.tasks:
            for role, domain in (("source", t.source), ("target", t.target)):
                if domain not in cls.domains:
                    raise PluginError(f"{where}: task {t.name!r} names the {role} domain {domain!r}, which "
                                      f"is not in `domains` ({', '.join(map(str, cls.domains))})")
            if t.shots_from not in ("target", "source"):
                raise PluginError(f"{where}: task {t.name!r}: shots_from must be 'target' or 'source', "
                                  f"got {t.shots_from!r}")
        for domain, labels in cls.domain_classes.items():
            if domain not in cls.domains:
                raise PluginError(f"{where}: domain_classes names {domain!r}, which is not in `domains`")
            if not labels or len(set(labels)) != len(labels) or not all(
                    isinstance(i, int) and 0 <= i < len(cls.classes) for i in labels):
                raise PluginError(f"{where}: domain_classes[{domain!r}] must be distinct labels in "
                                  f"0..{len(cls.classes) - 1}")
        for tpl in cls.templates:
            if tpl.count("{}") != 1:
                raise PluginError(f"{where}: template {tpl!r} needs exactly one '{{}}'")
        if cls.headline_metric not in ("top1", "mean_class_acc"):
            raise PluginError(f"{where}: headline_metric must be 'top1' or 'mean_class_acc'")
        if cls.image_size is not None and cls.declared_image_size() is None:
            raise PluginError(f"{where}: image_size must be None, a positive int or a (width, height) pair "
                              f"of positive ints; got {cls.image_size!r}")
        if cls.profile is not None and cls.profile not in (*PROFILES, NO_PROFILE):
            raise PluginError(f"{where}: profile must be None or one of {', '.join(PROFILES)} (or {NO_PROFILE!r}: "
                              f"the methods' defaults whatever the image size); got {cls.profile!r}")
        if cls.image_mode is not None and (not isinstance(cls.image_mode, str) or not cls.image_mode):
            raise PluginError(f"{where}: image_mode must be None or a PIL mode such as 'RGB'; "
                              f"got {cls.image_mode!r}")

    @classmethod
    def hparam_profile(cls) -> str | None:
        """The profile that selects the methods' hyperparameters for this dataset: ``profile`` when
        declared (None for ``NO_PROFILE``), else ``small-image`` when the declared image size is at
        most 64 px a side."""
        if cls.profile is not None:
            return None if cls.profile == NO_PROFILE else cls.profile
        size = cls.declared_image_size()
        return SMALL_IMAGE if size is not None and max(size) <= SMALL_IMAGE_PX else None

    @classmethod
    def declared_image_size(cls) -> tuple[int, int] | None:
        """``image_size`` as ``(width, height)``; None when undeclared or malformed."""
        size = cls.image_size
        if isinstance(size, int) and not isinstance(size, bool):
            size = (size, size)
        if (isinstance(size, (tuple, list)) and len(size) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)):
            return int(size[0]), int(size[1])
        return None


class OneDomainDataset(Dataset):
    """A one-domain benchmark (CoOp's and ReCLIP's datasets): its one domain and its one task are
    named after the dataset, unless the subclass declares ``domains`` or ``tasks`` itself."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if name and "domains" not in cls.__dict__:
            cls.domains = (name,)
        if name and "tasks" not in cls.__dict__:
            cls.tasks = (Task(name, name, name),)
