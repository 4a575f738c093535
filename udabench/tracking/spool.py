"""The local spool: every write of a run is kept on disk before it goes to the MLflow store.

Each run of a command gets a folder ``cache_root()/spool/<id>/``: ``run.jsonl`` (JSON lines:
the run's creation, then one line per write, params, tags, metrics, artifacts, its end, and an
``ack`` line once the store took that write) and ``artifacts/`` (copies of the artifact files).
A run whose writes all reached the store removes its folder when it ends. When the store stops
answering mid-run, the run goes on writing to its spool only, and the command ends with
:class:`TrackingStoreLostError`; ``udabench sync`` (:func:`sync`) replays what the store did not
take. No pickle: JSON and the artifact files themselves.

A spool folder is locked (``fcntl.flock`` on its ``lock`` file) by the process that writes it,
so that ``udabench sync`` leaves the spools of running commands alone, and knows a spool whose
run never ended belongs to a process that died (that run is marked KILLED).
"""

from __future__ import annotations

import fcntl
import json
import shutil
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

from ..contract.dataset import cache_root
from ..contract.errors import UdabenchError

RUN_FILE = "run.jsonl"
KILLED_REASON = ("udabench.error", ("the process that ran it ended without closing it (killed); "
                                    "what it measured was replayed by `udabench sync`"))


_WARNED: list[bool] = []  # the spool's warning is given once per process


class TrackingStoreLostError(UdabenchError):
    """The MLflow store stopped answering during a command; what was measured is in the spool."""


def spool_root() -> Path:
    return cache_root() / "spool"


def lost_message(uri: str, reason: BaseException | str) -> str:
    return (f"the MLflow store {uri} stopped answering during this command ({_short(reason)}). Nothing "
            f"measured is lost: every run's params, metrics, tags and artifacts are kept in {spool_root()} "
            f"(JSON lines and artifact files). Once the store answers again (for a tracking server: "
            f"`mlflow server --backend-store-uri <its store> --host <host> --port <port>`), run "
            f"`udabench sync` to write them there (or `udabench sync --tracking-uri URI` for another store)")


#: What a long MLflow/urllib3 error means, in a few words.
PLAIN_REASONS = (("Connection refused", "connection refused: no server listens there"),
                 ("Read timed out", "the server did not answer in time"),
                 ("Name or service not known", "the host name is not known"),
                 ("Temporary failure in name resolution", "the host name cannot be resolved"),
                 ("RemoteDisconnected", "the server closed the connection"),
                 ("Connection reset", "the server closed the connection"))


def _short(reason: BaseException | str) -> str:
    text = f"{type(reason).__name__}: {reason}" if isinstance(reason, BaseException) else str(reason)
    for marker, plain in PLAIN_REASONS:
        if marker in text:
            return plain
    text = " ".join(text.split())
    return text if len(text) <= 300 else text[:300] + " ..."


class Spool:
    """The journal of one run (see the module docstring)."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._lock = open(folder / "lock", "a+")
        fcntl.flock(self._lock, fcntl.LOCK_EX)
        self._file = open(folder / RUN_FILE, "a", encoding="utf-8")
        self._seq = 0

    @classmethod
    def create(cls, header: dict[str, Any]) -> Spool | None:
        """A new spool for a run, or None (with a warning) when the cache cannot be written."""
        folder = spool_root() / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:12]}"
        try:
            (folder / "artifacts").mkdir(parents=True)
            spool = cls(folder)
            spool._write({"op": "create", **header})
            return spool
        except OSError as exc:
            if not _WARNED:
                _WARNED.append(True)
                warnings.warn(f"udabench: cannot write the run spool under {spool_root()} ({exc}); runs are "
                              f"written to the MLflow store only, and lost if it stops answering (set "
                              f"UDABENCH_CACHE to a writable folder)", UserWarning, stacklevel=2)
            return None

    @property
    def id(self) -> str:
        return self.folder.name

    def _write(self, record: dict) -> None:
        self._file.write(json.dumps(record) + "\n")
        self._file.flush()

    def append(self, record: dict) -> int:
        self._seq += 1
        self._write({"seq": self._seq, **record})
        return self._seq

    def ack(self, seq: int) -> None:
        self._write({"ack": seq})

    def artifact_path(self, artifact_file: str) -> Path:
        path = self.folder / "artifacts" / artifact_file
        if not path.resolve().is_relative_to((self.folder / "artifacts").resolve()):
            raise UdabenchError(f"artifact name {artifact_file!r} leaves the run's folder")
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def close(self, remove: bool) -> None:
        self._file.close()
        if remove:
            shutil.rmtree(self.folder, ignore_errors=True)
        self._lock.close()  # releases the flock


def pending() -> list[Path]:
    root = spool_root()
    return sorted(p for p in root.iterdir() if (p / RUN_FILE).is_file()) if root.is_dir() else []
