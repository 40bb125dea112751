"""``llmdrift ddl``, ``llmdrift catalog sync`` and ``llmdrift query``: registered on the main app by
:func:`register`. Importing this module imports typer only; boto3, sqlglot and DuckDB load when a command runs.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from llmdrift.catalog import ddl

DatabaseOpt = Annotated[str, typer.Option(help="Glue/Athena database name.")]
ProjectionStartOpt = Annotated[
    str,
    typer.Option(help="First day of the dt partition projection (yyyy-MM-dd, or NOW-3YEARS...)."),
]
ProjectionEndOpt = Annotated[
    str, typer.Option(help="Last day of the dt partition projection (NOW, a day, or NOW+1DAYS...).")
]


def _err(message: str) -> None:
    typer.echo(f"error: {message}", err=True)


def _check_database(database: str) -> str:
    try:
        return ddl.check_name(database)
    except ddl.DdlError as exc:
        raise typer.BadParameter(str(exc), param_hint="--database") from None


def _check_tables(tables: list[str] | None, option: str = "--table") -> list[str] | None:
    if not tables:
        return None
    known = ddl.table_names()
    for name in tables:
        if name not in known:
            raise typer.BadParameter(
                f"unknown table {name!r} (tables: {', '.join(known)})", param_hint=option
            )
    return tables


def _check_projection(start: str, end: str) -> None:
    for value, option in ((start, "--projection-start"), (end, "--projection-end")):
        try:
            ddl.check_projection_bound(value, option)
        except ddl.DdlError as exc:
            raise typer.BadParameter(str(exc), param_hint=option) from None


def ddl_command(
    table: Annotated[
        list[str] | None, typer.Option(help="Only this table (repeatable; default: every table).")
    ] = None,
    warehouse: Annotated[
        str, typer.Option(help="Warehouse root the tables live under (s3://bucket/prefix, or a local path).")
    ] = "s3://BUCKET/warehouse",
    database: DatabaseOpt = ddl.DEFAULT_DATABASE,
    projection_start: ProjectionStartOpt = ddl.DEFAULT_PROJECTION_START,
    projection_end: ProjectionEndOpt = ddl.DEFAULT_PROJECTION_END,
    output: Annotated[
        str,
        typer.Option(
            "--format",
            help="athena: CREATE DATABASE / CREATE EXTERNAL TABLE statements; glue: the Glue TableInput"
            " JSON of each table (CreateTable, or CloudFormation AWS::Glue::Table).",
        ),
    ] = "athena",
) -> None:
    """Print the Athena DDL (or Glue TableInput JSON) of every table, generated from the schema files."""
    from llmdrift.core import schemas
    from llmdrift.core.storage import normalize

    _check_database(database)
    tables = _check_tables(table)
    _check_projection(projection_start, projection_end)
    if output not in ("athena", "glue"):
        raise typer.BadParameter(f"{output!r}: use athena or glue", param_hint="--format")
    try:
        normalize(warehouse)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--warehouse") from None
    if output == "glue":
        inputs = [
            ddl.table_input(schemas.load(n), warehouse, projection_start, projection_end)
            for n in tables or ddl.table_names()
        ]
        typer.echo(json.dumps(inputs, indent=2))
        return
    statements = ddl.ddl_statements(
        warehouse, database, tables, projection_start, projection_end, with_database=tables is None
    )
    typer.echo(";\n\n".join(statements) + ";")


catalog_app = typer.Typer(
    help="The Glue Data Catalog: database, tables and partitions of the warehouse.", no_args_is_help=True
)


@catalog_app.command("sync")
def sync_command(
    warehouse: Annotated[str, typer.Option(help="Warehouse root (s3://bucket/prefix).")],
    database: DatabaseOpt = ddl.DEFAULT_DATABASE,
    region: Annotated[str | None, typer.Option(help="AWS region (default: the AWS configuration).")] = None,
    table: Annotated[
        list[str] | None, typer.Option(help="Only this table (repeatable; default: every table).")
    ] = None,
    projection_start: ProjectionStartOpt = ddl.DEFAULT_PROJECTION_START,
    projection_end: ProjectionEndOpt = ddl.DEFAULT_PROJECTION_END,
    json_out: Annotated[bool, typer.Option("--json", help="Print the counts as JSON on stdout.")] = False,
) -> None:
    """Create the database and tables in Glue (update changed ones) and register new partitions. Idempotent."""
    from botocore.exceptions import BotoCoreError

    from llmdrift.catalog.sync import CatalogError, sync
    from llmdrift.core.storage import StorageError, normalize, storage_for

    _check_database(database)
    tables = _check_tables(table)
    _check_projection(projection_start, projection_end)
    try:
        root = normalize(warehouse)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--warehouse") from None
    try:
        import boto3

        glue = boto3.client("glue", region_name=region)
        result = sync(
            glue,
            storage_for(root),
            root,
            database,
            tables,
            projection_start,
            projection_end,
            log=lambda m: typer.echo(m, err=True),
        )
    except (CatalogError, StorageError, NotImplementedError, BotoCoreError) as exc:
        _err(f"catalog sync of {root} into {database}: {exc}")
        raise typer.Exit(1) from None
    typer.echo(json.dumps(result.as_dict(), indent=2) if json_out else result.summary())


def query_command(
    sql: Annotated[
        str | None, typer.Argument(help='Athena (Trino) SQL, e.g. "SELECT ... FROM llmdrift.invocations".')
    ] = None,
    warehouse: Annotated[
        str | None, typer.Option(help="Local warehouse root (s3:// is refused: use Athena there).")
    ] = None,
    named: Annotated[str | None, typer.Option(help="Run a named query (see --list) instead of SQL.")] = None,
    list_queries: Annotated[bool, typer.Option("--list", help="List the named queries and exit.")] = False,
    database: DatabaseOpt = ddl.DEFAULT_DATABASE,
    output: Annotated[str, typer.Option("--format", help="text (aligned table), csv or json.")] = "text",
    now: Annotated[
        str | None,
        typer.Option(
            help="Evaluate current_date / now() at this UTC time, e.g. a demo's last day (default: the clock)."
        ),
    ] = None,
    show_sql: Annotated[bool, typer.Option(help="Print the DuckDB SQL that ran (on stderr).")] = False,
) -> None:
    """Run Athena SQL locally: sqlglot turns it into DuckDB SQL over the warehouse's Parquet tables."""
    from llmdrift.catalog import query as q
    from llmdrift.core.storage import normalize

    _check_database(database)
    queries = q.named_queries(database)
    if list_queries:
        for name, (description, _) in queries.items():
            typer.echo(f"{name:<28} {description}")
        return
    if output not in q.FORMATS:
        raise typer.BadParameter(f"{output!r}: use {', '.join(q.FORMATS)}", param_hint="--format")
    if sql is not None and named is not None:
        raise typer.BadParameter("give SQL or --named NAME, not both", param_hint="SQL / --named")
    if sql is None and named is None:
        raise typer.BadParameter(
            "give the SQL to run, or --named NAME (see --list)", param_hint="SQL / --named"
        )
    if named is not None and named not in queries:
        raise typer.BadParameter(
            f"unknown named query {named!r} (named queries: {', '.join(queries)})", param_hint="--named"
        )
    if warehouse is None:
        raise typer.BadParameter("a local warehouse is needed to run a query", param_hint="--warehouse")
    try:
        normalize(warehouse)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--warehouse") from None
    try:
        clock = q.parse_now(now) if now else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--now") from None
    text = queries[named][1] if named is not None else str(sql)
    try:
        result = q.run(text, warehouse, database, clock)
    except q.QueryError as exc:
        _err(str(exc))
        raise typer.Exit(1) from None
    if show_sql:
        typer.echo(result.duckdb_sql, err=True)
    typer.echo(q.format_result(result, output))
    if output == "text":
        typer.echo(f"({len(result.rows)} row{'s' if len(result.rows) != 1 else ''})", err=True)


def register(app: typer.Typer) -> None:
    """Add ``ddl``, ``catalog sync`` and ``query`` to the ``llmdrift`` command."""
    app.command("ddl")(ddl_command)
    app.add_typer(catalog_app, name="catalog")
    app.command("query")(query_command)
