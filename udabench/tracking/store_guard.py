"""Clear errors from an MLflow store that cannot keep up with its writers.

SQLite is a file on one machine with one writer at a time: MLflow waits 20 s for a lock
and then raises ``database is locked`` deep in SQLAlchemy. Many processes (a sweep's
workers) should write to a tracking server instead; this guard turns the lock error into
a message that says so. It never swallows an error: a write that failed still fails.
"""

from __future__ import annotations

import functools

from ..contract.errors import UdabenchError

LOCK_MARKERS = ("database is locked", "database table is locked", "SQLITE_BUSY")


class TrackingStoreBusyError(UdabenchError):
    """A SQLite tracking store locked by other writers for longer than MLflow waits."""


def busy_message(uri: str, operation: str) -> str:
    return (f"the MLflow store {uri} stayed locked by other writers during {operation}: SQLite takes one "
            f"writer at a time on one machine, and this write was NOT recorded. For many processes or "
            f"machines, start a tracking server, e.g. `mlflow server --backend-store-uri {uri} --host "
            f"127.0.0.1 --port 5000`, and set MLFLOW_TRACKING_URI=http://127.0.0.1:5000 (or pass "
            f"--tracking-uri)")


def is_lock_error(exc: BaseException) -> bool:
    text = str(exc)
    return any(marker in text for marker in LOCK_MARKERS)


class SqliteGuardedClient:
    """An ``MlflowClient`` whose SQLite lock errors name the fix (a tracking server)."""

    def __init__(self, client, uri: str):
        self._client = client
        self._uri = uri

    def __getattr__(self, name: str):
        attr = getattr(self._client, name)
        if not callable(attr):
            return attr

        @functools.wraps(attr)
        def call(*args, **kwargs):
            try:
                return attr(*args, **kwargs)
            except Exception as exc:
                if is_lock_error(exc):
                    raise TrackingStoreBusyError(busy_message(self._uri, name)) from exc
                raise
        return call


def guard(client, uri: str):
    """``client`` as is for a server, wrapped for a SQLite file."""
    return SqliteGuardedClient(client, uri) if uri.startswith("sqlite:") else client
