"""A backbone built at first use (``ClipBackbone.deferred``): a run served from the feature cache
never builds the model, gives the same numbers, and everything that needs the model still gets it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from udabench import FeatureClassifier, ImageList, ImageSource, RunContext, load_backbone, text_head
from udabench.contract.registry import get_registry
from udabench.model.feature_cache import FeatureCache
from udabench.model.features import image_embeddings
from udabench.protocol.task import run_task

from test_backbone import tiny_vit_checkpoint  # noqa: F401 - a fixture: a random-weight ViT checkpoint file


def ctx() -> RunContext:
    return RunContext(device="cpu", seed=0, show_progress=False)


def facts_files(root) -> list:
    return sorted((root / "backbones").glob("*.json"))


def top1(method: str, backbone, digits) -> tuple[float, float]:
    cls = get_registry().method(method)
    task = digits.tasks[0]
    metrics = run_task(cls, cls.resolve_config(digits), digits(), task, 0, backbone, ctx()).metrics
    return metrics["top1"], metrics["cache_hit"]


def test_a_rerun_served_from_the_cache_never_builds_the_model(tmp_path, small_digits):
    digits = small_digits(8)
    root = tmp_path / "features"
    first = load_backbone("toyclip", feature_cache=FeatureCache(root))
    assert first.built, "no facts recorded yet: the model is built at load (unusable weights fail there)"
    assert len(facts_files(root)) == 1
    measured = {m: top1(m, first, digits) for m in ("zeroshot", "linear-probe")}
    assert all(hit < 1 for _, hit in measured.values())  # the first runs computed their features

    again = load_backbone("toyclip", feature_cache=FeatureCache(root))
    assert not again.built
    for method, (expected, _) in measured.items():
        got, hit = top1(method, again, digits)
        assert (got, hit) == (expected, 1.0), method
    assert not again.built, "a run served from the cache built the model"


def test_recorded_facts_are_what_the_built_model_answers(tmp_path):
    root = tmp_path / "features"
    load_backbone("toyclip", feature_cache=FeatureCache(root))
    deferred = load_backbone("toyclip", feature_cache=FeatureCache(root))
    copy = deferred.fresh_copy()
    from_facts = [deferred.cache_key("visual"), deferred.cache_key("text"), deferred.embed_dim,
                  deferred.preprocess_key(), copy.cache_key("visual"), str(deferred.device)]
    assert not deferred.built and not copy.built and copy.is_pristine("visual")
    deferred.model  # noqa: B018 - builds it
    from_model = [deferred.cache_key("visual"), deferred.cache_key("text"), deferred.embed_dim,
                  deferred.preprocess_key(), copy.cache_key("visual"), str(deferred.device)]
    assert from_facts == from_model


def test_facts_of_other_bytes_or_a_damaged_record_are_not_used(tmp_path, backbone_spec):
    root = tmp_path / "features"
    load_backbone("toyclip", feature_cache=FeatureCache(root))
    (record,) = facts_files(root)
    # Another checkpoint of the same architecture: other bytes, so no facts of its own yet.
    assert load_backbone(backbone_spec, feature_cache=FeatureCache(root)).built
    assert len(facts_files(root)) == 2
    # A record that does not hold what its name says (here: another backbone's key) is ignored.
    stored = json.loads(record.read_text())
    stored["key"]["weights"] = "0123456789abcdef"
    record.write_text(json.dumps(stored))
    assert load_backbone("toyclip", feature_cache=FeatureCache(root)).built
    # ...and the build wrote it again, whole: the next load defers.
    assert json.loads(record.read_text())["key"]["weights"] != "0123456789abcdef"
    assert not load_backbone("toyclip", feature_cache=FeatureCache(root)).built
    record.write_text("{not json")
    assert load_backbone("toyclip", feature_cache=FeatureCache(root)).built
    # Without a cache there are no facts: the model is built at load, as before.
    assert load_backbone("toyclip").built


def test_a_head_that_trains_the_encoder_owns_it_a_frozen_one_does_not(tmp_path, toy_backbone):
    root = tmp_path / "features"
    load_backbone("toyclip", feature_cache=FeatureCache(root))
    deferred = load_backbone("toyclip", feature_cache=FeatureCache(root))
    head = text_head(torch.randn(3, deferred.embed_dim))

    frozen_copy = deferred.fresh_copy()
    frozen = FeatureClassifier(frozen_copy, head, frozen_encoder=True)
    assert {id(p) for p in frozen.parameters()} == {id(p) for p in head.parameters()}
    assert not frozen_copy.built and not deferred.built
    x = torch.from_numpy(np.random.default_rng(0).random((4, 3, 32, 32), np.float32))
    got = frozen.features(x)  # pixels: now the copy is built, from the loaded weights
    assert frozen_copy.built and frozen_copy.is_pristine("visual")
    assert torch.equal(got, image_embeddings(toy_backbone.model.eval(), x))

    trains = load_backbone("toyclip", feature_cache=FeatureCache(root)).fresh_copy()
    assert not trains.built
    clf = FeatureClassifier(trains, head)
    assert trains.built  # a method training through the head gets the encoder's parameters
    assert {id(p) for p in trains.model.parameters()} <= {id(p) for p in clf.parameters()}


def test_scoring_a_frozen_head_on_features_needs_the_loaded_weights(tmp_path, toy_backbone):
    """A frozen-encoder head is scored on cached features only over a copy of the backbone being
    scored, unchanged: a head over another backbone's encoder, or a changed copy, is not."""
    from udabench.protocol.scoring import scores_on_features

    root = tmp_path / "features"
    load_backbone("toyclip", feature_cache=FeatureCache(root))
    deferred = load_backbone("toyclip", feature_cache=FeatureCache(root))
    head = text_head(torch.randn(3, deferred.embed_dim))
    copy = deferred.fresh_copy()
    assert scores_on_features(FeatureClassifier(copy, head, frozen_encoder=True), deferred)
    assert not scores_on_features(FeatureClassifier(toy_backbone.fresh_copy(), head, frozen_encoder=True), deferred)
    with torch.no_grad():
        next(copy.model.visual.parameters()).add_(1.0)
    assert not scores_on_features(FeatureClassifier(copy, head, frozen_encoder=True), deferred)


@pytest.mark.parametrize("n", [5])
def test_features_of_a_deferred_backbone_equal_a_built_ones(tmp_path, toy_backbone, n):
    from udabench import extract_features

    images = ImageList(ImageSource(array=np.random.default_rng(1).integers(0, 255, (n, 32, 32, 3), np.uint8)),
                       np.zeros(n, np.int64), 1)
    root = tmp_path / "features"
    load_backbone("toyclip", feature_cache=FeatureCache(root))
    deferred = load_backbone("toyclip", feature_cache=FeatureCache(root))
    computed, _ = extract_features(deferred, images, ctx())  # a miss: the deferred model is built to compute it
    assert deferred.built
    reference, _ = extract_features(toy_backbone, images, ctx())
    assert torch.equal(computed, reference)


def test_checkpoint_path_names_a_file_only_for_checkpoint_specs():
    from udabench import checkpoint_path

    assert str(checkpoint_path("ViT-B-16:/w/a:b.safetensors")) == "/w/a:b.safetensors"
    assert checkpoint_path("RN50:model.pt").name == "model.pt"
    for spec in ("ViT-B-16:openai", "hf-hub:org/repo", "local-dir:/w/folder", "toyclip"):
        assert checkpoint_path(spec) is None, spec


def test_an_open_clip_checkpoint_file_is_built_at_first_use_and_other_bytes_are_not_mistaken(
        tmp_path, tiny_vit_checkpoint):
    """``ARCH:/path/to/checkpoint`` names bytes: deferred like toyclip. The same file rewritten
    with other weights is built again (its digest changed), never answered from the old facts."""
    import shutil

    from safetensors.torch import save_file

    from udabench import extract_features

    src, reference = tiny_vit_checkpoint
    path = shutil.copy(src, tmp_path / "mine.safetensors")
    spec, root = f"tiny-vit-test:{path}", tmp_path / "features"
    first = load_backbone(spec, feature_cache=FeatureCache(root))
    assert first.built and len(facts_files(root)) == 1
    again = load_backbone(spec, feature_cache=FeatureCache(root))
    assert not again.built
    assert [again.cache_key("visual"), again.cache_key("text"), again.embed_dim, again.preprocess_key()] == \
        [first.cache_key("visual"), first.cache_key("text"), first.embed_dim, first.preprocess_key()]
    n = 4
    images = ImageList(ImageSource(array=np.random.default_rng(2).integers(0, 255, (n, 40, 40, 3), np.uint8)),
                       np.zeros(n, np.int64), 1)
    computed, _ = extract_features(first, images, ctx())
    served, _ = extract_features(again, images, ctx())
    assert torch.equal(computed, served) and not again.built

    state = {k: v.contiguous() + (1.0 if k == "visual.proj" else 0.0) for k, v in reference.state_dict().items()}
    save_file(state, str(path))  # same size, other bytes
    changed = load_backbone(spec, feature_cache=FeatureCache(root))
    assert changed.built and changed.weights_id != first.weights_id
