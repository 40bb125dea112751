"""One writer per warehouse: a lock object at ``<warehouse>/_state/lock.json`` held for a run's duration.

Two runs of the same window at once would both rewrite the same partitions and state files; the second one
now refuses with a message naming the holder, and the tables stay as the first run leaves them.

- Local warehouses take the lock with an exclusive create (``O_EXCL``), atomic on one file system.
- On S3 the lock is written, then read back after a short pause, and the run proceeds only if it is still its
  own (this boto3 has no conditional PUT). That narrows the race to the pause; on AWS the Glue job's
  ``MaxConcurrentRuns: 1`` is the real guard, and this lock covers manual runs beside the schedule.
- A lock whose holder died is not a life sentence: it is broken when it is older than its time to live, or
  when it was taken on this host by a process that no longer exists.
- Re-entrant within a process: ``llmdrift run`` holds it for all steps and each step may ask again.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from llmdrift.storage import LocalStorage, Storage, join, normalize, storage_for

LOCK_FILE = "_state/lock.json"
DEFAULT_TTL = timedelta(hours=6)
_S3_SETTLE_SECONDS = 1.0
_held: dict[str, int] = {}  # warehouse -> depth, for re-entry in this process


class LockError(RuntimeError):
    """The warehouse is locked by another run."""


def _holder(run_id: str, now: datetime, ttl: timedelta) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "acquired_at": now.isoformat(),
        "expires_at": (now + ttl).isoformat(),
    }


def _stale(holder: dict[str, Any], now: datetime) -> str | None:
    """Why a lock no longer protects anything, or None while it does."""
    try:
        expires = datetime.fromisoformat(str(holder["expires_at"]))
    except (KeyError, ValueError):
        return "unreadable lock"
    if expires <= now:
        return f"expired at {expires.isoformat()}"
    if holder.get("host") == socket.gethostname() and isinstance(holder.get("pid"), int):
        try:
            os.kill(holder["pid"], 0)
        except ProcessLookupError:
            return f"process {holder['pid']} on this host has exited"
        except PermissionError:
            return None  # it exists, owned by someone else
    return None


def _read(storage: Storage, uri: str) -> dict[str, Any] | None:
    try:
        data = storage.read_bytes(uri)
    except FileNotFoundError:
        return None
    try:
        parsed = json.loads(data)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _create_local(uri: str, body: bytes) -> bool:
    os.makedirs(os.path.dirname(uri), exist_ok=True)
    try:
        fd = os.open(uri, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as fh:
        fh.write(body)
    return True


def acquire(
    warehouse: str,
    run_id: str,
    ttl: timedelta = DEFAULT_TTL,
    log: Callable[[str], None] = print,
    now: datetime | None = None,
) -> None:
    warehouse = normalize(warehouse)
    if _held.get(warehouse):
        _held[warehouse] += 1
        return
    storage = storage_for(warehouse)
    uri = join(warehouse, LOCK_FILE)
    now = now or datetime.now(UTC)
    holder = _holder(run_id, now, ttl)
    body = json.dumps(holder).encode()
    for _attempt in range(2):
        current = _read(storage, uri)
        if current is not None:
            why = _stale(current, now)
            if why is None:
                raise LockError(
                    f"{warehouse} is in use by run {current.get('run_id')} (host {current.get('host')}, "
                    f"pid {current.get('pid')}, since {current.get('acquired_at')}, lock expires "
                    f"{current.get('expires_at')}); try again when it has finished, or remove {uri} if it is dead"
                )
            log(f"  breaking a stale lock of run {current.get('run_id')}: {why}")
            storage.delete_tree(uri)
        if isinstance(storage, LocalStorage):
            if _create_local(uri, body):
                break
            continue  # someone else created it between our read and create: look again
        storage.write_bytes(uri, body)
        time.sleep(_S3_SETTLE_SECONDS)
        if (_read(storage, uri) or {}).get("run_id") == run_id:
            break
    else:
        raise LockError(f"{warehouse}: could not take the lock {uri} (another run took it at the same time)")
    _held[warehouse] = 1


def release(warehouse: str, run_id: str) -> None:
    warehouse = normalize(warehouse)
    depth = _held.get(warehouse, 0)
    if depth > 1:
        _held[warehouse] = depth - 1
        return
    _held.pop(warehouse, None)
    storage = storage_for(warehouse)
    uri = join(warehouse, LOCK_FILE)
    if (_read(storage, uri) or {}).get("run_id") == run_id:
        storage.delete_tree(uri)


@contextmanager
def warehouse_lock(
    warehouse: str, run_id: str, ttl: timedelta = DEFAULT_TTL, log: Callable[[str], None] = print
) -> Iterator[None]:
    """Hold the warehouse's lock for the block; released on success and on failure alike."""
    acquire(warehouse, run_id, ttl, log)
    try:
        yield
    finally:
        release(warehouse, run_id)
