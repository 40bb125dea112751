"""Glue ``TableInput`` dicts and Athena DDL for every warehouse table, from the schema files (pure, no I/O).

Every table is an external Hive-Parquet table at ``<warehouse>/<table>/`` (Spark-written, snappy, millisecond
timestamps) partitioned like its schema file says: ``dt`` (``yyyy-MM-dd`` strings) and, for the per-invocation
tables, ``hour`` (0-23, written by Spark without zero padding: ``hour=7``).

Athena finds partitions by **partition projection** (``projection.dt.type=date`` from a configurable start to
``NOW``, ``projection.hour.type=integer`` 0-23, and ``storage.location.template``), so it needs no partition
maintenance. Projection only drives Athena: Spark, Glue jobs and other Hive readers need registered
partitions, which ``llmdrift.catalog.sync`` adds (spec §4.8).

The DDL is Athena's Hive DDL, and the same text runs in Spark 3.5 with Hive support, which is stricter in
two ways, both handled or documented here:

- String literals: Spark does not accept SQL's doubled quote (``'it''s'`` is two adjacent literals, a syntax
  error in a COMMENT). Comments are therefore escaped with backslashes (``'it\\'s'``), which Hive, Athena,
  Spark and sqlglot's athena dialect all read back as ``it's``.
- ``TBLPROPERTIES ('EXTERNAL'='TRUE')`` is refused by Spark ("preserved property key"): the DDL says
  ``CREATE EXTERNAL TABLE`` instead, and only the Glue ``TableInput`` carries the parameter.
- Spark substitutes ``${var}`` in SQL text by default, which would blank out the ``${dt}`` and ``${hour}`` of
  ``storage.location.template``: run the DDL in Spark with ``spark.sql.variable.substitute=false``. Athena
  does no substitution.
"""

from __future__ import annotations

import re
from datetime import date
from importlib import resources
from typing import Any

from llmdrift.core import schemas
from llmdrift.core.errors import LlmdriftError
from llmdrift.core.schemas import Column, TableSchema
from llmdrift.core.storage import is_s3, join, normalize

SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
DEFAULT_DATABASE = "llmdrift"
DEFAULT_PROJECTION_START = "2024-01-01"
DEFAULT_PROJECTION_END = "NOW"
COMMENT_MAX = 255  # Glue Column.Comment (spec §7)
DESCRIPTION_MAX = 2048  # Glue TableInput.Description

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,254}$")  # Athena: lower case, letters, digits and underscores
_RELATIVE = re.compile(r"^NOW([+-]\d+(YEARS?|MONTHS?|WEEKS?|DAYS?|HOURS?|MINUTES?|SECONDS?))?$")


class DdlError(LlmdriftError, ValueError):
    """A table, database name or projection setting that cannot be turned into a catalog table."""


def table_names() -> list[str]:
    """Every table that has a schema file, sorted."""
    found = set()
    for item in resources.files("llmdrift.schema_files").iterdir():
        match = re.fullmatch(r"([a-z0-9_]+)\.v\d+\.json", item.name)
        if match:
            found.add(match.group(1))
    return sorted(found)


def check_name(name: str, what: str = "database") -> str:
    if not _NAME.match(name):
        raise DdlError(
            f"{what} name {name!r} is not valid for Glue/Athena: use lower-case letters, digits and"
            " underscores, starting with a letter"
        )
    return name


def check_projection_bound(value: str, what: str) -> str:
    """``2024-01-01``, ``NOW`` or a relative form such as ``NOW-3YEARS`` (Athena's date projection range)."""
    text = value.strip()
    if _RELATIVE.match(text):
        return text
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise DdlError(
            f"{what} {value!r} is not a day like 2024-01-01, NOW or a relative form like NOW-3YEARS"
        ) from None


def table_location(warehouse: str, table: str) -> str:
    """The table's folder, with a trailing slash: ``s3://bucket/prefix/<table>/`` or ``file:///path/<table>/``."""
    base = normalize(warehouse)
    if not is_s3(base):
        base = "file://" + base
    return join(base, table) + "/"


def partition_location(schema: TableSchema, warehouse: str, values: tuple[str, ...]) -> str:
    """``<table location>dt=2026-11-02/hour=7/`` for partition values ordered like the partition keys."""
    if len(values) != len(schema.partition_keys):
        raise DdlError(
            f"{schema.table}: partition values {values} do not match keys {schema.partition_names}"
        )
    parts = [f"{key}={value}" for key, value in zip(schema.partition_names, values, strict=True)]
    return table_location(warehouse, schema.table) + "/".join(parts) + "/"


def _comment(text: str, limit: int = COMMENT_MAX) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def _projection(key: Column, start: str, end: str) -> dict[str, str]:
    if key.name == "dt" and key.type == "string":
        return {
            "projection.dt.type": "date",
            "projection.dt.format": "yyyy-MM-dd",
            "projection.dt.range": f"{start},{end}",
            "projection.dt.interval": "1",
            "projection.dt.interval.unit": "DAYS",
        }
    if key.name == "hour" and key.type == "int":
        # No projection.hour.digits: Spark writes hour=7, not hour=07.
        return {"projection.hour.type": "integer", "projection.hour.range": "0,23"}
    raise DdlError(f"no partition projection is defined for partition key {key.name} {key.type}")


def table_properties(
    schema: TableSchema,
    warehouse: str,
    projection_start: str = DEFAULT_PROJECTION_START,
    projection_end: str = DEFAULT_PROJECTION_END,
) -> dict[str, str]:
    """Table parameters shared by the Glue TableInput and the DDL's TBLPROPERTIES (EXTERNAL excluded)."""
    start = check_projection_bound(projection_start, "projection start")
    end = check_projection_bound(projection_end, "projection end")
    props = {"classification": "parquet", "parquet.compression": "SNAPPY"}
    if schema.partition_keys:
        props["projection.enabled"] = "true"
        for key in schema.partition_keys:
            props.update(_projection(key, start, end))
        template = "/".join(f"{k}=${{{k}}}" for k in schema.partition_names)
        props["storage.location.template"] = table_location(warehouse, schema.table) + template + "/"
    props["llmdrift.schema"] = f"{schema.table}.v{schema.version}"
    return props


def _glue_column(col: Column, comments: bool = True) -> dict[str, str]:
    out = {"Name": col.name, "Type": col.type.lower()}
    if comments and col.description:
        out["Comment"] = _comment(col.description)
    return out


def storage_descriptor(schema: TableSchema, location: str, comments: bool = True) -> dict[str, Any]:
    return {
        "Columns": [_glue_column(c, comments) for c in schema.columns],
        "Location": location,
        "InputFormat": INPUT_FORMAT,
        "OutputFormat": OUTPUT_FORMAT,
        "SerdeInfo": {"SerializationLibrary": SERDE, "Parameters": {"serialization.format": "1"}},
    }


def _check_schema(schema: TableSchema) -> None:
    check_name(schema.table, "table")
    for col in schema.all_columns:
        check_name(col.name, f"{schema.table} column")


def table_input(
    schema: TableSchema,
    warehouse: str,
    projection_start: str = DEFAULT_PROJECTION_START,
    projection_end: str = DEFAULT_PROJECTION_END,
) -> dict[str, Any]:
    """The Glue ``TableInput`` of a table (CreateTable / UpdateTable, or a CloudFormation AWS::Glue::Table)."""
    _check_schema(schema)
    return {
        "Name": schema.table,
        "Description": _comment(schema.description, DESCRIPTION_MAX),
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "EXTERNAL": "TRUE",
            **table_properties(schema, warehouse, projection_start, projection_end),
        },
        "PartitionKeys": [_glue_column(c) for c in schema.partition_keys],
        "StorageDescriptor": storage_descriptor(schema, table_location(warehouse, schema.table)),
    }


def partition_input(schema: TableSchema, warehouse: str, values: tuple[str, ...]) -> dict[str, Any]:
    """One ``PartitionInput`` for BatchCreatePartition: values as strings, the table's formats and columns."""
    location = partition_location(schema, warehouse, values)
    return {
        "Values": list(values),
        "StorageDescriptor": storage_descriptor(schema, location, comments=False),
    }


def hive_string(text: str) -> str:
    """A single-quoted Hive string literal, backslash-escaped (Hive, Athena DDL and Spark all read it)."""
    escaped = (
        text.replace("\\", "\\\\")
        .replace("'", "\\'")
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f"'{escaped}'"


def _ddl_column(col: Column) -> str:
    line = f"  `{col.name}` {col.type.lower()}"
    return f"{line} COMMENT {hive_string(_comment(col.description))}" if col.description else line


def create_database_ddl(database: str = DEFAULT_DATABASE) -> str:
    check_name(database)
    comment = hive_string("llmdrift: Amazon Bedrock invocation logs, scores, costs and drift")
    return f"CREATE DATABASE IF NOT EXISTS `{database}`\nCOMMENT {comment}"


def create_table_ddl(
    schema: TableSchema,
    warehouse: str,
    database: str = DEFAULT_DATABASE,
    projection_start: str = DEFAULT_PROJECTION_START,
    projection_end: str = DEFAULT_PROJECTION_END,
) -> str:
    """Athena's ``CREATE EXTERNAL TABLE IF NOT EXISTS`` for a table (Hive DDL, backticked identifiers)."""
    check_name(database)
    _check_schema(schema)
    props = table_properties(schema, warehouse, projection_start, projection_end)
    lines = [f"CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`{schema.table}` ("]
    lines.append(",\n".join(_ddl_column(c) for c in schema.columns))
    lines.append(")")
    if schema.description:
        lines.append(f"COMMENT {hive_string(_comment(schema.description, DESCRIPTION_MAX))}")
    if schema.partition_keys:
        lines.append("PARTITIONED BY (")
        lines.append(",\n".join(_ddl_column(c) for c in schema.partition_keys))
        lines.append(")")
    lines.append("STORED AS PARQUET")
    lines.append(f"LOCATION {hive_string(table_location(warehouse, schema.table))}")
    lines.append("TBLPROPERTIES (")
    lines.append(",\n".join(f"  {hive_string(k)}={hive_string(v)}" for k, v in props.items()))
    lines.append(")")
    return "\n".join(lines)


def ddl_statements(
    warehouse: str,
    database: str = DEFAULT_DATABASE,
    tables: list[str] | None = None,
    projection_start: str = DEFAULT_PROJECTION_START,
    projection_end: str = DEFAULT_PROJECTION_END,
    with_database: bool = True,
) -> list[str]:
    """The database statement (optional) and one CREATE EXTERNAL TABLE per table, without semicolons."""
    names = table_names() if tables is None else tables
    out = [create_database_ddl(database)] if with_database else []
    for name in names:
        out.append(
            create_table_ddl(schemas.load(name), warehouse, database, projection_start, projection_end)
        )
    return out
