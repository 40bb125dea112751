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


def keep_first(df: Any, key: list[str], order: list[str]) -> Any:
    """One row per key: the first by ``order`` (deterministic, so any run order gives the same winner)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    window = Window.partitionBy(*key).orderBy(*[F.col(c).asc_nulls_last() for c in order])
    return (
        df.repartition(*[F.col(c) for c in key])
        .withColumn("_rank", F.row_number().over(window))
        .filter(F.col("_rank") == 1)
        .drop("_rank")
    )


def merge_into(stored: Any, new: Any, key: list[str], order: list[str]) -> Any:
    """Stored rows of the affected partitions plus new rows, one per key."""
    return keep_first(stored.unionByName(new), key, order)
