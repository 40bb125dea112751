"""The generated Athena DDL in Spark 3.5 with Hive support (embedded Derby metastore), in its own process.

Run by ``tests/test_catalog.py`` (the test session's Spark has no Hive support, and a session's catalog cannot
change once started): ``python tests/catalog_hive_check.py TMPDIR``. For every table it writes a few rows
with ``llmdrift.core.tables`` (the jobs' own writer), runs the generated ``CREATE EXTERNAL TABLE``, ``MSCK REPAIR
TABLE``, and reads the table back through the metastore. Prints one JSON object, keyed by table, on the last
line of stdout. Everything (metastore, derby.log, Hive warehouse) stays under TMPDIR.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROWS = 5
DAYS = ("2026-11-02", "2026-11-03")
# Row i's partition: dt-only tables get 2 partitions, dt+hour tables 3 (hours unpadded, as Spark writes).
DT_OF_ROW = (DAYS[0], DAYS[0], DAYS[1], DAYS[1], DAYS[1])
HOURLY_OF_ROW = ((DAYS[0], 0), (DAYS[0], 7), (DAYS[0], 7), (DAYS[1], 13), (DAYS[1], 13))


def sample_value(type_name: str, column: str, i: int) -> Any:
    t = type_name.lower()
    values: dict[str, Any] = {
        "string": f'{column} {i}: it\'s "quoted"',
        "int": i + 1,
        "bigint": 10_000_000_000 + i,
        "double": i + 0.25,
        "float": i + 0.5,
        "boolean": i % 2 == 0,
        "timestamp": datetime(2026, 11, 2, 7, 1, 2, 123000, tzinfo=UTC) + timedelta(hours=i),
        "date": date(2026, 11, 2) + timedelta(days=i),
        "array<float>": [0.5, -0.25, float(i)],
        "array<double>": [0.125 * i, 1.0],
        "array<string>": [f"a{i}", "b"],
        "map<string,string>": {"app": f"app-{i}", "team": "x"},
    }
    return values[t]


def sample_rows(schema: Any) -> list[dict[str, Any]]:
    rows = []
    for i in range(ROWS):
        row = {
            c.name: None if (c.nullable and i == ROWS - 1) else sample_value(c.type, c.name, i)
            for c in schema.columns
        }
        if schema.partition_names == ["dt"]:
            row["dt"] = DT_OF_ROW[i]
        elif schema.partition_names == ["dt", "hour"]:
            row["dt"], row["hour"] = HOURLY_OF_ROW[i]
        else:
            raise SystemExit(f"{schema.table}: no sample partitions for keys {schema.partition_names}")
        rows.append(row)
    return rows


def comparable(row: dict[str, Any]) -> str:
    """A canonical text of a row (timestamps as UTC instants) for comparing written and read rows."""

    def norm(v: Any) -> Any:
        if isinstance(v, datetime):
            return (v if v.tzinfo else v.replace(tzinfo=UTC)).astimezone(UTC).isoformat()
        if isinstance(v, date):
            return v.isoformat()
        if isinstance(v, dict):
            return sorted(v.items())
        return v

    return json.dumps({k: norm(v) for k, v in sorted(row.items())}, sort_keys=True, default=str)


def main(tmp: Path) -> dict[str, Any]:
    from llmdrift.catalog import ddl
    from llmdrift.core import schemas, spark, tables

    log4j = Path(spark.__file__).with_name("log4j2.properties").as_uri()
    session = spark.get_spark(
        "local[1]",
        {
            "spark.sql.catalogImplementation": "hive",  # = enableHiveSupport()
            "spark.sql.warehouse.dir": str(tmp / "hive-warehouse"),
            "spark.hadoop.javax.jdo.option.ConnectionURL": (
                f"jdbc:derby:;databaseName={tmp / 'metastore_db'};create=true"
            ),
            "spark.driver.extraJavaOptions": f"-Dlog4j.configurationFile={log4j} -Dderby.system.home={tmp}",
            # Spark would replace ${dt} in storage.location.template with "" (see llmdrift.catalog.ddl).
            "spark.sql.variable.substitute": "false",
            # SHOW TBLPROPERTIES masks any value matching (?i)url, e.g. every path under usage_hourly/.
            "spark.sql.redaction.options.regex": "(?!)",
            "spark.sql.shuffle.partitions": "1",
        },
        app_name="llmdrift-hive-ddl-check",
    )
    warehouse = str(tmp / "warehouse")
    session.sql(ddl.create_database_ddl("llmdrift"))
    report: dict[str, Any] = {}
    for name in ddl.table_names():
        schema = schemas.load(name)
        rows = sample_rows(schema)
        tables.append_rows(session, rows, warehouse, schema)
        session.sql(ddl.create_table_ddl(schema, warehouse, "llmdrift"))
        before = session.sql(f"SHOW PARTITIONS llmdrift.{name}").count()
        session.sql(f"MSCK REPAIR TABLE llmdrift.{name}")
        partitions = sorted(r[0] for r in session.sql(f"SHOW PARTITIONS llmdrift.{name}").collect())
        frame = session.sql(f"SELECT * FROM llmdrift.{name}")
        read = [r.asDict(recursive=True) for r in frame.collect()]
        per_partition: dict[str, int] = {}
        for r in read:
            key = "/".join(str(r[k]) for k in schema.partition_names)
            per_partition[key] = per_partition.get(key, 0) + 1
        written = sorted(comparable(r) for r in rows)
        back = sorted(comparable(r) for r in read)
        props = {r[0]: r[1] for r in session.sql(f"SHOW TBLPROPERTIES llmdrift.{name}").collect()}
        comments = {
            r[0]: r[2]
            for r in session.sql(f"DESCRIBE TABLE llmdrift.{name}").collect()
            if r[0] and not r[0].startswith("#")
        }
        report[name] = {
            "partitions_before_repair": before,
            "partitions": partitions,
            "rows": len(read),
            "per_partition": per_partition,
            "rows_equal": written == back,
            "first_difference": next(([w, b] for w, b in zip(written, back, strict=False) if w != b), None),
            "columns": frame.columns,
            "template": props.get("storage.location.template"),
            "comments": comments,
        }
    session.stop()
    return report


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    result = main(folder)
    sys.stdout.write("\n" + json.dumps(result) + "\n")
