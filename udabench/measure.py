"""Throughput and peak-memory meters (CUDA when there is one, else the process's RSS)."""

from __future__ import annotations

import resource
import sys
import time
from contextlib import contextmanager
from typing import Iterable, Iterator


def _sync(device) -> None:
    import torch

    if device is not None and torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


class ThroughputMeter:
    """Images per second of one phase, with the time spent waiting for data kept apart.

    Wrap the phase's loader with :meth:`iterate` (or count by hand with
    :meth:`add`); CUDA work is synchronised before a clock is read, so the
    numbers are real on a GPU too.
    """

    def __init__(self, device=None):
        self.device = device
        self.images = 0
        self.data_wait_s = 0.0
        self.wall_s = 0.0
        self._start: float | None = None

    def start(self) -> None:
        _sync(self.device)
        self._start = time.perf_counter()

    def stop(self) -> None:
        if self._start is not None:
            _sync(self.device)
            self.wall_s += time.perf_counter() - self._start
            self._start = None

    def add(self, images: int) -> None:
        self.images += int(images)

    def iterate(self, loader: Iterable) -> Iterator:
        """Yield the loader's batches, counting images and the wait for each batch."""
        it = iter(loader)
        while True:
            t0 = time.perf_counter()
            try:
                batch = next(it)
            except StopIteration:
                return
            self.data_wait_s += time.perf_counter() - t0
            first = batch[0] if isinstance(batch, (tuple, list)) else batch
            self.add(len(first))
            yield batch

    @property
    def images_per_s(self) -> float:
        return self.images / self.wall_s if self.wall_s > 0 else float("nan")


def reset_peak_memory(device) -> None:
    import torch

    if torch.device(device).type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device) -> float:
    """Peak GPU memory allocated on CUDA; else the process's peak resident set size (it only grows)."""
    import torch

    if torch.device(device).type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


@contextmanager
def timed(meter: ThroughputMeter):
    meter.start()
    try:
        yield meter
    finally:
        meter.stop()
