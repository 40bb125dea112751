"""Schema files: they load, Spark and Arrow agree, and the parser emits exactly their columns."""

from __future__ import annotations

import json
from importlib import resources

import pyarrow as pa
import pytest

from llmdrift.core import schemas
from llmdrift.ingest.reader import parsed_schema

TABLES = ("invocations", "quarantine", "ingest_runs")


@pytest.mark.parametrize("table", TABLES)
def test_schema_loads_and_types_agree(spark: object, table: str) -> None:
    schema = schemas.load(table)
    spark_fields = [(f.name, f.nullable) for f in schema.spark_schema().fields]
    arrow_fields = [(f.name, f.nullable) for f in schema.arrow_schema()]
    assert spark_fields == arrow_fields == [(c.name, c.nullable) for c in schema.all_columns]
    assert schema.partition_names == (["dt"] if table == "ingest_runs" else ["dt", "hour"])
    assert set(schema.primary_key) <= set(schema.names)
    assert all(c.description for c in schema.all_columns), "every column is documented"
    assert all(c.name == c.name.lower() and " " not in c.name for c in schema.all_columns)


def test_spark_round_trip_of_types(spark: object) -> None:
    from pyspark.sql.pandas.types import from_arrow_schema

    schema = schemas.load("invocations")
    converted = from_arrow_schema(schema.arrow_schema())
    assert [f.dataType for f in converted.fields] == [f.dataType for f in schema.spark_schema().fields]


def test_parsed_schema_is_the_union() -> None:
    names = set(parsed_schema().names)
    assert {"kind", "stat_lines"} <= names
    for table in ("invocations", "quarantine"):
        assert set(schemas.load(table).names) <= names


def test_versions_and_errors() -> None:
    assert schemas.load("invocations", 1).version == 1
    with pytest.raises(schemas.SchemaError, match="no schema version 9"):
        schemas.load("invocations", 9)
    with pytest.raises(schemas.SchemaError, match="no schema file"):
        schemas.load("nope")
    with pytest.raises(schemas.SchemaError, match="unsupported column type"):
        schemas.arrow_type("varchar(10)")
    assert schemas.arrow_type("map<string,array<bigint>>") == pa.map_(pa.string(), pa.list_(pa.int64()))


def test_schema_files_are_valid_json_with_matching_names() -> None:
    for entry in resources.files("llmdrift.schema_files").iterdir():
        if entry.name.endswith(".json"):
            raw = json.loads(entry.read_text())
            assert entry.name == f"{raw['table']}.v{raw['version']}.json"
