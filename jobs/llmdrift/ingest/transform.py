"""Pure DataFrame transforms of ingestion: split the parsed stream into table rows (the merge with stored
rows, one per primary key, is ``core.tables.merge_into``)."""

from __future__ import annotations

from typing import Any

from llmdrift.core.schemas import TableSchema


def rows_of_kind(parsed: Any, kind: str, schema: TableSchema) -> Any:
    """The rows of one kind (``row`` or ``issue``) with exactly the table's columns."""
    from pyspark.sql import functions as F

    return parsed.filter(F.col("kind") == kind).select(
        *[F.col(f.name).cast(f.dataType) for f in schema.spark_schema().fields]
    )
