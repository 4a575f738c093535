"""The wait before the work: `udabench run --method zeroshot --dataset digits` as a whole process,
the first time against a rerun with everything cached, and what the rerun still imports. Twice:
with the default backbone (the shipped toyclip) and with a real architecture, open_clip's
ViT-S-32 with random weights saved as a checkpoint file (``--backbone ViT-S-32:/path``, 224 px).

Three commands, each a new process, in interleaved rounds (each round its own cache and store):

* ``first``: a new user's first run: an empty ``UDABENCH_CACHE`` (digits is generated, toyclip
  built, every feature computed) and no MLflow database (its schema is created);
* ``features cold``: digits and the database exist, the feature cache was emptied;
* ``rerun``: the same command again, every feature and text classifier served from the cache;
* ``import floor``: a process that only imports what a computed, logged run cannot do without
  (torch, MLflow's client and SQLite store, matplotlib's figure): the least a rerun can cost.

The ratios are taken round by round (first / rerun, features cold / rerun); the median is
reported. The rerun is also run once under ``python -X importtime``: its largest imports are
printed, and it must not import open_clip or torchvision (a rerun served from the feature cache
never builds the model: ``ClipBackbone.deferred``). That is the one assertion here; no timing fails.
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROUNDS = 3
COMMAND = ["-m", "udabench", "run", "--method", "zeroshot", "--dataset", "digits", "--no-progress"]
VIT = "ViT-S-32"
#: Modules whose import time is reported (cumulative, as ``-X importtime`` prints it).
REPORTED = ("torch", "mlflow", "matplotlib", "open_clip", "torchvision", "udabench.cli", "sklearn", "pandas")


FLOOR = ("import torch; from mlflow.tracking import MlflowClient; import mlflow.store.tracking.sqlalchemy_store; "
         "import matplotlib.figure")


def _env(work: Path) -> dict:
    return {**os.environ, "UDABENCH_CACHE": str(work / "cache"),
            "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'mlflow.db'}"}


def _timed(work: Path, backbone: list[str], *python_flags: str) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, *python_flags, *COMMAND, *backbone], env=_env(work), cwd=work,
                          check=True, capture_output=True, text=True)
    return time.perf_counter() - t0, done.stderr


@pytest.fixture(scope="module")
def vit_checkpoint(tmp_path_factory) -> Path:
    """open_clip's ViT-S-32 with random weights, saved as a user's checkpoint file would be."""
    import open_clip
    from safetensors.torch import save_file

    path = tmp_path_factory.mktemp("vit") / f"{VIT}.safetensors"
    model = open_clip.create_model(VIT)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(path))
    return path


def import_times(stderr: str) -> dict[str, float]:
    """Cumulative seconds of each module ``-X importtime`` reports, by name (the first import)."""
    out: dict[str, float] = {}
    for line in stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|\s*(\S+)", line)
        if m and m.group(2) not in out:
            out[m.group(2)] = int(m.group(1)) / 1e6
    return out


@pytest.mark.parametrize("backbone", ["toyclip", VIT])
def test_first_run_against_a_cached_rerun(benchmark, tmp_path, backbone, request):
    flags = [] if backbone == "toyclip" else ["--backbone", f"{VIT}:{request.getfixturevalue('vit_checkpoint')}"]
    rounds = []
    for r in range(ROUNDS):
        work = tmp_path / f"round{r}"
        work.mkdir()
        first, _ = _timed(work, flags)
        shutil.rmtree(work / "cache" / "features")
        cold, _ = _timed(work, flags)
        rerun, _ = _timed(work, flags)
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", FLOOR], check=True, capture_output=True)
        floor = time.perf_counter() - t0
        rounds.append((first, cold, rerun, floor))
        print(f"\nround {r}: first {first:.2f} s, features cold {cold:.2f} s, rerun {rerun:.2f} s, "
              f"import floor {floor:.2f} s")
    _, stderr = _timed(tmp_path / "round0", flags, "-X", "importtime")
    imports = import_times(stderr)
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)

    first_ratio = statistics.median(f / r for f, _, r, _ in rounds)
    cold_ratio = statistics.median(c / r for _, c, r, _ in rounds)
    floor_ratio = statistics.median(f / fl for f, _, _, fl in rounds)
    medians = [statistics.median(x) for x in zip(*rounds)]
    benchmark.extra_info.update({"first_s": medians[0], "features_cold_s": medians[1], "rerun_s": medians[2],
                                 "import_floor_s": medians[3], "first_over_rerun": first_ratio,
                                 "cold_over_rerun": cold_ratio, "first_over_import_floor": floor_ratio,
                                 "rerun_imports_s": {m: imports[m] for m in REPORTED if m in imports}})
    print(f"\n{backbone}: medians: first {medians[0]:.2f} s, features cold {medians[1]:.2f} s, rerun {medians[2]:.2f} s, "
          f"import floor {medians[3]:.2f} s; first / rerun {first_ratio:.2f}x (goal >= 3), features cold / rerun "
          f"{cold_ratio:.2f}x; first / import floor {floor_ratio:.2f}x (the most any rerun could reach)")
    print("rerun's imports (-X importtime, cumulative): " + ", ".join(
        f"{m} {imports[m]:.2f} s" for m in REPORTED if m in imports))
    assert "open_clip" not in imports and "torchvision" not in imports, \
        "a rerun served from the feature cache imported open_clip/torchvision: the model was built"
