"""S3 in and out against a real S3 server: SeaweedFS on loopback (tests/s3server.py), credentials checked.

The storage layer (boto3), Spark's S3A over ``s3://`` and the whole pipeline as a user runs it: generated logs
in a bucket -> ``llmdrift run`` -> tables and the HTML report in a bucket -> read back with the expected counts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from llmdrift.core import s3a, schemas, tables
from llmdrift.core.storage import S3Storage, StorageError, storage_for

needs_s3a = pytest.mark.skipif(not s3a.present(), reason="S3A jars not fetched (make setup fetches them)")


def test_storage_round_trip(s3_env: Any) -> None:
    root = s3_env.make_bucket("storage-round-trip") + "/root"
    store = storage_for(root)
    assert isinstance(store, S3Storage)
    store.write_bytes(f"{root}/a/x.txt", b"hello")
    store.write_bytes(f"{root}/a/b/y.txt", b"")
    store.write_bytes(f"{root}/c/z.txt", b"zz")

    assert store.read_bytes(f"{root}/a/x.txt") == b"hello"
    assert store.read_bytes(f"{root}/a/x.txt", limit=2) == b"he"
    assert store.read_bytes(f"{root}/a/b/y.txt", limit=10) == b""
    assert [f.uri for f in store.list_files(f"{root}/a")] == [f"{root}/a/x.txt"]
    assert [(f.uri, f.size) for f in store.list_files(f"{root}/a", recursive=True)] == [
        (f"{root}/a/b/y.txt", 0),
        (f"{root}/a/x.txt", 5),
    ]
    assert store.list_dirs(root) == ["a", "c"]
    assert store.exists(f"{root}/a/x.txt")
    assert store.exists(f"{root}/a")  # a prefix with objects under it
    assert not store.exists(f"{root}/nothing")
    with pytest.raises(FileNotFoundError):
        store.read_bytes(f"{root}/a/missing.txt")

    bucket_root = root.rsplit("/", 1)[0]
    assert store.exists(bucket_root)  # a bucket root (logs are often delivered there)
    assert store.list_dirs(bucket_root) == ["root"]
    store.delete_tree(f"{root}/a")
    assert not store.exists(f"{root}/a")
    assert store.list_files(f"{root}/a", recursive=True) == []
    assert "c" in store.list_dirs(root)  # SeaweedFS may list the emptied folder for a while; S3 does not
    assert store.list_files("s3://no-such-bucket-here/x") == []
    assert not store.exists("s3://no-such-bucket-here")


def test_listing_and_deleting_past_one_page(s3_env: Any) -> None:
    root = s3_env.make_bucket("many-objects") + "/p"
    store = S3Storage()
    for i in range(1005):  # ListObjectsV2 pages hold 1,000 keys; DeleteObjects takes 1,000
        store.write_bytes(f"{root}/k{i:04d}", b"x")
    assert len(store.list_files(root)) == 1005
    store.delete_tree(root)
    assert store.list_files(root, recursive=True) == []


def test_the_warehouse_lock_on_s3(s3_env: Any) -> None:
    from llmdrift.core.lock import LOCK_FILE, LockError, acquire, release

    warehouse = s3_env.make_bucket("lock-on-s3") + "/wh"
    acquire(warehouse, "first", log=lambda _: None)
    try:
        holder = S3Storage().read_bytes(f"{warehouse}/{LOCK_FILE}")
        assert b'"first"' in holder
        from llmdrift.core import lock

        held = lock._held.pop(warehouse)  # look like another process to ourselves
        try:
            with pytest.raises(LockError, match="in use by run first"):
                acquire(warehouse, "second", log=lambda _: None)
        finally:
            lock._held[warehouse] = held
    finally:
        release(warehouse, "first")
    assert not S3Storage().exists(f"{warehouse}/{LOCK_FILE}")


def test_bad_credentials_are_a_storage_error_naming_the_uri_not_the_secret(
    s3_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = s3_env.make_bucket("bad-credentials")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWNKEY000000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret-value")
    with pytest.raises(StorageError) as info:
        S3Storage().write_bytes(f"{root}/x.txt", b"x")
    assert f"{root}/x.txt" in str(info.value)
    assert "wrong-secret-value" not in str(info.value)


@needs_s3a
def test_spark_writes_and_reads_a_partitioned_table_over_s3(spark: Any, s3_env: Any) -> None:
    from pyspark.sql import functions as F

    s3a.configure(spark)  # the shared session picks up this test's endpoint and keys
    warehouse = s3_env.make_bucket("spark-tables") + "/warehouse"
    schema = schemas.load("anomalies")
    rows = spark.range(30).select(
        *[F.lit(None).cast(schemas.spark_type(c.type)).alias(c.name) for c in schema.columns],
        (F.when(F.col("id") < 10, "2026-11-02").otherwise("2026-11-03")).alias("dt"),
    )
    tables.overwrite_partitions(rows, warehouse, schema)
    back = tables.read(spark, storage_for(warehouse), warehouse, schema)
    assert {r["dt"]: r["n"] for r in back.groupBy("dt").agg(F.count("*").alias("n")).collect()} == {
        "2026-11-02": 10,
        "2026-11-03": 20,
    }
    # dynamic overwrite over S3 replaces one partition and keeps the other
    tables.overwrite_partitions(rows.where("dt = '2026-11-03'").limit(5), warehouse, schema)
    assert tables.read(spark, storage_for(warehouse), warehouse, schema, [("2026-11-03",)]).count() == 5
    assert tables.read(spark, storage_for(warehouse), warehouse, schema).count() == 15


def _llmdrift(args: list[str], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("llmdrift")), *args]
    return subprocess.run(
        command, env={**os.environ, **env}, capture_output=True, text=True, timeout=timeout, check=False
    )


@needs_s3a
@pytest.mark.slow
def test_pipeline_end_to_end_over_s3(spark: Any, s3_env: Any) -> None:
    """generate -> logs in S3 -> `llmdrift run` (its own Spark, as a user runs it) -> tables and report in S3."""
    from pyspark.sql import functions as F

    from llmdrift.generate.traffic import Change, Scenario
    from llmdrift.generate.writer import write_logs

    logs = s3_env.make_bucket("e2e-logs") + "/bedrock"
    warehouse = s3_env.make_bucket("e2e-warehouse") + "/llmdrift"
    scenario = Scenario(
        seed=5,
        start=date(2026, 11, 2),
        days=2,
        per_day=160,
        offload_rate=0.03,
        duplicate_rate=0.02,
        changes=(Change.parse("topic_shift:0.5"),),
        change_from=date(2026, 11, 3),
    )
    written = write_logs(scenario, storage_for(logs), logs)
    assert written.data_objects > 0  # offloaded bodies live in the bucket too

    done = _llmdrift(
        [
            *("run", "--logs", logs, "--warehouse", warehouse, "--end", "2026-11-04"),
            *("--master", "local[2]", "--conf", "spark.sql.shuffle.partitions=2"),
        ],
        s3_env.env(),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"{warehouse}/invocations" in done.stderr  # output locations are printed as s3:// URIs

    s3a.configure(spark)
    store = storage_for(warehouse)
    invocations = tables.read(spark, store, warehouse, schemas.load("invocations"))
    assert invocations.count() == written.records
    assert invocations.where("input_body_status = 'offloaded'").count() > 0
    metrics = tables.read(spark, store, warehouse, schemas.load("invocation_metrics"))
    assert metrics.count() == written.records
    runs = tables.read(spark, store, warehouse, schemas.load("ingest_runs")).collect()
    assert sum(r["lines_read"] for r in runs) == written.records + written.duplicates
    drifted = tables.read(spark, store, warehouse, schemas.load("drift_results")).where(
        "slice_type = 'all' AND drifted"
    )
    assert drifted.where(F.col("feature").startswith("prompt")).count() > 0  # the topic shift is found
    reports = [f.uri for f in store.list_files(f"{warehouse}/reports", recursive=True)]
    assert any(u.endswith(".html") and "drift-report-" in u for u in reports), reports
    page = store.read_bytes(next(u for u in reports if "drift-report-" in u)).decode()
    assert "<svg" in page
    assert "prompt" in page.lower()
