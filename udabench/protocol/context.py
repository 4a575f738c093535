"""What a method gets besides data: device, precision, seeded randomness, loaders, logging."""

from __future__ import annotations

import contextlib
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from ..contract.errors import NonFiniteLossError
from .distributed import DistributedInfo
from .measure import ThroughputMeter


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices) so that a run on the CPU repeats exactly."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _seed_worker(worker_id: int) -> None:
    import torch

    s = torch.initial_seed() % 2**32
    np.random.seed(s)
    random.seed(s)


@dataclass
class RunContext:
    """The run's environment, handed to ``Method.adapt``.

    ``log_metrics`` goes to the run's MLflow record (buffered); ``meter``
    measures adaptation throughput: wrap the training loader with
    ``ctx.meter.iterate(loader)``; ``step(loss, optimizer)`` does backward and step, with
    gradient scaling under fp16.

    Under torchrun, ``dist`` is this process's place in the command's process group. A method
    that declares ``data_parallel = True`` trains data-parallel: ``world_size`` and ``rank``
    are then the group's, ``loader(..., shuffle=True)`` gives each process its own shard,
    and what it trains goes through ``wrap_ddp``. For any other method ``world_size`` is 1:
    every process adapts on all the data, as one process would.
    """

    device: Any
    seed: int
    precision: str = "fp32"
    workers: int = 0
    eval_batch_size: int = 256
    checkpoint_dir: Path | None = None
    cache_dir: Path | None = None
    show_progress: bool = True
    log_metrics: Callable[[dict, int | None], None] = lambda metrics, step=None: None
    meter: ThroughputMeter = field(default_factory=ThroughputMeter)
    dist: DistributedInfo = field(default_factory=DistributedInfo)
    channels_last: bool = False  # image batches in NHWC memory format (see fast_paths)
    data_parallel: bool = False
    #: Set by the protocol: scores the classifier a method hands over at an epoch's end.
    on_epoch_end: Callable[[Any, int], None] | None = None
    #: Set by the protocol from the method: its name (for messages), and whether a NaN or
    #: infinite training loss fails the run (``Method.allows_nonfinite_loss`` turns it off).
    method_name: str = ""
    finite_loss: bool = True
    _generators: int = 0
    _epochs_ended: int = 0
    _scaler: Any = None
    _steps: int = 0
    _unchecked_loss: Any = None  # (loss, step) of the last step, checked at the next one

    @property
    def epochs_ended(self) -> int:
        """The epoch of the last ``epoch_end`` call (0 before any)."""
        return self._epochs_ended

    def epoch_end(self, classifier, epoch: int | None = None) -> None:
        """Hand the protocol the classifier as it stands at the end of an epoch (``epoch``:
        1-based, default the count of calls). The protocol scores it — on the evaluation set,
        for the oracle row, and with the label-free validators the setting allows — outside the
        adaptation's time and random state; the method goes on training. The classifier the
        method returns is scored as the last state in any case."""
        self._epochs_ended = epoch if epoch is not None else self._epochs_ended + 1
        self.check_loss()  # a diverged state is not worth scoring
        if self.on_epoch_end is not None:
            with self.meter.paused():
                self.on_epoch_end(classifier, self._epochs_ended)

    def autocast(self):
        """Autocast to the run's precision (a no-op for fp32)."""
        import torch

        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(device_type=torch.device(self.device).type, dtype=dtype)

    def generator(self):
        """A fresh torch.Generator derived from the run's seed (a different stream each call)."""
        import torch

        self._generators += 1
        return torch.Generator().manual_seed(self.seed * 1_000_003 + self._generators)

    def step(self, loss, optimizer) -> None:
        """Backward and optimiser step, with gradient scaling under fp16 autocast (as AMP wants).

        A training loss that is NaN or infinite fails the run (:class:`NonFiniteLossError`,
        naming the method, the step and the value): a diverged run must not reach the
        leaderboard with the accuracy of a broken model. Each loss is checked at the next
        ``step`` (or ``epoch_end``, or when ``adapt`` returns), so that reading it never
        waits for the device to finish the step just queued. A method whose losses may be
        non-finite by design declares why in ``Method.allows_nonfinite_loss``."""
        import torch

        self.check_loss()
        self._steps += 1
        if self.finite_loss:
            self._unchecked_loss = (loss.detach(), self._steps)
        if self._scaler is None:
            self._scaler = torch.amp.GradScaler(torch.device(self.device).type, enabled=self.precision == "fp16")
        optimizer.zero_grad(set_to_none=True)
        self._scaler.scale(loss).backward()
        self._scaler.step(optimizer)
        self._scaler.update()

    def check_loss(self) -> None:
        """Raise :class:`NonFiniteLossError` if the loss of the last ``step`` was NaN or infinite
        (the protocol calls this when ``adapt`` returns; ``step`` and ``epoch_end`` call it)."""
        if self._unchecked_loss is None:
            return
        import torch

        loss, step = self._unchecked_loss
        self._unchecked_loss = None
        if not bool(torch.isfinite(loss).all()):
            value = loss.float().cpu().tolist()
            who = f"{self.method_name}: " if self.method_name else ""
            raise NonFiniteLossError(
                f"{who}the training loss is {value} at optimiser step {step}: the training diverged, "
                f"and the model it leaves would score as a meaningless number, so the run stops here. "
                f"Lower the learning rate or check the hyperparameters (--set) and the data; a method "
                f"whose losses may be non-finite by design declares why in `allows_nonfinite_loss`.")

    @property
    def world_size(self) -> int:
        """Processes that train this method together: > 1 only for a data-parallel method under torchrun."""
        return self.dist.world_size if self.data_parallel else 1

    @property
    def rank(self) -> int:
        return self.dist.rank if self.data_parallel else 0

    def wrap_ddp(self, module, forward: Callable | None = None):
        """What a training step runs, in DistributedDataParallel when ``world_size`` > 1: call
        the result in the step, so that backward averages the gradients of all processes (and
        the module itself outside it, e.g. for no-grad passes). ``forward(module, *args)`` is
        the step's computation when it is not ``module(*args)``: DDP syncs only what runs inside
        its forward. In one process: the module itself (or ``forward`` bound to it), unchanged."""
        if forward is not None:
            from .data_parallel import StepForward

            module = StepForward(module, forward)
        if self.world_size == 1:
            return module
        from .data_parallel import ddp

        return ddp(module, self.device)

    def all_ranks(self, flag) -> bool:
        """Whether ``flag`` holds in every process that trains together: for a branch of the
        training loop that depends on the data (a batch to skip), which all must take alike."""
        return self.dist.all_true(flag) if self.world_size > 1 else bool(flag)

    def loader(self, dataset, batch_size: int, shuffle: bool = False, drop_last: bool = False,
               persistent: bool = False):
        """A DataLoader with the run's workers, seeded shuffling, and pinned memory on CUDA.

        ``persistent`` keeps worker processes between epochs: for loaders iterated many times.
        A shuffled (training) loader of a data-parallel run reads this process's shard, with
        ``batch_size / world_size`` images a batch (see ``data_parallel.sharded_loader``); an
        unshuffled one reads everything in every process."""
        import torch
        from torch.utils.data import DataLoader

        cuda = torch.device(self.device).type == "cuda"
        if shuffle and self.world_size > 1:
            from .data_parallel import sharded_loader

            return sharded_loader(
                dataset, batch_size, drop_last, self.rank, self.world_size, self.generator().initial_seed(),
                num_workers=self.workers, pin_memory=cuda, persistent_workers=persistent and self.workers > 0,
                worker_init_fn=_seed_worker if self.workers > 0 else None)
        return DataLoader(
            dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
            num_workers=self.workers, pin_memory=cuda, persistent_workers=persistent and self.workers > 0,
            generator=self.generator() if shuffle else None,
            worker_init_fn=_seed_worker if self.workers > 0 else None,
        )

    def paired(self, source_loader, target_loader) -> "PairedLoader":
        """Iterate (source batch, target batch) pairs: the UDA training step (see PairedLoader)."""
        return PairedLoader(source_loader, target_loader, self.meter)

    def progress(self, iterable: Iterable, desc: str = "", total: int | None = None, leave: bool = False):
        from tqdm.auto import tqdm

        return tqdm(iterable, desc=desc, total=total, leave=leave, disable=not self.show_progress,
                    dynamic_ncols=True)

    def to_device(self, tensor):
        import torch

        out = tensor.to(self.device, non_blocking=torch.device(self.device).type == "cuda")
        if self.channels_last and out.ndim == 4:
            out = out.contiguous(memory_format=torch.channels_last)
        return out


class PairedLoader:
    """Each source batch with the next target batch; the target loader restarts whenever it
    runs out, and keeps its place across epochs. One epoch is one pass over the source
    (Dassl's ``COUNT_ITER = "train_x"``). Both batches count in the throughput meter."""

    def __init__(self, source, target, meter: ThroughputMeter):
        self.source, self.target, self.meter = source, target, meter
        self._target_batches = None

    def __len__(self) -> int:
        return len(self.source)

    def __iter__(self):
        for source_batch in self.meter.iterate(self.source):
            try:
                target_batch = next(self._target_batches)
            except (StopIteration, TypeError):  # exhausted, or not started
                self._target_batches = iter(self.target)
                target_batch = next(self._target_batches)
            self.meter.add(len(target_batch[0]))
            yield source_batch, target_batch
