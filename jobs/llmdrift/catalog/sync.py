"""Glue Data Catalog sync: the database, one table per schema file, and the partitions in the warehouse.

``sync`` is idempotent. It creates the database if missing, creates each table or updates it when its
``TableInput`` differs from the generated one (a new schema version, a moved warehouse, a changed projection
start), lists the partitions present under each table (one recursive listing through ``llmdrift.core.storage``;
a partition counts when it holds at least one data file) and registers the ones Glue does not have with
``BatchCreatePartition``, at most 100 per call (the API's limit). BatchCreatePartition reports failures per
item in ``Errors`` without raising: ``AlreadyExistsException`` (a concurrent run got there first) is benign,
anything else raises :class:`CatalogError` naming the table and partition.

Athena itself reads partitions by projection; the registered ones serve Spark, Glue jobs and other Hive
readers (spec §4.8). Partitions whose folders disappeared are not removed (nothing in llmdrift deletes
partitions).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from llmdrift.catalog import ddl
from llmdrift.core import schemas
from llmdrift.core.errors import LlmdriftError
from llmdrift.core.schemas import TableSchema
from llmdrift.core.storage import Storage, join, normalize

Log = Callable[[str], None]
BATCH_LIMIT = 100  # BatchCreatePartition PartitionInputList (spec §4.8, §7)
BENIGN_ERRORS = frozenset({"AlreadyExistsException"})
# Glue keeps these table parameters itself; they never make a table "differ".
_GLUE_MANAGED = frozenset({"transient_lastDdlTime", "last_modified_by", "last_modified_time"})


class CatalogError(LlmdriftError, RuntimeError):
    """A Glue call failed, or a partition could not be registered (the message names table and partition)."""


@dataclass
class TableSync:
    table: str
    action: str  # created, updated or unchanged
    partitions_found: int = 0
    partitions_added: int = 0
    partitions_skipped: list[str] = field(default_factory=list)


@dataclass
class SyncResult:
    database: str
    database_created: bool
    tables: list[TableSync] = field(default_factory=list)

    def count(self, action: str) -> int:
        return sum(1 for t in self.tables if t.action == action)

    @property
    def partitions_added(self) -> int:
        return sum(t.partitions_added for t in self.tables)

    def summary(self) -> str:
        return (
            f"database {self.database} {'created' if self.database_created else 'present'}; tables:"
            f" {self.count('created')} created, {self.count('updated')} updated,"
            f" {self.count('unchanged')} unchanged; partitions: {self.partitions_added} added"
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "database_created": self.database_created,
            "tables_created": self.count("created"),
            "tables_updated": self.count("updated"),
            "tables_unchanged": self.count("unchanged"),
            "partitions_added": self.partitions_added,
            "tables": [
                {
                    "table": t.table,
                    "action": t.action,
                    "partitions_found": t.partitions_found,
                    "partitions_added": t.partitions_added,
                    "partitions_skipped": t.partitions_skipped,
                }
                for t in self.tables
            ],
        }


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _call(what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
    try:
        return fn(**kwargs)
    except Exception as exc:
        if _error_code(exc):
            raise CatalogError(f"{what}: {exc}") from exc
        raise


def _valid_value(key: str, value: str) -> bool:
    if key == "dt":
        try:
            return date.fromisoformat(value).isoformat() == value
        except ValueError:
            return False
    if key == "hour":
        return value.isdigit() and str(int(value)) == value and 0 <= int(value) <= 23
    return bool(value) and ":" not in value  # a ':' breaks Hive partition paths (spec §4.9)


def find_partitions(
    storage: Storage, warehouse: str, schema: TableSchema
) -> tuple[list[tuple[str, ...]], list[str]]:
    """Partition values present under a table (folders ``k=v/...`` holding a data file), and skipped folders.

    Spark's hidden and marker files (``.crc``, ``_SUCCESS``) and ``_temporary`` folders are not data; a folder
    whose values are not valid for the projection (``dt=__HIVE_DEFAULT_PARTITION__``, ``hour=07``) is skipped
    and reported rather than registered.
    """
    keys = schema.partition_names
    if not keys:
        return [], []
    base = normalize(join(warehouse, schema.table))
    found: set[tuple[str, ...]] = set()
    skipped: set[str] = set()
    for info in storage.list_files(base, recursive=True):
        uri = normalize(info.uri)
        if not uri.startswith(base + "/"):
            continue
        parts = uri[len(base) + 1 :].split("/")
        folders, name = parts[:-1], parts[-1]
        if name.startswith((".", "_")) or any(p.startswith((".", "_")) for p in folders):
            continue
        if len(folders) != len(keys):
            continue
        pairs = [p.partition("=") for p in folders]
        if any(k != key or not sep for (k, sep, _), key in zip(pairs, keys, strict=True)):
            continue
        values = tuple(v for _, _, v in pairs)
        if all(_valid_value(k, v) for k, v in zip(keys, values, strict=True)):
            found.add(values)
        else:
            skipped.add("/".join(folders))
    return sorted(found, key=_sort_key), sorted(skipped)


def _sort_key(values: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple((0, int(v), "") if re.fullmatch(r"\d+", v) else (1, 0, v) for v in values)


def existing_partitions(glue: Any, database: str, table: str) -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    try:
        for page in glue.get_paginator("get_partitions").paginate(DatabaseName=database, TableName=table):
            found.update(tuple(p["Values"]) for p in page.get("Partitions", []))
    except Exception as exc:
        if _error_code(exc):
            raise CatalogError(f"cannot list the partitions of {database}.{table}: {exc}") from exc
        raise
    return found


def register_partitions(
    glue: Any,
    database: str,
    schema: TableSchema,
    warehouse: str,
    values: list[tuple[str, ...]],
) -> int:
    """BatchCreatePartition in chunks of 100; returns how many were created (AlreadyExists not counted)."""
    added = 0
    for start in range(0, len(values), BATCH_LIMIT):
        chunk = values[start : start + BATCH_LIMIT]
        response = _call(
            f"cannot register partitions of {database}.{schema.table}",
            glue.batch_create_partition,
            DatabaseName=database,
            TableName=schema.table,
            PartitionInputList=[ddl.partition_input(schema, warehouse, v) for v in chunk],
        )
        errors = response.get("Errors") or []
        failed = [e for e in errors if e.get("ErrorDetail", {}).get("ErrorCode") not in BENIGN_ERRORS]
        if failed:
            first = failed[0]
            detail = first.get("ErrorDetail", {})
            where = "/".join(
                f"{k}={v}"
                for k, v in zip(schema.partition_names, first.get("PartitionValues", []), strict=False)
            )
            more = f" (and {len(failed) - 1} more in this batch)" if len(failed) > 1 else ""
            raise CatalogError(
                f"cannot register partition {where} of {database}.{schema.table}:"
                f" {detail.get('ErrorCode', '?')}: {detail.get('ErrorMessage', '')}{more}"
            )
        added += len(chunk) - len(errors)
    return added


def _comparable(table: dict[str, Any], keep_params: set[str]) -> dict[str, Any]:
    """The parts of a Glue table (GetTable's ``Table`` or a TableInput) that sync manages, normalised."""

    def columns(cols: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
        return [(c["Name"], c["Type"].lower(), c.get("Comment", "")) for c in cols]

    sd = table.get("StorageDescriptor", {})
    serde = sd.get("SerdeInfo", {})
    params = table.get("Parameters", {})
    return {
        "Description": table.get("Description", ""),
        "TableType": table.get("TableType"),
        "Parameters": {k: v for k, v in params.items() if k in keep_params},
        "PartitionKeys": columns(table.get("PartitionKeys", [])),
        "Columns": columns(sd.get("Columns", [])),
        "Location": sd.get("Location"),
        "InputFormat": sd.get("InputFormat"),
        "OutputFormat": sd.get("OutputFormat"),
        "Serde": (serde.get("SerializationLibrary"), serde.get("Parameters", {})),
    }


def table_differs(current: dict[str, Any], desired: dict[str, Any]) -> bool:
    """Whether a catalog table differs from the desired TableInput in anything sync manages.

    Parameters compared: the desired ones, plus any ``projection.*`` the catalog has (a stale projection key
    must go); other parameters added by Glue or Athena are left alone.
    """
    params = current.get("Parameters", {})
    keep = (set(desired["Parameters"]) | {k for k in params if k.startswith("projection.")}) - _GLUE_MANAGED
    return _comparable(current, keep) != _comparable(desired, keep)


def ensure_database(glue: Any, database: str) -> bool:
    """Create the database if missing; True when created."""
    try:
        glue.get_database(Name=database)
        return False
    except Exception as exc:
        if _error_code(exc) != "EntityNotFoundException":
            if _error_code(exc):
                raise CatalogError(f"cannot read database {database}: {exc}") from exc
            raise
    try:
        glue.create_database(
            DatabaseInput={
                "Name": database,
                "Description": "llmdrift: Amazon Bedrock invocation logs, scores, costs and drift",
            }
        )
    except Exception as exc:
        if _error_code(exc) == "AlreadyExistsException":  # created concurrently
            return False
        if _error_code(exc):
            raise CatalogError(f"cannot create database {database}: {exc}") from exc
        raise
    return True


def ensure_table(glue: Any, database: str, desired: dict[str, Any]) -> str:
    """Create or update one table; returns created, updated or unchanged."""
    name = desired["Name"]
    try:
        current = glue.get_table(DatabaseName=database, Name=name)["Table"]
    except Exception as exc:
        if _error_code(exc) != "EntityNotFoundException":
            if _error_code(exc):
                raise CatalogError(f"cannot read table {database}.{name}: {exc}") from exc
            raise
        _call(
            f"cannot create table {database}.{name}",
            glue.create_table,
            DatabaseName=database,
            TableInput=desired,
        )
        return "created"
    if not table_differs(current, desired):
        return "unchanged"
    _call(
        f"cannot update table {database}.{name}", glue.update_table, DatabaseName=database, TableInput=desired
    )
    return "updated"


def sync(
    glue: Any,
    storage: Storage,
    warehouse: str,
    database: str = ddl.DEFAULT_DATABASE,
    tables: list[str] | None = None,
    projection_start: str = ddl.DEFAULT_PROJECTION_START,
    projection_end: str = ddl.DEFAULT_PROJECTION_END,
    log: Log = lambda _: None,
) -> SyncResult:
    """Bring the Glue catalog in line with the schema files and the warehouse; safe to run again."""
    ddl.check_name(database)
    names = ddl.table_names() if tables is None else tables
    loaded = [schemas.load(n) for n in names]  # unknown tables fail before any catalog change
    inputs = [ddl.table_input(s, warehouse, projection_start, projection_end) for s in loaded]
    result = SyncResult(database, ensure_database(glue, database))
    if result.database_created:
        log(f"[catalog] created database {database}")
    for schema, desired in zip(loaded, inputs, strict=True):
        entry = TableSync(schema.table, ensure_table(glue, database, desired))
        found, entry.partitions_skipped = find_partitions(storage, warehouse, schema)
        entry.partitions_found = len(found)
        if found:
            have = set() if entry.action == "created" else existing_partitions(glue, database, schema.table)
            new = [v for v in found if v not in have]
            entry.partitions_added = register_partitions(glue, database, schema, warehouse, new)
        for folder in entry.partitions_skipped:
            log(f"[catalog] {schema.table}: skipped {folder} (not a valid partition for projection)")
        log(
            f"[catalog] {database}.{schema.table}: {entry.action}, {entry.partitions_found} partitions"
            f" in the warehouse, {entry.partitions_added} added"
        )
        result.tables.append(entry)
    log(f"[catalog] {result.summary()}")
    return result
