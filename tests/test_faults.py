"""The fault suite: each way input or the machine can go wrong, named, with the outcome a user can rely on.

Data faults are written as separate objects of one log tree and ingested together (one Spark run), then
each is checked on its own: the records that can be read are in ``invocations``, the rest are in
``quarantine`` with a reason, and the run's counts reconcile (lines = rows + duplicates + quarantined +
blank). Process faults (a run killed mid-write, two runs at once, a full disk, an unwritable warehouse,
files of an older schema) each get a test of their own. jobs/llmdrift/dq/README.md, "What happens when things go wrong", lists
the same cases.
"""

from __future__ import annotations

import gzip
import json
import multiprocessing
import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from llmdrift.cli import main as cli
from llmdrift.core import schemas, tables
from llmdrift.core.lock import LOCK_FILE, LockError, acquire, release
from llmdrift.core.runs import RunContext
from llmdrift.core.storage import LocalStorage, StorageError
from llmdrift.ingest.job import IngestConfig, IngestResult, run

HOUR = datetime(2026, 11, 2, 10, tzinfo=UTC)
NOW = datetime(2026, 11, 25, 8, tzinfo=UTC)
INV = schemas.load("invocations")
QUARANTINE = schemas.load("quarantine")


def _folder(root: Path, hour: datetime) -> Path:
    folder = root / "AWSLogs" / "111122223333" / "BedrockModelInvocationLogs" / "us-east-1"
    folder = folder / hour.strftime("%Y/%m/%d/%H")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _record(rid: str, minute: int = 5, hour: int = 10, **changes: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "requestId": rid,
        "timestamp": f"2026-11-02T{hour:02d}:{minute:02d}:00Z",
        "accountId": "111122223333",
        "region": "us-east-1",
        "identity": {"arn": "arn:aws:sts::111122223333:assumed-role/app/session"},
        "operation": "Converse",
        "modelId": "amazon.nova-micro-v1:0",
        "input": {
            "inputContentType": "application/json",
            "inputBodyJson": {"messages": [{"role": "user", "content": [{"text": f"question {rid}"}]}]},
            "inputTokenCount": 5,
        },
        "output": {
            "outputContentType": "application/json",
            "outputBodyJson": {
                "output": {"message": {"role": "assistant", "content": [{"text": f"answer {rid}"}]}},
                "stopReason": "end_turn",
                "usage": {"inputTokens": 5, "outputTokens": 7},
                "metrics": {"latencyMs": 300},
            },
            "outputTokenCount": 7,
        },
    }
    record.update(changes)
    return record


def _line(record: dict[str, Any]) -> bytes:
    return json.dumps(record).encode()


def _gz(lines: list[bytes]) -> bytes:
    return gzip.compress(b"\n".join(lines) + b"\n", mtime=0)


def _wrong_types() -> dict[str, Any]:
    record = _record("wrong-types")
    record.update(timestamp=12345, operation=5, modelId=["x"], accountId={"a": 1}, identity="arn")
    record["input"] = {"inputBodyJson": "not an object", "inputTokenCount": "five"}
    record["output"] = {"outputBodyJson": 7, "outputTokenCount": [7]}
    return record


# name -> (object name, bytes); each is one fault of the suite
def _data_faults() -> dict[str, tuple[str, bytes]]:
    many = [_line(_record(f"trunc-{i}", minute=i % 60)) for i in range(3000)]
    truncated = _gz(many)
    rng = random.Random(3)
    unknown = _record("unknown-shape", operation="InvokeModel")
    unknown["input"]["inputBodyJson"] = {"weird": {"nested": True}}
    huge = _record("huge-body")
    huge["output"]["outputBodyJson"]["output"]["message"]["content"][0]["text"] = "word " * 2_100_000
    offloaded = _record("offloaded-missing")
    del offloaded["input"]["inputBodyJson"]
    offloaded["input"]["inputBodyS3Path"] = (
        "s3://bucket/AWSLogs/111122223333/BedrockModelInvocationLogs/us-east-1/2026/11/02/10/data/gone.json.gz"
    )
    no_timestamp = _record("no-timestamp")
    del no_timestamp["timestamp"]
    no_id = _record("x")
    del no_id["requestId"]
    non_utf8 = _line(_record("non-utf8")).replace(b"question non-utf8", b"question \xff\xfe bytes")
    return {
        "truncated_gzip": ("truncated.json.gz", truncated[: len(truncated) // 2]),
        "corrupt_gzip_header": (
            "corrupt.json.gz",
            b"\x1f\x8b\x08\x00" + bytes(rng.randrange(256) for _ in range(400)),
        ),
        "empty_file": ("empty.json.gz", b""),
        "not_gzip_with_gz_name": ("binary.json.gz", bytes(rng.randrange(1, 256) for _ in range(500))),
        "invalid_json": ("invalid.json.gz", _gz([_line(_record("ok-1")), b'{"requestId": "cut', b""])),
        "json_array_line": ("array.json.gz", _gz([b'[{"requestId": "in-array"}]'])),
        "json_string_line": ("string.json.gz", _gz([b'"just a string"'])),
        "wrong_types": ("wrong-types.json.gz", _gz([_line(_wrong_types())])),
        "missing_request_id": ("no-id.json.gz", _gz([_line(no_id)])),
        "missing_timestamp": ("no-timestamp.json.gz", _gz([_line(no_timestamp)])),
        "unknown_body_shape": ("unknown-shape.json.gz", _gz([_line(unknown)])),
        "huge_body_10mb": ("huge.json.gz", _gz([_line(huge)])),
        "non_utf8_bytes": ("non-utf8.json.gz", _gz([non_utf8])),
        "duplicate_in_two_files": ("dup-b.json.gz", _gz([_line(_record("dup-1"))])),
        "offloaded_body_missing": ("offloaded.json.gz", _gz([_line(offloaded)])),
    }


@pytest.fixture(scope="module")
def faulty(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every data fault in one log tree, ingested; then a late file, picked up by the next run's look-back."""
    root = tmp_path_factory.mktemp("faults")
    logs, warehouse = root / "logs", root / "wh"
    folder = _folder(logs, HOUR)
    (folder / "dup-a.json.gz").write_bytes(_gz([_line(_record("dup-1"))]))
    for name, data in _data_faults().values():
        (folder / name).write_bytes(data)
    first = _ingest(spark, logs, warehouse, HOUR, HOUR + timedelta(hours=1))
    first_rows = _rows(spark, warehouse, INV)

    late_hour = HOUR + timedelta(hours=1)
    _folder(logs, late_hour)  # the next hour exists; the late object lands in the hour already read
    (folder / "late.json.gz").write_bytes(_gz([_line(_record("late-1", minute=59))]))
    second = _ingest(spark, logs, warehouse, late_hour, late_hour + timedelta(hours=1), lookback_hours=1)
    q = tables.read(spark, LocalStorage(), str(warehouse), QUARANTINE).collect()
    return {
        "logs": logs,
        "warehouse": warehouse,
        "first": first,
        "second": second,
        "first_rows": first_rows,
        "invocations": {
            r["request_id"]: r for r in tables.read(spark, LocalStorage(), str(warehouse), INV).collect()
        },
        "quarantine": q,
    }


def _ingest(
    spark: Any, logs: Path, warehouse: Path, start: datetime, end: datetime, lookback_hours: int = 0
) -> IngestResult:
    config = IngestConfig(str(logs), str(warehouse), start, end, lookback_hours=lookback_hours)
    return run(spark, config, RunContext("faults", NOW), log=lambda _: None)


def _rows(spark: Any, warehouse: Path, schema: Any) -> list[tuple[Any, ...]]:
    df = tables.read(spark, LocalStorage(), str(warehouse), schema)
    return sorted(
        tuple(r) for r in df.select(*[c for c in schema.names if c != "request_metadata"]).collect()
    )


def _reasons(faulty: dict[str, Any], file_name: str) -> set[tuple[str, bool]]:
    return {
        (r["reason_code"], r["row_kept"])
        for r in faulty["quarantine"]
        if Path(r["source_file"]).name == file_name
    }


def _rows_from(faulty: dict[str, Any], file_name: str) -> list[Any]:
    return [r for r in faulty["invocations"].values() if Path(r["source_file"]).name == file_name]


# fault -> (quarantine reasons expected for its object, rows expected from it: an int, or "some")
EXPECTED: dict[str, tuple[set[tuple[str, bool]], int | str]] = {
    "truncated_gzip": ({("gzip_truncated", False)}, "some"),
    "corrupt_gzip_header": ({("gzip_corrupt", False)}, 0),
    "empty_file": ({("empty_file", False)}, 0),
    "invalid_json": ({("invalid_json", False)}, 1),
    "json_array_line": ({("not_an_object", False)}, 0),
    "json_string_line": ({("not_an_object", False)}, 0),
    "missing_request_id": ({("missing_request_id", False)}, 0),
    "missing_timestamp": ({("invalid_timestamp", True)}, 1),
    "unknown_body_shape": ({("unknown_input_shape", True)}, 1),
    "huge_body_10mb": (set(), 1),
    "non_utf8_bytes": ({("invalid_utf8", True)}, 1),
    "duplicate_in_two_files": (set(), 0),  # its twin in dup-a.json.gz was read first
    "offloaded_body_missing": ({("offloaded_body_missing", True)}, 1),
}


@pytest.mark.parametrize("fault", sorted(EXPECTED))
def test_data_fault_lands_in_tables_or_quarantine(faulty: dict[str, Any], fault: str) -> None:
    file_name = _data_faults()[fault][0]
    reasons, rows = EXPECTED[fault]
    assert _reasons(faulty, file_name) == reasons
    got = len(_rows_from(faulty, file_name))
    if rows == "some":
        assert 0 < got < 3000  # the lines before the damage were read
    else:
        assert got == rows


def test_a_binary_object_with_a_gz_name_is_quarantined_whole(faulty: dict[str, Any]) -> None:
    reasons = _reasons(faulty, "binary.json.gz")
    assert ("not_gzip", False) in reasons
    assert not _rows_from(faulty, "binary.json.gz")


def test_wrong_types_keep_the_row_and_name_each_field(faulty: dict[str, Any]) -> None:
    row = faulty["invocations"]["wrong-types"]
    assert row["event_ts_source"] == "hour_folder"  # the timestamp 12345 was not trusted
    fields = {
        r["field"]
        for r in faulty["quarantine"]
        if r["request_id"] == "wrong-types" and r["reason_code"] == "wrong_type"
    }
    assert {"operation", "modelId"} <= fields


def test_huge_and_odd_texts_are_kept_whole(faulty: dict[str, Any]) -> None:
    assert len(faulty["invocations"]["huge-body"]["completion_text"]) > 10_000_000
    assert "\ufffd" in faulty["invocations"]["non-utf8"]["prompt_text"]


def test_counts_reconcile_and_the_duplicate_is_counted(faulty: dict[str, Any]) -> None:
    first: IngestResult = faulty["first"]
    assert first.reconciles(), first.summary()
    assert first.duplicates == 1
    assert first.blank_lines == 1  # the empty line in invalid.json.gz
    assert first.file_errors == 4  # truncated, corrupt, empty, binary
    assert first.rows_new == len(faulty["first_rows"])


def test_a_late_file_is_picked_up_by_the_look_back(faulty: dict[str, Any]) -> None:
    second: IngestResult = faulty["second"]
    assert second.rows_new == 1
    assert faulty["invocations"]["late-1"]["hour"] == 10
    assert second.reconciles()
    first = faulty["first"]
    assert second.duplicates == first.rows_new + first.duplicates  # the hour read again; nothing doubled


def test_rerunning_after_the_faults_changes_nothing(spark: Any, faulty: dict[str, Any]) -> None:
    before_inv = _rows(spark, faulty["warehouse"], INV)
    before_q = _rows(spark, faulty["warehouse"], QUARANTINE)
    again = _ingest(spark, faulty["logs"], faulty["warehouse"], HOUR, HOUR + timedelta(hours=2))
    assert again.rows_new == 0
    assert _rows(spark, faulty["warehouse"], INV) == before_inv
    assert _rows(spark, faulty["warehouse"], QUARANTINE) == before_q


# ------------------------------------------------------------------------------------------ process faults


def _small_logs(root: Path, records: int = 400) -> Path:
    logs = root / "logs"
    for hour in range(3):
        when = HOUR + timedelta(hours=hour)
        lines = [_line(_record(f"r{hour}-{i}", minute=i % 60, hour=when.hour)) for i in range(records // 3)]
        (_folder(logs, when) / f"part-{hour}.json.gz").write_bytes(_gz(lines))
    return logs


def _llmdrift_ingest(logs: Path, warehouse: Path) -> list[str]:
    return [
        str(Path(sys.executable).with_name("llmdrift")),
        *("ingest", "--logs", str(logs), "--warehouse", str(warehouse)),
        *(
            "--start",
            "2026-11-02T10",
            "--end",
            "2026-11-02T13",
            "--lookback-hours",
            "0",
            "--master",
            "local[1]",
        ),
    ]


@pytest.mark.slow
def test_a_run_killed_mid_write_is_repaired_by_the_rerun(spark: Any, tmp_path: Path) -> None:
    """SIGKILL while Spark writes the tables, then the same run again: tables equal a clean run's."""
    logs = _small_logs(tmp_path)
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    _ingest(spark, logs, clean, HOUR, HOUR + timedelta(hours=3))

    process = subprocess.Popen(
        _llmdrift_ingest(logs, killed), stderr=subprocess.PIPE, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        if (killed / "invocations").exists():  # Spark has started writing the table
            break
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert (killed / LOCK_FILE).exists()  # the dead run's lock is left behind...
    assert not (killed / "_state" / "ingest.json").exists()  # ...and its watermark was never written

    lines: list[str] = []
    config = IngestConfig(str(logs), str(killed), HOUR, HOUR + timedelta(hours=3), lookback_hours=0)
    acquire(str(killed), "rerun", log=lines.append)  # the dead holder's lock is broken
    try:
        run(spark, config, RunContext("rerun", NOW), log=lines.append)
    finally:
        release(str(killed), "rerun")
    assert any("breaking a stale lock" in line for line in lines)
    assert _rows(spark, killed, INV) == _rows(spark, clean, INV)


def _try_lock(args: tuple[str, str, Any]) -> bool:
    warehouse, run_id, barrier = args
    barrier.wait()
    try:
        acquire(warehouse, run_id, log=lambda _: None)
    except LockError:
        return False
    return True


def test_two_runs_at_once_only_one_gets_the_warehouse(tmp_path: Path) -> None:
    warehouse = str(tmp_path / "wh")
    context = multiprocessing.get_context("fork")
    with context.Manager() as manager:
        barrier = manager.Barrier(6)
        with context.Pool(6) as pool:
            won = pool.map(_try_lock, [(warehouse, f"run-{i}", barrier) for i in range(6)])
    assert sum(won) == 1  # the winners' processes have exited, so their lock is now stale...
    acquire(warehouse, "after", log=lambda _: None)  # ...and is broken by the next run
    release(warehouse, "after")
    assert not (tmp_path / "wh" / LOCK_FILE).exists()


def test_a_second_run_on_a_busy_warehouse_refuses_and_changes_nothing(
    spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs, warehouse = _small_logs(tmp_path), tmp_path / "wh"
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])  # the other run
    try:
        lock = warehouse / LOCK_FILE
        lock.parent.mkdir(parents=True)
        expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        lock.write_text(
            json.dumps(
                {"run_id": "other-run", "host": os.uname().nodename, "pid": holder.pid, "expires_at": expires}
            )
        )
        code = cli(_llmdrift_ingest(logs, warehouse)[1:])
        assert code == 1
        assert "in use by run other-run" in capsys.readouterr().err
        assert sorted(p.name for p in warehouse.iterdir()) == ["_state"]
        assert lock.exists()  # the other run's lock is untouched
    finally:
        holder.kill()
        holder.wait()


def test_an_unwritable_warehouse_is_a_clear_error_and_leaves_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    logs = _small_logs(tmp_path)
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the warehouse's parent should be")
    code = cli(_llmdrift_ingest(logs, blocker / "wh")[1:])
    assert code == 1
    err = capsys.readouterr().err
    assert "not-a-directory" in err
    assert "Traceback" not in err
    assert blocker.read_text().startswith("a file")


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Any:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.slow
def test_a_full_disk_fails_clearly_and_the_rerun_matches_a_clean_run(
    spark: Any, tmp_path: Path, tiny_disk: Path
) -> None:
    logs = _small_logs(tmp_path, records=1500)
    clean = tmp_path / "clean"
    _ingest(spark, logs, clean, HOUR, HOUR + timedelta(hours=3))
    filler = tiny_disk / "filler"
    with open(filler, "wb") as fh:  # leave almost nothing free
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError:
            pass
    warehouse = tiny_disk / "wh"
    with pytest.raises(StorageError, match="No space left on device") as info:
        _ingest(spark, logs, warehouse, HOUR, HOUR + timedelta(hours=3))
    assert str(warehouse) in str(info.value)  # one line: which table, where, why
    visible = (
        tables.read(spark, LocalStorage(), str(warehouse), INV).count()
        if (warehouse / "invocations").exists()
        else 0
    )
    assert visible == 0  # nothing half-written is visible to readers
    assert not (warehouse / "_state" / "ingest.json").exists()

    filler.unlink()
    _ingest(spark, logs, warehouse, HOUR, HOUR + timedelta(hours=3))
    assert _rows(spark, warehouse, INV) == _rows(spark, clean, INV)


def test_files_of_an_older_schema_version_still_read(spark: Any, tmp_path: Path) -> None:
    """A partition written before a column existed reads with that column null; newer rows keep theirs."""
    from pyspark.sql import functions as F

    logs = _small_logs(tmp_path, records=60)
    warehouse = tmp_path / "wh"
    _ingest(spark, logs, warehouse, HOUR, HOUR + timedelta(hours=3))
    df = tables.read(spark, LocalStorage(), str(warehouse), INV, [("2026-11-02", 10)])
    old = df.drop("first_byte_latency_ms", "body_output_tokens")  # as an older writer would have left it
    path = warehouse / "invocations" / "dt=2026-11-02" / "hour=10"
    old.drop("dt", "hour").localCheckpoint().write.mode("overwrite").parquet(str(path))

    back = tables.read(spark, LocalStorage(), str(warehouse), INV)
    assert back.count() == 60
    older = back.where("hour = 10")
    assert older.where(F.col("body_output_tokens").isNotNull()).count() == 0
    assert back.where("hour = 11").where(F.col("body_output_tokens").isNotNull()).count() > 0
