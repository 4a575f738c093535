"""The command line: fast help, clear errors."""

from __future__ import annotations

import subprocess
import sys

from udabench.cli import main

PROBE = """
import sys, time
t0 = time.perf_counter()
from udabench.cli import main
try:
    main(["--help"])
except SystemExit:
    pass
print("HEAVY", sorted(m for m in ("torch", "mlflow", "open_clip", "numpy", "ray", "submitit") if m in sys.modules))
print("SECONDS", time.perf_counter() - t0)
"""


def test_help_imports_neither_torch_nor_mlflow():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60)
    assert "usage: udabench" in out.stdout
    heavy = next(l for l in out.stdout.splitlines() if l.startswith("HEAVY"))
    assert heavy == "HEAVY []"


def test_unknown_method_exits_2_with_a_suggestion(capsys):
    assert main(["run", "--method", "zerosht", "--dataset", "digits"]) == 2
    err = capsys.readouterr().err
    assert "unknown method 'zerosht'" in err and "Did you mean 'zeroshot'" in err


def test_bad_override_exits_2_naming_the_key(capsys):
    assert main(["run", "--method", "source-ft", "--dataset", "digits", "--set", "epoch=3"]) == 2
    err = capsys.readouterr().err
    assert "'epoch'" in err and "epochs" in err and "Traceback" not in err


def test_unknown_task_lists_the_standard_ones(capsys):
    assert main(["run", "--method", "zeroshot", "--dataset", "digits", "--task", "printed2mnist"]) == 2
    err = capsys.readouterr().err
    assert "printed2handwritten" in err and "SOURCE2TARGET" not in err and "<source>2<target>" in err


def test_list_names_every_builtin(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ("zeroshot", "linear-probe", "source-ft", "digits", "toyclip", "openclip"):
        assert name in out


def test_leaderboard_of_an_empty_store_says_what_to_run(mlflow_uri, capsys):
    assert main(["leaderboard", "--dataset", "digits", "--tracking-uri", mlflow_uri]) == 0
    assert "udabench run --method zeroshot --dataset digits" in capsys.readouterr().err


def test_list_imports_no_torch_either():
    probe = PROBE.replace('main(["--help"])', 'main(["list"])')
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert "zeroshot" in out.stdout
    heavy = next(l for l in out.stdout.splitlines() if l.startswith("HEAVY"))
    assert "torch" not in heavy and "mlflow" not in heavy
    assert "ray" not in heavy and "submitit" not in heavy  # launcher plugins import their engines on launch
    listed = {line.split()[0] for line in out.stdout.splitlines() if line.strip()}
    assert {"serial", "local", "submitit", "ray"} <= listed  # ... and are listed all the same
