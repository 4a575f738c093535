"""CIFAR-10, CIFAR-100, MNIST, STL-10 and FER2013 as ReCLIP's benchmark reads them: label order and prompt
anchors, the official record layouts parsed as torchvision parses them, the restricted unpickler (a
malicious pickle in CIFAR's place runs nothing), damaged and partial trees named in one DataError, the
download specs unpacking where the loader looks, and a ReCLIP run that adapts on the scored test split
under ``--transductive``."""

from __future__ import annotations

import collections
import gzip
import os
import pickle
import tarfile
import warnings

import numpy as np
import pytest

import udabench
import udabench.cli
from udabench import DataError, safe_unpickle
from udabench.contract.registry import get_registry
from udabench.data.download import Archive, unpack
from udabench.data.folders import CountMismatchWarning
from udabench.protocol.task import TRANSDUCTIVE_TAG, build_adapt_data
from udabench.tracking.tracker import Tracker
from udabench_plugins.datasets.reclip.cifar import Cifar10, Cifar100
from udabench_plugins.datasets.reclip.fer2013 import FER2013, RECLIP_NAMES
from udabench_plugins.datasets.reclip.mnist import MNIST
from udabench_plugins.datasets.reclip.stl10 import STL10

from mini_r1 import (BUILDERS, cifar_data, fer_rows, idx_bytes, mnist_data, pixels_text, py2_pickle, stl10_data,
                     write_cifar_binary, write_cifar_python)

pytestmark = pytest.mark.filterwarnings("ignore::udabench.data.folders.CountMismatchWarning")

#: name -> (class count, first class, last class, template count, first template): ReCLIP's prompts/clip_prompts.
FACTS = {
    "cifar10": (10, "airplane", "truck", 18, "a photo of a {}."),
    "cifar100": (100, "apple", "worm", 18, "a photo of a {}."),
    "mnist": (10, "0", "9", 1, 'a photo of the number: "{}".'),
    "stl10": (10, "airplane", "truck", 2, "a photo of a {}."),
    "fer2013": (7, "angry", "neutral", 6, "a photo of a {} looking face."),
}
#: name -> (stored side in px, train size, test size): the official archives'.
SIZES = {"cifar10": (32, 50000, 10000), "cifar100": (32, 50000, 10000), "mnist": (28, 60000, 10000),
         "stl10": (96, 5000, 8000), "fer2013": (48, 28709, 3589)}


def load(dataset, split: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CountMismatchWarning)
        return dataset.load(dataset.name, split)


def pixels(images) -> np.ndarray:
    return images.source.array


# -- label order, prompts, splits ---------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(FACTS))
def test_label_order_anchors_reclips_prompts_and_splits(name):
    cls = get_registry().dataset(name)
    count, first, last, n_templates, template = FACTS[name]
    assert (len(cls.classes), cls.classes[0], cls.classes[-1]) == (count, first, last)
    assert (len(cls.templates), cls.templates[0]) == (n_templates, template)
    assert (cls.train_split, cls.adapt_split, cls.eval_split, cls.val_split) == ("train", "train", "test", None)
    side, train, test = SIZES[name]
    assert cls.declared_image_size() == (side, side) and cls.expected_counts == {"train": train, "test": test}
    assert cls.hparam_profile() is None  # seen at 224 px in ReCLIP's protocol: not the small-image profile
    assert cls.tasks == (udabench.Task(name, name, name),)


def test_cifar100_names_are_the_alphabetical_fine_labels_with_spaces():
    folded = [c.replace(" ", "_") for c in Cifar100.classes]
    assert folded == sorted(folded)  # the archive's fine_label_names are alphabetical
    assert Cifar100.classes[1] == "aquarium fish" and Cifar100.classes[41] == "lawn mower"


def test_fer2013_classes_are_the_first_of_reclips_names_in_emotion_code_order():
    assert RECLIP_NAMES[3] == ("happy", "smiling") and RECLIP_NAMES[5] == ("surprised", "shocked", "spooked")
    assert FER2013.classes == ("angry", "disgusted", "fearful", "happy", "sad", "surprised", "neutral")
    assert FER2013.class_prompt_names() == FER2013.classes


def test_only_mnist_refuses_a_horizontal_flip():
    assert [n for n in sorted(FACTS) if not get_registry().dataset(n).hflip_ok] == ["mnist"]


# -- CIFAR: the binary records ---------------------------------------------------------------------------
def test_a_cifar10_binary_record_is_a_label_byte_then_the_red_green_blue_planes_row_by_row(tmp_path):
    write_cifar_binary(tmp_path, Cifar10)
    planes = np.zeros((3, 32, 32), np.uint8)
    planes[0, 0, 1] = 200  # red, row 0, column 1
    planes[1] = 17         # green everywhere
    planes[2, 31, 0] = 99  # blue, last row, first column
    (tmp_path / "cifar-10-batches-bin" / "test_batch.bin").write_bytes(
        bytes([7]) + planes.tobytes() + bytes([2]) + bytes(3072))
    test = load(Cifar10(tmp_path), "test")
    assert test.labels.tolist() == [7, 2]
    image = pixels(test)[0]
    assert image[0, 1, 0] == 200 and image[1, 0, 0] == 0 and image[31, 0, 2] == 99 and image[0, 31, 2] == 0
    assert (image[..., 1] == 17).all()
    assert test.source.load(0).getpixel((1, 0)) == (200, 17, 0)  # PIL: (x = column, y = row)


def test_a_cifar100_binary_record_holds_the_coarse_then_the_fine_label_and_the_fine_one_is_read(tmp_path):
    write_cifar_binary(tmp_path, Cifar100)
    (tmp_path / "cifar-100-binary" / "test.bin").write_bytes(bytes([3, 42]) + bytes(3072) + bytes([19, 99]) + bytes(3072))
    assert load(Cifar100(tmp_path), "test").labels.tolist() == [42, 99]


@pytest.mark.parametrize("cls", [Cifar10, Cifar100], ids=["cifar10", "cifar100"])
def test_both_cifar_versions_give_the_images_and_labels_written(tmp_path, cls):
    data = cifar_data(cls)
    write_cifar_binary(tmp_path / "bin", cls, data)
    write_cifar_python(tmp_path / "py", cls, data)
    for split in ("train", "test"):
        images, labels = data[split]
        for root in (tmp_path / "bin", tmp_path / "py"):
            got = load(cls(root), split)
            assert got.labels.tolist() == labels and np.array_equal(pixels(got), images), (root.name, split)


def test_the_binary_version_is_read_when_both_are_there(tmp_path):
    data = cifar_data(Cifar10)
    write_cifar_python(tmp_path, Cifar10, data)
    write_cifar_binary(tmp_path, Cifar10, data)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(b"not a pickle")
    assert load(Cifar10(tmp_path), "test").labels.tolist() == data["test"][1]


def test_torchvision_reads_the_python_miniature_as_udabench_does(tmp_path, monkeypatch):
    """The miniature's pickles are the official format: torchvision's own CIFAR10 (its md5 checks
    switched off, since the miniature's files are not the real ones) reads the same images and labels."""
    import torchvision.datasets.cifar as tv_cifar

    write_cifar_python(tmp_path, Cifar10)
    monkeypatch.setattr(tv_cifar, "check_integrity", lambda *args, **kwargs: True)
    for train, split in ((True, "train"), (False, "test")):
        reference = tv_cifar.CIFAR10(str(tmp_path), train=train)
        ours = load(Cifar10(tmp_path), split)
        assert np.array_equal(pixels(ours), reference.data) and ours.labels.tolist() == reference.targets
    assert reference.classes == list(Cifar10.classes)  # batches.meta's names, ReCLIP's order


# -- CIFAR: the python version, through the restricted unpickler -------------------------------------------
def bytes_keys(obj):
    """A dict with its str keys as bytes, as the real files' keys come out of ``encoding="bytes"``."""
    return {k.encode(): v for k, v in obj.items()} if isinstance(obj, dict) else obj


def test_a_genuine_format_protocol_2_pickle_with_bytes_keys_reads_right(tmp_path):
    data = cifar_data(Cifar10)
    write_cifar_python(tmp_path, Cifar10, data, dump=lambda obj: pickle.dumps(bytes_keys(obj), protocol=2))
    raw = (tmp_path / "cifar-10-batches-py" / "test_batch").read_bytes()
    assert b"_codecs" in raw and b"numpy" in raw  # bytes and arrays as Python 3 writes them in protocol 2
    batch = safe_unpickle(tmp_path / "cifar-10-batches-py" / "test_batch")
    assert set(batch) == {b"batch_label", b"data", b"labels", b"filenames"}
    assert batch[b"data"].dtype == np.uint8 and batch[b"data"].shape == (10, 3072)
    test = load(Cifar10(tmp_path), "test")
    assert test.labels.tolist() == data["test"][1] and np.array_equal(pixels(test), data["test"][0])


class _Shell:
    """Unpickling this runs a shell command (``os.system``)."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


class _Writer:
    """Unpickling this writes a file (``exec`` of Python code)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return exec, (f"open({self.path!r}, 'w').write('pwned')",)


@pytest.mark.parametrize("payload", ["shell", "writer"])
def test_a_malicious_pickle_in_place_of_data_batch_1_is_refused_and_runs_nothing(tmp_path, payload):
    write_cifar_python(tmp_path, Cifar10)
    marker = tmp_path / "marker"
    evil = _Shell(f"touch {marker}") if payload == "shell" else _Writer(marker)
    batch = tmp_path / "cifar-10-batches-py" / "data_batch_1"
    batch.write_bytes(pickle.dumps({b"data": evil, b"labels": [0]}, protocol=2))
    with pytest.raises(DataError) as e:
        load(Cifar10(tmp_path), "train")
    # what the file asks for: os.system is posix.system on Linux; protocol 2 spells builtins __builtin__
    called = f"{os.system.__module__}.system" if payload == "shell" else "__builtin__.exec"
    assert str(batch) in str(e.value) and called in str(e.value) and "nothing was run" in str(e.value)
    assert not marker.exists()
    assert load(Cifar10(tmp_path), "test").labels.size == 10  # the other files are still read


def test_the_writer_payload_is_live_under_plain_pickle(tmp_path):
    """The control: the very payload the unpickler refuses does write its file under ``pickle.loads``."""
    marker = tmp_path / "control"
    pickle.loads(pickle.dumps({b"data": _Writer(marker)}, protocol=2))
    assert marker.read_text() == "pwned"


def test_safe_unpickle_refuses_object_arrays_foreign_classes_and_damaged_files():
    with pytest.raises(DataError, match="holds Python objects"):
        safe_unpickle(pickle.dumps(np.array([1, "a"], dtype=object), protocol=2))
    with pytest.raises(DataError, match=r"collections\.OrderedDict"):
        safe_unpickle(pickle.dumps(collections.OrderedDict(a=1), protocol=2))
    with pytest.raises(DataError, match="not a readable pickle"):
        safe_unpickle(pickle.dumps({b"data": np.zeros(4, np.uint8)}, protocol=2)[:-20])
    with pytest.raises(DataError, match="only latin1"):
        safe_unpickle(b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x06\x00\x00\x00rot_13\x86R.")


def test_safe_unpickle_reads_python_2_pickles_as_the_official_files_are():
    raw = py2_pickle({"data": np.arange(6, dtype=np.uint8).reshape(2, 3), "labels": [1, 2]})
    assert b"numpy.core.multiarray" in raw and b"_codecs" not in raw
    out = safe_unpickle(raw)
    assert out[b"labels"] == [1, 2] and out[b"data"].tolist() == [[0, 1, 2], [3, 4, 5]]
    assert "safe_unpickle" in udabench.__all__


# -- MNIST -----------------------------------------------------------------------------------------------
def test_mnist_reads_the_idx_files_as_torchvision_does_unpacked_or_gz(tmp_path):
    import torchvision.datasets as tvd

    BUILDERS["mnist"](tmp_path)  # test files unpacked, train files as .gz
    images, labels = mnist_data()["train"]
    train = load(MNIST(tmp_path), "train")
    assert train.labels.tolist() == labels and np.array_equal(pixels(train)[..., 1], images)
    raw = tmp_path / "MNIST" / "raw"
    for packed in raw.glob("*.gz"):  # torchvision reads unpacked files only (and checks no md5)
        packed.with_suffix("").write_bytes(gzip.decompress(packed.read_bytes()))
    for train_flag, split in ((True, "train"), (False, "test")):
        reference = tvd.MNIST(str(tmp_path), train=train_flag)
        ours = load(MNIST(tmp_path), split)
        assert np.array_equal(pixels(ours)[..., 0], reference.data.numpy())
        assert ours.labels.tolist() == reference.targets.tolist()
        assert (pixels(ours)[..., 0] == pixels(ours)[..., 2]).all()  # gray in all three channels


def test_an_idx_file_of_another_type_is_named(tmp_path):
    BUILDERS["mnist"](tmp_path)
    path = tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    path.write_bytes(bytes([0, 0, 0x0D, 3]) + path.read_bytes()[4:])  # 0x0D: float32 values
    with pytest.raises(DataError, match="magic number is 00000d03") as e:
        load(MNIST(tmp_path), "test")
    assert str(path) in str(e.value)


def test_a_missing_mnist_label_file_is_named_with_its_gz(tmp_path):
    BUILDERS["mnist"](tmp_path)
    (tmp_path / "MNIST" / "raw" / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="no file .*train-labels-idx1-ubyte or .*train-labels-idx1-ubyte.gz") as e:
        load(MNIST(tmp_path), "train")
    assert "udabench data info mnist" in str(e.value)


def test_mnist_image_and_label_counts_must_agree(tmp_path):
    BUILDERS["mnist"](tmp_path)
    (tmp_path / "MNIST" / "raw" / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(9, np.uint8)))
    with pytest.raises(DataError, match="10 images but 9 labels"):
        load(MNIST(tmp_path), "test")


# -- STL-10 ----------------------------------------------------------------------------------------------
def test_stl10_planes_are_stored_column_by_column(tmp_path):
    BUILDERS["stl10"](tmp_path)
    path = tmp_path / "stl10_binary" / "test_X.bin"
    raw = bytearray(path.read_bytes())
    raw[:96] = bytes([255]) * 96  # the first 96 red values: column 0, top to bottom
    raw[96:192] = bytes(96)       # the next 96: column 1
    path.write_bytes(bytes(raw))
    image = pixels(load(STL10(tmp_path), "test"))[0]
    assert (image[:, 0, 0] == 255).all() and (image[:, 1, 0] == 0).all()


def test_torchvision_reads_the_stl10_miniature_as_udabench_does(tmp_path, monkeypatch):
    from torchvision.datasets import STL10 as TorchSTL10

    data = stl10_data()
    BUILDERS["stl10"](tmp_path)
    monkeypatch.setattr(TorchSTL10, "_check_integrity", lambda self: True)  # the miniature is not the real files
    reference = TorchSTL10(str(tmp_path), split="test")
    test = load(STL10(tmp_path), "test")
    assert np.array_equal(pixels(test), reference.data.transpose(0, 2, 3, 1))  # its __getitem__'s transpose
    assert test.labels.tolist() == reference.labels.tolist() == data["test"][1]
    assert reference.classes == list(STL10.classes)  # class_names.txt: ReCLIP's order


def test_an_stl10_label_outside_1_to_10_is_named(tmp_path):
    BUILDERS["stl10"](tmp_path)
    path = tmp_path / "stl10_binary" / "test_y.bin"
    path.write_bytes(bytes([0]) + path.read_bytes()[1:])
    with pytest.raises(DataError, match="image 0 has the label 0; STL-10's are 1..10") as e:
        load(STL10(tmp_path), "test")
    assert str(path) in str(e.value)


def test_stl10_pixels_and_labels_of_different_counts_are_refused(tmp_path):
    BUILDERS["stl10"](tmp_path)
    path = tmp_path / "stl10_binary" / "train_X.bin"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="not a whole number of 27,648-byte records"):
        load(STL10(tmp_path), "train")


# -- FER2013 ---------------------------------------------------------------------------------------------
def test_fer2013_scores_the_public_test_rows_and_trains_on_the_training_rows_in_file_order(tmp_path):
    BUILDERS["fer2013"](tmp_path)
    dataset = FER2013(tmp_path)
    for split, usage in (("test", "PublicTest"), ("train", "Training")):
        faces, labels = fer_rows(usage)
        got = load(dataset, split)
        assert got.labels.tolist() == labels and np.array_equal(pixels(got)[..., 0], faces)


def test_reclips_headerless_public_test_csv_is_read_first_and_pixels_run_row_by_row(tmp_path):
    BUILDERS["fer2013"](tmp_path)
    face = np.zeros((48, 48), np.uint8)
    face[0, 1] = 255
    (tmp_path / "fer2013" / "public_test.csv").write_text(f"4,{pixels_text(face)}\n6,{pixels_text(face.T)}\n")
    test = load(FER2013(tmp_path), "test")
    assert test.labels.tolist() == [4, 6]
    assert pixels(test)[0, 0, 1, 0] == 255 and pixels(test)[1, 1, 0, 2] == 255
    assert len(load(FER2013(tmp_path), "train")) == 14  # still fer2013.csv's Training rows


def test_fer2013_reads_icml_face_data_csv_and_its_spaced_column_names(tmp_path):
    faces, labels = fer_rows("PublicTest")
    rows = ["emotion, Usage, pixels"] + [f"{l},PublicTest,{pixels_text(f)}" for f, l in zip(faces, labels)]
    (tmp_path / "fer2013").mkdir()
    (tmp_path / "fer2013" / "icml_face_data.csv").write_text("\n".join(rows) + "\n0,Training,1 2\n")
    assert load(FER2013(tmp_path), "test").labels.tolist() == labels


@pytest.mark.parametrize("row, problem", [
    ("3,{short},PublicTest", "line 3: 2303 pixel values, not 2304"),
    ("7,{face},PublicTest", "line 3: the emotion is '7', not one of 0..6"),
    ("2,{face} x,PublicTest", "line 3: the pixels are not all integers"),
])
def test_a_damaged_fer2013_row_is_named_with_its_line(tmp_path, row, problem):
    faces, labels = fer_rows("PublicTest")
    face = pixels_text(faces[0])
    lines = ["emotion,pixels,Usage", f"{labels[0]},{face},PublicTest",
             row.format(face=face, short=face.rsplit(" ", 1)[0])]
    (tmp_path / "fer2013").mkdir()
    path = tmp_path / "fer2013" / "fer2013.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=problem) as e:
        load(FER2013(tmp_path), "test")
    assert str(path) in str(e.value)


def test_a_fer2013_folder_without_its_files_names_each_one_looked_for(tmp_path):
    (tmp_path / "fer2013").mkdir()
    (tmp_path / "fer2013" / "test.csv").write_text("pixels\n1 2 3\n")  # the challenge's unlabeled test file
    with pytest.raises(DataError, match="none of public_test.csv, fer2013.csv, icml_face_data.csv is in"):
        load(FER2013(tmp_path), "test")


# -- partial or damaged CIFAR trees ------------------------------------------------------------------------
def test_a_missing_cifar_batch_is_one_error_naming_it(tmp_path):
    BUILDERS["cifar10"](tmp_path)
    (tmp_path / "cifar-10-batches-bin" / "data_batch_3.bin").unlink()
    with pytest.raises(DataError) as e:
        load(Cifar10(tmp_path), "train")
    message = str(e.value)
    assert f"no file {tmp_path / 'cifar-10-batches-bin' / 'data_batch_3.bin'}" in message
    assert "Expected layout:" in message and "cs.toronto.edu/~kriz/cifar.html" in message
    assert len(load(Cifar10(tmp_path), "test")) == 10


def test_a_truncated_cifar_batch_is_named_as_damaged(tmp_path):
    write_cifar_binary(tmp_path, Cifar100)
    path = tmp_path / "cifar-100-binary" / "test.bin"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="not a whole number of 3,074-byte records") as e:
        load(Cifar100(tmp_path), "test")
    assert str(path) in str(e.value)


def test_a_cifar_root_with_neither_version_names_both_folders(tmp_path):
    with pytest.raises(DataError) as e:
        load(Cifar100(tmp_path), "test")
    assert f"neither {tmp_path / 'cifar-100-binary'} (the binary version) nor {tmp_path / 'cifar-100-python'}" in str(e.value)


# -- downloads ---------------------------------------------------------------------------------------------
def tar_of(folder, path):
    """``folder`` as a .tar.gz at ``path``, its top folder kept (as the official archives hold theirs)."""
    with tarfile.open(path, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)


@pytest.mark.parametrize("name, packaging, builder", [
    ("cifar10", "binary", lambda root: write_cifar_binary(root, Cifar10)),
    ("cifar10", "python", lambda root: write_cifar_python(root, Cifar10)),
    ("cifar100", "binary", lambda root: write_cifar_binary(root, Cifar100)),
    ("stl10", "official", BUILDERS["stl10"]),
])
def test_download_archives_unpack_where_the_loader_looks(tmp_path, name, packaging, builder):
    cls = get_registry().dataset(name)
    (archive,) = [Archive.from_spec(spec) for spec in cls.downloads[packaging]]
    assert archive.is_archive and len(archive.md5) == 32 and archive.urls
    builder(tmp_path / "made")
    tar_of(tmp_path / "made" / archive.into, tmp_path / archive.name)
    unpack(tmp_path / archive.name, tmp_path / "data", archive, progress=False)
    assert len(load(cls(tmp_path / "data"), "test")) == 10 * (10 if name == "cifar100" else 1)


def test_mnists_gz_files_are_copied_where_the_loader_reads_them(tmp_path):
    archives = [Archive.from_spec(spec) for spec in MNIST.downloads["official"]]
    assert len(archives) == 4 and all(not a.is_archive and len(a.md5) == 32 and len(a.urls) == 2 for a in archives)
    for split, (images, labels) in mnist_data().items():
        prefix = "train" if split == "train" else "t10k"
        for kind, array in (("images-idx3", images), ("labels-idx1", np.asarray(labels, np.uint8))):
            name = f"{prefix}-{kind}-ubyte.gz"
            (tmp_path / name).write_bytes(gzip.compress(idx_bytes(array)))
            unpack(tmp_path / name, tmp_path / "data", next(a for a in archives if a.name == name), progress=False)
    assert load(MNIST(tmp_path / "data"), "test").labels.tolist() == mnist_data()["test"][1]


# -- ReCLIP's protocol: adapt on the scored split ------------------------------------------------------------
def test_reclip_adapts_on_the_cifar10_test_split_under_transductive(tmp_path, mlflow_uri):
    root = BUILDERS["cifar10"](tmp_path / "data")
    code = udabench.cli.main(["run", "--method", "reclip", "--dataset", "cifar10", "--root", str(root),
                              "--backbone", "toyclip", "--device", "cpu", "--tracking-uri", mlflow_uri,
                              "--no-progress", "--seeds", "0", "--transductive", "--set", "epochs=1", "--set", "k=2"])
    assert code == 0
    (run,) = Tracker(mlflow_uri).task_runs("cifar10")
    assert run.data.tags[TRANSDUCTIVE_TAG] == "true" and run.data.metrics["eval_images"] == 10
    dataset = Cifar10(root)
    method = get_registry().method("reclip")
    config = method.resolve_config(Cifar10, set_overrides={"epochs": 1})
    data, evaluation = build_adapt_data(method, config, dataset, dataset.tasks[0], seed=0, transductive=True)
    test = load(dataset, "test")
    assert evaluation.target_is_evaluation and np.array_equal(evaluation.target.source.array, pixels(test))
    assert len(data.target) == len(test) == 10
    _, inductive = build_adapt_data(method, config, dataset, dataset.tasks[0], seed=0)
    assert not inductive.target_is_evaluation and len(inductive.target) == 20
