"""Several processes, one run: what ``torchrun --nproc_per_node N udabench run ...`` needs.

torchrun starts N copies of the command and tells each its place through the environment
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``). Every copy runs
the same (task, seed) loop; a method that declares ``data_parallel`` trains on its own shard
of the data with DistributedDataParallel, evaluation is split into contiguous shards whose
predictions are gathered back in order, and only rank 0 writes to MLflow. Without torchrun
everything here is the identity and collectives are never called.

The rule that keeps it from hanging: a collective (every method of :class:`DistributedInfo`
that says so) must be called by every rank, the same number of times, in the same order.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..contract.errors import ConfigError, PluginError
from .measure import ThroughputMeter

#: The environment torchrun sets for every process it starts.
TORCHRUN_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK")

#: The rendezvous store of this process (torchrun's), kept for every process group it starts.
_store = None
#: Process groups started in this process: each writes its keys under its own prefix.
_groups = itertools.count()


@dataclass(frozen=True)
class DistributedInfo:
    """This process's place among the processes of one command (rank 0 of 1 without torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls, env: dict | None = None) -> DistributedInfo:
        env = os.environ if env is None else env
        if "WORLD_SIZE" not in env:
            return cls()
        missing = [k for k in TORCHRUN_ENV if k not in env]
        if missing:
            raise ConfigError(f"WORLD_SIZE is set but {', '.join(missing)} not: start several processes "
                              f"with `torchrun --nproc_per_node N udabench run ...`")
        info = cls(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env["LOCAL_RANK"]))
        if not 0 <= info.rank < info.world_size:
            raise ConfigError(f"RANK={info.rank} is not in [0, WORLD_SIZE={info.world_size})")
        return info

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that prints and writes to MLflow."""
        return self.rank == 0

    # -- set-up --------------------------------------------------------------------------------
    def device(self, device: str) -> str:
        """The device of this process: ``cuda:LOCAL_RANK`` when the run is on CUDA."""
        if not self.enabled or not device.startswith("cuda"):
            return device
        if device != "cuda":
            raise ConfigError(f"--device {device}: under torchrun each process uses cuda:LOCAL_RANK; "
                              f"pass --device cuda (or auto), and choose the GPUs with CUDA_VISIBLE_DEVICES")
        return f"cuda:{self.local_rank}"

    @contextlib.contextmanager
    def process_group(self, device: str) -> Iterator[DistributedInfo]:
        """The process group of the command (gloo on the CPU, nccl on CUDA), torn down at the end.

        Re-entrant: inside a group that is already up it neither starts nor destroys one.
        Commands run one after another in one process (a script, a sweep) each start their own:
        every group writes its rendezvous keys under a new prefix of one store, since a key
        left by the last group would point a rank at a peer's closed socket."""
        global _store
        import torch
        import torch.distributed as dist

        if not self.enabled or dist.is_initialized():
            yield self
            return
        cuda = device.startswith("cuda")
        if cuda:
            torch.cuda.set_device(device)
        if _store is None:
            _store, _, _ = next(dist.rendezvous("env://", rank=self.rank, world_size=self.world_size))
        dist.init_process_group("nccl" if cuda else "gloo", rank=self.rank, world_size=self.world_size,
                                store=dist.PrefixStore(f"udabench/{next(_groups)}", _store),
                                device_id=torch.device(device) if cuda else None)
        try:
            yield self
            dist.barrier()  # a clean exit waits for every rank: none leaves while another may read from it
        finally:
            dist.destroy_process_group()

    # -- collectives (identity for one process) --------------------------------------------------
    def all_gather(self, obj: Any) -> list:
        """Collective: every rank's ``obj`` (picklable), in rank order."""
        if not self.enabled:
            return [obj]
        import torch.distributed as dist

        out: list = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def all_true(self, flag) -> bool:
        """Collective: whether ``flag`` holds on every rank, so that all take the same branch
        (a step one rank skips and another takes would leave DDP waiting)."""
        return all(self.all_gather(bool(flag)))

    def shard(self, n: int) -> range:
        """This rank's contiguous share of ``n`` items; concatenated in rank order the shares
        are ``range(n)`` exactly once (sizes differ by at most one)."""
        base, extra = divmod(n, self.world_size)
        start = self.rank * base + min(self.rank, extra)
        return range(start, start + base + (self.rank < extra))

    def sync_module(self, module, parameters_must_agree: bool) -> None:
        """Collective: give every rank rank 0's copy of ``module`` (parameters and buffers), so
        that the shards of one evaluation are scored by one model.

        ``parameters_must_agree``: first check that the parameters are already equal on every
        rank, as DistributedDataParallel keeps them; they differ when a data-parallel method
        trained something outside ``ctx.wrap_ddp``, and each rank then learnt from its shard
        alone. Buffers (BatchNorm statistics) may differ: each rank updates them on its own batches.
        """
        if not self.enabled:
            return
        import torch
        import torch.distributed as dist

        params = list(module.parameters())
        if parameters_must_agree and params:
            with torch.no_grad():
                sums = torch.stack([p.detach().double().sum() for p in params]).cpu()
            ranks = torch.stack(self.all_gather(sums))  # (world_size, tensors)
            same = (ranks == ranks[0]) | (ranks.isnan() & ranks[0].isnan())
            differ = (~same.all(0)).nonzero().flatten().tolist()
            if differ:
                names = {id(p): n for n, p in module.named_parameters()}
                shown = ", ".join(names.get(id(params[i]), "?") for i in differ[:3])
                raise PluginError(f"after adapt() {len(differ)} parameter tensor(s) differ across the "
                                  f"{self.world_size} processes (e.g. {shown}): a data-parallel method must "
                                  f"train through ctx.wrap_ddp(...), which keeps the copies equal")
        with torch.no_grad():
            for t in params + list(module.buffers()):
                dist.broadcast(t.data, src=0)


def combine_meters(info: DistributedInfo, meter, split: bool = True):
    """Collective: one ThroughputMeter for the whole group. ``split``: the ranks shared the work
    (a data-parallel method, the sharded evaluation): images add up, the phase lasts as long as
    its slowest rank (wall time and data wait, max), and the throughput is the sum of the ranks'
    (each with its warm-up left out). Otherwise every rank did all of it: rank 0's meter."""
    if not info.enabled:
        return meter
    gathered = info.all_gather((meter.images, meter.wall_s, meter.data_wait_s, meter.images_per_s))
    if not split:
        return meter
    images, walls, waits, rates = zip(*gathered)
    return GroupMeter(meter.device, sum(images), max(walls), max(waits), sum(rates))


class GroupMeter(ThroughputMeter):
    """The meters of all ranks as one (see combine_meters)."""

    def __init__(self, device, images: int, wall_s: float, data_wait_s: float, images_per_s: float):
        super().__init__(device)
        self.images, self.wall_s, self.data_wait_s = images, wall_s, data_wait_s
        self._rate = images_per_s

    @property
    def images_per_s(self) -> float:
        return self._rate


class RankMeanMetrics:
    """Where a method's metrics go when several processes run it: every rank buffers its values;
    :meth:`flush` (a collective, once per run, after adaptation) hands rank 0 the mean over
    ranks of each (metric, step) and logs it with ``log``. Buffering to the end means one
    collective per run, not one per step, and no rank waits on another to log."""

    def __init__(self, info: DistributedInfo, log: Callable[[dict, int | None], None]):
        self.info, self.log = info, log
        self._values: list[tuple[str, int, Any]] = []

    def log_metrics(self, metrics: dict, step: int | None = None) -> None:
        self._values.extend((k, int(step or 0), v) for k, v in metrics.items() if v is not None)

    def flush_local(self) -> None:
        """After a failure, when the other ranks may never reach :meth:`flush`: rank 0 logs its own
        values (not averaged), so that what was measured is kept; the others drop theirs."""
        mine, self._values = self._values, []
        if self.info.is_main:
            by_step: dict[int, dict[str, float]] = defaultdict(dict)
            for k, s, v in mine:
                by_step[s][k] = float(v)
            for s in sorted(by_step):
                self.log(by_step[s], s)

    def flush(self) -> None:
        mine = [(k, s, float(v)) for k, s, v in self._values]  # tensors are read here, once
        self._values = []
        gathered = self.info.all_gather(mine)
        if not self.info.is_main:
            return
        by_step: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for values in gathered:
            for k, s, v in values:
                by_step[s][k].append(v)
        for s in sorted(by_step):
            self.log({k: sum(vs) / len(vs) for k, vs in by_step[s].items()}, s)
