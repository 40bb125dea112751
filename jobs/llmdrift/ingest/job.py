"""Ingest Bedrock invocation logs into the ``invocations`` and ``quarantine`` tables.

Incremental and idempotent without Glue bookmarks (spec §4.4): the run reads the hour folders of its
window plus a look-back for late files, merges what it parsed with the stored rows of the event hours it
touched (one row per requestId, the earliest delivery wins), and rewrites exactly those ``dt``/``hour``
partitions. A rerun of
the same window, or two runs over adjacent windows, give the same tables as one run. The watermark in
``<warehouse>/_state/ingest.json`` is written last, so a run without a window continues where the last
successful one stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from llmdrift.bedrock.layout import (
    HOUR,
    SERVICE_FOLDER,
    LogObject,
    discover_streams,
    earliest_hour,
    floor_hour,
    list_window,
)
from llmdrift.core import schemas, tables
from llmdrift.core.errors import LlmdriftError
from llmdrift.core.runs import INGEST_STATE, RunContext, read_state, write_state
from llmdrift.core.storage import Storage, join, normalize, storage_for
from llmdrift.cost.prices import load_profiles
from llmdrift.ingest import transform
from llmdrift.ingest.reader import ReaderOptions, parse_batches, parsed_schema

Log = Callable[[str], None]


# The counts of a run, as ingest_runs stores them.
COUNTS = (
    "files_read",
    "objects_skipped",
    "file_errors",
    "lines_read",
    "blank_lines",
    "rows_new",
    "duplicates",
    "rejected",
    "warnings",
    "offloaded_bodies_read",
)


class IngestError(LlmdriftError, RuntimeError):
    """The run cannot go on (bad window, unreadable state, counts that do not reconcile)."""


@dataclass(frozen=True)
class IngestConfig:
    logs: str
    warehouse: str
    start: datetime | None = None
    end: datetime | None = None
    lookback_hours: int = 2
    settle_minutes: int = 30
    fetch_offloaded: bool = True
    max_offloaded_bytes: int = 10 << 20
    parse_tasks: int | None = None
    redact_pii: bool = False
    profiles: Path | None = None  # application inference profile -> model (default: the shipped profiles.csv)

    def __post_init__(self) -> None:
        if self.lookback_hours < 0:
            raise ValueError(f"lookback_hours must be >= 0, got {self.lookback_hours}")
        if self.settle_minutes < 0:
            raise ValueError(f"settle_minutes must be >= 0, got {self.settle_minutes}")
        if self.max_offloaded_bytes <= 0:
            raise ValueError(f"max_offloaded_bytes must be > 0, got {self.max_offloaded_bytes}")
        if self.start and self.end and self.start >= self.end:
            raise ValueError(
                f"window start {self.start:%Y-%m-%dT%H:%M} is not before end {self.end:%Y-%m-%dT%H:%M}"
            )


@dataclass
class IngestResult:
    run_id: str
    window_start: datetime | None
    window_end: datetime | None
    files_read: int = 0
    objects_skipped: int = 0
    file_errors: int = 0
    lines_read: int = 0
    blank_lines: int = 0
    rows_new: int = 0
    duplicates: int = 0
    rejected: int = 0
    warnings: int = 0
    offloaded_bodies_read: int = 0
    partitions_written: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)

    def reconciles(self) -> bool:
        return self.lines_read == self.blank_lines + self.rows_new + self.duplicates + self.rejected

    def summary(self) -> str:
        return (
            f"lines read {self.lines_read:,} = rows new {self.rows_new:,} + duplicates {self.duplicates:,}"
            f" + quarantined {self.rejected:,} + blank {self.blank_lines:,}"
            f"  ({'reconciled' if self.reconciles() else 'DOES NOT RECONCILE'});"
            f" {self.warnings:,} rows kept with warnings, {self.file_errors:,} damaged objects,"
            f" {self.offloaded_bodies_read:,} offloaded bodies read, {self.files_read:,} objects read,"
            f" {self.objects_skipped:,} non-record objects skipped"
        )


def resolve_window(
    config: IngestConfig,
    log_storage: Storage,
    logs: str,
    state_storage: Storage,
    warehouse: str,
    now: datetime,
) -> tuple[datetime, datetime] | None:
    """[first hour folder to read, end) with the look-back applied; None when there is nothing to read."""
    end = config.end or floor_hour(now - timedelta(minutes=config.settle_minutes))
    start = config.start
    if start is None:
        state = read_state(state_storage, warehouse)
        if state is not None:
            start = datetime.fromisoformat(state["last_complete_hour"])
        else:
            start = earliest_hour(log_storage, logs)
            if start is None:
                return None
    start = floor_hour(start) - HOUR * config.lookback_hours
    return (start, end) if start < end else None


def _balanced_bins(objects: list[LogObject], bins: int) -> list[list[LogObject]]:
    """Greedy largest-first packing by size, so parse tasks finish together."""
    loads = [0] * bins
    out: list[list[LogObject]] = [[] for _ in range(bins)]
    for obj in sorted(objects, key=lambda o: (-o.size, o.uri)):
        i = loads.index(min(loads))
        out[i].append(obj)
        loads[i] += max(obj.size, 1)
    return [b for b in out if b]


def parse_objects(spark: Any, objects: list[LogObject], options: ReaderOptions, tasks: int | None) -> Any:
    """DataFrame of parsed rows, issues and per-object stats (see ``ingest.reader``)."""
    from pyspark.sql import types as T

    n_tasks = max(1, min(len(objects), tasks or spark.sparkContext.defaultParallelism * 3))
    bins = _balanced_bins(objects, n_tasks)
    # One Spark partition per bin, exactly.
    rdd = spark.sparkContext.union(
        [spark.sparkContext.parallelize([(o.uri, o.folder_time) for o in b], 1) for b in bins]
    )
    files = spark.createDataFrame(
        rdd,
        T.StructType(
            [
                T.StructField("uri", T.StringType(), False),
                T.StructField("folder_time", T.TimestampType(), False),
            ]
        ),
    )
    from pyspark.sql.pandas.types import from_arrow_schema

    return files.mapInArrow(parse_batches(options), from_arrow_schema(parsed_schema()))


def run(spark: Any, config: IngestConfig, context: RunContext, log: Log = print) -> IngestResult:
    """Ingest one window; returns the reconciled counts (also appended to ``ingest_runs``)."""
    from pyspark import StorageLevel

    logs, warehouse = normalize(config.logs), normalize(config.warehouse)
    storage = storage_for(logs)
    out_storage = storage_for(warehouse)
    inv_schema, q_schema = schemas.load("invocations"), schemas.load("quarantine")
    runs_schema = schemas.load("ingest_runs")
    outputs = {t: tables.table_uri(warehouse, t) for t in ("invocations", "quarantine", "ingest_runs")}
    outputs["state"] = join(warehouse, INGEST_STATE)

    if not storage.exists(logs):
        raise IngestError(f"log root not found: {logs}")
    if not discover_streams(storage, logs):
        raise IngestError(
            f"no {SERVICE_FOLDER} folders under {logs}: expected <root>/AWSLogs/<account>/{SERVICE_FOLDER}/<region>/"
        )
    window = resolve_window(config, storage, logs, out_storage, warehouse, context.now)
    if window is None:
        log(f"nothing to ingest: no hour folders under {logs} for the window")
        return IngestResult(context.run_id, None, None, outputs=outputs)
    start, end = window
    t0 = time.monotonic()
    log(
        f"[ingest {context.run_id}] window {start:%Y-%m-%dT%H}:00 .. {end:%Y-%m-%dT%H}:00 UTC"
        f" (look-back {config.lookback_hours} h) from {logs}"
    )
    objects, skipped = list_window(storage, logs, start, end)
    log(
        f"  listed {len(objects):,} log objects ({sum(o.size for o in objects) / 1e6:,.1f} MB),"
        f" {len(skipped):,} other objects skipped  [{time.monotonic() - t0:.1f}s]"
    )
    result = IngestResult(
        context.run_id, start, end, files_read=len(objects), objects_skipped=len(skipped), outputs=outputs
    )
    if objects:
        options = ReaderOptions(
            logs,
            config.fetch_offloaded,
            config.max_offloaded_bytes,
            redact_pii=config.redact_pii,
            profiles=tuple(sorted(load_profiles(config.profiles).items())),
        )
        parsed = parse_objects(spark, objects, options, config.parse_tasks).persist(
            StorageLevel.MEMORY_AND_DISK
        )
        try:
            _ingest_parsed(spark, parsed, result, out_storage, warehouse, inv_schema, q_schema, log, t0)
        finally:
            parsed.unpersist()
    if not result.reconciles():
        raise IngestError(f"counts do not reconcile: {result.summary()}")
    _record_run(spark, result, runs_schema, warehouse, logs, context, datetime.now(UTC))
    _advance_watermark(out_storage, warehouse, end, context)
    log(f"  {result.summary()}  [{time.monotonic() - t0:.1f}s]")
    return result


def _ingest_parsed(
    spark: Any,
    parsed: Any,
    result: IngestResult,
    storage: Storage,
    warehouse: str,
    inv_schema: schemas.TableSchema,
    q_schema: schemas.TableSchema,
    log: Log,
    t0: float,
) -> None:
    from pyspark.sql import functions as F

    kind = F.col("kind")
    stats = parsed.agg(
        F.sum(F.when(kind == "stats", F.col("stat_lines"))).alias("lines"),
        F.sum(F.when(kind == "stats", F.col("stat_blank"))).alias("blank"),
        F.sum(F.when(kind == "stats", F.col("stat_rejected"))).alias("rejected"),
        F.sum(F.when(kind == "stats", F.col("stat_offloaded"))).alias("offloaded"),
        F.sum(F.when(kind == "stats", F.col("stat_file_error"))).alias("file_errors"),
        F.sum((kind == "row").cast("long")).alias("rows"),
        F.sum(((kind == "issue") & F.col("row_kept")).cast("long")).alias("warnings"),
        F.sort_array(F.collect_set(F.when(kind == "row", F.struct("dt", "hour")))).alias("row_parts"),
        F.sort_array(F.collect_set(F.when(kind == "issue", F.struct("dt", "hour")))).alias("issue_parts"),
    ).first()
    result.lines_read, result.blank_lines = int(stats["lines"] or 0), int(stats["blank"] or 0)
    result.rejected, result.file_errors = int(stats["rejected"] or 0), int(stats["file_errors"] or 0)
    result.offloaded_bodies_read, result.warnings = int(stats["offloaded"] or 0), int(stats["warnings"] or 0)
    rows = int(stats["rows"] or 0)
    row_parts = [(p["dt"], p["hour"]) for p in stats["row_parts"]]
    issue_parts = [(p["dt"], p["hour"]) for p in stats["issue_parts"]]
    log(
        f"  parsed {result.lines_read:,} lines: {rows:,} records, {result.rejected:,} rejected,"
        f" {result.warnings:,} warnings  [{time.monotonic() - t0:.1f}s]"
    )

    before = tables.read(spark, storage, warehouse, inv_schema, row_parts).count() if row_parts else 0
    if row_parts:
        stored = tables.read(spark, storage, warehouse, inv_schema, row_parts)
        new = transform.rows_of_kind(parsed, "row", inv_schema)
        merged = tables.merge_into(stored, new, inv_schema, ["source_file", "source_line"])
        tables.overwrite_partitions(merged, warehouse, inv_schema)
        log(
            f"  wrote invocations: {len(row_parts)} hour partitions, {_span(row_parts)}"
            f"  [{time.monotonic() - t0:.1f}s]"
        )
    after = tables.read(spark, storage, warehouse, inv_schema, row_parts).count() if row_parts else 0
    result.rows_new = after - before
    result.duplicates = rows - result.rows_new
    result.partitions_written = [f"{dt}/{hour:02d}" for dt, hour in row_parts]

    if issue_parts:
        stored_q = tables.read(spark, storage, warehouse, q_schema, issue_parts)
        new_q = transform.rows_of_kind(parsed, "issue", q_schema)
        merged_q = tables.merge_into(stored_q, new_q, q_schema, ["excerpt"])
        tables.overwrite_partitions(merged_q, warehouse, q_schema)
        log(f"  wrote quarantine: {len(issue_parts)} hour partitions  [{time.monotonic() - t0:.1f}s]")


def _span(parts: list[tuple[str, int]]) -> str:
    (first_dt, first_hour), (last_dt, last_hour) = parts[0], parts[-1]
    return f"{first_dt} {first_hour:02d}h .. {last_dt} {last_hour:02d}h"


def _record_run(
    spark: Any,
    result: IngestResult,
    schema: schemas.TableSchema,
    warehouse: str,
    logs: str,
    context: RunContext,
    finished: datetime,
) -> None:
    record = {
        "run_id": result.run_id,
        "started_at": context.now,
        "finished_at": finished,
        "window_start": result.window_start,
        "window_end": result.window_end,
        "logs_uri": logs,
        **{k: getattr(result, k) for k in COUNTS},
        "partitions_written": ",".join(result.partitions_written),
        "dt": context.now.strftime("%Y-%m-%d"),
    }
    tables.append_compact(spark, [record], storage_for(warehouse), warehouse, schema)


def _advance_watermark(storage: Storage, warehouse: str, end: datetime, context: RunContext) -> None:
    state = read_state(storage, warehouse)
    if state is not None and datetime.fromisoformat(state["last_complete_hour"]) >= end:
        return  # a backfill of an older window does not move the watermark back
    payload = {
        "last_complete_hour": end.isoformat(),
        "run_id": context.run_id,
        "updated_at": context.now.isoformat(),
    }
    write_state(storage, warehouse, INGEST_STATE, payload)


def result_dict(result: IngestResult) -> dict[str, Any]:
    out = asdict(result)
    for key in ("window_start", "window_end"):
        out[key] = out[key].isoformat() if out[key] else None
    return out
