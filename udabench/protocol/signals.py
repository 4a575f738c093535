"""How a process of udabench ends its runs when it is told to stop."""

from __future__ import annotations


def terminate_as_interrupt() -> None:
    """SIGTERM (kill, timeout, Slurm) ends runs like Ctrl-C: marked KILLED, metrics kept."""
    import signal

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        pass
