"""SUN397, EuroSAT, UCF101 and FGVC-Aircraft (CoOp's few-shot suite): what is specific to each, on the
miniatures of ``mini_b``: label-order anchors and CoOp's renaming rules, one missing image named,
EuroSAT's opt-out of the small-image profile, and FGVC-Aircraft's own list files."""

from __future__ import annotations

import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from udabench import DataError
from udabench.contract.registry import get_registry
from udabench.data.download import Archive, unpack
from udabench.protocol.runner import _warn_undeclared_small_images
from udabench_plugins.datasets.fewshot.eurosat import FOLDERS as EUROSAT_FOLDERS, EuroSAT
from udabench_plugins.datasets.fewshot.fgvc_aircraft import FGVCAircraft
from udabench_plugins.datasets.fewshot.sun397 import CATEGORIES, SUN397, coop_name as sun_name
from udabench_plugins.datasets.fewshot.ucf101 import ACTIONS, UCF101, coop_name as ucf_name

import mini_b

pytestmark = pytest.mark.filterwarnings("ignore::udabench.data.folders.CountMismatchWarning")
DATASETS = {"sun397": SUN397, "eurosat": EuroSAT, "ucf101": UCF101, "fgvc_aircraft": FGVCAircraft}


# -- label order and names -----------------------------------------------------------------------------
def test_sun397_labels_follow_classname_txt_named_by_coops_rule():
    assert len(SUN397.classes) == 397 and len(set(SUN397.classes)) == 397
    assert list(CATEGORIES) == sorted(CATEGORIES)  # ClassName.txt is the sorted category paths
    assert sun_name("a/apartment_building/outdoor") == "outdoor apartment_building"
    assert sun_name("t/theater/indoor_procenium") == "indoor_procenium theater"
    assert (SUN397.classes[0], SUN397.classes[8], SUN397.classes[-1]) == ("abbey", "outdoor apartment_building",
                                                                          "youth_hostel")
    assert SUN397.prompt_names[8] == "outdoor apartment building"
    assert SUN397.templates == ("a photo of a {}.",)


def test_eurosat_labels_are_the_sorted_folders_renamed_as_coop_does():
    assert EUROSAT_FOLDERS == ("AnnualCrop", "Forest", "HerbaceousVegetation", "Highway", "Industrial", "Pasture",
                               "PermanentCrop", "Residential", "River", "SeaLake")
    assert EuroSAT.classes[0] == "Annual Crop Land" and EuroSAT.classes[3] == "Highway or Road"
    assert EuroSAT.classes[-1] == "Sea or Lake"
    assert EuroSAT.templates[0].format(EuroSAT.prompt_names[0]) == "a centered satellite photo of Annual Crop Land."


def test_ucf101_labels_follow_classind_cut_at_capitals():
    assert len(UCF101.classes) == 101 and ACTIONS[0] == "ApplyEyeMakeup" and ACTIONS[-1] == "YoYo"
    assert ucf_name("RockClimbingIndoor") == "Rock_Climbing_Indoor"
    assert (UCF101.classes[0], UCF101.classes[36], UCF101.classes[-1]) == ("Apply_Eye_Makeup", "Handstand_Pushups",
                                                                            "Yo_Yo")
    assert UCF101.templates[0].format(UCF101.prompt_names[0]) == "a photo of a person doing Apply Eye Makeup."


def test_fgvc_aircraft_labels_follow_variants_txt():
    classes = FGVCAircraft.classes
    assert len(classes) == 100 and list(classes) == sorted(classes)  # variants.txt is in ASCII order
    assert (classes[0], classes[35], classes[36], classes[-1]) == ("707-320", "ATR-72", "An-12", "Yak-42")
    assert classes.index("F/A-18") == 73 and classes.index("Boeing 717") == 41
    assert FGVCAircraft.templates == ("a photo of a {}, a type of aircraft.",)


# -- loading -------------------------------------------------------------------------------------------
def test_each_miniature_loads_the_real_paths(tmp_path):
    ucf = UCF101(mini_b.ucf101(tmp_path / "ucf")).load("ucf101", "test")
    assert ucf.source.paths[36].endswith("UCF-101-midframes/Handstand_Pushups/v_HandStandPushups_g01_c01.jpg")
    sat = EuroSAT(mini_b.eurosat(tmp_path / "sat")).load("eurosat", "train")
    assert sat.source.paths[0].endswith("eurosat/2750/AnnualCrop/AnnualCrop_1.jpg")
    assert sat.source.load(0).size == (64, 64)
    planes = FGVCAircraft(mini_b.fgvc_aircraft(tmp_path / "fgvc")).load("fgvc_aircraft", "test")
    assert planes.labels.tolist() == list(range(100))
    assert planes.source.paths[73].endswith(f"fgvc_aircraft/images/{mini_b.fgvc_image_id(73, 'test', 0)}.jpg")


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_one_missing_image_is_named(tmp_path, name):
    dataset_cls = DATASETS[name]
    root = mini_b.BUILDERS[name](tmp_path)
    victim = dataset_cls(root).load(name, "val").source.paths[-1]
    Path(victim).unlink()
    with pytest.raises(DataError, match=r"1 of \d+ images the split names are missing") as e:
        dataset_cls(root).load(name, "val")
    assert victim in str(e.value)


def test_a_eurosat_split_naming_the_folders_instead_of_coops_names_is_refused(tmp_path):
    root = mini_b.eurosat(tmp_path)
    split = tmp_path / "eurosat" / "split_zhou_EuroSAT.json"
    data = json.loads(split.read_text())
    data["test"] = [[path, label, EUROSAT_FOLDERS[label]] for path, label, _ in data["test"]]
    split.write_text(json.dumps(data))
    with pytest.raises(DataError, match="names label 0 'AnnualCrop', but this dataset's label 0 is 'Annual Crop Land'"):
        EuroSAT(root).load("eurosat", "test")


# -- EuroSAT: 64-px tiles, trained as photos --------------------------------------------------------------
def test_eurosat_keeps_the_methods_defaults_though_its_tiles_are_64_px(tmp_path):
    dapl = get_registry().method("dapl")  # a method with a small-image profile
    assert EuroSAT.declared_image_size() == (64, 64) and EuroSAT.hparam_profile() is None
    sources = dapl.resolve_config(EuroSAT).sources
    assert not any(s.startswith("profile:") for s in sources.values())
    # Without the opt-out, the declared size alone would select the profile.
    following = type("FollowsSize", (EuroSAT,), {"profile": None})
    assert following.hparam_profile() == "small-image"
    assert any(s == "profile:small-image" for s in dapl.resolve_config(following).sources.values())
    # And the run does not warn that a declared size is missing.
    said = []
    _warn_undeclared_small_images(dapl, EuroSAT(mini_b.eurosat(tmp_path)), EuroSAT.tasks[0], said.append)
    assert said == []


# -- FGVC-Aircraft's list files --------------------------------------------------------------------------
def test_fgvc_lines_are_parsed_with_spaces_and_slashes_in_variants(tmp_path):
    root = mini_b.fgvc_aircraft(tmp_path)
    base = tmp_path / "fgvc_aircraft"
    (base / "images_variant_val.txt").write_text("0034309 F/A-18\n\n1025794 Boeing 717\n")
    for image_id in ("0034309", "1025794"):
        mini_b.write_image(base / "images" / f"{image_id}.jpg", 0)
    val = FGVCAircraft(root).load("fgvc_aircraft", "val")
    assert val.labels.tolist() == [73, 41]
    assert [p.rsplit("/", 1)[1] for p in val.source.paths] == ["0034309.jpg", "1025794.jpg"]


def test_fgvc_refuses_an_unknown_variant_a_line_without_one_and_another_variant_order(tmp_path):
    root = mini_b.fgvc_aircraft(tmp_path)
    base = tmp_path / "fgvc_aircraft"
    listed = base / "images_variant_test.txt"
    lines = listed.read_text().splitlines(keepends=True)
    listed.write_text("".join(lines[:2]) + "0034309 Boeing 787\n")
    with pytest.raises(DataError, match=r"images_variant_test.txt, line 3: unknown variant 'Boeing 787'"):
        FGVCAircraft(root).load("fgvc_aircraft", "test")
    listed.write_text("0034309\n")
    with pytest.raises(DataError, match=r"line 1: '0034309' is not '<image id> <variant>'"):
        FGVCAircraft(root).load("fgvc_aircraft", "test")
    listed.write_text("".join(lines))
    variants = base / "variants.txt"
    names = variants.read_text().splitlines()
    variants.write_text("\n".join([names[1], names[0], *names[2:]]) + "\n")
    with pytest.raises(DataError, match="variant 0 is '727-200', but this dataset's label 0 is '707-320'"):
        FGVCAircraft(root).load("fgvc_aircraft", "test")
    variants.write_text("\n".join(names[:-1]) + "\n")
    with pytest.raises(DataError, match="lists 99 variants; FGVC-Aircraft 2013b has 100"):
        FGVCAircraft(root).load("fgvc_aircraft", "test")


def test_fgvc_names_a_missing_list_file_with_the_layout(tmp_path):
    root = mini_b.fgvc_aircraft(tmp_path)
    (tmp_path / "fgvc_aircraft" / "images_variant_val.txt").unlink()
    with pytest.raises(DataError, match="no images_variant_val.txt in .*fgvc_aircraft") as e:
        FGVCAircraft(root).load("fgvc_aircraft", "val")
    assert "variants.txt" in str(e.value) and "udabench data info fgvc_aircraft" in str(e.value)


# -- the archives unpack to a layout the plugins read --------------------------------------------------------
def test_the_fgvc_archive_unpacked_as_it_comes_is_read(tmp_path):
    mini_b.fgvc_aircraft(tmp_path / "stage", folder="fgvc-aircraft-2013b/data")
    archive = tmp_path / "fgvc-aircraft-2013b.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "stage" / "fgvc-aircraft-2013b", arcname="fgvc-aircraft-2013b")
    root = tmp_path / "data"
    unpack(archive, root, Archive.from_spec(FGVCAircraft.downloads["official"][0]), progress=False)
    test = FGVCAircraft(root).load("fgvc_aircraft", "test")
    assert test.source.paths[0].startswith(str(root / "fgvc_aircraft" / "fgvc-aircraft-2013b" / "data" / "images"))
    assert len(test) == 100


def test_the_eurosat_zip_unpacks_to_2750(tmp_path):
    mini_b.eurosat(tmp_path / "stage")
    archive = tmp_path / "EuroSAT.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted((tmp_path / "stage" / "eurosat" / "2750").rglob("*.jpg")):
            zf.write(path, path.relative_to(tmp_path / "stage" / "eurosat").as_posix())
    root = tmp_path / "data"
    zip_spec, split_spec = EuroSAT.downloads["official"]
    unpack(archive, root, Archive.from_spec(zip_spec), progress=False)
    split = tmp_path / "stage" / "eurosat" / "split_zhou_EuroSAT.json"
    unpack(split, root, Archive.from_spec(split_spec), progress=False)
    assert len(EuroSAT(root).load("eurosat", "test")) == 10
