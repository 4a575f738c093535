"""Throughput and peak-memory meters (CUDA when there is one, else the process's RSS)."""

from __future__ import annotations

import threading
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
    numbers are real on a GPU too. :attr:`images_per_s` leaves out the first
    ``warmup_batches`` batches (CUDA context, cuDNN autotuning, torch.compile,
    worker start-up), when there are batches after them; :attr:`wall_s` keeps everything.
    """

    def __init__(self, device=None, warmup_batches: int = 1):
        self.device = device
        self.warmup_batches = warmup_batches
        self.images = 0
        self.data_wait_s = 0.0
        self.wall_s = 0.0
        self._start: float | None = None
        self._batches = 0
        self._warm: tuple[float, int] | None = None  # (clock, images) when the warm-up ended
        self._stopped_at: float | None = None
        #: The images' features came from the feature cache: the rate is then the head's, not the encoder's.
        self.from_cache = False
        self._paused_in_span = 0.0  # seconds of the current start-stop span spent in paused()
        self._paused_after_warm = 0.0

    def start(self) -> None:
        _sync(self.device)
        self._start = time.perf_counter()

    def stop(self) -> None:
        if self._start is not None:
            _sync(self.device)
            self._stopped_at = time.perf_counter()
            self.wall_s += self._stopped_at - self._start - self._paused_in_span
            self._start, self._paused_in_span = None, 0.0

    @contextmanager
    def paused(self):
        """Leave out of this meter's times what runs inside (the protocol scoring an epoch in the
        middle of a method's training)."""
        _sync(self.device)
        t0 = time.perf_counter()
        try:
            yield
        finally:
            _sync(self.device)
            spent = time.perf_counter() - t0
            if self._start is not None:
                self._paused_in_span += spent
            if self._warm is not None:
                self._paused_after_warm += spent

    def add(self, images: int) -> None:
        self.images += int(images)

    def iterate(self, loader: Iterable) -> Iterator:
        """Yield the loader's batches, counting images and the wait for each batch."""
        it = iter(loader)
        while True:
            if self._batches == self.warmup_batches and self._warm is None:
                _sync(self.device)  # the warm-up batches' work is done: steady state from here
                self._warm = (time.perf_counter(), self.images)
            t0 = time.perf_counter()
            try:
                batch = next(it)
            except StopIteration:
                return
            self.data_wait_s += time.perf_counter() - t0
            self._batches += 1
            first = batch[0] if isinstance(batch, (tuple, list)) else batch
            self.add(len(first))
            yield batch

    @property
    def images_per_s(self) -> float:
        """Images per second after the warm-up (over the whole phase if nothing came after it)."""
        if self._warm is not None and self._stopped_at is not None:
            clock, images = self._warm
            elapsed = self._stopped_at - clock - self._paused_after_warm
            if self.images > images and elapsed > 0:
                return (self.images - images) / elapsed
        return self.images / self.wall_s if self.wall_s > 0 else float("nan")


class PeakMemory:
    """Peak memory of one run: CUDA's ``max_memory_allocated`` on a GPU; on the CPU the
    process's resident set size, sampled every ``interval`` seconds by a thread for the
    run's duration (the kernel's own peak, ru_maxrss, never resets between runs)."""

    def __init__(self, device, interval: float = 0.02):
        import torch

        self.cuda = torch.device(device).type == "cuda"
        self.device, self.interval = device, interval
        self._peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        import psutil

        proc = psutil.Process()
        while True:
            self._peak = max(self._peak, proc.memory_info().rss)
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> "PeakMemory":
        import torch

        if self.cuda:
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()

    @property
    def mb(self) -> float:
        if self.cuda:
            import torch

            return torch.cuda.max_memory_allocated(self.device) / 2**20
        return self._peak / 2**20


@contextmanager
def timed(meter: ThroughputMeter):
    meter.start()
    try:
        yield meter
    finally:
        meter.stop()
