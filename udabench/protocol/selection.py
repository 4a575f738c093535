"""Model selection, reported side by side, the same way for every method.

A method hands the protocol its classifier at the end of each epoch (``ctx.epoch_end``); the
classifier it returns is the last state. The protocol scores every state it is handed:

* on the evaluation set, with the target labels: the **oracle** picks the best epoch by
  target test accuracy, what DAPL's and ReCLIP's official code report (``top1_oracle``,
  *selected with target labels*);
* with each **validator** the method's setting allows (``register_validators``): label-free
  scores of the predictions on the unlabeled target images the method adapts on, or accuracy
  on a held-out slice of the labeled source (``--source-holdout``). Each picks its epoch
  (``top1_<validator>``, ``epoch_<validator>``). A validator sees a :class:`SelectionView`:
  softmax outputs and source labels, never a target label.

``top1`` stays the last state's accuracy: the headline, as before. Scoring runs outside the
method's time (``ThroughputMeter.paused``) and random state (``torch.random.fork_rng``), and
puts each module of the classifier back in the training mode it was in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ..contract.settings import DATA_RULES, Setting
from ..contract.validator import SelectionView
from ..data.images import ImageList
from ..model.backbone import ClipBackbone
from .context import RunContext
from .measure import ThroughputMeter
from .metrics import summarize
from .scoring import ClassSubset, logits_of

#: Metrics the selection writes, besides ``top1_<validator>`` and ``epoch_<validator>``.
SELECTION_METRICS = ("top1_oracle", "epoch_oracle", "epochs_scored")


@dataclass
class Scored:
    """One scored state: its epoch, its accuracy (protocol only) and each validator's score."""

    epoch: int
    top1: float
    mean_class_acc: float
    scores: dict[str, float] = field(default_factory=dict)


def validators_for(setting: Setting, validators: dict[str, type], has_source_holdout: bool) -> dict:
    """The validators a setting allows: target ones where the method sees the unlabeled target,
    source ones where it sees the labeled source and a slice of it is held out."""
    uses_source, uses_target, _ = DATA_RULES[Setting(setting)]
    allowed = {"target": uses_target, "source": uses_source and has_source_holdout}
    return {name: cls() for name, cls in sorted(validators.items()) if allowed.get(cls.uses)}


class Selection:
    """The states of one run and their scores; ``every``: score every N-th epoch the method
    hands over (the last state always)."""

    def __init__(self, evaluation: ImageList, target: ImageList | None, target_is_evaluation: bool,
                 source_holdout: ImageList | None, validators: dict, backbone: ClipBackbone, ctx: RunContext,
                 every: int = 1, keep: ClassSubset | None = None):
        self.keep = keep  # the target's class subset (scoring.ClassSubset), for evaluation and target
        self.evaluation, self.target, self.target_is_evaluation = evaluation, target, target_is_evaluation
        self.source_holdout, self.validators, self.backbone, self.ctx = source_holdout, validators, backbone, ctx
        self.every = every
        self.states: list[Scored] = []
        self._last_logits = None  # the evaluation logits of the latest state handed over

    # -- scoring -----------------------------------------------------------------------------
    def on_epoch_end(self, classifier: Callable, epoch: int) -> None:
        if self.every > 0 and epoch % self.every == 0:
            self.states.append(self._score(classifier, epoch))

    def add_last(self, classifier: Callable, evaluation_logits, epochs: int) -> Scored:
        """The returned classifier, whose evaluation logits the protocol already has. When they
        are those of the last state handed over (a method that hands over every epoch, its last
        one included), it is that epoch; otherwise it is one more state after it."""
        import torch

        same = (self.states and self.states[-1].epoch == epochs and self._last_logits is not None
                and torch.equal(self._last_logits, evaluation_logits))
        if same:
            self.states.pop()
        state = self._score(classifier, epochs if same else epochs + 1, evaluation_logits)
        self.states.append(state)
        return state

    def _score(self, classifier: Callable, epoch: int, evaluation_logits=None) -> Scored:
        import torch

        modes = {m: m.training for m in classifier.modules()} if isinstance(classifier, torch.nn.Module) else {}
        meter = ThroughputMeter(self.ctx.device)
        devices = [self.backbone.device] if self.backbone.device.type == "cuda" else []
        try:
            with torch.random.fork_rng(devices=devices):
                if evaluation_logits is None:
                    evaluation_logits = logits_of(classifier, self.evaluation, self.backbone, self.ctx, meter,
                                                  desc=f"score epoch {epoch}", keep=self.keep)
                    self._last_logits = evaluation_logits
                s = summarize(self.evaluation.labels, evaluation_logits.argmax(1).numpy(),
                              self.evaluation.num_classes)
                view = self._view(classifier, evaluation_logits, meter, epoch)
        finally:
            for module, training in modes.items():
                module.train(training)
        scores = {name: float(v.score(view)) for name, v in self.validators.items()}
        return Scored(epoch, s["top1"], s["mean_class_acc"], scores)

    def _view(self, classifier, evaluation_logits, meter, epoch) -> SelectionView:
        """What the validators read: softmax outputs on the unlabeled target and on the source
        hold-out, and the hold-out's labels. Built from logits alone: no target label is in it."""
        wants = {v.uses for v in self.validators.values()}
        target_probs = source_probs = source_labels = None
        if "target" in wants and self.target is not None:
            logits = evaluation_logits if self.target_is_evaluation else logits_of(
                classifier, self.target, self.backbone, self.ctx, meter, desc=f"score epoch {epoch} (target)",
                keep=self.keep)
            target_probs = logits.softmax(1).numpy()
        if "source" in wants and self.source_holdout is not None:
            logits = logits_of(classifier, self.source_holdout, self.backbone, self.ctx, meter,
                               desc=f"score epoch {epoch} (source hold-out)")
            source_probs, source_labels = logits.softmax(1).numpy(), np.array(self.source_holdout.labels)
        return SelectionView(target_probs, source_probs, source_labels)

    # -- choosing ----------------------------------------------------------------------------
    def chosen(self) -> dict[str, Scored]:
        """The state each rule picks: "oracle" (best target accuracy) and each validator
        (its best score); ties go to the later epoch, as "last" would."""
        picks = {"oracle": max(reversed(self.states), key=lambda s: s.top1)}
        for name, v in self.validators.items():
            sign = 1.0 if v.higher_is_better else -1.0
            candidates = [s for s in reversed(self.states) if np.isfinite(s.scores[name])]
            if candidates:
                picks[name] = max(candidates, key=lambda s: sign * s.scores[name])
        return picks

    def metrics(self) -> dict[str, float]:
        out = {"epochs_scored": float(len(self.states))}
        for rule, state in self.chosen().items():
            out[f"top1_{rule}"], out[f"epoch_{rule}"] = state.top1, float(state.epoch)
        return out

    def history(self) -> list[tuple[int, dict[str, float]]]:
        """(epoch, metrics) of every scored state, logged as ``select/...`` metric histories."""
        return [(s.epoch, {"select/top1": s.top1, "select/mean_class_acc": s.mean_class_acc,
                           **{f"select/{k}": v for k, v in s.scores.items()}}) for s in self.states]
