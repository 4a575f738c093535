"""The feature cache: hits, invalidation on every key part, atomic writes, identical metrics."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

from udabench import FeatureClassifier, ImageList, ImageSource, RunContext, extract_features, text_head
from udabench.model.backbone import same_tower
from udabench.model.feature_cache import FeatureCache, image_fingerprint, transform_key
from udabench.model.features import augmented_features
from udabench.protocol.task import scores_on_features


def images(n=12, seed=0, size=32) -> ImageList:
    rng = np.random.default_rng(seed)
    return ImageList(ImageSource(array=rng.integers(0, 255, (n, size, size, 3), dtype=np.uint8)),
                     np.arange(n) % 3, 3)


@pytest.fixture
def cached(toy_backbone, tmp_path):
    """A run's copy of the toy backbone, with a fresh cache."""
    b = toy_backbone.fresh_copy()
    b.feature_cache = FeatureCache(tmp_path / "features")
    return b


def ctx(**kw) -> RunContext:
    return RunContext(device="cpu", seed=0, show_progress=False, eval_batch_size=5, **kw)


def entries(cache: FeatureCache) -> list:
    return sorted(cache.root.rglob("*.safetensors"))


def test_second_extraction_is_a_hit_with_the_same_tensor(cached):
    imgs = images()
    first, labels = extract_features(cached, imgs, ctx())
    assert (cached.feature_cache.hits, cached.feature_cache.misses) == (0, 1)
    assert len(entries(cached.feature_cache)) == 1
    again, labels2 = extract_features(cached, imgs, ctx())
    assert (cached.feature_cache.hits, cached.feature_cache.misses) == (1, 1)
    assert torch.equal(first, again) and np.array_equal(labels, labels2)
    assert first.shape == (12, cached.embed_dim)
    assert torch.allclose(first.norm(dim=1), torch.ones(12), atol=1e-5)


def test_each_key_part_invalidates(cached, tmp_path, toy_backbone):
    cache = cached.feature_cache
    imgs = images()
    extract_features(cached, imgs, ctx())
    misses = cache.misses

    def assert_miss(backbone, data, c):
        nonlocal misses
        extract_features(backbone, data, c)
        assert cache.misses == misses + 1, "expected a miss"
        misses += 1

    # data: one pixel changes
    arr = imgs.source.array.copy()
    arr[0, 0, 0, 0] ^= 1
    assert_miss(cached, ImageList(ImageSource(array=arr), imgs.labels, 3), ctx())
    # precision
    assert_miss(cached, imgs, ctx(precision="bf16"))
    # preprocessing: another resize
    from torchvision import transforms as T

    other = cached.fresh_copy()
    other.preprocess = T.Compose([T.Resize(28), T.Resize(32), *cached.preprocess.transforms[-2:]])
    assert_miss(other, imgs, ctx())
    # weights: another checkpoint is another weights_id
    renamed = cached.fresh_copy()
    renamed.weights_id = "another-checkpoint"
    assert_miss(renamed, imgs, ctx())
    # weights: the same name, other bytes (a checkpoint rewritten in place) is another key
    import copy

    rewritten = copy.copy(toy_backbone)
    rewritten.model = copy.deepcopy(toy_backbone.model)
    with torch.no_grad():
        next(rewritten.model.visual.parameters()).mul_(1.5)
    rewritten._origin, rewritten.__dict__["_digests"] = None, {}
    rewritten.feature_cache = cache
    assert rewritten.weights_id == cached.weights_id
    assert_miss(rewritten, imgs, ctx())
    # and the unchanged call still hits
    hits = cache.hits
    extract_features(cached, imgs, ctx())
    assert cache.hits == hits + 1


def test_files_are_keyed_by_size_and_mtime(tmp_path, cached):
    from PIL import Image

    paths = []
    for i in range(4):
        p = tmp_path / f"{i}.png"
        Image.fromarray(np.full((32, 32, 3), 40 * i, np.uint8)).save(p)
        paths.append(p)
    before = image_fingerprint(ImageSource(paths=paths))
    assert image_fingerprint(ImageSource(paths=paths)) == before
    Image.fromarray(np.full((32, 32, 3), 7, np.uint8)).save(paths[2])
    import os

    os.utime(paths[2], ns=(10**18, 10**18))
    assert image_fingerprint(ImageSource(paths=paths)) != before


def test_a_trained_image_tower_is_never_served_from_the_cache(cached):
    imgs = images()
    extract_features(cached, imgs, ctx())
    trained = cached.fresh_copy()
    with torch.no_grad():
        next(trained.model.visual.parameters()).add_(0.01)
    assert not trained.is_pristine("visual") and trained.is_pristine("text")
    hits, misses = trained.feature_cache.hits, trained.feature_cache.misses
    extract_features(trained, imgs, ctx())
    assert (trained.feature_cache.hits, trained.feature_cache.misses) == (hits, misses), "cache consulted"
    # nor is a classifier over it scored on the loaded tower's features
    head = text_head(torch.randn(3, trained.embed_dim))
    assert scores_on_features(FeatureClassifier(cached, head), cached._origin)
    assert not scores_on_features(FeatureClassifier(trained, head), cached._origin)


def test_a_forward_hook_on_the_image_tower_disables_the_feature_path(cached):
    copy = cached.fresh_copy()
    assert same_tower(copy.model, cached.model)
    handle = copy.model.visual.register_forward_hook(lambda m, i, o: o * 2)
    assert not same_tower(copy.model, cached.model)
    handle.remove()
    assert same_tower(copy.model, cached.model)


def test_extraction_leaves_the_run_random_state_alone(cached):
    imgs = images()
    torch.manual_seed(3)
    state = torch.get_rng_state()
    extract_features(cached, imgs, ctx())   # a miss
    assert torch.equal(torch.get_rng_state(), state)
    extract_features(cached, imgs, ctx())   # a hit
    assert torch.equal(torch.get_rng_state(), state)


def test_augmented_views_repeat_by_seed_and_are_cached(cached):
    imgs = images(n=6)
    tf = cached.train_transform((0.3, 1.0), hflip=False)
    a, la = augmented_features(cached, imgs, ctx(), tf, views=3, seed=1)
    assert a.shape == (18, cached.embed_dim) and list(la) == list(imgs.labels) * 3
    assert not torch.equal(a[:6], a[6:12]), "views should differ"
    hits = cached.feature_cache.hits
    b, _ = augmented_features(cached, imgs, ctx(), tf, views=3, seed=1)
    assert cached.feature_cache.hits == hits + 1 and torch.equal(a, b)
    uncached = cached.fresh_copy()
    uncached.feature_cache = None
    c, _ = augmented_features(uncached, imgs, ctx(), tf, views=3, seed=1)
    assert torch.equal(a, c), "the cached views are the views the seed draws"
    d, _ = augmented_features(uncached, imgs, ctx(), tf, views=3, seed=2)
    assert not torch.equal(a, d)


def test_text_classifier_is_cached_on_disk(cached):
    names, templates = ("zero", "one"), ("a photo of {}.", "{}")
    w = cached.text_classifier(names, templates)
    other = cached._origin.fresh_copy()  # a new run: empty in-memory cache
    other.feature_cache = cached.feature_cache
    hits = cached.feature_cache.hits
    w2 = other.text_classifier(names, templates)
    assert cached.feature_cache.hits == hits + 1 and torch.equal(w, w2)
    # a trained text tower computes its own
    with torch.no_grad():
        other.model.token_embedding.weight.add_(0.5)
    other._text_cache.clear()
    w3 = other.text_classifier(names, templates)
    assert cached.feature_cache.hits == hits + 1 and not torch.equal(w, w3)


def test_transform_key_has_no_memory_address_and_refuses_what_it_cannot_name(toy_backbone, cached):
    from torchvision import transforms as T

    key = transform_key(toy_backbone.preprocess)  # open_clip's pipeline holds a module-level function
    assert key is not None and " at 0x" not in key and "Resize" in key

    def local(x):
        return x

    class Opaque:
        def __call__(self, x):
            return x

    for unnamed in (T.Lambda(local), local, lambda x: x, Opaque()):
        assert transform_key(T.Compose([unnamed, *toy_backbone.preprocess.transforms])) is None
    # such a transform is computed, never cached
    tf = T.Compose([T.Lambda(lambda img: img), *toy_backbone.preprocess.transforms])
    lookups = cached.feature_cache.hits + cached.feature_cache.misses
    augmented_features(cached, images(), ctx(), tf, views=1, seed=0)
    assert cached.feature_cache.hits + cached.feature_cache.misses == lookups


def test_unreadable_entry_is_recomputed(cached):
    imgs = images()
    first, _ = extract_features(cached, imgs, ctx())
    (entry,) = entries(cached.feature_cache)
    entry.write_bytes(entry.read_bytes()[:100])
    with pytest.warns(UserWarning, match="unreadable"):
        again, _ = extract_features(cached, imgs, ctx())
    assert torch.equal(first, again)
    assert len(entries(cached.feature_cache)) == 1  # written again, whole


def test_a_process_killed_while_writing_leaves_no_entry(tmp_path):
    """The writer dies (SIGKILL) after writing part of the file, before the rename: the key has no
    entry, the next lookup computes and stores a whole one, the torn file is never read."""
    root = tmp_path / "features"
    child = textwrap.dedent(f"""
        import os, signal, torch
        import safetensors.torch as st
        from udabench.model.feature_cache import FeatureCache

        def torn_write(tensors, filename, metadata=None):
            with open(filename, "wb") as f:
                f.write(b"x" * 1000)  # part of a file...
                f.flush()
            os.kill(os.getpid(), signal.SIGKILL)  # ...and the process is gone

        st.save_file = torn_write
        FeatureCache({str(root)!r}).fetch({{"k": 1}}, lambda: {{"features": torch.ones(1000, 64)}})
    """)
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True)
    assert proc.returncode == -9, proc.stderr
    cache = FeatureCache(root)
    key = cache.key({"k": 1})
    assert not cache.path(key).exists()
    assert list(root.rglob("*.tmp")), "the torn temporary file should be the only trace"
    got = cache.fetch({"k": 1}, lambda: {"features": torch.full((1000, 64), 2.0)})
    assert cache.misses == 1 and torch.equal(got["features"], torch.full((1000, 64), 2.0))
    assert torch.equal(FeatureCache(root).load(key)["features"], got["features"])


def test_unwritable_cache_warns_and_the_run_goes_on(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = FeatureCache(blocker / "features")
    with pytest.warns(UserWarning, match="cannot write the feature cache"):
        got = cache.fetch({"k": 2}, lambda: {"features": torch.ones(2)})
    assert torch.equal(got["features"], torch.ones(2))


@pytest.mark.parametrize("method,sets", [
    ("zeroshot", {}),
    ("linear-probe", {"c_values": (1.0, 10.0)}),
    ("dac", {"epochs": 2, "augment_views": 2, "shots": 4}),
    ("dapl", {"epochs": 1, "min_steps": 0}),
])
def test_cache_never_changes_a_metric(method, sets, mlflow_uri, tmp_path, monkeypatch, small_digits):
    """The same run three times: no cache, a cold cache, a warm cache. Same numbers, class by class
    (on 20 images per class and split: what is compared is the same at any size)."""
    from udabench.protocol.options import RunOptions
    from udabench.protocol.runner import RunRequest, execute

    monkeypatch.setenv("UDABENCH_CACHE", str(tmp_path / "cache"))
    small_digits(20)

    def run(cache: bool):
        req = RunRequest(method=method, dataset="digits", tasks=["printed2sevenseg"], seeds=[1],
                         backbone="toyclip", set_pairs=sets,
                         # without model selection, whose per-epoch scoring would fill the cache mid-run
                         options=RunOptions(progress=False, cache=cache, select_every=0))
        (rec,) = execute(req, echo=lambda s: None)
        return rec.result

    off, cold, warm = run(False), run(True), run(True)
    for r in (cold, warm):
        assert r.metrics["top1"] == off.metrics["top1"]
        assert r.metrics["mean_class_acc"] == off.metrics["mean_class_acc"]
        assert np.array_equal(r.confusion, off.confusion)
    assert "cache_hit" not in off.metrics
    assert cold.metrics["cache_hit"] < 1.0 and cold.metrics["cache_lookups"] >= 1
    assert warm.metrics["cache_hit"] == 1.0 and warm.metrics["cache_lookups"] == cold.metrics["cache_lookups"]
    assert (off.metrics["eval_from_cache"], cold.metrics["eval_from_cache"], warm.metrics["eval_from_cache"]) == \
        (0.0, 0.0, 1.0)
