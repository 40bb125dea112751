"""Pure DataFrame transforms of ingestion: split the parsed stream, deduplicate, merge with stored rows."""

from __future__ import annotations

from typing import Any

from llmdrift.schemas import TableSchema


def rows_of_kind(parsed: Any, kind: str, schema: TableSchema) -> Any:
    """The rows of one kind (``row`` or ``issue``) with exactly the table's columns."""
    from pyspark.sql import functions as F

    return parsed.filter(F.col("kind") == kind).select(
        *[F.col(f.name).cast(f.dataType) for f in schema.spark_schema().fields]
    )


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
