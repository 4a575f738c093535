"""Built-in validators: label-free model selection (docs/methods.md, "Model selection").

Each reads only what a setting allows: the softmax outputs on the unlabeled target, or a
held-out slice of the labeled source. Registered through the ``udabench`` entry-point group,
like any third-party validator.
"""

from __future__ import annotations

import numpy as np

from udabench import Validator, hookimpl

_EPS = 1e-12


def mean_entropy(probs: np.ndarray) -> float:
    """(1/N) Σ_i H(p_i), H(p) = −Σ_c p_c log p_c: how unsure the classifier is, on average."""
    return float(-(probs * np.log(probs + _EPS)).sum(1).mean())


def information_maximization(probs: np.ndarray) -> float:
    """H(p̄) − (1/N) Σ_i H(p_i), p̄ = (1/N) Σ_i p_i: confident per sample, diverse over the set.
    SHOT's IM loss is its negative (Liang et al., ICML 2020)."""
    mean = probs.mean(0)
    return float(-(mean * np.log(mean + _EPS)).sum()) - mean_entropy(probs)


def soft_neighborhood_density(probs: np.ndarray, temperature: float = 0.05, max_samples: int = 2000) -> float:
    """SND (Saito et al., "Tune it the right way", ICCV 2021): with f_i = p_i / ‖p_i‖ and
    S_ij = f_i · f_j (j ≠ i), P_ij = softmax_j(S_ij / τ), SND = (1/N) Σ_i H(P_i); a higher SND
    means denser neighbourhoods of the target outputs. τ = 0.05 as in the paper. At most
    ``max_samples`` samples, every ⌈N / max_samples⌉-th, keep the N x N matrix small."""
    if len(probs) < 2:
        return 0.0
    f = probs[:: max(1, -(-len(probs) // max_samples))].astype(np.float64)
    f = f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), _EPS)
    s = f @ f.T / temperature
    np.fill_diagonal(s, -np.inf)
    s -= s.max(1, keepdims=True)
    p = np.exp(s)
    p /= p.sum(1, keepdims=True)
    return float(-(p * np.log(p + _EPS)).sum(1).mean())


class Entropy(Validator):
    name = "entropy"
    summary = "mean prediction entropy on the unlabeled target (lower is better)"
    uses = "target"
    higher_is_better = False

    def score(self, view):
        return mean_entropy(view.target_probs)


class InformationMaximization(Validator):
    name = "im"
    summary = "information maximisation (SHOT): confident and diverse target predictions"
    uses = "target"

    def score(self, view):
        return information_maximization(view.target_probs)


class SoftNeighborhoodDensity(Validator):
    name = "snd"
    summary = "soft neighbourhood density of the target outputs (Saito et al., 2021)"
    uses = "target"

    def score(self, view):
        return soft_neighborhood_density(view.target_probs)


class SourceAccuracy(Validator):
    name = "source-acc"
    summary = "accuracy on a held-out slice of the labeled source (--source-holdout)"
    uses = "source"

    def score(self, view):
        return float((view.source_probs.argmax(1) == view.source_labels).mean() * 100.0)


@hookimpl
def register_validators(register):
    for cls in (Entropy, InformationMaximization, SoftNeighborhoodDensity, SourceAccuracy):
        register(cls)
