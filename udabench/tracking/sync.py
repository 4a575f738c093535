"""``udabench sync``: replay the runs kept in the local spool (``spool.py``) to their store."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

from ..contract.errors import UdabenchError
from .spool import KILLED_REASON, RUN_FILE, _short, pending
from .tracker import Tracker, tracking_uri


# -- udabench sync --------------------------------------------------------------------------------
def _read(folder: Path) -> tuple[dict, list[dict], set[int], str | None]:
    header, ops, acks, run_id = None, [], set(), None
    with open(folder / RUN_FILE, encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                break  # a line cut by a kill: never acknowledged, and nothing after it
            rec = json.loads(line)
            if "ack" in rec:
                acks.add(rec["ack"])
            elif rec.get("op") == "create":
                header = rec
                run_id = rec.get("run_id")
            elif rec.get("op") == "run_id":
                run_id = rec["run_id"]
            else:
                ops.append(rec)
    if header is None:
        raise UdabenchError(f"{folder / RUN_FILE} has no creation record")
    return header, ops, acks, run_id


def replay_op(client, run_id: str, op: dict, folder: Path) -> None:
    """One spooled write, to the store."""
    from mlflow.entities import Metric, Param, RunTag

    kind = op["op"]
    if kind == "params":
        items = [Param(k, v) for k, v in op["items"].items()]
        for i in range(0, len(items), 100):
            client.log_batch(run_id, params=items[i:i + 100])
    elif kind == "tags":
        client.log_batch(run_id, tags=[RunTag(k, v) for k, v in op["items"].items()])
    elif kind == "metrics":
        values = [Metric(k, float(v), int(t), int(s)) for k, v, t, s in op["items"]]
        for i in range(0, len(values), 1000):
            client.log_batch(run_id, metrics=values[i:i + 1000])
    elif kind == "artifact":
        path = folder / "artifacts" / op["file"]
        if op["kind"] == "text":
            client.log_text(run_id, path.read_text(encoding="utf-8"), op["file"])
        elif op["kind"] == "table":
            client.log_table(run_id, json.loads(path.read_text(encoding="utf-8")), op["file"])
        else:
            client.log_artifact(run_id, str(path), os.path.dirname(op["file"]) or None)
    elif kind == "end":
        client.set_terminated(run_id, status=op["status"], end_time=op.get("end_time"))
    else:
        raise UdabenchError(f"unknown spooled write {kind!r} in {folder / RUN_FILE}")


def _existing(client, run_id: str) -> str | None:
    try:
        client.get_run(run_id)
        return run_id
    except Exception:  # noqa: BLE001 - not in that store: the run is created there
        return None


def sync(uri: str | None = None, echo: Callable[[str], None] = print) -> tuple[int, int]:
    """Replay every spooled run to its store (or ``uri``); return (runs synced, runs not synced).

    Parents are replayed before their children (spools are named by their start time); a run
    that never ended, and whose process is gone, is marked KILLED. A replayed spool is removed;
    one that fails stays, to be replayed again."""
    trackers: dict[str, Tracker] = {}
    resolved: dict[str, str] = {}  # spool id -> run id in the store
    done = failed = 0
    for folder in pending():
        lock = open(folder / "lock", "a+")
        try:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                echo(f"  {folder.name}: skipped, a running command is writing it")
                continue
            header, ops, acks, run_id = _read(folder)
            target = tracking_uri(uri or header.get("uri"))
            try:
                if target not in trackers:
                    trackers[target] = Tracker(target)
                tracker = trackers[target]
                client = tracker.client
                spool_file = open(folder / RUN_FILE, "a", encoding="utf-8")
                with spool_file:
                    if run_id is not None and uri and uri != header.get("uri"):
                        run_id = _existing(client, run_id)  # another address of the same store, or not
                    if run_id is None:
                        tags = dict(header["tags"])
                        parent = resolved.get(header.get("parent_spool") or "") or header.get("parent_run_id")
                        if parent:
                            tags["mlflow.parentRunId"] = parent
                        run = client.create_run(tracker.experiment_id(header["experiment"]),
                                                start_time=header.get("start_time"), tags=tags,
                                                run_name=header["name"])
                        run_id = run.info.run_id
                        acks = set()  # a new run: every write goes to it
                        spool_file.write(json.dumps({"op": "run_id", "run_id": run_id}) + "\n")
                        spool_file.flush()
                    resolved[folder.name] = run_id
                    n_metrics = 0
                    for op in ops:
                        if op["seq"] in acks:
                            continue
                        replay_op(client, run_id, op, folder)
                        spool_file.write(json.dumps({"ack": op["seq"]}) + "\n")
                        spool_file.flush()
                        n_metrics += len(op["items"]) if op["op"] == "metrics" else 0
                    ended = any(op["op"] == "end" for op in ops)
                    if not ended:
                        from mlflow.entities import RunTag

                        client.log_batch(run_id, tags=[RunTag(*KILLED_REASON)])
                        client.set_terminated(run_id, status="KILLED")
            except Exception as exc:  # noqa: BLE001 - reported, kept, and counted
                failed += 1
                echo(f"  {folder.name} ({header['name']}): NOT synced to {target}: {_short(exc)}; "
                     f"kept in {folder}")
                continue
            shutil.rmtree(folder, ignore_errors=True)
            done += 1
            echo(f"  {header['name']}: synced to {target}, run {run_id} ({n_metrics} metric values"
                 + ("" if ended else "; it never ended: marked KILLED") + ")")
        finally:
            lock.close()
    return done, failed
