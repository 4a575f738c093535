"""The real-benchmark dataset plugins on trees built here in their real layouts.

Every tree uses the real domain and class names and the real list-file formats, with tiny
generated images (end-to-end runs) or empty files (the full-size counts, never decoded).
Facts checked against the datasets' published layouts and counts (docs/datasets.md). The backbone is a random-weight toyclip:
these tests check data loading, not accuracy.
"""

from __future__ import annotations

import os
import shutil
import warnings
import zlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import udabench.cli
import udabench.protocol.runner
from udabench import DataError
from udabench.contract.registry import get_registry
from udabench.tracking.tracker import Tracker
from udabench.data.folders import CountMismatchWarning
from udabench_plugins.datasets.domainnet import DomainNet
from udabench_plugins.datasets.minidomainnet import MiniDomainNet
from udabench_plugins.datasets.office31 import Office31
from udabench_plugins.datasets.officehome import OfficeHome, OfficeHomeTllib
from udabench_plugins.datasets.visda2017 import VisDA2017

# The tiny trees differ from the published counts on purpose; the count tests turn the warning into an error.
pytestmark = pytest.mark.filterwarnings("ignore::udabench.data.folders.CountMismatchWarning")


# -- fixtures and tree builders ------------------------------------------------------------------
def seed_of(*parts) -> int:
    return zlib.crc32(repr(parts).encode())


def write_image(path: Path, seed: int) -> None:
    """An 8x8 image, JPEG or PNG by its suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(path)


def touch(folder: Path, names) -> None:
    """Empty files: for counting, never decoded."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        os.close(os.open(folder / name, os.O_CREAT | os.O_WRONLY, 0o644))


def spread(total: int, parts: int) -> list[int]:
    """``total`` split into ``parts`` counts as even as possible."""
    return [total // parts + (i < total % parts) for i in range(parts)]


def build_office31(root: Path, images_level: bool = True, per_class: int = 1) -> Path:
    """The original tar's tree: office31/<domain>/images/<class>/frame_XXXX.jpg."""
    for d in Office31.domains:
        for c, cls in enumerate(Office31.classes):
            for i in range(per_class):
                folder = root / "office31" / d / ("images" if images_level else "") / cls
                write_image(folder / f"frame_{i + 1:04d}.jpg", seed_of(d, c, i))
    return root


def build_officehome(root: Path, real_world: str = "Real World", top: str = "OfficeHomeDataset_10072016") -> Path:
    """The official archive: OfficeHomeDataset_10072016/{Art,Clipart,Product,Real World}/<Class>/00001.jpg."""
    folders = {"art": "Art", "clipart": "Clipart", "product": "Product", "real_world": real_world}
    for d, folder in folders.items():
        for c, cls in enumerate(OfficeHome.classes):
            write_image(root / top / folder / cls / "00001.jpg", seed_of(d, c))
    return root


def build_visda(root: Path) -> Path:
    """The official tars: visda2017/{train,validation}/<class>/... with each domain's image_list.txt."""
    for d, suffix in (("train", ".png"), ("validation", ".jpg")):
        lines = []
        for c, cls in enumerate(VisDA2017.classes):
            name = f"src_1_{c:08d}_0_0_0{suffix}" if d == "train" else f"{c:06d}{suffix}"
            write_image(root / "visda2017" / d / cls / name, c)
            lines.append(f"{cls}/{name} {c}")
        (root / "visda2017" / d / "image_list.txt").write_text("\n".join(lines) + "\n")
    return root


def build_domainnet(root: Path, domains, classes, list_dir: str = "", label_of=None, distinct: bool = True) -> Path:
    """DomainNet folders and official-format split lists (``clipart/aircraft_carrier/clipart_001_000001.jpg 0``):
    one train and one test image per class, or (``distinct=False``) one image listed in both splits."""
    label_of = label_of or {c: i for i, c in enumerate(DomainNet.classes)}
    base = root / "domainnet"
    for d in domains:
        lists = {"train": [], "test": []}
        for c, cls in enumerate(classes):
            for k, split in enumerate(("train", "test")):
                rel = f"{d}/{cls}/{d}_{c:03d}_{(k if distinct else 0) + 1:06d}.jpg"
                if distinct or k == 0:
                    write_image(base / rel, seed_of(d, c, k))
                lists[split].append(f"{rel} {label_of[cls]}")
        for split, lines in lists.items():
            path = base / list_dir / f"{d}_{split}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("\n".join(lines) + "\n")
    return root


def build_minidomainnet(root: Path) -> Path:
    """Full DomainNet folders for the 4 domains plus Dassl's splits_mini lists, whose labels
    (0..125) follow an order of their own here (ASCII), as the real files may."""
    own_order = {c: i for i, c in enumerate(sorted(MiniDomainNet.classes))}
    return build_domainnet(root, MiniDomainNet.domains, MiniDomainNet.classes, "splits_mini", own_order,
                           distinct=False)


def run_zeroshot(name: str, root: Path, backbone: str, uri: str, tasks=None) -> int:
    argv = ["run", "--method", "zeroshot", "--dataset", name, "--root", str(root), "--backbone", backbone,
            "--device", "cpu", "--tracking-uri", uri, "--no-progress"]
    return udabench.cli.main(argv + (["--task", *tasks] if tasks else []))


def finished_tasks(uri: str, name: str) -> list[str]:
    return sorted(r.data.tags["udabench.task"] for r in Tracker(uri).task_runs(name))


# -- end to end: `udabench run` over the tasks -----------------------------------------------------
E2E = [
    ("office31", build_office31, None),
    ("officehome", build_officehome, None),
    ("officehome-tllib", build_officehome, ["Rw2Ar"]),
    ("visda2017", build_visda, None),
    # 345 classes x 6 domains: three tasks, whose targets are three of the domains (every
    # domain and split loads in test_domainnet_every_split_loads).
    ("domainnet", lambda r: build_domainnet(r, DomainNet.domains, DomainNet.classes, distinct=False),
     ["c2i", "q2r", "p2s"]),
    ("minidomainnet", build_minidomainnet, None),
]


@pytest.fixture
def small_confusion_plot(monkeypatch):
    """The runner's confusion plot costs 1.5-2.5 s per run at 65-345 classes; these tests are
    about loading data, so it is drawn at 1x1 inch (test_tracking covers the real one)."""
    from matplotlib.figure import Figure

    def small(confusion, classes, title):
        fig = Figure(figsize=(1, 1))
        fig.add_subplot().imshow(confusion)
        return fig

    monkeypatch.setattr(udabench.protocol.runner, "confusion_figure", small)


@pytest.mark.slow
@pytest.mark.parametrize("name,build,tasks", E2E, ids=[e[0] for e in E2E])
def test_zeroshot_runs_every_task(name, build, tasks, tmp_path, mlflow_uri, backbone_spec, small_confusion_plot):
    root = build(tmp_path / "data")
    assert run_zeroshot(name, root, backbone_spec, mlflow_uri, tasks) == 0
    expected = tasks or [t.name for t in get_registry().dataset(name).tasks]
    assert finished_tasks(mlflow_uri, name) == sorted(expected)


def test_domainnet_every_split_loads(tmp_path):
    root = build_domainnet(tmp_path, DomainNet.domains, DomainNet.classes[:5])
    ds = DomainNet(root)
    for d in DomainNet.domains:
        for split in ("train", "test"):
            images = ds.load(d, split)
            assert list(images.labels) == [0, 1, 2, 3, 4]
            assert Path(images.source.paths[0]).name == f"{d}_000_{1 if split == 'train' else 2:06d}.jpg"


# -- label orders and names (docs/datasets.md) --------------------------------------------------------
def test_class_lists_match_datasets_md():
    assert len(Office31.classes) == 31 and list(Office31.classes) == sorted(Office31.classes)
    assert len(OfficeHome.classes) == 65 and list(OfficeHome.classes) == sorted(OfficeHome.classes)
    assert OfficeHome.classes.index("TV") == 58 and OfficeHome.classes.index("Table") == 59  # ASCII order
    assert set(OfficeHomeTllib.classes) == set(OfficeHome.classes)
    assert OfficeHomeTllib.classes[:3] == ("Drill", "Exit_Sign", "Bottle") and OfficeHomeTllib.classes[64] == "Marker"
    assert VisDA2017.classes[0] == "aeroplane" and VisDA2017.classes[11] == "truck" and len(VisDA2017.classes) == 12
    assert len(set(DomainNet.classes)) == 345
    assert DomainNet.classes.index("cello") < DomainNet.classes.index("cell_phone")
    assert DomainNet.classes.index("t-shirt") == 327
    assert DomainNet.classes.index("The_Eiffel_Tower") == DomainNet.classes.index("tent") + 1
    assert len(set(MiniDomainNet.classes)) == 126
    assert list(MiniDomainNet.classes) == [c for c in DomainNet.classes if c in set(MiniDomainNet.classes)]


def test_tasks_follow_the_protocol():
    assert [t.name for t in Office31.tasks] == ["A2W", "D2W", "W2D", "A2D", "D2A", "W2A"]
    assert [t.name for t in OfficeHome.tasks] == ["Ar2Cl", "Ar2Pr", "Ar2Rw", "Cl2Ar", "Cl2Pr", "Cl2Rw",
                                                  "Pr2Ar", "Pr2Cl", "Pr2Rw", "Rw2Ar", "Rw2Cl", "Rw2Pr"]
    assert OfficeHome.task("Rw2Pr").source == "real_world"
    assert [(t.name, t.source, t.target) for t in VisDA2017.tasks] == [("train2val", "train", "validation")]
    assert VisDA2017.headline_metric == "mean_class_acc"
    assert len(DomainNet.tasks) == 30 and DomainNet.task("c2i").target == "infograph"
    assert [t.name for t in MiniDomainNet.tasks] == ["c2p", "c2r", "c2s", "p2c", "p2r", "p2s",
                                                     "r2c", "r2p", "r2s", "s2c", "s2p", "s2r"]
    assert (DomainNet.train_split, DomainNet.adapt_split, DomainNet.eval_split) == ("train", "train", "test")
    assert Office31.train_split == Office31.adapt_split == Office31.eval_split


def test_prompt_names_read_as_words():
    office31 = dict(zip(Office31.classes, Office31.prompt_names))
    assert office31["back_pack"] == "backpack" and office31["desk_lamp"] == "desk lamp"
    home = dict(zip(OfficeHome.classes, OfficeHome.prompt_names))
    assert (home["Alarm_Clock"], home["TV"], home["Postit_Notes"], home["ToothBrush"]) == \
        ("alarm clock", "TV", "post-it notes", "toothbrush")
    tllib = dict(zip(OfficeHomeTllib.classes, OfficeHomeTllib.prompt_names))
    assert tllib == home
    assert OfficeHome.domain_prompt_name("real_world") == "real_world"  # as Dassl names it, and DAPL's prompts read
    net = dict(zip(DomainNet.classes, DomainNet.prompt_names))
    assert net["The_Eiffel_Tower"] == "Eiffel Tower" and net["aircraft_carrier"] == "aircraft carrier"
    assert VisDA2017.domain_prompt_name("train") == "synthetic"


# -- layouts and aliases -------------------------------------------------------------------------
@pytest.mark.parametrize("real_world", ["Real World", "Real_World", "RealWorld", "real_world"])
@pytest.mark.parametrize("top", ["OfficeHomeDataset_10072016", "office_home", "."])
def test_officehome_accepts_every_spelling(tmp_path, real_world, top):
    build_officehome(tmp_path, real_world=real_world, top=top)
    images = OfficeHome(tmp_path).load("real_world", "all")
    assert len(images) == 65 and list(images.labels) == list(range(65))
    assert f"/{real_world}/Alarm_Clock/" in images.source.paths[0]


@pytest.mark.parametrize("images_level", [True, False], ids=["images-level", "flattened"])
def test_office31_with_and_without_the_images_level(tmp_path, images_level):
    build_office31(tmp_path, images_level=images_level, per_class=2)
    images = Office31(tmp_path / "office31").load("webcam", "all")  # --root may be the dataset folder
    assert len(images) == 62 and images.labels[0] == 0 and images.labels[-1] == 30
    assert Path(images.source.paths[1]).name == "frame_0002.jpg"


def test_tllib_image_list_in_tllib_order_reads_in_either_order(tmp_path):
    """tllib's image_list/Art.txt carries tllib labels; the class is the folder, whatever the order."""
    build_officehome(tmp_path, real_world="Real_World", top="officehome")
    tllib_label = {c: i for i, c in enumerate(OfficeHomeTllib.classes)}
    listed = ["Drill", "Alarm_Clock", "TV"]
    (tmp_path / "officehome" / "image_list").mkdir()
    (tmp_path / "officehome" / "image_list" / "Art.txt").write_text(
        "".join(f"Art/{c}/00001.jpg {tllib_label[c]}\n" for c in listed))
    sorted_order = OfficeHome(tmp_path).load("art", "all")
    tllib_order = OfficeHomeTllib(tmp_path).load("art", "all")
    assert list(sorted_order.labels) == [16, 0, 58]
    assert list(tllib_order.labels) == [0, 33, 56]
    assert sorted_order.source.paths == tllib_order.source.paths


def test_visda_reads_tllib_lists_and_bare_class_folders(tmp_path):
    build_visda(tmp_path)
    base = tmp_path / "visda2017"
    (base / "validation" / "image_list.txt").unlink()
    scanned = VisDA2017(tmp_path).load("validation", "all")
    (base / "image_list").mkdir()
    (base / "image_list" / "validation.txt").write_text("validation/truck/000011.jpg 11\n")
    listed = VisDA2017(tmp_path).load("validation", "all")
    assert len(scanned) == 12 and list(scanned.labels) == list(range(12))
    assert list(listed.labels) == [11] and listed.source.paths[0].endswith("validation/truck/000011.jpg")


def test_minidomainnet_takes_the_class_from_the_path(tmp_path):
    build_minidomainnet(tmp_path)
    images = MiniDomainNet(tmp_path).load("sketch", "test")
    assert list(images.labels) == list(range(126))  # the files' own (ASCII) labels are not used
    assert "/domainnet/sketch/aircraft_carrier/" in images.source.paths[0]


# -- full-size split counts (docs/datasets.md), from list files and empty files -------------------------
def counts_of(dataset_cls, root, splits) -> dict:
    """The size of every split as the plugin derives it (no image is opened); a count that
    differs from the published one would raise here."""
    ds = dataset_cls(root)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CountMismatchWarning)
        return {(d, s): len(ds.split_entries(d, s).entries) for d in dataset_cls.domains for s in splits}


@pytest.mark.slow
def test_full_size_counts_office31_officehome(tmp_path):
    """Folder layouts: the split is every file of the class folders (20k empty files)."""
    office31 = {"amazon": 2817, "dslr": 498, "webcam": 795}
    for d, total in office31.items():
        for cls, n in zip(Office31.classes, spread(total, 31)):
            touch(tmp_path / "office31" / d / "images" / cls, (f"frame_{i:04d}.jpg" for i in range(n)))
    officehome = {"Art": 2427, "Clipart": 4365, "Product": 4439, "Real World": 4357}
    for d, total in officehome.items():
        for cls, n in zip(OfficeHome.classes, spread(total, 65)):
            touch(tmp_path / "OfficeHomeDataset_10072016" / d / cls, (f"{i:05d}.jpg" for i in range(n)))
    assert counts_of(Office31, tmp_path, ["all"]) == {(d, "all"): n for d, n in office31.items()}
    assert counts_of(OfficeHome, tmp_path, ["all"]) == {
        ("art", "all"): 2427, ("clipart", "all"): 4365, ("product", "all"): 4439, ("real_world", "all"): 4357}
    assert sum(office31.values()) == 4110 and sum(officehome.values()) == 15588
    assert len(Office31(tmp_path).load("dslr", "all")) == 498  # load() agrees, without decoding


def test_full_size_counts_visda(tmp_path):
    """List layouts: each domain's image_list.txt, with the official per-class validation counts."""
    validation = [3646, 3475, 4690, 10401, 4691, 2075, 5796, 4000, 4549, 2281, 4236, 5548]
    sizes = {"train": spread(152397, 12), "validation": validation}
    for d, per_class in sizes.items():
        lines = []
        for c, (cls, n) in enumerate(zip(VisDA2017.classes, per_class)):
            (tmp_path / "visda2017" / d / cls).mkdir(parents=True)
            lines += [f"{cls}/{c}_{i:06d}.jpg {c}\n" for i in range(n)]
        (tmp_path / "visda2017" / d / "image_list.txt").write_text("".join(lines))
    assert counts_of(VisDA2017, tmp_path, ["all"]) == {("train", "all"): 152397, ("validation", "all"): 55388}
    per_class = Counter(c for c, _ in VisDA2017(tmp_path).split_entries("validation", "all").entries)
    assert [per_class[c] for c in VisDA2017.classes] == validation


def test_full_size_counts_domainnet(tmp_path):
    """The official split sizes, including painting_train's missing t-shirt class."""
    table = {"clipart": (33525, 14604), "infograph": (36023, 15582), "painting": (50416, 21850),
             "quickdraw": (120750, 51750), "real": (120906, 52041), "sketch": (48212, 20916)}
    base = tmp_path / "domainnet"
    for d, pair in table.items():
        for cls in DomainNet.classes:
            (base / d / cls).mkdir(parents=True)
        for split, total in zip(("train", "test"), pair):
            classes = [c for c in DomainNet.classes if not (d == "painting" and split == "train" and c == "t-shirt")]
            lines = []
            for cls, n in zip(classes, spread(total, len(classes))):
                label = DomainNet.classes.index(cls)
                lines += [f"{d}/{cls}/{d}_{label:03d}_{split}{i:06d}.jpg {label}\n" for i in range(n)]
            (base / f"{d}_{split}.txt").write_text("".join(lines))
    counts = counts_of(DomainNet, tmp_path, ["train", "test"])
    assert counts == {(d, s): n for d, pair in table.items() for s, n in zip(("train", "test"), pair)}
    assert sum(counts.values()) == 586575
    painting = {c for c, _ in DomainNet(tmp_path).split_entries("painting", "train").entries}
    assert len(painting) == 344 and "t-shirt" not in painting


def test_a_partial_domain_warns_with_the_published_count(tmp_path):
    build_office31(tmp_path)
    with pytest.warns(CountMismatchWarning, match=r"amazon/all has 31 images, but the benchmark has 2,817"):
        Office31(tmp_path).load("amazon", "all")


# -- missing and bad data: one message naming the file and the fix ---------------------------------
def test_missing_domain_says_what_where_and_how_to_get_it(tmp_path):
    build_office31(tmp_path)
    shutil.rmtree(tmp_path / "office31" / "dslr")
    with pytest.raises(DataError) as err:
        Office31(tmp_path).load("dslr", "all")
    msg = str(err.value)
    assert "no folder for domain 'dslr'" in msg and "{dslr,DSLR}/[images/]<class>/" in msg
    assert "Expected layout:" in msg and "amazon/images/<class>/<image>" in msg
    assert "https://faculty.cc.gatech.edu/~judy/domainadapt/" in msg
    assert f"udabench data download office31 --root {tmp_path}" in msg


def test_missing_domain_through_the_cli_exits_2_with_the_message(tmp_path, mlflow_uri, backbone_spec, capsys):
    assert run_zeroshot("officehome", tmp_path, backbone_spec, mlflow_uri, ["Ar2Cl"]) == 2
    err = capsys.readouterr().err
    assert "officehome: cannot load clipart/all" in err and "http://hemanthdv.org/OfficeHome-Dataset/" in err
    assert "Traceback" not in err


def test_domain_folder_without_class_folders(tmp_path):
    (tmp_path / "office31" / "amazon" / "amazon" / "images").mkdir(parents=True)
    with pytest.raises(DataError, match=r"found .*office31/amazon for domain 'amazon', but it holds none of "
                                        r"the 31 class folders \(back_pack, bike, bike_helmet"):
        Office31(tmp_path).load("amazon", "all")


def test_missing_class_folders_are_listed(tmp_path):
    build_office31(tmp_path)
    for cls in ("mug", "pen"):
        shutil.rmtree(tmp_path / "office31" / "webcam" / "images" / cls)
    with pytest.raises(DataError, match=r"2 of 31 class folders are missing in .*webcam/images: mug, pen\. "
                                        r"The download or extraction is incomplete\. Re-download it"):
        Office31(tmp_path).load("webcam", "all")


def test_empty_class_folder_is_named(tmp_path):
    build_officehome(tmp_path)
    folder = tmp_path / "OfficeHomeDataset_10072016" / "Clipart" / "Fork"
    (folder / "00001.jpg").unlink()
    (folder / ".DS_Store").write_bytes(b"\0")  # system files are neither images nor complaints
    with pytest.raises(DataError) as err:
        OfficeHome(tmp_path).load("clipart", "all")
    assert f"class folders without any image: {folder}" in str(err.value)
    assert "udabench data download officehome" in str(err.value)


def test_a_file_that_is_not_an_image_is_named(tmp_path):
    build_office31(tmp_path)
    stray = tmp_path / "office31" / "dslr" / "images" / "ruler" / "notes.txt"
    stray.write_text("not an image")
    with pytest.raises(DataError) as err:
        Office31(tmp_path).load("dslr", "all")
    assert str(stray) in str(err.value) and "Move them out of the class folders" in str(err.value)


def test_label_out_of_range_names_the_file_and_line(tmp_path):
    build_visda(tmp_path)
    listing = tmp_path / "visda2017" / "validation" / "image_list.txt"
    lines = listing.read_text().splitlines()
    lines[4] = lines[4].rsplit(" ", 1)[0] + " 12"
    listing.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError) as err:
        VisDA2017(tmp_path).load("validation", "all")
    msg = str(err.value)
    assert f"{listing}, line 5: label 12 is outside 0..11" in msg
    assert "udabench data download visda2017" in msg and "http://csr.bu.edu/ftp/visda17/clf/" in msg


def test_mixed_label_orders_name_both_lines(tmp_path):
    build_visda(tmp_path)
    listing = tmp_path / "visda2017" / "train" / "image_list.txt"
    listing.write_text(listing.read_text() + "bus/src_1_00000002_0_0_0.png 7\n")
    with pytest.raises(DataError, match=r"line 13: label 7 is given to class folder 'bus', but line 8 gives it "
                                        r"to 'person'\. The list mixes label orders"):
        VisDA2017(tmp_path).load("train", "all")


def test_malformed_list_line(tmp_path):
    build_domainnet(tmp_path, ["clipart"], DomainNet.classes[:2])
    listing = tmp_path / "domainnet" / "clipart_test.txt"
    listing.write_text("clipart/airplane/clipart_001_000002.jpg\n")
    with pytest.raises(DataError, match=r"clipart_test.txt, line 1: expected '<relative path> <label>'"):
        DomainNet(tmp_path).load("clipart", "test")


def test_listed_images_missing_on_disk(tmp_path):
    build_domainnet(tmp_path, ["sketch"], DomainNet.classes[:3])
    shutil.rmtree(tmp_path / "domainnet" / "sketch" / "airplane")
    with pytest.raises(DataError) as err:
        DomainNet(tmp_path).load("sketch", "train")
    msg = str(err.value)
    assert "1 of 3 images listed in" in msg and "sketch_train.txt are missing" in msg
    assert "sketch/airplane/sketch_001_000001.jpg" in msg and "missing class folders: airplane" in msg


def test_missing_split_list_names_the_file_and_the_source(tmp_path):
    build_domainnet(tmp_path, ["real"], DomainNet.classes[:2])
    (tmp_path / "domainnet" / "real_test.txt").unlink()
    with pytest.raises(DataError) as err:
        DomainNet(tmp_path).load("real", "test")
    msg = str(err.value)
    assert "no split list for real/test: looked for real_test.txt or splits/real_test.txt" in msg
    assert "http://csr.bu.edu/ftp/visda/2019/multi-source/" in msg


def test_minidomainnet_names_its_split_files(tmp_path):
    build_domainnet(tmp_path, ["clipart"], MiniDomainNet.classes[:2])  # full DomainNet lists, no splits_mini
    with pytest.raises(DataError, match=r"no split list for clipart/train: looked for "
                                        r"splits_mini/clipart_train.txt"):
        MiniDomainNet(tmp_path).load("clipart", "train")


@pytest.mark.parametrize("damage", ["corrupt", "truncated", "not-an-image"])
def test_unreadable_image_names_the_file_and_the_fix(tmp_path, damage):
    build_office31(tmp_path)
    path = tmp_path / "office31" / "amazon" / "images" / "bike" / "frame_0001.jpg"
    if damage == "corrupt":
        path.write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(64))
    elif damage == "truncated":
        write_image(path.with_suffix(".png"), 0)
        path.with_suffix(".png").rename(path)
        path.write_bytes(path.read_bytes()[:60])
    else:
        path.write_text("<html><body>Quota exceeded</body></html>")
    images = Office31(tmp_path).load("amazon", "all")
    with pytest.raises(DataError) as err:
        images.source.load(images.source.paths.index(str(path)))
    assert f"cannot read image {path}" in str(err.value) and "Replace the file" in str(err.value)


def test_data_info_verify_lists_unreadable_images(tmp_path, capsys):
    build_office31(tmp_path)
    bad = tmp_path / "office31" / "dslr" / "images" / "mug" / "frame_0001.jpg"
    bad.write_bytes(b"broken")
    assert udabench.cli.main(["data", "info", "office31", "--root", str(tmp_path), "--verify"]) == 1
    out = capsys.readouterr().out
    assert f"cannot read image {bad}" in out and "1 unreadable image(s) in dslr/all" in out
    assert "(the benchmark has 2,817)" in out
