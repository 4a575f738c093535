"""The digits dataset plugin: tasks, split sizes, the on-disk cache."""

from __future__ import annotations

import numpy as np
import pytest

from udabench.contract.errors import DataError, UnknownNameError
from udabench_plugins.datasets.digits import Digits
from udabench_plugins.datasets.digits.storage import domain_file

# (train, test) per domain: 2/3 of each class (rounded) in train. Drawn domains have 200 per class;
# handwritten has sklearn's 1,797 UCI images (178..183 per class).
SPLIT_SIZES = {"printed": (1330, 670), "blended": (1330, 670), "sevenseg": (1330, 670),
               "dotmatrix": (1330, 670), "handwritten": (1198, 599)}


def test_standard_tasks_are_each_source_to_each_target():
    assert [t.name for t in Digits.tasks] == [
        "printed2handwritten", "printed2sevenseg", "printed2dotmatrix",
        "blended2handwritten", "blended2sevenseg", "blended2dotmatrix"]
    assert Digits.task("sevenseg2handwritten").source == "sevenseg"  # any pair runs by name
    with pytest.raises(UnknownNameError):
        Digits.task("printed2printed")


@pytest.mark.parametrize("domain", sorted(SPLIT_SIZES))
def test_split_sizes_and_disjointness(domain):
    ds = Digits()
    train, test, whole = ds.load(domain, "train"), ds.load(domain, "test"), ds.load(domain, "all")
    assert (len(train), len(test)) == SPLIT_SIZES[domain]
    assert len(train) + len(test) == len(whole)
    pix = lambda s: {s.source.load(i).tobytes() + bytes([s.labels[i]]) for i in range(len(s))}  # noqa: E731
    assert not pix(train) & pix(test)
    ratio = np.bincount(train.labels, minlength=10) / np.bincount(whole.labels, minlength=10)
    assert np.all(np.abs(ratio - 2 / 3) < 0.01)


def test_domains_are_cached_as_safetensors_and_reread():
    from safetensors.numpy import load_file

    Digits().load("sevenseg", "train")
    path = domain_file("sevenseg")
    assert path.is_file() and path.suffix == ".safetensors"
    arrays = load_file(str(path))
    assert arrays["images"].shape == (2000, 32, 32, 3) and arrays["labels"].dtype == np.int64
    assert not list(path.parent.glob("*.tmp"))


def test_unknown_domains_and_splits_are_named():
    with pytest.raises(DataError, match="handwritten"):
        Digits().load("mnist", "train")
    with pytest.raises(DataError, match="train, test, all"):
        Digits().load("printed", "val")
