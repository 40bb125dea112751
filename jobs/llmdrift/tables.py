"""Reading and writing the warehouse tables: Parquet, Hive-style ``dt=`` partitions, explicit schemas.

Each table lives at ``<warehouse>/<table>/dt=YYYY-MM-DD/``. Writes replace exactly the partitions present
in the DataFrame (dynamic partition overwrite), so a rerun that recomputes a day replaces that day and
nothing else.
"""

from __future__ import annotations

from typing import Any

from llmdrift.schemas import TableSchema
from llmdrift.storage import Storage, join, spark_path


def table_uri(warehouse: str, table: str) -> str:
    return join(warehouse, table)


def partitions(storage: Storage, warehouse: str, schema: TableSchema) -> list[str]:
    """Values of the first partition key present on storage, sorted."""
    key = schema.partition_names[0]
    prefix = f"{key}="
    return sorted(
        name[len(prefix) :]
        for name in storage.list_dirs(table_uri(warehouse, schema.table))
        if name.startswith(prefix)
    )


def read(
    spark: Any, storage: Storage, warehouse: str, schema: TableSchema, values: list[str] | None = None
) -> Any:
    """The table (or the given partitions of it) with its declared schema; empty if nothing is stored."""
    base = table_uri(warehouse, schema.table)
    present = partitions(storage, warehouse, schema)
    chosen = present if values is None else sorted(set(values) & set(present))
    if not chosen:
        return spark.createDataFrame([], schema.spark_schema())
    key = schema.partition_names[0]
    paths = [spark_path(join(base, f"{key}={value}")) for value in chosen]
    return spark.read.schema(schema.spark_schema()).option("basePath", spark_path(base)).parquet(*paths)


def overwrite_partitions(df: Any, warehouse: str, schema: TableSchema) -> None:
    (
        df.select(*schema.names)
        .write.mode("overwrite")
        .option("partitionOverwriteMode", "dynamic")
        .partitionBy(*schema.partition_names)
        .parquet(spark_path(table_uri(warehouse, schema.table)))
    )


def append(df: Any, warehouse: str, schema: TableSchema) -> None:
    (
        df.select(*schema.names)
        .write.mode("append")
        .partitionBy(*schema.partition_names)
        .parquet(spark_path(table_uri(warehouse, schema.table)))
    )
