"""Run coordination shared by every job: run ids, the ingest watermark, and what ingest wrote since a
downstream job last ran.

- ``<warehouse>/_state/ingest.json`` holds the ingest watermark (``last_complete_hour``): every hour before it
  has been read. Downstream jobs use it to tell a whole day from one still being ingested.
- ``<warehouse>/_state/<job>.json`` of a downstream job (score, aggregate) holds the finish time of the newest
  ingest run it has consumed; ``written_since`` answers which partitions ingest wrote after that.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from llmdrift.core import schemas, tables
from llmdrift.core.errors import LlmdriftError
from llmdrift.core.storage import Storage, join

INGEST_STATE = "_state/ingest.json"


class StateError(LlmdriftError, RuntimeError):
    """A state file is unreadable; the message names it."""


@dataclass(frozen=True)
class RunContext:
    run_id: str
    now: datetime

    @classmethod
    def create(cls, job: str = "ingest", now: datetime | None = None) -> RunContext:
        now = now or datetime.now(UTC)
        return cls(f"{job}-{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}", now)


def read_state(storage: Storage, warehouse: str) -> dict[str, Any] | None:
    """The ingest state file (None when ingest never ran in this warehouse)."""
    uri = join(warehouse, INGEST_STATE)
    if not storage.exists(uri):
        return None
    try:
        state = json.loads(storage.read_bytes(uri))
        datetime.fromisoformat(state["last_complete_hour"])
    except (ValueError, KeyError, TypeError) as exc:
        raise StateError(f"{uri} is not a valid ingest state file ({exc}); fix or delete it") from None
    return dict(state)


def complete_until(storage: Storage, warehouse: str) -> datetime | None:
    """The ingest watermark: every hour before it has been read (None when ingest never ran here)."""
    state = read_state(storage, warehouse)
    return datetime.fromisoformat(state["last_complete_hour"]) if state else None


def complete_days(days: Iterable[str], until: datetime | None) -> list[str]:
    """The days whose every hour lies before the ingest watermark ``until`` (all of them without one)."""
    return [
        d
        for d in days
        if until is None or datetime.fromisoformat(d).replace(tzinfo=UTC) + timedelta(days=1) <= until
    ]


def write_state(storage: Storage, warehouse: str, state_file: str, payload: dict[str, Any]) -> None:
    """Write a job's state file (last: a run that fails before it is redone by the next run)."""
    storage.write_bytes(join(warehouse, state_file), json.dumps(payload, indent=2).encode())


def consumed(
    storage: Storage, warehouse: str, state_file: str, newest_ingest: str | None, run_id: str
) -> None:
    """Record that a downstream job has consumed ingest runs up to ``newest_ingest`` (see ``written_since``)."""
    if newest_ingest:
        write_state(
            storage, warehouse, state_file, {"last_ingest_finished_at": newest_ingest, "run_id": run_id}
        )


def written_since(
    spark: Any, storage: Storage, warehouse: str, state_file: str
) -> tuple[list[str], str | None]:
    """Partitions (``yyyy-MM-dd/HH``) that ingest runs wrote since the run recorded in a downstream job's
    state file, and the newest such run's finish time (ISO, UTC) for that job to record when it is done."""
    schema = schemas.load("ingest_runs")
    state_uri = join(warehouse, state_file)
    since = None
    if storage.exists(state_uri):
        since = json.loads(storage.read_bytes(state_uri)).get("last_ingest_finished_at")
    if since:
        # Only the partitions of runs that may have finished since: a run's dt is the day it started, so
        # from the day before (a run across midnight) onwards.
        first = (datetime.fromisoformat(since) - timedelta(days=1)).date().isoformat()
        days = [d for d in tables.partition_days(storage, warehouse, schema.table) if d >= first]
        runs = tables.read(spark, storage, warehouse, schema, [(d,) for d in days])
        runs = runs.filter(runs.finished_at > datetime.fromisoformat(since))
    else:
        runs = tables.read(spark, storage, warehouse, schema)
    rows = runs.select("partitions_written", "finished_at").collect()
    parts = sorted({p for r in rows for p in (r["partitions_written"] or "").split(",") if p})
    newest = max((r["finished_at"] for r in rows), default=None)
    # collect() gives naive local times: astimezone reads them as local, as PySpark made them
    return parts, newest.astimezone(UTC).isoformat() if newest else since


def newest_drift_run(spark: Any, storage: Storage, warehouse: str) -> str | None:
    """The run id of the newest drift run: of the runs of the latest current window, the last one (run ids
    start with their start time). Reads one partition of ``drift_results``: its ``dt`` is the last day of
    the current window, so the latest window is in the newest partition."""
    from pyspark.sql import functions as F

    schema = schemas.load("drift_results")
    days = tables.partition_days(storage, warehouse, schema.table)
    if not days:
        return None
    runs = tables.read(spark, storage, warehouse, schema, [(days[-1],)])
    newest = runs.agg(F.max(F.struct("current_end", "run_id")).alias("m")).first()["m"]
    return str(newest["run_id"]) if newest is not None else None
