"""``mlflow ui`` on a store, started and waited for: what ``udabench ui`` (and the hand-run check
``benchmarks/check_mlflow_ui.py``) use. The server is MLflow's own, in a child process; udabench
only picks its arguments and waits until it answers ``/health``."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ..contract.errors import UdabenchError

#: How long to wait for ``mlflow ui`` to answer: 30-50 s on a busy 2-core machine, seconds on most.
UI_WAIT_S = 150


def port_free(host: str, port: int) -> bool:
    """Whether ``port`` on ``host`` can be listened on now (0: any free port can). Asked as a server
    binds (``SO_REUSEADDR``): connections of a stopped server still in TIME_WAIT do not hold the
    port, a server listening on it does."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def start_mlflow_ui(store_uri: str, host: str, port: int, log: Path, wait_s: float = UI_WAIT_S,
                    cwd: Path | None = None) -> tuple[subprocess.Popen, str]:
    """Start ``mlflow ui --backend-store-uri STORE_URI`` on ``host:port`` (its output in ``log``)
    and return (the process, its base URL) once it answers ``/health``; a UdabenchError naming
    the cause (the port taken, the server's exit with its last output, no answer in ``wait_s``)."""
    if not port_free(host, port):
        raise UdabenchError(f"port {port} on {host} is taken (another `mlflow ui`?): pass --port N, or open "
                            f"the server that holds it")
    with open(log, "w") as out:  # the child keeps its own handle to the file
        proc = subprocess.Popen([sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", store_uri,
                                 "--host", host, "--port", str(port)], cwd=cwd, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)  # its workers too: see stop
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base = f"http://{shown_host}:{port}"
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise UdabenchError(f"`mlflow ui` exited with status {proc.returncode}; its last output "
                                f"({log}):\n{log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(f"{base}/health", timeout=2) as r:
                if r.status == 200:
                    return proc, base
        except OSError:
            time.sleep(0.5)
    stop(proc)
    raise UdabenchError(f"`mlflow ui` did not answer at {base}/health within {wait_s:.0f} s (its output: {log})")


def stop(proc: subprocess.Popen, grace_s: float = 10) -> None:
    """End the server and the workers it started (its process group): SIGTERM, then, after the
    leader exited or ``grace_s`` passed, SIGKILL to whatever of the group is left. Nothing for a
    server already stopped (its group id may belong to someone else by then)."""
    if proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(grace_s)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
