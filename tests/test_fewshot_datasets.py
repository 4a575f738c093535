"""Every dataset of the few-shot suites on a miniature of its real on-disk format (``miniatures.builders``):
the conformance kit, a zero-shot run end to end on the toy backbone, and one clear error on an empty root."""

from __future__ import annotations

import pytest

import udabench.cli
from udabench import DataError
from udabench.contract.registry import get_registry
from udabench.testing import check_dataset
from udabench.tracking.tracker import Tracker

from miniatures import builders

BUILDERS = builders()
pytestmark = pytest.mark.filterwarnings("ignore::udabench.data.folders.CountMismatchWarning")


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_conforms_on_its_miniature(tmp_path, name):
    check_dataset(get_registry().dataset(name), root=BUILDERS[name](tmp_path))


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_zeroshot_runs_every_task_end_to_end(tmp_path, mlflow_uri, name):
    dataset_cls = get_registry().dataset(name)
    root = BUILDERS[name](tmp_path / "data")
    uri = mlflow_uri
    code = udabench.cli.main(["run", "--method", "zeroshot", "--dataset", name, "--root", str(root),
                              "--backbone", "toyclip", "--device", "cpu", "--tracking-uri", uri, "--no-progress"])
    assert code == 0
    runs = {r.data.tags["udabench.task"]: r for r in Tracker(uri).task_runs(name)}
    assert set(runs) == {t.name for t in dataset_cls.tasks}
    dataset = dataset_cls(root)
    for task in dataset_cls.tasks:
        scored = len(dataset.load(task.target, dataset_cls.eval_split))
        assert runs[task.name].data.metrics["eval_images"] == scored


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_an_empty_root_is_one_message_naming_what_is_missing(tmp_path, name):
    dataset_cls = get_registry().dataset(name)
    with pytest.raises(DataError) as e:
        dataset_cls(tmp_path).load(dataset_cls.tasks[0].target, dataset_cls.eval_split)
    message = str(e.value)
    assert str(tmp_path) in message and f"udabench data info {name}" in message
