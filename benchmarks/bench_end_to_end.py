"""Whole commands: the main job's wall time and peak memory, and what the feature cache saves
when ``zeroshot``, ``linear-probe`` and ``dac`` run again on all 6 digits tasks."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time

from udabench.protocol.options import RunOptions
from udabench.protocol.runner import RunRequest, execute

CACHE_METHODS = {"zeroshot": {}, "linear-probe": {}, "dac": {}}


def _fresh_db(tmp_path, name: str) -> str:
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / name}"
    MlflowClient(tracking_uri=uri).search_experiments()  # schema set-up outside the timings
    return uri


def test_end_to_end_main_command(benchmark, tmp_path):
    """`udabench run --method zeroshot --dataset digits` in a new process, from an empty cache and
    a new MLflow database (digits generation and schema set-up included), then again warm."""
    env = {**os.environ, "UDABENCH_CACHE": str(tmp_path / "cache"),
           "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"}
    cmd = [sys.executable, "-m", "udabench", "run", "--method", "zeroshot", "--dataset", "digits",
           "--no-progress"]

    def once() -> float:
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, cwd=tmp_path, check=True, capture_output=True)
        return time.perf_counter() - t0

    cold = once()
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # Linux: KiB
    warm = once()
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    benchmark.extra_info.update({"cold_s": cold, "warm_s": warm, "peak_rss_mb": peak_mb})
    print(f"\nudabench run --method zeroshot --dataset digits: {cold:.1f} s from nothing (target < 60), "
          f"{warm:.1f} s again; peak RSS {peak_mb:.0f} MB")


def test_feature_cache_speedup(benchmark, tmp_path, monkeypatch):
    """Each method on all 6 tasks, seed 0, twice against one cache. Two ratios: the runs' own time
    (the protocol's ``wall_s``: data, adaptation, evaluation) and the whole command's."""
    monkeypatch.setenv("UDABENCH_CACHE", str(tmp_path / "cache"))
    uri = _fresh_db(tmp_path, "mlflow.db")
    monkeypatch.chdir(tmp_path)
    lines = []
    for method, sets in CACHE_METHODS.items():
        timings = []
        shutil.rmtree(tmp_path / "cache" / "features", ignore_errors=True)  # each method starts cold
        for attempt in ("first", "second"):
            req = RunRequest(method=method, dataset="digits", seeds=[0], backbone="toyclip", set_pairs=sets,
                             options=RunOptions(progress=False, tracking_uri=uri))
            t0 = time.perf_counter()
            records = execute(req, echo=lambda s: None)
            command_s = time.perf_counter() - t0
            runs_s = sum(r.result.metrics["wall_s"] for r in records)
            hit = min(r.result.metrics["cache_hit"] for r in records)
            timings.append((command_s, runs_s, hit))
        (c1, r1, _), (c2, r2, hit2) = timings
        benchmark.extra_info[method] = {"first_runs_s": r1, "second_runs_s": r2, "runs_speedup": r1 / r2,
                                        "first_command_s": c1, "second_command_s": c2,
                                        "command_speedup": c1 / c2, "second_cache_hit": hit2}
        lines.append(f"{method:>13}: runs {r1:6.2f} s -> {r2:5.2f} s ({r1 / r2:5.1f}x); "
                     f"command {c1:6.2f} s -> {c2:5.2f} s ({c1 / c2:4.1f}x); second run cache_hit {hit2:.2f}")
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    print("\nfeature cache, all 6 digits tasks, seed 0, first vs second run (target >= 10x):\n  "
          + "\n  ".join(lines))
