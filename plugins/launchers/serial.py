"""Launcher ``serial``: one job after another in this process (the default).

No second process, so no second import of torch, and a single writer to the tracking store:
the one launcher that SQLite serves without contention.
"""

from __future__ import annotations

from udabench import Launcher, hookimpl


class SerialLauncher(Launcher):
    name = "serial"
    summary = "one job after another, in this process (default)"
    parallel = False

    def launch(self, jobs, echo):
        from udabench import run_job

        return [run_job(job) for job in jobs]


@hookimpl
def register_launchers(register):
    register(SerialLauncher)
