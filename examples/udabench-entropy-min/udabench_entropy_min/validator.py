"""A third-party validator: mean confidence of the target predictions.

It reads only what a validator may read (the softmax outputs on the unlabeled target) and
prefers the epoch whose predictions are most confident on average — a weaker cousin of the
entropy validator, here to show the hook, not to be recommended.
"""

from __future__ import annotations

from udabench import Validator, hookimpl


def mean_confidence(probs) -> float:
    """(1/N) Σ_i max_c p_ic, in [1/C, 1]."""
    return float(probs.max(1).mean())


class MeanConfidence(Validator):
    name = "mean-confidence"
    summary = "mean top-class probability on the unlabeled target (example plugin)"
    uses = "target"
    higher_is_better = True

    def score(self, view):
        return mean_confidence(view.target_probs)


@hookimpl
def register_validators(register):
    register(MeanConfidence)
