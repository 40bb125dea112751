"""Reading and writing the warehouse tables: Parquet, Hive-style ``dt=`` partitions, explicit schemas.

Each table lives at ``<warehouse>/<table>/dt=YYYY-MM-DD[/hour=H]/``. Writes replace exactly the
partitions present in the DataFrame (dynamic partition overwrite), so a rerun that recomputes an hour
replaces that hour and nothing else.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from llmdrift.core.schemas import TableSchema
from llmdrift.core.storage import Storage, StorageError, join, spark_path


def table_uri(warehouse: str, table: str) -> str:
    return join(warehouse, table)


Partition = tuple[Any, ...]


def partition_days(storage: Storage, warehouse: str, table: str) -> list[str]:
    """The ``dt`` values a table has partition folders for, sorted (from a listing: no data is read)."""
    folders = storage.list_dirs(table_uri(warehouse, table))
    return sorted(v for v in (f.partition("=")[2] for f in folders if f.startswith("dt=")) if v)


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


def replace_days(df: Any, storage: Storage, warehouse: str, schema: TableSchema, days: list[str]) -> None:
    """Make the table's partitions of ``days`` hold exactly ``df``'s rows (all of them within those days).

    The partitions ``df`` has rows for are replaced by one dynamic overwrite; then the partitions of those
    days that ``df`` has no rows for (a day or hour that lost all its rows) are deleted. A failure while the
    new files are written leaves the old rows in place, and no day is emptied before its new rows exist.
    Not atomic for readers, though: Spark commits each partition by deleting it and moving the new files in
    (on S3 a copy), so a query at that moment can miss the partition; snapshot reads would need a table
    format (Iceberg).
    """
    names = schema.partition_names
    written = {tuple(str(v) for v in r) for r in df.select(*names).distinct().collect()}
    if written:
        overwrite_partitions(df, warehouse, schema)
    base = table_uri(warehouse, schema.table)
    for day in days:
        if len(names) == 1:
            if (day,) not in written:
                storage.delete_tree(partition_path(base, schema, (day,)))
            continue
        day_uri = partition_path(base, schema, (day,))
        for sub in storage.list_dirs(day_uri):
            key, _, value = sub.partition("=")
            if key == names[1] and (day, value) not in written:
                storage.delete_tree(join(day_uri, sub))
        if not any(w[0] == day for w in written) and storage.exists(day_uri):
            storage.delete_tree(day_uri)


def replace_rows(
    spark: Any,
    rows: list[dict[str, Any]],
    storage: Storage,
    warehouse: str,
    schema: TableSchema,
    days: list[str],
) -> None:
    """``replace_days`` for small driver-side rows (dicts keyed by column; a missing key is null)."""
    replace_days(frame(spark, rows, schema), storage, warehouse, schema, days)


def frame(spark: Any, rows: list[dict[str, Any]], schema: TableSchema) -> Any:
    """A DataFrame of the table's schema from driver-side rows (dicts keyed by column)."""
    return spark.createDataFrame([tuple(r.get(c) for c in schema.names) for r in rows], schema.spark_schema())


def append_compact(
    spark: Any, rows: list[dict[str, Any]], storage: Storage, warehouse: str, schema: TableSchema
) -> None:
    """Append small driver-side rows to a run table (ingest_runs, dq_results, drift_*), keeping one file per
    partition: each partition the rows fall in is read to the driver and rewritten with them, as one file.

    Run tables get a few rows per run; appending a file per run would leave thousands of tiny files a year
    for every reader to open. The stored rows are collected before the write, so the overwrite does not read
    the files it replaces.
    """
    if not rows:
        return
    names = schema.partition_names
    parts = sorted({tuple(r[n] for n in names) for r in rows})
    # collect() gives naive local datetimes; as aware UTC ones they are written back unchanged, even in the
    # hour a DST change repeats (createDataFrame reads naive ones with mktime, which drops the fold)
    stored = [
        {
            k: v.astimezone(UTC) if isinstance(v, datetime) and v.tzinfo is None else v
            for k, v in row.asDict().items()
        }
        for row in read(spark, storage, warehouse, schema, parts).collect()
    ]
    df = frame(spark, stored + rows, schema).coalesce(1)
    overwrite_partitions(df, warehouse, schema)


def append(df: Any, warehouse: str, schema: TableSchema) -> None:
    writer = df.select(*schema.names).write.mode("append").partitionBy(*schema.partition_names)
    _write(writer, table_uri(warehouse, schema.table), schema.table)


def append_rows(spark: Any, rows: list[dict[str, Any]], warehouse: str, schema: TableSchema) -> None:
    """Append small driver-side rows (dicts keyed by column; a missing key is null) to a table."""
    if rows:
        append(frame(spark, rows, schema), warehouse, schema)


def keep_first(df: Any, key: list[str], order: list[str], cluster: list[str]) -> Any:
    """One row per ``key`` within each ``cluster`` (the table's partition), the first by ``order``.

    The data is shuffled once, by partition, so each output partition is written by one task as one
    file; the window then needs no further exchange. Duplicates (redeliveries of the same record) share
    their timestamp and so their partition. The order is deterministic, so any run order keeps the same row.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    window = Window.partitionBy(*cluster, *key).orderBy(*[F.col(c).asc_nulls_last() for c in order])
    return (
        df.repartition(*[F.col(c) for c in cluster])
        .withColumn("_rank", F.row_number().over(window))
        .filter(F.col("_rank") == 1)
        .drop("_rank")
    )


def merge_into(stored: Any, new: Any, schema: TableSchema, order: list[str]) -> Any:
    """Stored rows of the affected partitions plus new rows, one per primary key."""
    return keep_first(stored.unionByName(new), list(schema.primary_key), order, schema.partition_names)
