"""Athena (Trino) SQL against a local warehouse: sqlglot transpiles it to DuckDB, which reads the Parquet.

No Trino server can run here, so ``llmdrift query`` is the local stand-in for Athena on the demo warehouse:

- Each table the query names (any table with a schema file) is a DuckDB view, reachable as ``<table>``,
  ``<database>.<table>`` and ``awsdatacatalog.<database>.<table>``, over ``read_parquet('<table>/**/*.parquet',
  hive_partitioning=true, hive_types=...)`` with the partition keys typed as in the schema (``dt`` VARCHAR,
  ``hour`` INTEGER) and timestamps as plain ``timestamp`` (Athena's type). A table with a schema but no files
  yet is an empty view of the same columns, as Athena shows a table without partitions. Any other table
  name is an error naming it.
- ``sqlglot.transpile(read="athena", write="duckdb")``, plus what it leaves alone: macros for
  ``format_datetime`` (Joda patterns; constant pattern), ``to_iso8601`` and ``map_agg``, Joda patterns of
  ``parse_datetime`` rewritten to strptime, ``count_if`` as ``count(CASE WHEN ...)`` (DuckDB's gives NULL
  where Trino's gives 0), and ``SET integer_division=true`` (Trino's ``7 / 2`` is 3). Division by zero gives
  NULL locally (Trino: Infinity or NaN for doubles, an error for integers).
- ``now``: a clock for ``current_date``/``current_timestamp``/``now()`` (default: the real clock), so queries
  like "this week" can be run as of a demo's last day and tested.

It is a local check, not Athena: results agree for the SQL in ``queries/`` and ordinary analyst SQL; DuckDB's
approx_percentile (a t-digest) can differ a little from Athena's, and functions neither sqlglot nor these
macros know fail with DuckDB's message. ``s3://`` warehouses are refused (DuckDB would need its httpfs
extension, a download): query them with Athena.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from importlib import resources
from typing import Any

from llmdrift.catalog import ddl
from llmdrift.core import schemas
from llmdrift.core.errors import LlmdriftError
from llmdrift.core.schemas import TableSchema, split_type_args
from llmdrift.core.storage import LocalStorage, is_s3, join, normalize

ATHENA_CATALOG = "awsdatacatalog"
FORMATS = ("text", "csv", "json")


class QueryError(LlmdriftError, RuntimeError):
    """Bad SQL, an unknown table, or a query DuckDB could not run; the message says which."""


# --- Joda-Time patterns (Trino's format_datetime / parse_datetime) -> strftime ---------------------------

_JODA: dict[str, Callable[[int], str]] = {
    "y": lambda n: "%y" if n == 2 else "%Y",
    "Y": lambda n: "%y" if n == 2 else "%Y",
    "x": lambda n: "%G",
    "M": lambda n: {1: "%-m", 2: "%m", 3: "%b"}.get(n, "%B"),
    "d": lambda n: "%-d" if n == 1 else "%d",
    "H": lambda n: "%-H" if n == 1 else "%H",
    "h": lambda n: "%-I" if n == 1 else "%I",
    "m": lambda n: "%-M" if n == 1 else "%M",
    "s": lambda n: "%-S" if n == 1 else "%S",
    "S": lambda n: "%g" if n <= 3 else "%f",
    "a": lambda n: "%p",
    "E": lambda n: "%A" if n >= 4 else "%a",
    "D": lambda n: "%-j" if n == 1 else "%j",
    "w": lambda n: "%V",
    "Z": lambda n: "%z",
    "z": lambda n: "%Z",
}


def joda_to_strftime(pattern: str) -> str:
    """``yyyy-MM-dd HH:mm:ss.SSS`` -> ``%Y-%m-%d %H:%M:%S.%g``; quoted text ('T', '') is kept literally."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "'":
            end = pattern.find("'", i + 1)
            if end == i + 1:  # '' is a literal quote
                out.append("'")
                i += 2
                continue
            if end < 0:
                raise QueryError(f"unterminated quote in date-time pattern {pattern!r}")
            out.append(pattern[i + 1 : end].replace("%", "%%"))
            i = end + 1
            continue
        if ch.isalpha():
            run = len(pattern[i:]) - len(pattern[i:].lstrip(ch))
            if ch not in _JODA:
                raise QueryError(f"date-time pattern letter {ch!r} in {pattern!r} is not supported locally")
            out.append(_JODA[ch](run))
            i += run
            continue
        out.append("%%" if ch == "%" else ch)
        i += 1
    return "".join(out)


# --- transpiling --------------------------------------------------------------------------------------------


def _parse(sql: str) -> Any:
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import ParseError, TokenError

    try:
        statements = [s for s in sqlglot.parse(sql, read="athena") if s is not None]
    except (ParseError, TokenError) as exc:
        raise QueryError(f"the SQL does not parse as Athena (Trino) SQL: {exc}") from None
    if not statements:
        raise QueryError("no SQL statement given")
    if len(statements) > 1:
        raise QueryError(f"one statement at a time, like Athena ({len(statements)} given)")
    tree = statements[0]
    if not isinstance(tree, exp.Query):
        kind = tree.key.upper() if not isinstance(tree, exp.Command) else str(tree.this).upper()
        raise QueryError(f"only queries (SELECT, WITH, VALUES...) run locally, not {kind}")
    return tree


def _rewrite(tree: Any, now: datetime | None) -> Any:
    from sqlglot import exp

    def fix(node: Any) -> Any:
        if isinstance(node, exp.CountIf):  # DuckDB's count_if gives NULL, not 0, when no row is true or false
            return exp.Count(this=exp.Case(ifs=[exp.If(this=node.this, true=exp.Literal.number(1))]))
        if isinstance(node, exp.ParseDatetime):  # Trino parse_datetime takes a Joda pattern
            fmt = node.args.get("format")
            if not isinstance(fmt, exp.Literal) or not fmt.is_string:
                raise QueryError("parse_datetime needs a constant pattern locally")
            return exp.StrToTime(this=node.this, format=exp.Literal.string(joda_to_strftime(fmt.this)))
        if now is not None:
            if isinstance(node, exp.CurrentDate):
                return exp.cast(exp.Literal.string(now.date().isoformat()), exp.DataType.Type.DATE)
            if isinstance(node, exp.CurrentTimestamp):
                stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f+00")
                return exp.cast(exp.Literal.string(stamp), exp.DataType.Type.TIMESTAMPTZ)
            if isinstance(node, exp.Localtimestamp):
                stamp = now.strftime("%Y-%m-%d %H:%M:%S.%f")
                return exp.cast(exp.Literal.string(stamp), exp.DataType.Type.TIMESTAMP)
        return node

    return tree.transform(fix)


def referenced_tables(tree: Any) -> list[tuple[str, str, str]]:
    """(catalog, database, table) of every table the query reads, CTE names excluded."""
    from sqlglot import exp

    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    out = []
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue  # a table function
        if not table.db and table.name in ctes:
            continue
        out.append((table.catalog, table.db, table.name))
    return out


def transpile(sql: str, now: datetime | None = None) -> str:
    """Athena (Trino) SQL -> DuckDB SQL, with this module's rewrites; raises QueryError for bad SQL."""
    return str(_rewrite(_parse(sql), now).sql(dialect="duckdb"))


# --- the local warehouse in DuckDB -------------------------------------------------------------------------


def duckdb_type(hive_type: str) -> str:
    t = hive_type.strip().lower()
    primitives = {
        "string": "VARCHAR",
        "int": "INTEGER",
        "bigint": "BIGINT",
        "double": "DOUBLE",
        "float": "FLOAT",
        "boolean": "BOOLEAN",
        "timestamp": "TIMESTAMP",
        "date": "DATE",
    }
    if t in primitives:
        return primitives[t]
    if t.startswith("array<") and t.endswith(">"):
        return f"{duckdb_type(t[6:-1])}[]"
    if t.startswith("map<") and t.endswith(">"):
        key, value = split_type_args(t[4:-1])
        return f"MAP({duckdb_type(key)}, {duckdb_type(value)})"
    raise QueryError(f"no DuckDB type for {hive_type!r}")


def _sql_string(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _view_sql(schema: TableSchema, table_dir: str | None) -> str:
    """SELECT of the table's columns, Athena-typed, from its Parquet files (or no rows without files)."""
    if table_dir is None:
        cols = ", ".join(f'CAST(NULL AS {duckdb_type(c.type)}) AS "{c.name}"' for c in schema.all_columns)
        return f"SELECT {cols} WHERE false"
    # Spark's millisecond timestamps are UTC-adjusted (DuckDB: TIMESTAMP WITH TIME ZONE); Athena shows
    # them as plain timestamps, which the cast gives in the session's UTC.
    cols = ", ".join(
        f'CAST("{c.name}" AS TIMESTAMP) AS "{c.name}"' if c.type == "timestamp" else f'"{c.name}"'
        for c in schema.all_columns
    )
    source = _sql_string(join(table_dir, "**", "*.parquet"))
    if schema.partition_keys:
        types = ", ".join(
            f"{_sql_string(c.name)}: {_sql_string(duckdb_type(c.type))}" for c in schema.partition_keys
        )
        options = f", hive_partitioning = true, hive_types = {{{types}}}"
    else:
        options = ", hive_partitioning = false"
    return f"SELECT {cols} FROM read_parquet({source}{options}, union_by_name = true)"


MACROS = (
    # Trino's to_iso8601: dates as yyyy-MM-dd, timestamps with milliseconds, 'Z' for UTC-zoned ones.
    "CREATE MACRO to_iso8601(x) AS CASE typeof(x)"
    " WHEN 'DATE' THEN strftime(x, '%Y-%m-%d')"
    " WHEN 'TIMESTAMP WITH TIME ZONE' THEN strftime(x, '%Y-%m-%dT%H:%M:%S.%g') || 'Z'"
    " ELSE strftime(x, '%Y-%m-%dT%H:%M:%S.%g') END",
    # Joda pattern -> strftime by a Python function, folded once for a constant pattern.
    "CREATE MACRO format_datetime(ts, fmt) AS strftime(ts, llmdrift_joda_to_strftime(fmt))",
    "CREATE MACRO map_agg(k, v) AS map(list(k), list(v))",
)


@dataclass(frozen=True)
class QueryResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    duckdb_sql: str


def _local_root(warehouse: str) -> str:
    if is_s3(warehouse):
        raise QueryError(
            f"{warehouse}: llmdrift query reads local warehouses only (DuckDB would need its httpfs extension,"
            " a download); run the SQL in Athena, or copy the tables you need to a local folder"
        )
    root = normalize(warehouse)
    if not LocalStorage().exists(root):
        raise QueryError(f"warehouse {root} does not exist")
    return root


def _parquet_folder(warehouse: str, table: str) -> str | None:
    """The table's folder when it holds Parquet files, else None."""
    folder = join(warehouse, table)
    files = LocalStorage().list_files(folder, recursive=True)
    return folder if any(f.uri.endswith(".parquet") for f in files) else None


def connect(warehouse: str, database: str = ddl.DEFAULT_DATABASE, tables: list[str] | None = None) -> Any:
    """A DuckDB connection with views of the given tables (default: all) and the Trino compatibility macros.

    Views bind when created (DuckDB reads the Parquet footers then), so a query only gets the views it uses.
    """
    import duckdb
    from duckdb import sqltypes

    root = _local_root(warehouse)
    ddl.check_name(database)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET integer_division = true")  # Trino: 7 / 2 = 3, -7 / 2 = -3 (7.0 / 2 stays 3.5)
    # With integer_division DuckDB raises on any x / 0; Trino gives Infinity/NaN for doubles (and raises for
    # integers). NULL is the local compromise: a query Athena runs never fails here for dividing by zero.
    con.execute("SET error_on_division_by_zero = false")
    con.create_function("llmdrift_joda_to_strftime", joda_to_strftime, [sqltypes.VARCHAR], sqltypes.VARCHAR)
    for macro in MACROS:
        con.execute(macro)
    con.execute(f"ATTACH ':memory:' AS {ATHENA_CATALOG}")
    for catalog in ("memory", ATHENA_CATALOG):
        con.execute(f'CREATE SCHEMA {catalog}."{database}"')
    for name in ddl.table_names() if tables is None else sorted(set(tables)):
        body = _view_sql(schemas.load(name), _parquet_folder(root, name))
        con.execute(f'CREATE VIEW memory."{database}"."{name}" AS {body}')
        con.execute(f'CREATE VIEW memory.main."{name}" AS SELECT * FROM memory."{database}"."{name}"')
        con.execute(
            f'CREATE VIEW {ATHENA_CATALOG}."{database}"."{name}" AS SELECT * FROM memory."{database}"."{name}"'
        )
    return con


def _tables_used(tree: Any, database: str, warehouse: str) -> list[str]:
    """The warehouse tables a query reads; an unknown catalog, database or table raises QueryError."""
    known = ddl.table_names()
    used = []
    for catalog, db, name in referenced_tables(tree):
        qualified = ".".join(p for p in (catalog, db, name) if p)
        if catalog and catalog.lower() != ATHENA_CATALOG:
            raise QueryError(
                f"table {qualified}: catalog {catalog!r} is not known locally (only {ATHENA_CATALOG})"
            )
        if db and db.lower() != database:
            raise QueryError(f"table {qualified}: database {db!r} is not known locally (only {database!r})")
        if name.lower() not in known:
            have = ", ".join(n for n in known if _parquet_folder(warehouse, n)) or "none"
            raise QueryError(
                f"table {qualified} does not exist: llmdrift has no such table (tables with data in"
                f" {warehouse}: {have})"
            )
        used.append(name.lower())
    return used


def run(
    sql: str, warehouse: str, database: str = ddl.DEFAULT_DATABASE, now: datetime | None = None
) -> QueryResult:
    """Run one Athena SQL query against a local warehouse."""
    import duckdb

    tree = _parse(sql)
    root = _local_root(warehouse)
    ddl.check_name(database)
    used = _tables_used(tree, database, root)
    duck_sql = str(_rewrite(tree, now).sql(dialect="duckdb"))
    con = connect(root, database, used)
    try:
        cursor = con.execute(duck_sql)
        columns = [d[0] for d in cursor.description or []]
        rows = [tuple(r) for r in cursor.fetchall()]
    except duckdb.Error as exc:
        message = str(exc).strip().splitlines()[0]
        raise QueryError(f"the query failed locally: {message}\n  DuckDB SQL: {duck_sql}") from None
    finally:
        con.close()
    return QueryResult(columns, rows, duck_sql)


# --- named queries -----------------------------------------------------------------------------------------


def named_queries(database: str = ddl.DEFAULT_DATABASE) -> dict[str, tuple[str, str]]:
    """``{name: (description, sql)}`` from ``queries/*.sql``: the leading ``--`` lines are the description.

    The files qualify tables as ``llmdrift.<table>``; another ``database`` replaces that qualifier. The SQL
    is Athena SQL, ready for an Athena NamedQuery (CloudFormation ``AWS::Athena::NamedQuery``).
    """
    ddl.check_name(database)
    out: dict[str, tuple[str, str]] = {}
    folder = resources.files("llmdrift.catalog").joinpath("queries")
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if not item.name.endswith(".sql"):
            continue
        lines = item.read_text(encoding="utf-8").splitlines()
        header = []
        while lines and lines[0].startswith("--"):
            header.append(lines.pop(0)[2:].strip())
        sql = "\n".join(lines).strip().rstrip(";").strip()
        if database != ddl.DEFAULT_DATABASE:
            sql = re.sub(rf"\b{ddl.DEFAULT_DATABASE}\.(?=[a-z_\"])", f"{database}.", sql)
        out[item.name[: -len(".sql")]] = (" ".join(h for h in header if h), sql)
    return out


# --- output ------------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    """A JSON-ready value."""
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="milliseconds")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return value


def _cell(value: Any, null: str) -> str:
    if value is None:
        return null
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    value = _plain(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def format_result(result: QueryResult, fmt: str = "text") -> str:
    """The rows as an aligned text table (numbers right-aligned, NULL shown), CSV or a JSON array."""
    if fmt == "json":
        records = [dict(zip(result.columns, map(_plain, row), strict=True)) for row in result.rows]
        return json.dumps(records, indent=2, ensure_ascii=False)
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(result.columns)
        writer.writerows([_cell(v, "") for v in row] for row in result.rows)
        return buffer.getvalue().rstrip("\n")
    if fmt != "text":
        raise QueryError(f"unknown output format {fmt!r} (use {', '.join(FORMATS)})")
    cells = [[_cell(v, "NULL") for v in row] for row in result.rows]
    widths = [max([len(name), *(len(row[i]) for row in cells)]) for i, name in enumerate(result.columns)]
    right = [
        any(_numeric(row[i]) for row in result.rows)
        and all(row[i] is None or _numeric(row[i]) for row in result.rows)
        for i in range(len(result.columns))
    ]

    def line(values: list[str]) -> str:
        return " | ".join(
            v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right, strict=True)
        ).rstrip()

    out = [line(result.columns), "-+-".join("-" * w for w in widths)]
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def parse_now(value: str) -> datetime:
    """``2026-11-05`` or ``2026-11-05T12:00[:00][Z|+00:00]``; naive means UTC."""
    text = value.strip()
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{value!r} is not a UTC time like 2026-11-05 or 2026-11-05T12:00") from None
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)
