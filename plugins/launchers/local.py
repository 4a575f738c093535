"""Launcher ``local``: N worker processes on this machine, one GPU each when there are GPUs.

Each worker is a fresh (spawned) Python process that takes jobs from a queue until none is
left, so torch and the plugins are imported once per worker, not once per job. A worker sees
one GPU through ``CUDA_VISIBLE_DEVICES`` (round-robin when there are more workers than GPUs),
and without GPUs its share of the cores this process was given: each job runs with
``threads`` = cores / workers (``$OMP_NUM_THREADS`` counts as the cores when set), unless
the sweep file's ``run: {threads: N}`` says otherwise.

A worker that dies (killed, out of memory) loses only the job it was running: that job is
reported failed, the other workers go on. Ctrl-C or SIGTERM ends every worker's run as KILLED.
"""

from __future__ import annotations

import dataclasses
import os
import queue

from udabench import HParam, Launcher, LauncherError, RunOptions, hookimpl

POLL_S = 1.0


class LocalLauncher(Launcher):
    name = "local"
    summary = "N worker processes on this machine, one GPU each (CUDA_VISIBLE_DEVICES)"
    options = (
        HParam("workers", 0, "worker processes (0: one per visible GPU, or 1 without GPUs)"),
        HParam("gpus", None, "comma-separated GPU ids to use (default: every visible GPU)", type=str),
    )

    def launch(self, jobs, echo):
        import multiprocessing as mp

        gpus = self._gpus()
        n = self.options["workers"] or max(1, len(gpus))
        if n < 1:
            raise LauncherError(f"the local launcher needs workers >= 1, got {n}")
        n = min(n, len(jobs))
        # The cores this process was given, shared among the workers (a job's own threads option wins).
        threads = None if gpus else max(1, RunOptions().resolved_threads() // n)
        jobs = [job if threads is None or job.options.get("threads") is not None
                else dataclasses.replace(job, options={**job.options, "threads": threads}) for job in jobs]
        echo(f"local launcher: {n} worker process(es)"
             + (f" on GPU(s) {', '.join(gpus)}" if gpus else f", CPU, {threads} thread(s) each"))
        ctx = mp.get_context("spawn")  # a fork of a process that holds torch or MLflow threads is unsafe
        todo, done = ctx.Queue(), ctx.Queue()
        for i, job in enumerate(jobs):
            todo.put((i, job))
        for _ in range(n):
            todo.put(None)
        procs = [ctx.Process(target=_worker, name=f"udabench-worker-{slot}",
                             args=(slot, gpus[slot % len(gpus)] if gpus else None, threads, os.getpid(), todo, done))
                 for slot in range(n)]
        for p in procs:
            p.start()
        try:
            return _collect(jobs, procs, done)
        finally:
            _stop(procs)

    def _gpus(self) -> list[str]:
        if self.options["gpus"]:
            return [g.strip() for g in str(self.options["gpus"]).split(",") if g.strip()]
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        if visible is not None:
            return [g.strip() for g in visible.split(",") if g.strip()]
        import torch

        return [str(i) for i in range(torch.cuda.device_count())]


def _collect(jobs, procs, done) -> list:
    from udabench import JobOutcome

    outcomes: dict[int, JobOutcome] = {}
    running: dict[int, int] = {}  # worker slot -> job index
    while len(outcomes) < len(jobs):
        try:
            msg = done.get(timeout=POLL_S)
        except queue.Empty:
            for slot, p in enumerate(procs):
                if not p.is_alive() and slot in running:
                    i = running.pop(slot)
                    outcomes[i] = JobOutcome(jobs[i].key, "failed",
                                             error=f"worker {slot} died (exit code {p.exitcode}) during the job")
            if not any(p.is_alive() for p in procs):
                for i, job in enumerate(jobs):
                    if i not in outcomes:
                        outcomes[i] = JobOutcome(job.key, "failed", error="every worker died before the job ran")
            continue
        kind, slot, i, *rest = msg
        if kind == "start":
            running[slot] = i
        else:
            running.pop(slot, None)
            outcomes[i] = rest[0]
    return [outcomes[i] for i in sorted(outcomes)]


def _stop(procs) -> None:
    """Workers still alive (on Ctrl-C, SIGTERM or an error here) end their runs as KILLED."""
    for p in procs:
        if p.is_alive():
            p.terminate()
    for p in procs:
        p.join(30)
        if p.is_alive():
            p.kill()
            p.join()


def _worker(slot: int, gpu: str | None, threads: int | None, parent: int, todo, done) -> None:
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    if threads is not None:
        os.environ["OMP_NUM_THREADS"] = str(threads)

    from udabench import terminate_as_interrupt
    from udabench import run_job

    terminate_as_interrupt()  # a worker stopped by SIGTERM marks its run KILLED, as Ctrl-C would

    try:
        while True:
            try:
                item = todo.get(timeout=POLL_S)
            except queue.Empty:
                if os.getppid() != parent:
                    return  # the sweep is gone: nobody would read the outcome
                continue
            if item is None:
                return
            i, job = item
            done.put(("start", slot, i))
            done.put(("done", slot, i, run_job(job)))
    except KeyboardInterrupt:
        return


@hookimpl
def register_launchers(register):
    register(LocalLauncher)
