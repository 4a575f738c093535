"""Shared fixtures: an isolated cache and data root, MLflow stores, the toy backbone."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def _isolated_environment(tmp_path_factory):
    """Generated data and caches go to one session folder; nothing is fetched from a hub."""
    root = tmp_path_factory.mktemp("udabench-env")
    env = {"UDABENCH_CACHE": str(root / "cache"), "UDABENCH_DATA": str(root / "data"),
           "HF_HOME": str(root / "hf"), "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'default-mlflow.db'}"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    os.environ.pop("UDABENCH_LOAD_PLUGINS", None)
    yield root
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def _mlflow_template(tmp_path_factory) -> Path:
    """An MLflow SQLite database with its schema already migrated (that costs 4-8 s; done once)."""
    from mlflow.tracking import MlflowClient

    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    return path


@pytest.fixture
def mlflow_uri(tmp_path, _mlflow_template, monkeypatch) -> str:
    """A fresh SQLite tracking store for one test (a copy of the migrated template)."""
    db = tmp_path / "mlflow.db"
    shutil.copy(_mlflow_template, db)
    uri = f"sqlite:///{db}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)  # artifacts of the SQLite store land under ./mlruns
    return uri


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory, _mlflow_template):
    """A real `mlflow server` on 127.0.0.1 (it takes 30-50 s to answer here), stopped at the end."""
    work = tmp_path_factory.mktemp("mlflow-server")
    db = work / "server.db"
    shutil.copy(_mlflow_template, db)
    port = _free_port()
    log = open(work / "server.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{db}", "--artifacts-destination", str(work / "artifacts"),
         "--workers", "1"],
        stdout=log, stderr=subprocess.STDOUT, cwd=work)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 150
    try:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited: {(work / 'server.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError("mlflow server did not answer within 150 s")
            time.sleep(1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def first_per_class(images, per_class: int):
    """The first ``per_class`` images of each class of an ImageList, in their order."""
    import numpy as np

    keep = [np.flatnonzero(images.labels == c)[:per_class] for c in range(images.num_classes)]
    return images.subset(np.sort(np.concatenate(keep)))


@pytest.fixture
def small_digits(monkeypatch):
    """``small_digits(n)``: every digits split cut to its first ``n`` images per class, for this test
    (also through ``udabench run`` and ``execute``, which look the class up in the registry).
    For tests whose assertions hold on any slice: a full split costs seconds per run and method."""
    from udabench_plugins.datasets.digits import Digits

    full = Digits.load

    def shrink(per_class: int):
        monkeypatch.setattr(Digits, "load", lambda self, domain, split: first_per_class(
            full(self, domain, split), per_class))
        return Digits

    return shrink


@pytest.fixture(scope="session")
def toy_backbone():
    """The shipped toyclip backbone, loaded once (tests take fresh copies)."""
    from udabench import load_backbone

    return load_backbone("toyclip")


@pytest.fixture(scope="session")
def backbone_spec(tmp_path_factory) -> str:
    """A random-weight toyclip checkpoint (fp16 safetensors, like the shipped one): for tests of
    plumbing that must not depend on what the shipped weights can do."""
    from safetensors.torch import save_file

    from udabench_plugins.backbones.toyclip.model import build_model

    path = tmp_path_factory.mktemp("toyclip") / "random.safetensors"
    model = build_model()
    save_file({k: v.half().contiguous() for k, v in model.state_dict().items()}, str(path))
    return f"toyclip:{path}"
