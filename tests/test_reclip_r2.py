"""GTSRB, Country211, Rendered SST2, AID, RESISC45, Birdsnap and PCam as ReCLIP's benchmark reads them: ReCLIP's
class names and templates in its label order, each archive's format parsed right (torchvision's own readers
agree on the miniatures), a partial or damaged tree as one DataError naming it, and ReCLIP adapting on the
scored split itself under ``--transductive``."""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
import warnings

import numpy as np
import pytest

import udabench.cli
from udabench import DataError
from udabench.contract.registry import get_registry
from udabench.data.folders import CountMismatchWarning
from udabench.protocol.task import TRANSDUCTIVE_TAG, build_adapt_data
from udabench.tracking.tracker import Tracker
from udabench_plugins.datasets.reclip import aid, birdsnap, country211, gtsrb, pcam, resisc45

from mini_r2 import BUILDERS, bird_folder, gtsrb_test_order, pcam_arrays

pytestmark = pytest.mark.filterwarnings("ignore::udabench.data.folders.CountMismatchWarning")

#: name -> (classes, first, last, templates, ReCLIP's eval split): ReCLIP's prompts/clip_prompts entry and datasets.py.
FACTS = {
    "gtsrb": (43, "red and white circle 20 kph speed limit",
              "white circle with gray strike bar indicating no passing for trucks has ended", 3, "test"),
    "country211": (211, "Andorra", "Zimbabwe", 5, "test"),
    "renderedsst2": (2, "negative", "positive", 1, "test"),
    "aid": (30, "Airport", "Viaduct", 18, "all"),
    "resisc45": (45, "airplane", "wetland", 18, "all"),
    "birdsnap": (500, "Acadian Flycatcher", "Zone tailed Hawk", 1, "test"),
    "pcam": (2, "lymph node", "lymph node containing metastatic tumor tissue", 1, "val"),
}
#: name -> the first 16 hex digits of sha256(json.dumps({"classes": [...], "templates": [...]})) of ReCLIP's
#: prompts/clip_prompts entry (michiganleon/ReCLIP_WACV), recorded from that file: the whole lists, not only anchors.
DIGESTS = {"gtsrb": "8cebdeae0842266b", "country211": "65b53abcbbf008fc", "renderedsst2": "ab9f33e09a69b6dc",
           "aid": "e3fde2b34f5b0fd5", "resisc45": "6ef526b727f56a12", "birdsnap": "b7d39a1794676431",
           "pcam": "0f1613220273f3a2"}
NAMES = sorted(FACTS)
PATH_BASED = [n for n in NAMES if n != "pcam"]


def quiet_load(dataset, split):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CountMismatchWarning)
        return dataset.load(dataset.name, split)


# -- ReCLIP's names, templates and label order ------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_classes_and_templates_are_reclips_in_its_label_order(name):
    cls = get_registry().dataset(name)
    count, first, last, templates, eval_split = FACTS[name]
    assert (len(cls.classes), cls.classes[0], cls.classes[-1], len(cls.templates)) == (count, first, last, templates)
    entry = json.dumps({"classes": list(cls.classes), "templates": list(cls.templates)})
    assert hashlib.sha256(entry.encode()).hexdigest()[:16] == DIGESTS[name]
    assert cls.eval_split == eval_split and cls.val_split is None and cls.prompt_names is None
    assert cls.train_split == cls.adapt_split  # the inductive variant adapts on the train split


def test_country211_codes_are_iso_codes_sorted_as_torchvisions_folders():
    codes = list(country211.COUNTRIES)
    assert codes == sorted(codes) and len(set(codes)) == 211
    assert all(len(c) == 2 and c.isupper() for c in codes)
    assert (country211.COUNTRIES["CH"], country211.COUNTRIES["GB"], country211.COUNTRIES["XK"]) == (
        "Switzerland", "United Kingdom", "Kosovo")


@pytest.mark.parametrize("module,spelt", [(aid, ("BareLand", "SparseResidential", "StorageTanks")),
                                          (resisc45, ("baseball_diamond", "sea_ice", "thermal_power_station"))])
def test_remote_sensing_folders_sorted_give_reclips_order(module, spelt):
    assert list(module.FOLDERS) == sorted(module.FOLDERS)  # ReCLIP: sorted class names of its label file
    assert set(spelt) <= set(module.FOLDERS)


def test_birdsnap_names_are_sorted_and_species_are_matched_by_their_letters():
    assert list(birdsnap.CLASSES) == sorted(birdsnap.CLASSES)
    assert birdsnap.letters("Black-and-white Warbler") == birdsnap.letters("Black and white Warbler")
    assert birdsnap.letters("Allen's Hummingbird") == birdsnap.letters("Allens Hummingbird")


def test_flips_are_off_where_they_change_the_class():
    registry = get_registry()
    assert not registry.dataset("gtsrb").hflip_ok and not registry.dataset("renderedsst2").hflip_ok
    assert registry.dataset("country211").hflip_ok and registry.dataset("aid").hflip_ok


def test_pcam_declares_its_96px_patches_but_keeps_the_methods_defaults():
    cls = get_registry().dataset("pcam")
    assert cls.declared_image_size() == (96, 96) and cls.hparam_profile() is None


# -- the formats, parsed as torchvision parses them ---------------------------------------------------------
def test_gtsrb_test_labels_come_from_the_classid_column_in_file_order(tmp_path):
    ds = gtsrb.GTSRB(BUILDERS["gtsrb"](tmp_path))
    test = quiet_load(ds, "test")
    assert test.labels.tolist() == gtsrb_test_order() != sorted(gtsrb_test_order())
    assert test.source.paths[3].endswith("gtsrb/GTSRB/Final_Test/Images/00003.ppm")
    train = quiet_load(ds, "train")  # the GT-<class>.csv beside the images is passed over, not an error
    assert train.labels.tolist() == [label for label in range(43) for _ in range(2)]
    assert all(p.endswith(".ppm") for p in train.source.paths)


@pytest.mark.parametrize("name,tv_class,tv_splits", [
    ("gtsrb", "GTSRB", {"train": "train", "test": "test"}),
    ("country211", "Country211", {"train": "train", "val": "valid", "test": "test"}),
    ("renderedsst2", "RenderedSST2", {"train": "train", "val": "val", "test": "test"}),
])
def test_torchvisions_reader_gives_the_same_images_and_labels(tmp_path, name, tv_class, tv_splits):
    import torchvision.datasets

    root = BUILDERS[name](tmp_path)
    ours = get_registry().dataset(name)(root)
    for split, tv_split in tv_splits.items():
        theirs = getattr(torchvision.datasets, tv_class)(str(root), split=tv_split)
        samples = getattr(theirs, "_samples", None) or theirs.samples
        images = quiet_load(ours, split)
        assert [(str(p), int(y)) for p, y in samples] == list(zip(images.source.paths, images.labels.tolist()))


def test_renderedsst2_val_is_the_archives_valid_folder(tmp_path):
    ds = get_registry().dataset("renderedsst2")(BUILDERS["renderedsst2"](tmp_path))
    assert {p.split("/")[-3] for p in quiet_load(ds, "val").source.paths} == {"valid"}


@pytest.mark.parametrize("name,first", [("aid", "AID/Airport/airport_1.jpg"),
                                        ("resisc45", "NWPU-RESISC45/airplane/airplane_001.jpg")])
def test_remote_sensing_sets_are_scored_whole(tmp_path, name, first):
    cls = get_registry().dataset(name)
    images = quiet_load(cls(BUILDERS[name](tmp_path)), "all")
    assert cls.splits == ("all",) and len(images) == 2 * len(cls.classes)
    assert images.source.paths[0].endswith(first)
    assert images.labels.tolist() == [label for label in range(len(cls.classes)) for _ in range(2)]


def test_birdsnap_scores_the_listed_test_images_that_were_fetched(tmp_path):
    root = BUILDERS["birdsnap"](tmp_path, missing_test=3)
    ds = birdsnap.Birdsnap(root)
    with pytest.warns(CountMismatchWarning, match=r"500 of the 503 test images .* records its size \(eval_images\)"):
        test = ds.load("birdsnap", "test")
    assert len(test) == 500 and test.labels.tolist() == list(range(500))  # one fetched test image a species
    assert test.source.paths[0].endswith("birdsnap/download/images/Acadian_Flycatcher/0000.jpg")
    train = quiet_load(ds, "train")  # images.txt less the test list
    assert len(train) == 500 and not set(train.source.paths) & set(test.source.paths)


def test_birdsnap_labels_follow_species_sorted_by_name_not_their_ids(tmp_path):
    root = BUILDERS["birdsnap"](tmp_path)
    lines = (root / "birdsnap" / "species.txt").read_text().splitlines()
    first_row = lines[1].split("\t")  # species.txt is in a shuffled order in the miniature, as by id
    label = birdsnap.letters(first_row[1])
    expected = [birdsnap.letters(c) for c in birdsnap.CLASSES].index(label)
    labels = birdsnap.read_species(root / "birdsnap" / "species.txt", birdsnap.CLASSES, "")
    assert labels[first_row[3]] == expected != 0 and labels[bird_folder(499).lower()] == 499


def test_pcam_reads_patches_and_labels_from_its_hdf5_files(tmp_path):
    root = BUILDERS["pcam"](tmp_path)  # skipped without h5py
    images = quiet_load(pcam.PCam(root), "val")
    x, y = pcam_arrays("val")
    assert images.labels.tolist() == y.reshape(-1).tolist() == [0, 1, 1, 0]
    assert np.array_equal(images.source.array, x)


# -- what is missing or damaged: one DataError naming it ---------------------------------------------------
def test_country211_missing_class_folder_is_named(tmp_path):
    root = BUILDERS["country211"](tmp_path)
    shutil.rmtree(root / "country211" / "test" / "XK")
    with pytest.raises(DataError, match=r"1 of 211 class folders are missing .*: XK") as e:
        quiet_load(country211.Country211(root), "test")
    assert "{train,valid,test}/<class folder>/<image>" in str(e.value)  # the expected layout


@pytest.mark.parametrize("name,folder", [("aid", "AID/Viaduct"), ("resisc45", "NWPU-RESISC45/wetland")])
def test_an_empty_class_folder_is_named(tmp_path, name, folder):
    root = BUILDERS[name](tmp_path)
    for image in (root / folder).iterdir():
        image.unlink()
    with pytest.raises(DataError, match="class folders without any image: .*" + folder.split("/")[-1]):
        quiet_load(get_registry().dataset(name)(root), "all")


def test_gtsrb_without_the_label_file_points_to_the_gt_zip(tmp_path):
    root = BUILDERS["gtsrb"](tmp_path)
    (root / "gtsrb" / "GT-final_test.csv").unlink()
    with pytest.raises(DataError, match="no test label file .*GT-final_test.csv .*has no ClassId column.*"
                                        "GTSRB_Final_Test_GT.zip"):
        gtsrb.GTSRB(root).load("gtsrb", "test")


def test_gtsrb_damaged_label_row_is_named_with_its_line(tmp_path):
    root = BUILDERS["gtsrb"](tmp_path)
    table = root / "gtsrb" / "GT-final_test.csv"
    rows = table.read_text().splitlines()
    rows[5] = rows[5].rpartition(";")[0] + ";43"
    table.write_text("\n".join(rows) + "\n")
    with pytest.raises(DataError, match=r"GT-final_test.csv, line 6: 00004.ppm has the class id 43; GTSRB's are 0..42"):
        gtsrb.GTSRB(root).load("gtsrb", "test")


def test_gtsrb_missing_training_class_is_named(tmp_path):
    root = BUILDERS["gtsrb"](tmp_path)
    shutil.rmtree(root / "gtsrb" / "GTSRB" / "Training" / "00042")
    with pytest.raises(DataError, match="1 of the 43 class folders are missing .*: 00042"):
        gtsrb.GTSRB(root).load("gtsrb", "train")


def test_birdsnap_species_list_of_another_version_is_refused(tmp_path):
    root = BUILDERS["birdsnap"](tmp_path)
    species = root / "birdsnap" / "species.txt"
    species.write_text(species.read_text().replace("\tAcadian Flycatcher\t", "\tAcadian Kingbird\t"))
    expected = "species 0 is 'Acadian Kingbird', but ReCLIP's class 0 is 'Acadian Flycatcher'"
    with pytest.raises(DataError, match=expected):
        birdsnap.Birdsnap(root).load("birdsnap", "test")


def test_birdsnap_without_downloaded_images_says_to_run_the_script(tmp_path):
    root = BUILDERS["birdsnap"](tmp_path)
    shutil.rmtree(root / "birdsnap" / "download" / "images")
    (root / "birdsnap" / "download" / "images").mkdir()
    with pytest.raises(DataError, match="none of the 501 test images the lists name .* run get_birdsnap.py"):
        birdsnap.Birdsnap(root).load("birdsnap", "test")


def test_pcam_missing_or_gzipped_label_file_is_named(tmp_path):
    base = tmp_path / "pcam"
    base.mkdir()
    (base / pcam.file_name("val", "x")).write_bytes(b"")
    with pytest.raises(DataError, match=r"no .*camelyonpatch_level_2_split_valid_y.h5") as e:
        pcam.PCam(tmp_path).load("pcam", "val")
    assert "x.h5" not in str(e.value).split("Expected layout")[0]  # only the missing file is named
    (base / f"{pcam.file_name('val', 'y')}.gz").write_bytes(b"")
    with pytest.raises(DataError, match=r"camelyonpatch_level_2_split_valid_y.h5 is gzipped: decompress it \(`gunzip "):
        pcam.PCam(tmp_path).load("pcam", "val")


def test_pcam_without_h5py_names_the_extra_to_install(tmp_path, monkeypatch):
    base = tmp_path / "pcam"
    base.mkdir()
    for part in ("x", "y"):
        (base / pcam.file_name("val", part)).write_bytes(b"")
    monkeypatch.setitem(sys.modules, "h5py", None)  # import h5py now fails, installed or not
    with pytest.raises(DataError, match=r"needs h5py: `pip install 'udabench\[pcam\]'`"):
        pcam.PCam(tmp_path).load("pcam", "val")


class NpyAsHdf5:
    """Stands in for ``h5py.File`` where h5py is not installed: a file holding one ``.npy`` array, seen
    as an HDF5 file with one dataset named after the file's ``_x`` / ``_y`` ending. It checks the
    loader's path (which files, which keys, what shapes), not the HDF5 format (the miniature test does)."""

    def __init__(self, path, mode="r"):
        assert mode == "r"
        self.data = {str(path)[-4]: np.load(path, allow_pickle=False)}

    def __enter__(self):
        return self.data

    def __exit__(self, *exc):
        return False


def test_pcam_loader_reads_val_files_whole_and_keys_them_x_and_y(tmp_path, monkeypatch):
    import types

    base = tmp_path / "pcam"
    base.mkdir()
    x, y = pcam_arrays("val")
    for part, array in (("x", x), ("y", y)):
        with open(base / pcam.file_name("val", part), "wb") as f:
            np.save(f, array)
    monkeypatch.setitem(sys.modules, "h5py", types.SimpleNamespace(File=NpyAsHdf5))
    dataset = pcam.PCam(tmp_path)
    with pytest.warns(CountMismatchWarning, match="val has 4 images, but the benchmark has 32,768"):
        images = dataset.load("pcam", "val")
    assert images.labels.tolist() == [0, 1, 1, 0] and np.array_equal(images.source.array, x)
    assert images.source.load(0).size == (96, 96) and dataset.load("pcam", "val") is images


def test_pcam_labels_that_do_not_match_the_patches_are_refused(tmp_path):
    x, y = pcam_arrays("val")
    with pytest.raises(DataError, match=r"4 patches but y is \(3, 1, 1, 1\)"):
        pcam.as_image_list(x, y[:3], tmp_path, "val", "")
    with pytest.raises(DataError, match="other than 0 and 1"):
        pcam.as_image_list(x, y + 2, tmp_path, "val", "")
    assert pcam.as_image_list(x, y, tmp_path, "val", "").labels.tolist() == [0, 1, 1, 0]


# -- ReCLIP's protocol: adapt on the scored split ------------------------------------------------------------
def test_reclip_adapts_on_the_test_split_under_transductive(tmp_path, mlflow_uri):
    root = BUILDERS["renderedsst2"](tmp_path / "data")
    code = udabench.cli.main(["run", "--method", "reclip", "--dataset", "renderedsst2", "--root", str(root),
                              "--backbone", "toyclip", "--device", "cpu", "--tracking-uri", mlflow_uri,
                              "--no-progress", "--seeds", "0", "--transductive", "--set", "epochs=1", "--set", "k=2"])
    assert code == 0
    (run,) = Tracker(mlflow_uri).task_runs("renderedsst2")
    assert run.data.tags[TRANSDUCTIVE_TAG] == "true" and run.data.metrics["eval_images"] == 4
    dataset = get_registry().dataset("renderedsst2")(root)
    method = get_registry().method("reclip")
    config = method.resolve_config(type(dataset), set_overrides={"epochs": 1})
    data, evaluation = build_adapt_data(method, config, dataset, dataset.tasks[0], seed=0, transductive=True)
    test = quiet_load(dataset, "test")
    assert evaluation.target_is_evaluation and evaluation.target.source.paths == test.source.paths
    assert len(data.target) == len(test)
    _, inductive = build_adapt_data(method, config, dataset, dataset.tasks[0], seed=0)
    assert not inductive.target_is_evaluation and inductive.target.source.paths[0].endswith("train/negative/00000.png")


def test_the_leaderboard_shows_transductive_runs_as_their_own_row(tmp_path, mlflow_uri, capsys):
    root = BUILDERS["renderedsst2"](tmp_path / "data")
    base = ["run", "--method", "reclip", "--dataset", "renderedsst2", "--root", str(root), "--backbone", "toyclip",
            "--device", "cpu", "--tracking-uri", mlflow_uri, "--no-progress", "--seeds", "0",
            "--set", "epochs=1", "--set", "k=2"]
    assert udabench.cli.main(base) == 0 and udabench.cli.main(base + ["--transductive"]) == 0
    capsys.readouterr()
    assert udabench.cli.main(["leaderboard", "--dataset", "renderedsst2", "--tracking-uri", mlflow_uri,
                              "--format", "json"]) == 0
    import json

    labels = {r["label"] for r in json.loads(capsys.readouterr().out) if not r.get("reference")}
    assert labels == {"reclip (epochs=1, k=2)", "reclip (transductive; epochs=1, k=2)"}
