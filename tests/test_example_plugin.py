"""The example third-party package, installed by pip into a folder of its own, is found by
udabench through its entry points, runs through the CLI, and passes its own tests (which
use the conformance kit)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "udabench-entropy-min"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict:
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    out = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--quiet",
                          "--target", str(target), str(EXAMPLE)], capture_output=True, text=True, timeout=300,
                         cwd=build)
    assert out.returncode == 0, out.stderr[-2000:]
    assert list(target.glob("udabench_entropy_min-*.dist-info"))
    return {**os.environ, "PYTHONPATH": str(target)}


def test_the_installed_example_is_listed_with_its_origin(installed):
    out = subprocess.run([sys.executable, "-m", "udabench", "list"], env=installed, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines() if line.strip()}
    assert "udabench-entropy-min 0.1.0" in lines["entropy-min"] and "source-free" in lines["entropy-min"]
    assert "udabench-entropy-min 0.1.0" in lines["shapes-mini"]


def test_the_installed_example_runs_through_the_cli(installed, tmp_path, _mlflow_template):
    shutil.copy(_mlflow_template, tmp_path / "m.db")  # migrated once per session, not once per store
    out = subprocess.run([sys.executable, "-m", "udabench", "run", "--method", "entropy-min", "--dataset",
                          "digits", "--task", "printed2handwritten", "--seeds", "0", "--no-progress",
                          "--tracking-uri", f"sqlite:///{tmp_path}/m.db"], env=installed, capture_output=True,
                         text=True, timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "printed2handwritten" in out.stdout and "top1" in out.stdout


@pytest.mark.slow  # 13-25 s here: a new interpreter imports torch and MLflow and runs the example's suite
def test_the_examples_own_tests_pass(installed, tmp_path):
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE / "tests")],
                         env=installed, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-3000:]
    assert " passed" in out.stdout
