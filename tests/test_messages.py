"""The messages a new user meets first (udabench issue 17, item 5): unknown names, a --set of the
wrong type, weights offline, a packaging that cannot be downloaded, a dataset that generates
itself, a long list of architectures, `list --help`, a seed-independent method given several
seeds, and a dry run that must warn of what the real sweep refuses.

Fast by construction: the digits generator is replaced by a tiny one where data is needed, and
the one run uses ten blank images."""

from __future__ import annotations

import re
import socket
import sys
import textwrap
import types
from pathlib import Path

import numpy as np
import pytest

from udabench import DataError, Dataset, ImageList, ImageSource, Task
from udabench.contract.errors import UnknownNameError
from udabench.cli import main
from udabench.contract.names import MAX_LISTED, WIDTH, plural, unknown_message
from udabench.contract.registry import get_registry


# -- 1. unknown names --------------------------------------------------------------------------------
def test_an_unknown_task_names_the_dataset_not_the_typo(capsys):
    assert main(["run", "--method", "zeroshot", "--dataset", "digits", "--task", "printed2mnist"]) == 2
    err = capsys.readouterr().err
    assert "unknown task 'printed2mnist' of dataset digits." in err
    assert "Did you mean 'printed2handwritten'" in err
    assert "Known tasks of dataset digits: blended2dotmatrix, " in err and "digitss" not in err


def test_a_backbone_no_plugin_takes_fails_before_a_store_is_created(tmp_path, capsys):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["run", "--method", "zeroshot", "--dataset", "digits", "--backbone", "ViT-B-16/openai",
                 "--tracking-uri", uri]) == 2
    assert "unknown backbone 'ViT-B-16/openai'" in capsys.readouterr().err
    assert not (tmp_path / "mlflow.db").exists()


def test_an_unknown_hyperparameter_names_the_method_and_the_closest(capsys):
    assert main(["run", "--method", "source-ft", "--dataset", "digits", "--set", "epoch=3"]) == 2
    err = capsys.readouterr().err
    names = ", ".join(sorted(h.name for h in get_registry().method("source-ft").hparams))
    assert "--set: unknown hyperparameter 'epoch' of method source-ft. Did you mean 'epochs'?" in err
    assert f"Known hyperparameters of method source-ft: {names}." in err and "source-fts" not in err


def test_a_launcher_option_and_a_name_without_owner_read_alike():
    from udabench.contract.errors import ConfigError

    launcher = get_registry().launcher("submitit")
    with pytest.raises(ConfigError) as exc:
        launcher.resolve_options({}, {"partiton": "gpu"})
    msg = str(exc.value)
    assert "unknown option 'partiton' of launcher 'submitit'. Did you mean 'partition'?" in msg
    assert "Known options of launcher 'submitit': " in msg
    assert unknown_message("suite", "zzz", ["a-suite"]) == "unknown suite 'zzz'. Known suites: a-suite."


@pytest.mark.parametrize("noun, expected", [("task", "tasks"), ("open_clip architecture", "open_clip architectures"),
                                            ("packaging", "packagings"), ("sweep key", "sweep keys"),
                                            ("--selection", "--selection values"), ("class", "classes"),
                                            ("strategy", "strategies"), ("key", "keys")])
def test_plurals(noun, expected):
    assert plural(noun) == expected


# -- 2. a --set of the wrong type ----------------------------------------------------------------------
@pytest.mark.parametrize("pair, first_line", [
    ("epochs=two", "--set: epochs must be int, got 'two' (str)."),
    ("epochs=-1", "--set: epochs must be an integer >= 1, got -1."),
])
def test_a_bad_value_is_one_sentence_and_the_help_its_own_line(pair, first_line, capsys):
    assert main(["run", "--method", "source-ft", "--dataset", "digits", "--set", pair]) == 2
    err = capsys.readouterr().err.rstrip("\n").splitlines()
    help_text = next(h.help for h in get_registry().method("source-ft").hparams if h.name == "epochs")
    assert help_text and err == [f"udabench: error: {first_line}", f"  epochs: {help_text}"]


def test_a_bad_choice_says_the_choices_then_the_help():
    from udabench import HParam
    from udabench.contract.errors import ConfigError

    with pytest.raises(ConfigError) as exc:
        HParam("mode", "a", "how to do it", choices=("a", "b")).coerce("c", "--set")
    assert str(exc.value) == "--set: mode must be one of ['a', 'b'], got 'c'.\n  mode: how to do it"


# -- 3. weights offline: the Hugging Face command that is installed ----------------------------------
def test_the_recommended_hugging_face_command_is_installed():
    from udabench.model.weights import hf_cli

    assert (Path(sys.executable).parent / hf_cli()).is_file()


def test_an_old_hub_with_only_huggingface_cli_gets_that(monkeypatch):
    import importlib.metadata

    from udabench.model.weights import hf_cli

    old = types.SimpleNamespace(entry_points=[types.SimpleNamespace(name="huggingface-cli", group="console_scripts")])
    monkeypatch.setattr(importlib.metadata, "distribution", lambda name: old)
    assert hf_cli() == "huggingface-cli"


def test_the_offline_weights_message_recommends_that_command(monkeypatch):
    from udabench import WeightsUnavailableError, create_open_clip
    from udabench.model import weights

    monkeypatch.setattr(weights, "_hf_cached", lambda repo, names: None)
    monkeypatch.setattr(weights, "host_reachable", lambda host, *a, **k: False)
    with pytest.raises(WeightsUnavailableError) as exc:
        create_open_clip("ViT-B-32:openai")
    msg = str(exc.value)
    assert f"`{weights.hf_cli()} download timm/vit_base_patch32_clip_224.openai " in msg
    if weights.hf_cli() == "hf":
        assert "huggingface-cli" not in msg


# -- 4. every file of a packaging that cannot be had, in one message --------------------------------
@pytest.fixture
def closed_port_url():
    """A URL on 127.0.0.1 where nothing listens: a connection is refused, as offline."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_offline_download_names_every_missing_file_with_its_url(tmp_path, closed_port_url, monkeypatch):
    from udabench.data.download import MIRRORS_ENV, download

    monkeypatch.delenv(MIRRORS_ENV, raising=False)
    specs = [{"name": "image_list.zip", "into": "fake/image_list", "urls": [f"{closed_port_url}/lists"]},
             {"name": "notes.txt", "into": "fake", "urls": [f"{closed_port_url}/notes"]},
             {"name": "Art.tgz", "into": "fake/Art", "urls": [f"{closed_port_url}/art", "http://127.0.0.1:9/art"]}]
    by_hand = tmp_path / ".downloads" / "fake" / "notes.txt"  # brought here by hand: not missing
    by_hand.parent.mkdir(parents=True)
    by_hand.write_text("read me")
    dataset = types.SimpleNamespace(name="fake", downloads={"test": specs}, source_info="the fake page")
    with pytest.raises(DataError) as exc:
        download(dataset, tmp_path, progress=False, echo=lambda line: None)
    msg = str(exc.value)
    assert msg.startswith("cannot download 2 files of the 'test' packaging of fake:")
    for name, urls in (("image_list.zip", [f"{closed_port_url}/lists"]),
                       ("Art.tgz", [f"{closed_port_url}/art", "http://127.0.0.1:9/art"])):
        assert f"  {name} (copy it to {tmp_path / '.downloads' / 'fake' / name}):" in msg
        assert all(f"    - {url}: " in msg for url in urls)
    assert f"{closed_port_url}/art: not tried" in msg  # its host was found unreachable for the first file
    assert "notes.txt" not in msg and (tmp_path / "fake" / "notes.txt").read_text() == "read me"
    assert "this machine seems to be offline" in msg


# -- 5 and 6. a dataset that generates its own data ------------------------------------------------------
@pytest.fixture
def tiny_digits(tmp_path, monkeypatch):
    """digits with a fresh cache and a generator that draws 20 blank images a domain (counted)."""
    from udabench_plugins.datasets.digits import storage

    drawn = []

    def render(domain, seed=0):
        drawn.append(domain)
        return np.full((20, 32, 32, 3), 7, np.uint8), np.arange(20, dtype=np.int64) % 10

    monkeypatch.setenv("UDABENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(storage, "render_domain", render)
    return types.SimpleNamespace(drawn=drawn, folder=tmp_path / "cache" / "digits" / f"v{storage.GENERATOR_VERSION}")


def test_downloading_digits_generates_it_and_says_where(tiny_digits, tmp_path, capsys):
    from udabench_plugins.datasets.digits import Digits

    assert main(["data", "download", "digits", "--root", str(tmp_path / "data"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert sorted(tiny_digits.drawn) == sorted(Digits.domains)
    assert all((tiny_digits.folder / f"{d}.safetensors").is_file() for d in Digits.domains)
    assert f"digits is ready under {tiny_digits.folder}: nothing to download." in out
    assert re.search(r"printed +train +\d+ images", out) and "Get it from" not in out


class Missing(Dataset):
    """A dataset with no download packaging whose files are not there."""

    name = "missing-data"
    classes = ("a", "b")
    domains = ("x",)
    tasks = (Task("missing-data", "x", "x"),)
    source_info = "the authors' page"

    def load(self, domain, split):
        raise DataError(f"no {domain}/{split} under {self.root}")


def test_a_dataset_without_download_and_without_its_files_says_where_to_get_them(tmp_path):
    from udabench.data.download import without_download

    lines = []
    with pytest.raises(DataError, match=r"missing-data has no public download, .* Get it from the authors' page"):
        without_download(Missing, tmp_path, progress=False, echo=lines.append)
    assert any("missing:" in line for line in lines)


def test_data_info_says_where_generated_data_is(tiny_digits, tmp_path, capsys):
    assert main(["data", "info", "digits", "--root", str(tmp_path / "data"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert f"Data under {tiny_digits.folder} (not the data root: digits keeps its files there):" in out
    assert f"Data under {tmp_path / 'data'}" not in out
    assert Missing(tmp_path).data_location() == tmp_path  # by default: the data root


# -- 7. an unknown architecture: the closest few and how to list them all ------------------------------
def test_an_unknown_architecture_is_not_a_wall_of_names():
    import open_clip

    from udabench import create_open_clip

    with pytest.raises(UnknownNameError) as exc:
        create_open_clip("NoSuchArch:openai")
    msg = str(exc.value)
    assert f"{len(open_clip.list_models())} open_clip architectures are known" in msg
    assert "`udabench list --open-clip`" in msg and "ViT-B-16" not in msg and len(msg) < 200
    with pytest.raises(UnknownNameError, match=r"Did you mean 'ViT-B-16'"):
        create_open_clip("vit-b-16:openai")


def test_list_open_clip_lists_architectures_and_tags_wrapped(capsys):
    assert main(["list", "--open-clip"]) == 0
    lines = capsys.readouterr().out.splitlines()
    vit = next(line for line in lines if line.split()[:1] == ["ViT-B-16"])
    assert "openai" in vit and "laion2b_s34b_b88k" in vit + " ".join(lines)
    assert max(map(len, lines)) <= 100


def test_a_long_list_without_a_listing_command_is_wrapped():
    names = [f"arch-{i:03d}" for i in range(MAX_LISTED + 20)]
    msg = unknown_message("architecture", "zzz", names)
    assert all(n in msg for n in names) and max(map(len, msg.splitlines()[1:])) <= WIDTH


# -- 8. list --help ---------------------------------------------------------------------------------------
def test_list_help_says_what_it_lists_and_its_flags(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["list", "--help"])
    assert exc.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "List what the installed plugins provide" in out
    for word in ("methods", "datasets", "backbones", "launchers", "validators", "--format", "--open-clip"):
        assert word in out


# -- 9. a seed-independent method runs one seed ------------------------------------------------------------
def test_seeds_of_a_seed_independent_method_collapse_to_one():
    from udabench.protocol.runner import _distinct_seeds

    reg = get_registry()
    seeds, note = _distinct_seeds(reg.method("zeroshot"), [3, 1, 3])
    assert seeds == [3] and "seed(s) 1 skipped" in note and "does not depend on the seed" in note
    assert _distinct_seeds(reg.method("source-ft"), [0, 1, 0, 2]) == ([0, 1, 2], "")


def test_zeroshot_given_two_seeds_runs_once(mlflow_uri, monkeypatch, capsys):
    from udabench_plugins.datasets.digits import Digits

    blank = ImageList(ImageSource(array=np.zeros((10, 32, 32, 3), np.uint8)), np.arange(10), 10)
    monkeypatch.setattr(Digits, "load", lambda self, domain, split: blank)
    assert main(["run", "--method", "zeroshot", "--dataset", "digits", "--task", "printed2handwritten",
                 "--seeds", "0", "1", "--tracking-uri", mlflow_uri, "--device", "cpu", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "1 task(s) x 1 seed(s)" in out
    assert out.count("printed2handwritten      seed") == 1 and "seed 1:" not in out
    assert ("note: running seed 0 only; seed(s) 1 skipped: zeroshot does not depend on the seed" in out)


# -- 10. a dry run warns of what the sweep refuses -----------------------------------------------------------
def test_a_dry_run_warns_of_the_store_the_real_sweep_refuses(mlflow_uri, tmp_path, capsys):
    sweep = tmp_path / "remote.yaml"
    sweep.write_text(textwrap.dedent("""\
        name: remote-on-sqlite
        methods: [zeroshot]
        datasets: [digits]
        tasks: [printed2handwritten]
        launcher: {name: submitit}
        """))
    assert main(["sweep", str(sweep), "--tracking-uri", mlflow_uri]) == 2
    refusal = capsys.readouterr().err.strip().removeprefix("udabench: error: ")
    assert "runs jobs on other machines" in refusal
    assert main(["sweep", str(sweep), "--dry-run", "--tracking-uri", mlflow_uri]) == 0
    err = capsys.readouterr().err
    assert f"udabench: warning: {refusal} (without --dry-run, the sweep refuses to start)" in err
    assert main(["sweep", str(sweep), "--dry-run", "--launcher", "serial", "--tracking-uri", mlflow_uri]) == 0
    assert "warning" not in capsys.readouterr().err
