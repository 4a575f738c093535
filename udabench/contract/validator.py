"""The validator plugin contract: label-free model selection.

A method hands the protocol its classifier at the end of every epoch (``ctx.epoch_end``);
the protocol scores each one. A **validator** turns what the setting allows — the
classifier's predictions on the unlabeled target, and on a held-out slice of the labeled
source where the setting has a source — into one number, and the protocol keeps, per
validator, the epoch that number prefers. Target labels are never in what a validator sees:
:class:`SelectionView` holds predictions and source labels only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .errors import PluginError

# The arrays are numpy arrays (named in annotations only: the contract imports no numpy).

#: What a validator reads: the unlabeled target, or the held-out labeled source.
USES = ("target", "source")


@dataclass(frozen=True)
class SelectionView:
    """One scored state of a classifier, as a validator sees it.

    ``target_probs`` (N, C): softmax of the logits on the target images the method adapts on
    (unlabeled; None when the setting gives the method no target). ``source_probs`` (M, C) and
    ``source_labels`` (M,): on the held-out source slice (None when there is none)."""

    target_probs: np.ndarray | None = None
    source_probs: np.ndarray | None = None
    source_labels: np.ndarray | None = None


class Validator:
    """Subclass, set ``name``, ``uses`` and ``higher_is_better``, implement :meth:`score`."""

    name: ClassVar[str]
    #: One line for ``udabench list``.
    summary: ClassVar[str] = ""
    #: "target" (reads ``target_probs``) or "source" (reads ``source_probs`` and ``source_labels``).
    uses: ClassVar[str] = "target"
    #: Whether a larger score means a better epoch.
    higher_is_better: ClassVar[bool] = True

    def score(self, view: SelectionView) -> float:
        raise NotImplementedError

    @classmethod
    def check_contract(cls, where: str) -> None:
        if cls.uses not in USES:
            raise PluginError(f"{where}: `uses` must be one of {USES}, got {cls.uses!r}")
        if cls.score is Validator.score:
            raise PluginError(f"{where} must implement score(view)")
