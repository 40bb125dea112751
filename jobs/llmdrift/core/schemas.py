"""Versioned table schemas, read from the JSON files under ``schemas/``.

Those files are the single source of every table's columns: this module turns them into Spark
``StructType`` and Arrow schemas now, and the Glue/Athena DDL is generated from the same files. A breaking
change to a table is a new ``<table>.v<N>.json`` file, never an edit of a published one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import pyarrow as pa

from llmdrift.core.errors import LlmdriftError

# Hive/Athena primitive type names -> Arrow types. Timestamps are microseconds in Arrow because that is what
# Spark exchanges with Python workers; Parquet files are written in milliseconds (see llmdrift.core.spark).
_ARROW_PRIMITIVES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int": pa.int32(),
    "bigint": pa.int64(),
    "double": pa.float64(),
    "float": pa.float32(),
    "boolean": pa.bool_(),
    "timestamp": pa.timestamp("us", tz="UTC"),
    "date": pa.date32(),
}


class SchemaError(LlmdriftError, ValueError):
    """A schema file is missing or malformed."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = True
    description: str = ""


@dataclass(frozen=True)
class TableSchema:
    """One version of one table: data columns, then partition columns."""

    table: str
    version: int
    description: str
    columns: tuple[Column, ...]
    partition_keys: tuple[Column, ...]
    primary_key: tuple[str, ...]

    @property
    def all_columns(self) -> tuple[Column, ...]:
        return self.columns + self.partition_keys

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.all_columns]

    @property
    def partition_names(self) -> list[str]:
        return [c.name for c in self.partition_keys]

    def arrow_schema(self) -> pa.Schema:
        return pa.schema(
            [pa.field(c.name, arrow_type(c.type), nullable=c.nullable) for c in self.all_columns]
        )

    def spark_schema(self) -> Any:
        """The Spark ``StructType`` (imported lazily: importing this module starts nothing)."""
        from pyspark.sql.types import StructField, StructType

        return StructType([StructField(c.name, spark_type(c.type), c.nullable) for c in self.all_columns])


def split_type_args(inner: str) -> list[str]:
    """Split ``"string,map<string,int>"`` on top-level commas."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(inner[start:i].strip())
            start = i + 1
    parts.append(inner[start:].strip())
    return parts


def arrow_type(type_name: str) -> pa.DataType:
    t = type_name.strip().lower()
    if t in _ARROW_PRIMITIVES:
        return _ARROW_PRIMITIVES[t]
    if t.startswith("array<") and t.endswith(">"):
        return pa.list_(arrow_type(t[6:-1]))
    if t.startswith("map<") and t.endswith(">"):
        key, value = split_type_args(t[4:-1])
        return pa.map_(arrow_type(key), arrow_type(value))
    raise SchemaError(f"unsupported column type {type_name!r}")


def spark_type(type_name: str) -> Any:
    from pyspark.sql import types as T

    primitives = {
        "string": T.StringType(),
        "int": T.IntegerType(),
        "bigint": T.LongType(),
        "double": T.DoubleType(),
        "float": T.FloatType(),
        "boolean": T.BooleanType(),
        "timestamp": T.TimestampType(),
        "date": T.DateType(),
    }
    t = type_name.strip().lower()
    if t in primitives:
        return primitives[t]
    if t.startswith("array<") and t.endswith(">"):
        return T.ArrayType(spark_type(t[6:-1]), True)
    if t.startswith("map<") and t.endswith(">"):
        key, value = split_type_args(t[4:-1])
        return T.MapType(spark_type(key), spark_type(value), True)
    raise SchemaError(f"unsupported column type {type_name!r}")


def _column(raw: dict[str, Any], where: str) -> Column:
    try:
        col = Column(
            name=raw["name"],
            type=raw["type"],
            nullable=bool(raw.get("nullable", True)),
            description=raw.get("description", ""),
        )
    except KeyError as exc:
        raise SchemaError(f"{where}: column without {exc.args[0]!r}: {raw}") from None
    arrow_type(col.type)  # validates the type name
    return col


@cache
def load(table: str, version: int | None = None) -> TableSchema:
    """Load ``<table>.v<version>.json``; without a version, the newest one."""
    files = resources.files("llmdrift.schema_files")
    versions = sorted(
        int(p.name[len(table) + 2 : -5])
        for p in files.iterdir()
        if p.name.startswith(f"{table}.v") and p.name.endswith(".json")
    )
    if not versions:
        raise SchemaError(f"no schema file for table {table!r}")
    chosen = versions[-1] if version is None else version
    if chosen not in versions:
        raise SchemaError(f"table {table!r} has no schema version {chosen} (have {versions})")
    name = f"{table}.v{chosen}.json"
    raw = json.loads(files.joinpath(name).read_text(encoding="utf-8"))
    schema = TableSchema(
        table=raw["table"],
        version=int(raw["version"]),
        description=raw.get("description", ""),
        columns=tuple(_column(c, name) for c in raw["columns"]),
        partition_keys=tuple(_column(c, name) for c in raw.get("partition_keys", [])),
        primary_key=tuple(raw.get("primary_key", [])),
    )
    if schema.table != table or schema.version != chosen:
        raise SchemaError(f"{name} declares table {schema.table!r} version {schema.version}")
    names = schema.names
    if len(set(names)) != len(names):
        raise SchemaError(f"{name} has duplicate column names")
    return schema
