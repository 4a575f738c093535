"""The method plugin contract.

A method declares its setting and hyperparameters, and implements ``adapt``:
it gets the backbone, the data its setting allows (:class:`AdaptData`) and a
run context, and returns a classifier: a callable (usually an
``nn.Module``) that maps a batch of preprocessed images to class logits.
Evaluation is not the method's business; the protocol does it, the same way
for every method.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Mapping

from .config import Config, HParam, check_declarations, resolve
from .dataset import PROFILES
from .errors import PluginError
from .settings import Setting

# The annotations name types of the layers above (``udabench.data.ImageList`` and
# ``TargetView``, ``udabench.model.ClipBackbone``, ``udabench.protocol.RunContext``) without
# importing them: the contract imports nothing of udabench outside itself.

@dataclass
class AdaptData:
    """What the protocol hands a method: exactly what its setting allows, nothing else.

    ``source`` and ``shots`` carry labels; ``target`` is a label-free view.
    Fields the setting does not allow are ``None``.
    """

    setting: Setting
    classes: tuple[str, ...]
    prompt_names: tuple[str, ...]
    templates: tuple[str, ...]
    dataset: str
    source_domain: str | None = None
    target_domain: str | None = None
    #: How domain-specific prompts name a domain, e.g. {"clipart": "clipart"}.
    domain_prompt_names: dict[str, str] = field(default_factory=dict)
    source: ImageList | None = None
    target: TargetView | None = None
    shots: ImageList | None = None
    #: Few-shot only, when the dataset has a ``val_split``: the shot domain's labeled validation
    #: images, for choosing hyperparameters (never the evaluation split).
    val: ImageList | None = None
    hflip_ok: bool = True

    @property
    def num_classes(self) -> int:
        return len(self.classes)


class Method:
    """Subclass, set the class attributes, implement :meth:`adapt`."""

    name: ClassVar[str]
    setting: ClassVar[Setting]
    #: One line for ``udabench list``.
    summary: ClassVar[str] = ""
    #: "exact", "standard", "code-faithful" or "reconstruction" (``docs/methods.md``): shown in tables.
    fidelity: ClassVar[str] = "standard"
    hparams: ClassVar[tuple[HParam, ...]] = ()
    #: profile name -> {hyperparameter: value}, applied over the defaults for every dataset of that
    #: kind, whatever its name (``PROFILES``; e.g. ``"small-image"``: images of at most 64 px).
    profiles: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    #: dataset name -> {hyperparameter: value}, applied over the profile for that dataset only: for
    #: what a paper's official code sets for one benchmark, not for a kind of data (use a profile).
    dataset_overrides: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    #: True when the result does not depend on the seed (one seed is run by default).
    seed_independent: ClassVar[bool] = False
    #: True when ``adapt`` trains data-parallel under torchrun: its training loaders are
    #: ``ctx.loader(..., shuffle=True)`` (one shard per process) and every training step runs
    #: through ``ctx.wrap_ddp``. Otherwise each process adapts on all the data, as alone.
    data_parallel: ClassVar[bool] = False
    #: Why a NaN or infinite training loss is expected and harmless for this method (e.g. "the
    #: loss of a batch without a confident pseudo-label is inf, and the fp16 scaler skips that
    #: step"). Empty, the default: such a loss passed to ``ctx.step`` fails the run at once
    #: (marked FAILED with the method, step and value), so a diverged run never reaches the
    #: leaderboard. A non-empty reason turns that check off for this method.
    allows_nonfinite_loss: ClassVar[str] = ""

    def __init__(self, config: Config):
        self.config = config

    def adapt(self, ctx: "RunContext", backbone: "ClipBackbone", data: AdaptData) -> Callable:
        """Adapt, and return a classifier: preprocessed images (B, 3, H, W) -> logits (B, C)."""
        raise NotImplementedError

    @classmethod
    def resolve_config(cls, dataset_cls: type | None = None, file_overrides: Mapping[str, Any] | None = None,
                       set_overrides: Mapping[str, Any] | None = None) -> Config:
        """This method's hyperparameters for a dataset (a ``Dataset`` class, or None for the bare
        defaults): defaults, the profile the dataset's kind selects, the dataset's overrides, then a
        ``--config`` file's and ``--set`` values. The one place every caller resolves them."""
        profile = dataset_cls.hparam_profile() if dataset_cls is not None else None
        return resolve(cls.name, cls.hparams, dataset_cls.name if dataset_cls is not None else None,
                       cls.dataset_overrides, file_overrides, set_overrides, profile=profile,
                       profiles=cls.profiles)

    def check_backbone(self, backbone: "ClipBackbone", dataset: "Dataset") -> None:
        """Refuse, once the backbone is loaded and before any data is read, a backbone this
        configuration cannot run on with this dataset (raise ``ConfigError`` naming the
        hyperparameters and the limit), e.g. prompt vectors that do not fit the text encoder's
        context. The default accepts every backbone."""

    @classmethod
    def label(cls) -> str:
        return f"{cls.name} (reconstruction)" if cls.fidelity == "reconstruction" else cls.name

    @classmethod
    def check_contract(cls, where: str) -> None:
        try:
            Setting(getattr(cls, "setting", None))
        except ValueError:
            raise PluginError(f"{where}: `setting` must be one of {[s.value for s in Setting]}, "
                              f"got {getattr(cls, 'setting', None)!r}") from None
        check_declarations(cls.hparams, where)
        if not isinstance(cls.allows_nonfinite_loss, str):
            raise PluginError(f"{where}: `allows_nonfinite_loss` must be a string saying why a NaN or "
                              f"infinite training loss is expected (empty: it is not), got "
                              f"{cls.allows_nonfinite_loss!r}")
        names = {h.name for h in cls.hparams}
        for profile, overrides in cls.profiles.items():
            if profile not in PROFILES:
                raise PluginError(f"{where}: profiles[{profile!r}] is not a known profile ({', '.join(PROFILES)})")
            for key in overrides:
                if key not in names:
                    raise PluginError(f"{where}: profiles[{profile!r}] sets undeclared {key!r}")
        for ds, overrides in cls.dataset_overrides.items():
            for key in overrides:
                if key not in names:
                    raise PluginError(f"{where}: dataset_overrides[{ds!r}] sets undeclared {key!r}")
