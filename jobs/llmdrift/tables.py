"""Reading and writing the warehouse tables: Parquet, Hive-style ``dt=`` partitions, explicit schemas.

Each table lives at ``<warehouse>/<table>/dt=YYYY-MM-DD[/hour=H]/``. Writes replace exactly the
partitions present in the DataFrame (dynamic partition overwrite), so a rerun that recomputes an hour
replaces that hour and nothing else.
"""

from __future__ import annotations

import re
from typing import Any

from llmdrift.schemas import TableSchema
from llmdrift.storage import Storage, StorageError, join, spark_path


def table_uri(warehouse: str, table: str) -> str:
    return join(warehouse, table)


Partition = tuple[Any, ...]


def partition_path(base: str, schema: TableSchema, values: Partition) -> str:
    """``base/dt=2026-11-02/hour=7``; a shorter tuple names a prefix (a whole day)."""
    return join(base, *[f"{key}={value}" for key, value in zip(schema.partition_names, values, strict=False)])


def read(
    spark: Any,
    storage: Storage,
    warehouse: str,
    schema: TableSchema,
    partitions: list[Partition] | None = None,
) -> Any:
    """The table, or the given partitions of it, with its declared schema; empty if nothing is stored."""
    base = table_uri(warehouse, schema.table)
    if partitions is None:
        paths = [base] if storage.exists(base) else []
    else:
        paths = [
            p for p in sorted({partition_path(base, schema, v) for v in partitions}) if storage.exists(p)
        ]
    if not paths:
        return spark.createDataFrame([], schema.spark_schema())
    reader = spark.read.schema(schema.spark_schema()).option("basePath", spark_path(base))
    return reader.parquet(*[spark_path(p) for p in paths])


# A write that fails for one of these reasons is a storage problem the user can act on, said in one line.
_IO_FAILURES = re.compile(
    r"No space left on device|Disk quota exceeded|Permission denied|Read-only file system|Not a directory"
    r"|AccessDenied|Access Denied|NoSuchBucket|InvalidAccessKeyId|SignatureDoesNotMatch"
)


def _write(writer: Any, uri: str, table: str) -> None:
    try:
        writer.parquet(spark_path(uri))
    except Exception as exc:
        found = _IO_FAILURES.search(str(exc))
        if found is None:
            raise  # anything else is a bug or a failed computation: keep its trace
        raise StorageError(f"cannot write table {table} at {uri}: {found.group(0)}") from exc


def overwrite_partitions(df: Any, warehouse: str, schema: TableSchema) -> None:
    writer = (
        df.select(*schema.names)
        .write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .partitionBy(*schema.partition_names)
    )
    _write(writer, table_uri(warehouse, schema.table), schema.table)


def append(df: Any, warehouse: str, schema: TableSchema) -> None:
    writer = df.select(*schema.names).write.mode("append").partitionBy(*schema.partition_names)
    _write(writer, table_uri(warehouse, schema.table), schema.table)


def append_rows(spark: Any, rows: list[dict[str, Any]], warehouse: str, schema: TableSchema) -> None:
    """Append small driver-side rows (dicts keyed by column; a missing key is null) to a table."""
    if rows:
        df = spark.createDataFrame(
            [tuple(r.get(c) for c in schema.names) for r in rows], schema.spark_schema()
        )
        append(df, warehouse, schema)
