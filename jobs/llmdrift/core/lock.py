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
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from llmdrift.core.errors import LlmdriftError
from llmdrift.core.storage import LocalStorage, Storage, StorageError, join, normalize, storage_for

LOCK_FILE = "_state/lock.json"
DEFAULT_TTL = timedelta(hours=3)  # longer than a Glue job's default timeout (2 h); refreshed per step
_S3_SETTLE_SECONDS = 1.0
_held: dict[str, tuple[int, str]] = {}  # warehouse -> (depth, holder run id), for re-entry in this process


class LockError(LlmdriftError, RuntimeError):
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
        return "unreadable lock"  # locks are created whole (see _create_local), so this one is damaged
    if expires <= now:
        return f"expired at {expires.isoformat()}"
    if holder.get("run_id") is None:
        return "unreadable lock"
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
        if not storage.exists(uri):  # a listing: S3 answers 403, not 404, for a missing key without it
            return None
        data = storage.read_bytes(uri)
    except FileNotFoundError:
        return None
    try:
        parsed = json.loads(data)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _create_local(uri: str, body: bytes) -> bool:
    """Create the lock with its content in one step: write a private file, then hard-link it into place
    (``link`` fails if the name exists), so no reader ever sees an empty lock."""
    folder = os.path.dirname(uri)
    try:
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".lock.", dir=folder)
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
        try:
            os.link(tmp, uri)
        except FileExistsError:
            return False
        finally:
            os.unlink(tmp)
    except OSError as exc:
        raise StorageError(f"cannot write the lock {uri}: {exc}") from exc
    return True


def _break_local(uri: str, seen: dict[str, Any]) -> None:
    """Remove a stale lock only if it is still the one judged stale: rename it aside, check, then drop it.
    A rival that broke it first and took the lock keeps its own."""
    aside = f"{uri}.stale.{os.getpid()}.{time.monotonic_ns()}"
    try:
        os.rename(uri, aside)
    except FileNotFoundError:
        return  # someone else broke it
    except OSError as exc:
        raise StorageError(f"cannot break the lock {uri}: {exc}") from exc
    with open(aside, "rb") as fh:
        moved = fh.read()
    try:
        if json.loads(moved) != seen:  # a new holder's lock was moved: put it back
            os.replace(aside, uri)
            raise LockError(f"{uri}: another run took the lock while a stale one was being broken")
    except ValueError:
        pass
    if os.path.exists(aside):
        os.unlink(aside)


def acquire(
    warehouse: str,
    run_id: str,
    ttl: timedelta = DEFAULT_TTL,
    log: Callable[[str], None] = print,
    now: datetime | None = None,
) -> None:
    warehouse = normalize(warehouse)
    if warehouse in _held:
        depth, holder_id = _held[warehouse]
        _held[warehouse] = (depth + 1, holder_id)
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
            if isinstance(storage, LocalStorage):
                _break_local(uri, current)
            else:
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
    _held[warehouse] = (1, run_id)


def refresh(warehouse: str, ttl: timedelta = DEFAULT_TTL) -> None:
    """Push this process's lock's expiry forward (between the steps of a long run); refuses if it was lost."""
    warehouse = normalize(warehouse)
    if warehouse not in _held:
        raise LockError(f"{warehouse}: refresh of a lock this process does not hold")
    run_id = _held[warehouse][1]
    storage = storage_for(warehouse)
    uri = join(warehouse, LOCK_FILE)
    current = _read(storage, uri) or {}
    if current.get("run_id") != run_id:
        raise LockError(
            f"{warehouse}: the lock of run {run_id} was taken over by run {current.get('run_id')}"
        )
    current["expires_at"] = (datetime.now(UTC) + ttl).isoformat()
    storage.write_bytes(uri, json.dumps(current).encode())


def release(warehouse: str, run_id: str) -> None:
    warehouse = normalize(warehouse)
    depth, holder_id = _held.get(warehouse, (0, run_id))
    if depth > 1:
        _held[warehouse] = (depth - 1, holder_id)
        return
    _held.pop(warehouse, None)
    run_id = holder_id
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
