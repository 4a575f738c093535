"""Every dataset of the seed papers' suites on a miniature of its real on-disk format (``miniatures.builders``):
the conformance kit, a zero-shot run end to end on the toy backbone, one clear error on an empty root, and
for ReCLIP's 22 a ReCLIP run under its transductive protocol."""

from __future__ import annotations

import pytest

import udabench.cli
from udabench import DataError
from udabench.contract.registry import get_registry
from udabench.sweep.spec import load_sweep
from udabench.sweep.suites import suite_path
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


RECLIP_22 = load_sweep(suite_path("reclip-22")).datasets


@pytest.mark.slow  # 22 runs, about 45 s: `python -m pytest -m slow` (the default run has one in each r* batch)
@pytest.mark.parametrize("name", sorted(set(RECLIP_22) & set(BUILDERS)))
def test_reclip_runs_transductively_end_to_end(tmp_path, mlflow_uri, name):
    """ReCLIP's protocol on each of its 22 datasets' miniatures: adapted on the scored split, tagged so."""
    dataset_cls = get_registry().dataset(name)
    root = BUILDERS[name](tmp_path / "data")
    task = dataset_cls.tasks[0].name
    code = udabench.cli.main(["run", "--method", "reclip", "--dataset", name, "--task", task, "--root", str(root),
                              "--backbone", "toyclip", "--device", "cpu", "--tracking-uri", mlflow_uri,
                              "--no-progress", "--seeds", "0", "--transductive", "--select-every", "0",
                              "--set", "epochs=1", "--set", "k=2"])
    assert code == 0
    (run,) = Tracker(mlflow_uri).task_runs(name)
    assert run.data.tags["udabench.transductive"] == "true"
    assert run.data.metrics["eval_images"] == len(dataset_cls(root).load(task, dataset_cls.eval_split))
