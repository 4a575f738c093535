"""Model selection, side by side: last, oracle (target labels) and label-free validators, scored by
the protocol for every method; validators never see a target label."""

from __future__ import annotations

import gc
import math

import numpy as np
import pytest
import torch

from udabench import (FeatureClassifier, HParam, Method, SelectionView, Setting, Validator, get_registry,
                      text_head)
from udabench.protocol.context import RunContext
from udabench.protocol.selection import validators_for
from udabench.protocol.task import run_task
from udabench_plugins.datasets.digits import Digits
from udabench_plugins.validators import information_maximization, mean_entropy, soft_neighborhood_density

TASK = Digits.task("printed2sevenseg")


# -- the validators, against values worked out by hand ---------------------------------------------
def test_entropy_and_information_maximization_by_hand():
    uniform = np.full((2, 2), 0.5)
    assert mean_entropy(uniform) == pytest.approx(math.log(2))  # H(1/2, 1/2) = ln 2
    assert information_maximization(uniform) == pytest.approx(0.0, abs=1e-9)  # ln 2 - ln 2
    sure = np.eye(2)
    assert mean_entropy(sure) == pytest.approx(0.0, abs=1e-9)
    assert information_maximization(sure) == pytest.approx(math.log(2))  # H(p̄) = ln 2, H(p_i) = 0


def test_soft_neighborhood_density_by_hand():
    # f = [1,0], [1,0], [0,1]; S/τ = 20 between the first two, 0 elsewhere. Rows 0 and 1 put
    # 1/(1+e^-20) on each other (entropy ~ 4e-8); row 2 sees [0, 0]: P = (1/2, 1/2), H = ln 2.
    probs = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert soft_neighborhood_density(probs) == pytest.approx(math.log(2) / 3, abs=1e-6)


def test_validators_for_follow_the_setting():
    validators = get_registry().validators
    assert set(validators_for(Setting.UDA, validators, False)) == {"entropy", "im", "snd"}
    assert set(validators_for(Setting.UDA, validators, True)) == {"entropy", "im", "snd", "source-acc"}
    assert set(validators_for(Setting.SOURCE_FREE, validators, True)) == {"entropy", "im", "snd"}
    assert set(validators_for(Setting.SOURCE_ONLY, validators, True)) == {"source-acc"}
    assert validators_for(Setting.ZERO_SHOT, validators, True) == {}
    assert validators_for(Setting.FEW_SHOT, validators, True) == {}


# -- a method with known epochs --------------------------------------------------------------------
class ThreeStates(Method):
    """Epoch 1: zero-shot; epoch 2: a scrambled head at logit scale 1 (near chance, near-uniform
    outputs); returns the zero-shot head at scale 10 (same argmax as epoch 1, softer). The oracle
    must pick epoch 1 or 3, never 2; entropy must pick epoch 1, the most confident."""

    name = "three-states"
    setting = Setting.UDA
    hparams = (HParam("unused", 0),)

    def adapt(self, ctx, backbone, data):
        text = backbone.text_classifier(data.prompt_names, data.templates)
        zero_shot = FeatureClassifier(backbone, text_head(text))
        ctx.epoch_end(zero_shot)
        order = torch.randperm(len(text), generator=torch.Generator().manual_seed(3))
        scrambled = FeatureClassifier(backbone, text_head(text[order], scale=1.0))
        ctx.epoch_end(scrambled)
        torch.rand(3)  # the method's own randomness goes on after the protocol scored
        return FeatureClassifier(backbone, text_head(text, scale=10.0))


class Recording(Validator):
    name = "recording"
    uses = "target"
    views: list = []

    def score(self, view):
        Recording.views.append(view)
        return float(view.target_probs.max(1).mean())


def _run(toy_backbone, select_every=1, validators=None, holdout=0.0):
    ctx = RunContext(device="cpu", seed=0, show_progress=False)
    return run_task(ThreeStates, ThreeStates.resolve_config(Digits), Digits(), TASK, 0, toy_backbone, ctx,
                    select_every=select_every, validators=validators, source_holdout=holdout)


def test_the_oracle_and_the_validators_pick_epochs_and_top1_stays_the_last(toy_backbone):
    off = _run(toy_backbone, select_every=0)
    on = _run(toy_backbone, validators=get_registry().validators)
    m = on.metrics
    assert m["top1"] == off.metrics["top1"]  # the headline is the last state, scored or not
    assert "top1_oracle" not in off.metrics
    assert m["epochs_scored"] == 3.0
    scored = {epoch: s["select/top1"] for epoch, s in on.history}
    assert set(scored) == {1, 2, 3}
    assert scored[1] == scored[3] == m["top1"] and scored[2] < scored[1] - 10  # same argmax; scrambled
    assert m["top1_oracle"] == scored[3] and m["epoch_oracle"] == 3.0  # a tie goes to the later epoch
    # The softer last state has higher entropy than epoch 1 (same predictions): entropy prefers 1.
    assert m["epoch_entropy"] == 1.0 and m["top1_entropy"] == scored[1]
    assert {"top1_im", "top1_snd", "epoch_im", "epoch_snd"} <= set(m)
    assert "top1_source-acc" not in m  # no source hold-out: the source validator does not run


def test_a_source_hold_out_is_kept_from_the_method_and_scored(toy_backbone):
    seen = {}

    class Counting(ThreeStates):
        def adapt(self, ctx, backbone, data):
            seen["source"] = len(data.source)
            return super().adapt(ctx, backbone, data)

    ctx = RunContext(device="cpu", seed=0, show_progress=False)
    result = run_task(Counting, Counting.resolve_config(Digits), Digits(), TASK, 0, toy_backbone, ctx,
                      validators=get_registry().validators, source_holdout=0.2)
    whole = len(Digits().load(TASK.source, "train"))
    assert whole == 1330 and seen["source"] == 1330 - 10 * 27  # 10 classes x 133: round(26.6) = 27 of each held out
    assert "top1_source-acc" in result.metrics


def test_validators_never_see_a_target_label(toy_backbone):
    Recording.views.clear()
    _run(toy_backbone, validators={"recording": Recording})
    assert len(Recording.views) == 3
    labels = [Digits().load(TASK.target, split).labels for split in ("train", "test")]
    for view in Recording.views:
        assert isinstance(view, SelectionView) and view.source_labels is None
        seen, stack, arrays = set(), [view], []
        while stack:
            obj = stack.pop()
            if id(obj) in seen or isinstance(obj, type):
                continue
            seen.add(id(obj))
            if isinstance(obj, np.ndarray):
                arrays.append(obj)
            stack.extend(gc.get_referents(obj))
        assert arrays, "the view should reach its probabilities"
        for a in arrays:
            for y in labels:
                assert not (a.shape == y.shape and np.array_equal(a, y)), "a target label array is reachable"


def test_scoring_leaves_the_method_s_randomness_and_modes_alone(toy_backbone):
    """What the method draws after handing an epoch over is the same with and without scoring."""
    draws = {}

    class Drawing(ThreeStates):
        def adapt(self, ctx, backbone, data):
            clf = super().adapt(ctx, backbone, data)
            clf.train()
            ctx.epoch_end(clf)
            draws.setdefault(ctx.on_epoch_end is None, []).append((torch.rand(2).tolist(), clf.training))
            return clf

    for every in (0, 1):
        ctx = RunContext(device="cpu", seed=0, show_progress=False)
        run_task(Drawing, Drawing.resolve_config(Digits), Digits(), TASK, 0, toy_backbone, ctx,
                 select_every=every, validators={})
    (unscored,), (scored,) = draws[True], draws[False]
    assert unscored == scored and scored[1] is True  # same random numbers; train mode restored


def test_a_method_may_not_log_selection_metrics():
    from udabench.protocol.runner import protocol_owned

    assert protocol_owned("top1_oracle") and protocol_owned("top1_snd") and protocol_owned("select/top1")
    assert protocol_owned("epoch_entropy") and not protocol_owned("train/loss")


# -- the leaderboard's view of it -------------------------------------------------------------------
def _logged_run(client, exp_id, method, task, seed, metrics):
    tags = {"udabench.kind": "task", "udabench.method": method, "udabench.task": task, "udabench.seed": str(seed),
            "udabench.backbone": "toyclip", "udabench.config_hash": "c0ffee0000", "udabench.weights": "w",
            "udabench.precision": "fp32"}
    run = client.create_run(exp_id, tags=tags)
    for k, v in metrics.items():
        client.log_metric(run.info.run_id, k, v)
    client.set_terminated(run.info.run_id, "FINISHED")


def test_the_leaderboard_shows_each_selection_and_how_far_it_lands_from_the_oracle(mlflow_uri, capsys):
    from mlflow.tracking import MlflowClient

    from udabench.cli import main

    client = MlflowClient(mlflow_uri)
    exp_id = client.create_experiment("digits")
    # Two tasks of a method with epochs: last 50/60, oracle 55/64, entropy 52/61 -> gaps 4.5 and 3.0.
    for task, (last, oracle, ent) in {"printed2sevenseg": (50.0, 55.0, 52.0),
                                      "printed2dotmatrix": (60.0, 64.0, 61.0)}.items():
        _logged_run(client, exp_id, "dapl", task, 0, {"top1": last, "mean_class_acc": last, "top1_oracle": oracle,
                                                       "top1_entropy": ent, "epochs_scored": 10.0})
    # zero-shot: one scored state, nothing to choose: every rule shows its top1.
    _logged_run(client, exp_id, "zeroshot", "printed2sevenseg", 0, {"top1": 62.0, "mean_class_acc": 62.0,
                                                                    "top1_oracle": 62.0, "epochs_scored": 1.0})
    for selection, dapl_cell in (("last", "50.0"), ("oracle", "55.0"), ("entropy", "52.0")):
        assert main(["leaderboard", "--dataset", "digits", "--selection", selection, "--no-references"]) == 0
        table = capsys.readouterr().out.split("Model selection:")[0]
        rows = {line.split()[0]: line for line in table.splitlines() if line.startswith(("dapl", "zeroshot"))}
        assert dapl_cell in rows["dapl"].split() and "62.0" in rows["zeroshot"].split(), (selection, table)
    assert main(["leaderboard", "--dataset", "digits", "--selection", "oracle"]) == 0
    out = capsys.readouterr().out
    assert "selected with target labels" in out and "DAPL [paper; selection: oracle]" not in out  # digits: none
    assert main(["leaderboard", "--dataset", "digits"]) == 0
    out = capsys.readouterr().out
    gaps = [line.split() for line in out.split("Model selection:")[1].splitlines() if line.startswith("dapl")]
    assert gaps[0][2:4] == ["4.5", "3.0"]  # last: (5 + 4) / 2 below the oracle; entropy: (3 + 3) / 2
    assert not any(line.startswith("zeroshot") for line in out.split("Model selection:")[1].splitlines())
    assert main(["leaderboard", "--dataset", "digits", "--selection", "entropi"]) == 2
    assert "Did you mean 'entropy'" in capsys.readouterr().err


def test_paper_rows_say_how_the_paper_selected():
    from udabench.tracking.leaderboard import reference_label
    from udabench.tracking.references import references_for

    labels = {r.method: reference_label(r) for r in references_for("officehome") if r.backbone == "RN50"}
    assert labels["dapl"] == "DAPL [paper; selection: oracle]"
    assert labels["zeroshot"] == "CLIP [paper; selection: none]"
