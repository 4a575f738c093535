"""What a data-parallel method trains with under torchrun: its training step wrapped in
DistributedDataParallel, and loaders that give each process its own shard of the data.

``RunContext.wrap_ddp`` and ``RunContext.loader(..., shuffle=True)`` call these when the run
has several processes; a method never imports this module itself.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

from ..contract.errors import ConfigError


class StepForward(nn.Module):
    """``forward(module, *args)`` as a module's forward: DistributedDataParallel averages the
    gradients of what runs inside its wrapped module's ``forward`` only, so a training step
    that is not ``module(x)`` (two batches through one student, ``model.encode_text``) is
    wrapped as a whole."""

    def __init__(self, module: nn.Module, forward: Callable):
        super().__init__()
        self.module = module
        self.step = forward

    def forward(self, *args, **kwargs):
        return self.step(self.module, *args, **kwargs)


def ddp(module: nn.Module, device) -> nn.Module:
    """``module`` in DistributedDataParallel on ``device`` (the process group must be up).

    DDP copies rank 0's parameters and buffers to every rank here, so all start from one
    model, and averages gradients during backward, so all take the same steps."""
    from torch.nn.parallel import DistributedDataParallel

    device = torch.device(device)
    return DistributedDataParallel(module, device_ids=[device] if device.type == "cuda" else None)


class EpochShardedLoader:
    """A DataLoader over this rank's shard that reshuffles on every pass.

    DistributedSampler draws its permutation from (seed, epoch) and must be told the epoch;
    this wrapper tells it the number of passes begun, so a method's epoch loop (and
    ``PairedLoader``'s restarts of the target loader) need no ``set_epoch`` call."""

    def __init__(self, loader: DataLoader):
        self.loader = loader
        self.passes = 0

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        self.loader.sampler.set_epoch(self.passes)
        self.passes += 1
        return iter(self.loader)

    @property
    def dataset(self):
        return self.loader.dataset


def sharded_loader(dataset, batch_size: int, drop_last: bool, rank: int, world_size: int, seed: int,
                   **loader_kwargs) -> EpochShardedLoader:
    """A shuffled training loader of this rank's shard of ``dataset``.

    ``batch_size`` stays the global batch, as in one process: each of the ``world_size``
    processes takes ``batch_size / world_size`` images per step, so a method's hyperparameters
    (batch size, steps per epoch, learning-rate schedule) mean the same with any number of
    processes. The sampler pads the shards to equal length (repeating a few images), so every
    rank takes the same number of steps."""
    if batch_size % world_size:
        raise ConfigError(f"batch size {batch_size} does not split over {world_size} processes: under torchrun "
                          f"a method's batch_size is the global batch, {world_size} equal parts per step; "
                          f"set it to a multiple of {world_size} (--set batch_size=...)")
    sampler = DistributedSampler(dataset, num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
    return EpochShardedLoader(DataLoader(dataset, batch_size=batch_size // world_size, sampler=sampler,
                                         drop_last=drop_last, **loader_kwargs))
