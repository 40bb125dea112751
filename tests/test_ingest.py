"""Ingestion end to end on generated logs with real Spark: counts, dedupe, idempotence, windows, damage."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from llmdrift.core import schemas, tables
from llmdrift.core.runs import RunContext, StateError, read_state
from llmdrift.core.storage import LocalStorage
from llmdrift.ingest.job import IngestConfig, IngestError, run

DAY = datetime(2026, 11, 2, tzinfo=UTC)
WINDOW_END = DAY + timedelta(days=1, hours=1)  # the hour after the day holds late deliveries
NOW = datetime(2026, 11, 25, 8, tzinfo=UTC)
INV = schemas.load("invocations")
QUARANTINE = schemas.load("quarantine")


def quiet(_: str) -> None:
    pass


def ingest(
    spark: Any,
    logs: str,
    warehouse: Path,
    start: datetime | None = DAY,
    end: datetime | None = WINDOW_END,
    **kw: Any,
) -> Any:
    config = IngestConfig(logs, str(warehouse), start=start, end=end, **kw)
    return run(spark, config, RunContext("test-run", NOW), log=quiet)


def table_rows(spark: Any, warehouse: Path, schema: Any) -> list[tuple[Any, ...]]:
    df = tables.read(spark, LocalStorage(), str(warehouse), schema)
    return sorted(
        tuple(r) for r in df.select(*[c for c in schema.names if c != "request_metadata"]).collect()
    )


@pytest.fixture(scope="module")
def once(
    spark: Any, small_logs: tuple[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Any]:
    warehouse = tmp_path_factory.mktemp("wh-once")
    return warehouse, ingest(spark, small_logs[0], warehouse)


def test_counts_reconcile_with_what_was_written(once: tuple[Path, Any], small_logs: tuple[str, Any]) -> None:
    _, result = once
    _, written = small_logs
    assert result.reconciles()
    assert result.rows_new == written.records
    assert result.duplicates == written.duplicates > 0
    assert result.rejected == 0
    assert result.blank_lines == 0
    assert result.file_errors == 0
    assert result.lines_read == written.records + written.duplicates
    assert result.files_read == written.files
    assert result.objects_skipped == written.data_objects > 0  # data/ bodies are not record files
    assert result.offloaded_bodies_read > 0


def test_one_row_per_request_id(spark: Any, once: tuple[Path, Any]) -> None:
    from pyspark.sql import functions as F

    warehouse, result = once
    df = tables.read(spark, LocalStorage(), str(warehouse), INV)
    counts = df.agg(F.count("*").alias("n"), F.countDistinct("request_id").alias("ids")).first()
    assert counts["n"] == counts["ids"] == result.rows_new
    assert {p.split("/")[0] for p in result.partitions_written} == {"2026-11-02"}
    assert len(result.partitions_written) == 24  # one partition per event hour


def test_every_operation_and_shape_lands(spark: Any, once: tuple[Path, Any]) -> None:
    warehouse, _ = once
    df = tables.read(spark, LocalStorage(), str(warehouse), INV)
    operations = {r[0] for r in df.select("operation").distinct().collect()}
    assert operations == {"InvokeModel", "InvokeModelWithResponseStream", "Converse", "ConverseStream"}
    shapes = {r[0] for r in df.select("output_body_shape").distinct().collect()}
    assert {"converse", "anthropic_messages", "llama", "chat_choices", "titan_text", "cohere_chat"} <= shapes
    scopes = {r[0] for r in df.select("endpoint_scope").distinct().collect()}
    assert scopes == {"in_region", "geo", "global", "application_profile", "provisioned"}
    offloaded = df.filter("input_body_status = 'offloaded'").select("prompt_text").collect()
    assert offloaded
    assert all(r[0] for r in offloaded)
    assert df.filter("error_code is not null").count() > 0
    assert df.filter("input_body_status = 'absent' and output_body_status = 'absent'").count() > 0


def test_quarantine_holds_the_damaged_records(spark: Any, once: tuple[Path, Any]) -> None:
    warehouse, result = once
    q = tables.read(spark, LocalStorage(), str(warehouse), QUARANTINE)
    reasons = {r[0] for r in q.select("reason_code").distinct().collect()}
    assert reasons <= {"malformed_input_body", "malformed_output_body", "unknown_output_shape", "wrong_type"}
    assert reasons
    assert q.filter("not row_kept").count() == 0
    assert q.count() == result.warnings


def test_parquet_timestamps_are_milliseconds(once: tuple[Path, Any]) -> None:
    warehouse, _ = once
    (part,) = (warehouse / "invocations" / "dt=2026-11-02" / "hour=10").glob("*.parquet") or [None]
    arrow_type = pq.read_schema(part).field("event_ts").type
    assert str(arrow_type).startswith("timestamp[ms")


def test_run_is_recorded(spark: Any, once: tuple[Path, Any]) -> None:
    warehouse, result = once
    runs = tables.read(spark, LocalStorage(), str(warehouse), schemas.load("ingest_runs")).collect()
    assert [(r["run_id"], r["rows_new"], r["lines_read"]) for r in runs] == [
        ("test-run", result.rows_new, result.lines_read)
    ]
    assert read_state(LocalStorage(), str(warehouse))["last_complete_hour"] == WINDOW_END.isoformat()


def test_rerun_gives_identical_tables(
    spark: Any, small_logs: tuple[str, Any], once: tuple[Path, Any], tmp_path: Path
) -> None:
    warehouse = tmp_path / "wh"
    first = ingest(spark, small_logs[0], warehouse)
    before = table_rows(spark, warehouse, INV), table_rows(spark, warehouse, QUARANTINE)
    again = ingest(spark, small_logs[0], warehouse)
    assert (again.rows_new, again.duplicates) == (0, first.rows_new + first.duplicates)
    assert (table_rows(spark, warehouse, INV), table_rows(spark, warehouse, QUARANTINE)) == before
    assert before[0] == table_rows(spark, once[0], INV)


def test_adjacent_windows_equal_one_run(
    spark: Any, small_logs: tuple[str, Any], once: tuple[Path, Any], tmp_path: Path
) -> None:
    warehouse = tmp_path / "wh"
    part1 = ingest(spark, small_logs[0], warehouse, end=DAY + timedelta(hours=13))
    # The second run has no start: it continues from the watermark (with the look-back).
    part2 = ingest(spark, small_logs[0], warehouse, start=None)
    assert part2.window_start == DAY + timedelta(hours=11)
    assert part1.rows_new + part2.rows_new == once[1].rows_new
    assert table_rows(spark, warehouse, INV) == table_rows(spark, once[0], INV)
    assert table_rows(spark, warehouse, QUARANTINE) == table_rows(spark, once[0], QUARANTINE)


def _hour_folder(root: Path, hour: datetime) -> Path:
    folder = (
        root
        / "AWSLogs"
        / "111122223333"
        / "BedrockModelInvocationLogs"
        / "us-east-1"
        / hour.strftime("%Y/%m/%d/%H")
    )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _record(rid: str, minute: int = 5) -> str:
    return json.dumps(
        {
            "schemaType": "ModelInvocationLog",
            "schemaVersion": "1.0",
            "requestId": rid,
            "timestamp": f"2026-11-02T10:{minute:02d}:00Z",
            "operation": "Converse",
            "modelId": "amazon.nova-micro-v1:0",
            "input": {"inputTokenCount": 5},
            "output": {"outputTokenCount": 7},
        }
    )


def test_damaged_objects_and_bad_lines(spark: Any, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    folder = _hour_folder(logs, DAY + timedelta(hours=10))
    good = "\n".join([_record("g1"), _record("g2"), "", "{broken", "[]", _record("g1")]) + "\n"
    (folder / "a.json.gz").write_bytes(gzip.compress(good.encode()))
    big = gzip.compress(("\n".join(_record(f"t{i}") for i in range(3000)) + "\n").encode())
    (folder / "b.json.gz").write_bytes(big[: len(big) // 2])  # truncated
    (folder / "c.json.gz").write_bytes(b"")  # empty
    (folder / "d.json.gz").write_bytes((_record("plain") + "\n").encode())  # not gzip, but JSON lines
    (folder / "amazon-bedrock-logs-permission-check").write_bytes(b"")
    (folder / "notes.txt").write_text("not a log")
    (folder / "data").mkdir()
    (folder / "data" / "g1_input.json.gz").write_bytes(gzip.compress(b"{}"))

    result = ingest(
        spark,
        str(logs),
        tmp_path / "wh",
        start=DAY + timedelta(hours=10),
        end=DAY + timedelta(hours=11),
        lookback_hours=0,
    )
    assert result.reconciles()
    assert (result.files_read, result.objects_skipped, result.file_errors) == (4, 3, 3)
    assert (result.blank_lines, result.rejected, result.duplicates) == (1, 2, 1)
    truncated_rows = result.rows_new - 3  # g1, g2, plain
    assert 0 < truncated_rows < 3000
    q = tables.read(spark, LocalStorage(), str(tmp_path / "wh"), QUARANTINE)
    got = sorted(
        (Path(r["source_file"]).name, r["source_line"], r["reason_code"], r["row_kept"]) for r in q.collect()
    )
    assert got == [
        ("a.json.gz", 4, "invalid_json", False),
        ("a.json.gz", 5, "not_an_object", False),
        ("b.json.gz", 0, "gzip_truncated", False),
        ("c.json.gz", 0, "empty_file", False),
        ("d.json.gz", 0, "not_gzip", False),
    ]


def test_empty_window_writes_nothing(spark: Any, tmp_path: Path) -> None:
    _hour_folder(tmp_path / "logs", DAY).rmdir()  # the region folder exists, no hour folders in it
    result = ingest(spark, str(tmp_path / "logs"), tmp_path / "wh", start=None, end=None)
    assert result.window_start is None
    assert not (tmp_path / "wh" / "invocations").exists()


def test_wrong_log_root_is_a_clear_error(spark: Any, tmp_path: Path) -> None:
    with pytest.raises(IngestError, match="log root not found"):
        ingest(spark, str(tmp_path / "typo"), tmp_path / "wh")
    (tmp_path / "empty").mkdir()
    with pytest.raises(IngestError, match="no BedrockModelInvocationLogs folders"):
        ingest(spark, str(tmp_path / "empty"), tmp_path / "wh")


def test_bad_config_is_refused() -> None:
    with pytest.raises(ValueError, match="not before end"):
        IngestConfig("/l", "/w", start=DAY, end=DAY)
    with pytest.raises(ValueError, match="lookback_hours"):
        IngestConfig("/l", "/w", lookback_hours=-1)


def test_corrupt_state_file_is_a_clear_error(spark: Any, small_logs: tuple[str, Any], tmp_path: Path) -> None:
    state = tmp_path / "wh" / "_state" / "ingest.json"
    state.parent.mkdir(parents=True)
    state.write_text("{oops")
    with pytest.raises(StateError, match="not a valid ingest state file"):
        ingest(spark, small_logs[0], tmp_path / "wh", start=None)
