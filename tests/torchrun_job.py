"""What ``tests/test_distributed.py`` starts under ``torchrun --nproc_per_node 2``: the
``udabench run`` command line, once per method given (each brings its process group up and
down, as a lone ``udabench run`` does), then two checks of the evaluation sync that need
real ranks. Starting torch, open_clip and MLflow once for all of them keeps the test short.

    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/torchrun_job.py JOB.json

JOB.json: {"common": [args for every run], "runs": [[method args], ...]}. Exits non-zero if
a command or a check fails.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def check_sync_module() -> None:
    """Parameters that differ across ranks are refused when they must agree, and otherwise
    replaced by rank 0's, buffers included."""
    import torch

    from udabench.protocol.distributed import DistributedInfo
    from udabench.contract.errors import PluginError

    info = DistributedInfo.from_env()
    assert info.world_size == 2, info
    with info.process_group("cpu"):
        drifted = torch.nn.BatchNorm1d(3)
        with torch.no_grad():
            drifted.weight.fill_(info.rank + 1.0)
            drifted.running_mean.fill_(10.0 * info.rank)
        try:
            info.sync_module(drifted, parameters_must_agree=True)
        except PluginError as exc:
            assert "ctx.wrap_ddp" in str(exc) and "weight" in str(exc), exc
        else:
            raise AssertionError("sync_module accepted parameters that differ across ranks")
        info.sync_module(drifted, parameters_must_agree=False)
        assert drifted.weight.tolist() == [1.0] * 3, drifted.weight
        assert drifted.running_mean.tolist() == [0.0] * 3, drifted.running_mean
        info.sync_module(drifted, parameters_must_agree=True)  # equal now: accepted


def main(job_file: str) -> int:
    from udabench.cli import main as udabench

    job = json.loads(Path(job_file).read_text())
    for method_args in job["runs"]:
        status = udabench(["run", *method_args, *job["common"]])
        if status:
            return status
    check_sync_module()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
