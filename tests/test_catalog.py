"""Glue/Athena catalog: the generated DDL and TableInput, the DDL run in Spark with Hive, and catalog sync.

No local Glue server exists, so the Glue Data Catalog API is emulated by moto (``mock_aws``). moto does not
report per-item BatchCreatePartition failures other than AlreadyExists, so that one case replaces the
client's ``batch_create_partition`` with a stand-in returning such an error (monkeypatch). The Hive check
runs the DDL in Spark 3.5 with Hive support and an embedded Derby metastore, in a subprocess
(``tests/catalog_hive_check.py``) because the test session's Spark cannot switch on Hive.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlglot
from sqlglot import exp

from llmdrift.catalog import ddl
from llmdrift.catalog.sync import CatalogError, find_partitions, sync, table_differs
from llmdrift.cli import main
from llmdrift.core import schemas
from llmdrift.core.schemas import Column, TableSchema
from llmdrift.core.storage import LocalStorage

REPO = Path(__file__).resolve().parents[1]
TABLES = ddl.table_names()
HOURLY = {"invocations", "invocation_metrics", "embeddings", "invocation_costs", "quarantine"}


def test_table_names_are_the_schema_files() -> None:
    files = {p.name.split(".v")[0] for p in (REPO / "schemas").glob("*.v*.json")}
    assert sorted(files) == TABLES
    assert {t for t in TABLES if schemas.load(t).partition_names == ["dt", "hour"]} == HOURLY
    assert all(schemas.load(t).partition_names in (["dt"], ["dt", "hour"]) for t in TABLES)


# --- TableInput --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("table", TABLES)
def test_table_input_shape(table: str) -> None:
    schema = schemas.load(table)
    ti = ddl.table_input(schema, "s3://bucket/wh/", projection_start="2025-06-01")
    location = f"s3://bucket/wh/{table}/"
    assert ti["Name"] == table
    assert ti["TableType"] == "EXTERNAL_TABLE"
    assert ti["Description"] == schema.description
    sd = ti["StorageDescriptor"]
    assert sd["Location"] == location
    assert (
        sd["SerdeInfo"]["SerializationLibrary"]
        == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    )
    assert sd["InputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
    assert sd["OutputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
    assert [(c["Name"], c["Type"]) for c in sd["Columns"]] == [(c.name, c.type) for c in schema.columns]
    assert [(c["Name"], c["Type"]) for c in ti["PartitionKeys"]] == [
        (c.name, c.type) for c in schema.partition_keys
    ]
    assert all(len(c.get("Comment", "")) <= 255 for c in sd["Columns"] + ti["PartitionKeys"])
    params = ti["Parameters"]
    assert params["EXTERNAL"] == "TRUE"
    assert params["classification"] == "parquet"
    assert params["parquet.compression"] == "SNAPPY"
    assert params["projection.enabled"] == "true"
    assert params["projection.dt.type"] == "date"
    assert params["projection.dt.format"] == "yyyy-MM-dd"
    assert params["projection.dt.range"] == "2025-06-01,NOW"
    assert params["projection.dt.interval"] == "1"
    assert params["projection.dt.interval.unit"] == "DAYS"
    projected = {k.split(".")[1] for k in params if k.startswith("projection.") and k != "projection.enabled"}
    assert projected == set(schema.partition_names)
    if table in HOURLY:
        assert params["projection.hour.type"] == "integer"
        assert params["projection.hour.range"] == "0,23"
        assert "projection.hour.digits" not in params  # Spark writes hour=7
        assert params["storage.location.template"] == location + "dt=${dt}/hour=${hour}/"
    else:
        assert params["storage.location.template"] == location + "dt=${dt}/"
    assert params["llmdrift.schema"] == f"{table}.v1"


def test_long_comments_are_cut_to_glue_limits_and_bad_names_refused() -> None:
    schema = TableSchema(
        table="t",
        version=1,
        description="d" * 3000,
        columns=(Column("a", "string", description="word " * 100),),
        partition_keys=(Column("dt", "string"),),
        primary_key=(),
    )
    ti = ddl.table_input(schema, "/tmp/wh")
    comment = ti["StorageDescriptor"]["Columns"][0]["Comment"]
    assert len(comment) == 255
    assert comment.endswith("...")
    assert len(ti["Description"]) == 2048
    assert ti["StorageDescriptor"]["Location"] == "file:///tmp/wh/t/"
    assert "Comment" not in ti["PartitionKeys"][0]
    with pytest.raises(ddl.DdlError, match="Bad-Name"):
        ddl.create_table_ddl(schema, "/tmp/wh", database="Bad-Name")
    with pytest.raises(ddl.DdlError, match="projection start"):
        ddl.table_input(schema, "/tmp/wh", projection_start="last year")
    assert ddl.table_input(schema, "/tmp/wh", projection_start="NOW-2YEARS")["Parameters"][
        "projection.dt.range"
    ] == ("NOW-2YEARS,NOW")
    odd = TableSchema("t", 1, "", (Column("a", "string"),), (Column("region", "string"),), ())
    with pytest.raises(ddl.DdlError, match="no partition projection"):
        ddl.table_input(odd, "/tmp/wh")


def test_partition_input_points_at_the_partition_folder() -> None:
    schema = schemas.load("invocations")
    item = ddl.partition_input(schema, "s3a://bucket/wh", ("2026-11-02", "7"))
    assert item["Values"] == ["2026-11-02", "7"]
    assert item["StorageDescriptor"]["Location"] == "s3://bucket/wh/invocations/dt=2026-11-02/hour=7/"
    assert item["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"] == ddl.SERDE
    assert [c["Name"] for c in item["StorageDescriptor"]["Columns"]] == [c.name for c in schema.columns]


# --- Athena DDL --------------------------------------------------------------------------------------------


def _properties(tree: exp.Create) -> dict[str, str]:
    return {
        p.this.this: p.args["value"].this
        for p in tree.args["properties"].expressions
        if type(p) is exp.Property and isinstance(p.this, exp.Literal)
    }


@pytest.mark.parametrize("table", TABLES)
def test_ddl_parses_as_athena_and_says_what_the_schema_says(table: str) -> None:
    schema = schemas.load(table)
    text = ddl.create_table_ddl(schema, "s3://bucket/wh", database="analytics")
    tree = sqlglot.parse_one(text, read="athena")
    assert isinstance(tree, exp.Create)
    assert tree.args["kind"] == "TABLE"
    assert tree.args["exists"] is True
    target = tree.this.this
    assert (target.db, target.name) == ("analytics", table)
    assert all(i.quoted for i in tree.this.find_all(exp.Identifier))  # every identifier backticked
    columns = tree.this.expressions
    assert [c.name for c in columns] == [c.name for c in schema.columns]
    comments = {
        c.name: c.find(exp.CommentColumnConstraint).this.this
        for c in columns
        if c.find(exp.CommentColumnConstraint)
    }
    assert comments == {c.name: " ".join(c.description.split()) for c in schema.columns if c.description}
    props = tree.args["properties"].expressions
    assert any(isinstance(p, exp.ExternalProperty) for p in props)
    partitioned = next(p for p in props if isinstance(p, exp.PartitionedByProperty))
    assert [c.name for c in partitioned.this.expressions] == schema.partition_names
    assert next(p for p in props if isinstance(p, exp.FileFormatProperty)).this.name == "PARQUET"
    location = next(p for p in props if isinstance(p, exp.LocationProperty)).this.this
    assert location == f"s3://bucket/wh/{table}/"
    expected = {
        k: v for k, v in ddl.table_input(schema, "s3://bucket/wh")["Parameters"].items() if k != "EXTERNAL"
    }
    assert _properties(tree) == expected
    assert "'EXTERNAL'" not in text  # Spark refuses it; CREATE EXTERNAL TABLE says it


def test_comment_quotes_are_backslash_escaped() -> None:
    text = ddl.create_table_ddl(schemas.load("drift_clusters"), "s3://b/wh")
    assert "COMMENT 'Words that set the cluster\\'s texts apart'" in text
    assert "''" not in text  # Spark reads 'a''b' as two literals: a syntax error in a COMMENT
    assert ddl.hive_string("a\\b'c\nd") == "'a\\\\b\\'c\\nd'"


def test_ddl_command_prints_every_statement(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ddl", "--warehouse", "s3://bucket/wh", "--database", "analytics"]) == 0
    out = capsys.readouterr().out
    statements = [s for s in sqlglot.parse(out, read="athena") if s is not None]
    assert len(statements) == 1 + len(TABLES)
    assert statements[0].args["kind"] == "DATABASE"
    assert [s.this.this.name for s in statements[1:]] == TABLES
    assert out.count("CREATE EXTERNAL TABLE IF NOT EXISTS `analytics`.") == len(TABLES)


def test_ddl_command_glue_format_and_one_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ddl", "--table", "embeddings", "--format", "glue", "--warehouse", "s3://b/w"]) == 0
    (table_input,) = json.loads(capsys.readouterr().out)
    assert table_input == ddl.table_input(schemas.load("embeddings"), "s3://b/w")


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["ddl", "--table", "nope"], "--table"),
        (["ddl", "--database", "Bad-Name"], "--database"),
        (["ddl", "--projection-start", "yesterday"], "--projection-start"),
        (["ddl", "--format", "yaml"], "--format"),
        (["ddl", "--warehouse", "hdfs://x/y"], "--warehouse"),
        (["catalog", "sync"], "--warehouse"),
        (["catalog", "sync", "--warehouse", "/w", "--table", "nope"], "--table"),
        (["catalog", "sync", "--warehouse", "/w", "--database", "a b"], "--database"),
    ],
)
def test_bad_arguments_exit_2_naming_the_argument(
    argv: list[str], names: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert names in captured.err + captured.out


@pytest.mark.parametrize("command", [["ddl"], ["catalog"], ["catalog", "sync"], ["query"]])
def test_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*command, "--help"]) == 0
    assert "Usage" in capsys.readouterr().out


# --- the DDL in Spark with Hive support ------------------------------------------------------------------


@pytest.fixture(scope="module")
def hive_report(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("hive")
    env = {**os.environ, "TZ": "UTC", "SPARK_LOCAL_IP": "127.0.0.1"}
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("catalog_hive_check.py")), str(tmp)],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert not (REPO / "metastore_db").exists()
    assert (tmp / "metastore_db").is_dir()
    report: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return report


def test_every_table_ddl_runs_in_spark_hive_and_msck_finds_the_partitions(
    hive_report: dict[str, Any],
) -> None:
    assert sorted(hive_report) == TABLES
    for table, got in hive_report.items():
        schema = schemas.load(table)
        assert got["partitions_before_repair"] == 0, table
        assert got["rows"] == 5, table
        assert got["rows_equal"], (table, got["first_difference"])
        assert got["columns"] == schema.names, table
        if table in HOURLY:
            assert got["partitions"] == [
                "dt=2026-11-02/hour=0",
                "dt=2026-11-02/hour=7",
                "dt=2026-11-03/hour=13",
            ]
            assert got["per_partition"] == {"2026-11-02/0": 1, "2026-11-02/7": 2, "2026-11-03/13": 2}
            assert got["template"].endswith(f"/{table}/dt=${{dt}}/hour=${{hour}}/")
        else:
            assert got["partitions"] == ["dt=2026-11-02", "dt=2026-11-03"], table
            assert got["per_partition"] == {"2026-11-02": 2, "2026-11-03": 3}, table
            assert got["template"].endswith(f"/{table}/dt=${{dt}}/")


def test_comments_with_quotes_survive_spark_hive(hive_report: dict[str, Any]) -> None:
    assert hive_report["drift_clusters"]["comments"]["terms"] == "Words that set the cluster's texts apart"
    assert (
        hive_report["invocations"]["comments"]["tokens_from_body"]
        == "True when a token count fell back to the body's usage"
    )


# --- catalog sync against moto ----------------------------------------------------------------------------


@pytest.fixture
def glue(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    for key in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_GLUE", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    with mock_aws():
        yield boto3.client("glue", region_name="us-east-1")


def _touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    """Partition folders as Spark leaves them (data files, .crc and _SUCCESS), plus folders to skip."""
    wh = tmp_path / "wh"
    for day in range(2, 7):  # 5 days x 24 hours = 120 invocations partitions: two BatchCreatePartition calls
        for hour in range(24):
            folder = wh / "invocations" / f"dt=2026-11-0{day}" / f"hour={hour}"
            _touch(folder / "part-00000-abc.c000.snappy.parquet")
            _touch(folder / ".part-00000-abc.c000.snappy.parquet.crc")
    for day in ("2026-11-02", "2026-11-03", "2026-11-04"):
        _touch(wh / "usage_daily" / f"dt={day}" / "part-00000-x.snappy.parquet")
    _touch(wh / "usage_daily" / "_SUCCESS")
    _touch(wh / "invocations" / "dt=2026-11-07" / "hour=07" / "part-0.parquet")  # padded: not Spark's
    _touch(wh / "invocations" / "_temporary" / "0" / "dt=2026-11-08" / "hour=1" / "part-0.parquet")
    (wh / "invocations" / "dt=2026-11-09" / "hour=3").mkdir(parents=True)  # empty: no data file
    return wh


class BatchSpy:
    """Records the sizes of BatchCreatePartition calls and passes them on."""

    def __init__(self, glue: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sizes: list[tuple[str, int]] = []
        real = glue.batch_create_partition

        def spy(**kwargs: Any) -> Any:
            self.sizes.append((kwargs["TableName"], len(kwargs["PartitionInputList"])))
            return real(**kwargs)

        monkeypatch.setattr(glue, "batch_create_partition", spy)


def _all_partitions(glue: Any, table: str) -> list[dict[str, Any]]:
    pages = glue.get_paginator("get_partitions").paginate(DatabaseName="llmdrift", TableName=table)
    return [p for page in pages for p in page["Partitions"]]


def test_find_partitions_reads_spark_folders_only(warehouse: Path) -> None:
    found, skipped = find_partitions(LocalStorage(), str(warehouse), schemas.load("invocations"))
    assert len(found) == 120
    assert found[:3] == [("2026-11-02", "0"), ("2026-11-02", "1"), ("2026-11-02", "2")]
    assert ("2026-11-02", "10") in found
    assert skipped == ["dt=2026-11-07/hour=07"]
    assert find_partitions(LocalStorage(), str(warehouse), schemas.load("alerts")) == ([], [])


def test_sync_creates_tables_and_partitions_and_a_rerun_is_a_no_op(
    glue: Any, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = BatchSpy(glue, monkeypatch)
    logs: list[str] = []
    first = sync(glue, LocalStorage(), str(warehouse), "llmdrift", log=logs.append)
    assert first.database_created
    assert first.count("created") == len(TABLES)
    assert first.partitions_added == 123
    assert spy.sizes == [("invocations", 100), ("invocations", 20), ("usage_daily", 3)]
    assert any("skipped dt=2026-11-07/hour=07" in line for line in logs)

    assert sorted(t["Name"] for t in glue.get_tables(DatabaseName="llmdrift")["TableList"]) == TABLES
    stored = glue.get_table(DatabaseName="llmdrift", Name="invocations")["Table"]
    expected = ddl.table_input(schemas.load("invocations"), str(warehouse))
    assert stored["Parameters"] == expected["Parameters"]
    assert stored["StorageDescriptor"]["Columns"] == expected["StorageDescriptor"]["Columns"]
    parts = _all_partitions(glue, "invocations")
    assert len(parts) == 120
    one = next(p for p in parts if p["Values"] == ["2026-11-04", "7"])
    assert one["StorageDescriptor"]["Location"] == f"file://{warehouse}/invocations/dt=2026-11-04/hour=7/"
    assert sorted(p["Values"][0] for p in _all_partitions(glue, "usage_daily")) == [
        "2026-11-02",
        "2026-11-03",
        "2026-11-04",
    ]

    spy.sizes.clear()
    second = sync(glue, LocalStorage(), str(warehouse), "llmdrift")
    assert not second.database_created
    assert (second.count("created"), second.count("updated"), second.count("unchanged")) == (
        0,
        0,
        len(TABLES),
    )
    assert second.partitions_added == 0
    assert spy.sizes == []
    assert second.summary().endswith(f"0 created, 0 updated, {len(TABLES)} unchanged; partitions: 0 added")

    _touch(warehouse / "invocations" / "dt=2026-11-07" / "hour=0" / "part-0.snappy.parquet")
    third = sync(glue, LocalStorage(), str(warehouse), "llmdrift", tables=["invocations"])
    assert third.partitions_added == 1
    assert spy.sizes == [("invocations", 1)]


def test_a_changed_table_input_updates_the_table(glue: Any, warehouse: Path) -> None:
    sync(glue, LocalStorage(), str(warehouse), "llmdrift", tables=["alerts", "anomalies"])
    changed = sync(
        glue,
        LocalStorage(),
        str(warehouse),
        "llmdrift",
        tables=["alerts", "anomalies"],
        projection_start="2025-01-01",
    )
    assert [t.action for t in changed.tables] == ["updated", "updated"]
    params = glue.get_table(DatabaseName="llmdrift", Name="alerts")["Table"]["Parameters"]
    assert params["projection.dt.range"] == "2025-01-01,NOW"
    again = sync(
        glue,
        LocalStorage(),
        str(warehouse),
        "llmdrift",
        tables=["alerts", "anomalies"],
        projection_start="2025-01-01",
    )
    assert [t.action for t in again.tables] == ["unchanged", "unchanged"]


def test_table_differs_ignores_glue_managed_parameters_but_not_stale_projection() -> None:
    desired = ddl.table_input(schemas.load("alerts"), "s3://b/w")
    current = json.loads(json.dumps(desired))
    current["Parameters"]["transient_lastDdlTime"] = "1700000000"
    current["Parameters"]["comment_by_someone"] = "kept"
    current["CreateTime"] = "2026-11-02"
    assert not table_differs(current, desired)
    current["Parameters"]["projection.region.type"] = "enum"
    assert table_differs(current, desired)
    del current["Parameters"]["projection.region.type"]
    current["StorageDescriptor"]["Columns"][0]["Comment"] = "old words"
    assert table_differs(current, desired)


def test_a_partition_error_other_than_already_exists_raises_naming_table_and_partition(
    glue: Any, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing(**kwargs: Any) -> dict[str, Any]:
        values = [p["Values"] for p in kwargs["PartitionInputList"]]
        return {
            "Errors": [
                {
                    "PartitionValues": values[0],
                    "ErrorDetail": {"ErrorCode": "AlreadyExistsException", "ErrorMessage": "exists"},
                },
                {
                    "PartitionValues": values[1],
                    "ErrorDetail": {
                        "ErrorCode": "InvalidInputException",
                        "ErrorMessage": "Column type mismatch",
                    },
                },
            ]
        }

    monkeypatch.setattr(glue, "batch_create_partition", failing)
    with pytest.raises(CatalogError) as info:
        sync(glue, LocalStorage(), str(warehouse), "llmdrift", tables=["usage_daily"])
    message = str(info.value)
    assert "dt=2026-11-03" in message
    assert "llmdrift.usage_daily" in message
    assert "InvalidInputException: Column type mismatch" in message


def test_already_exists_item_errors_are_benign(
    glue: Any, warehouse: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = glue.batch_create_partition

    def racing(**kwargs: Any) -> Any:
        # Another run registered the first partition between our listing and our call.
        first = dict(kwargs, PartitionInputList=kwargs["PartitionInputList"][:1])
        real(**first)
        return real(**kwargs)

    monkeypatch.setattr(glue, "batch_create_partition", racing)
    result = sync(glue, LocalStorage(), str(warehouse), "llmdrift", tables=["usage_daily"])
    assert result.partitions_added == 2
    assert len(_all_partitions(glue, "usage_daily")) == 3


def test_catalog_sync_command(glue: Any, warehouse: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["catalog", "sync", "--warehouse", str(warehouse), "--region", "us-east-1", "--json"]
    assert main([*argv, "--table", "usage_daily", "--table", "alerts"]) == 0
    counts = json.loads(capsys.readouterr().out)
    assert counts["tables_created"] == 2
    assert counts["partitions_added"] == 3
    assert main(argv) == 0
    counts = json.loads(capsys.readouterr().out)
    assert (counts["tables_created"], counts["tables_unchanged"]) == (len(TABLES) - 2, 2)
    assert counts["partitions_added"] == 120
    assert main(argv) == 0
    counts = json.loads(capsys.readouterr().out)
    assert (counts["tables_created"], counts["tables_updated"], counts["partitions_added"]) == (0, 0, 0)


def test_sync_reads_an_s3_warehouse(glue: Any) -> None:
    """The production layout: the warehouse in S3 (moto's S3 here, through llmdrift's S3Storage)."""
    import boto3

    from llmdrift.core.storage import S3Storage

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="lake")
    for key in (
        "wh/usage_daily/dt=2026-11-02/part-0.snappy.parquet",
        "wh/usage_daily/dt=2026-11-03/part-0.snappy.parquet",
        "wh/embeddings/dt=2026-11-02/hour=23/part-0.snappy.parquet",
        "wh/embeddings/dt=2026-11-02/hour=23/_SUCCESS",
    ):
        s3.put_object(Bucket="lake", Key=key, Body=b"")
    result = sync(glue, S3Storage(s3), "s3://lake/wh", "llmdrift", tables=["usage_daily", "embeddings"])
    assert [(t.table, t.partitions_added) for t in result.tables] == [("usage_daily", 2), ("embeddings", 1)]
    (part,) = _all_partitions(glue, "embeddings")
    assert part["Values"] == ["2026-11-02", "23"]
    assert part["StorageDescriptor"]["Location"] == "s3://lake/wh/embeddings/dt=2026-11-02/hour=23/"
    table = glue.get_table(DatabaseName="llmdrift", Name="usage_daily")["Table"]
    assert table["StorageDescriptor"]["Location"] == "s3://lake/wh/usage_daily/"
    assert table["Parameters"]["storage.location.template"] == "s3://lake/wh/usage_daily/dt=${dt}/"
