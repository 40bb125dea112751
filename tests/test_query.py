"""Athena SQL run locally (sqlglot -> DuckDB) on a small warehouse written by Spark with llmdrift.core.tables.

No Trino server can be installed, so these check the named queries' numbers through the local engine; the
same files are what Athena runs (they are Athena SQL, parsed here with sqlglot's athena dialect).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlglot

from llmdrift.catalog import query as q
from llmdrift.cli import main
from llmdrift.core import schemas, tables
from llmdrift.core.intervals import wilson

NOW = datetime(2026, 11, 5, 12, 0, tzinfo=UTC)
NAMED = [
    "anomalies_this_week",
    "latency_by_model",
    "latest_drift_verdicts",
    "quarantine_by_reason",
    "refusal_ratio_by_model_day",
    "top_callers_by_cost",
]


def _filled(table: str, **values: Any) -> dict[str, Any]:
    """A row with every non-nullable column set (0, '' or False) and the given values."""
    defaults = {"string": "", "int": 0, "bigint": 0, "double": 0.0, "boolean": False, "timestamp": NOW}
    row = {c.name: defaults[c.type] for c in schemas.load(table).columns if not c.nullable}
    row.update(values)
    return row


def _usage(dt: str, model: str, caller: str, inv: int, cost: float | None, **kw: Any) -> dict[str, Any]:
    return _filled(
        "usage_daily", dt=dt, base_model_id=model, caller_name=caller, invocations=inv, cost_usd=cost, **kw
    )


def _anomaly(
    dt: str, grain: str, hour: int, slice_: str, metric: str, score: float, **kw: Any
) -> dict[str, Any]:
    return _filled(
        "anomalies",
        dt=dt,
        grain=grain,
        hour=hour,
        slice_type="all",
        slice=slice_,
        metric=metric,
        score=score,
        **kw,
    )


def _drift(
    run: str, current: str, feature: str, drifted: bool | None, q_value: float | None, **kw: Any
) -> dict[str, Any]:
    end = f"2026-11-0{int(current[-1]) + 1}"
    return _filled(
        "drift_results",
        dt=current,
        run_id=run,
        reference_start="2026-10-28",
        reference_end=current,
        current_start=current,
        current_end=end,
        feature=feature,
        drifted=drifted,
        q_value=q_value,
        **{"slice_type": "all", "slice": "*", "method": "ks", **kw},
    )


def _invocation(
    n: int, dt: str, hour: int, model: str, latency: int | None, error: str | None = None
) -> dict[str, Any]:
    day = datetime.fromisoformat(dt).replace(tzinfo=UTC)
    return _filled(
        "invocations",
        dt=dt,
        hour=hour,
        request_id=f"req-{n}",
        event_ts=day.replace(hour=hour, minute=15, microsecond=123000),
        event_ts_source="record",
        source_file="s3://logs/f.json.gz",
        source_line=n,
        base_model_id=model,
        latency_ms=latency,
        error_code=error,
        request_metadata={"app": "checkout", "n": str(n)},
    )


def _quarantine(dt: str, hour: int, reason: str, kept: bool, file: str, line: int) -> dict[str, Any]:
    return _filled(
        "quarantine",
        dt=dt,
        hour=hour,
        reason_code=reason,
        reason=reason,
        row_kept=kept,
        source_file=file,
        source_line=line,
    )


@pytest.fixture(scope="module")
def warehouse(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> str:
    wh = str(tmp_path_factory.mktemp("query") / "warehouse")
    rows = {
        "usage_daily": [
            _usage(
                "2026-11-05",
                "m1",
                "alice",
                10,
                1.5,
                input_tokens=1000,
                output_tokens=500,
                scored=10,
                refusals=1,
            ),
            _usage(
                "2026-11-05",
                "m2",
                "alice",
                5,
                0.25,
                input_tokens=200,
                output_tokens=100,
                unpriced=1,
                scored=4,
                refusals=2,
            ),
            _usage("2026-11-04", "m1", "bob", 20, 2.0, input_tokens=3000, output_tokens=1000, scored=20),
            _usage("2026-11-04", "m2", "carol", 3, None, input_tokens=30, output_tokens=10, unpriced=3),
            _usage("2026-10-07", "m1", "dave", 1, 0.125, scored=1, refusals=1),  # first day of the 30
            _usage("2026-10-01", "m1", "carol", 100, 50.0, scored=100, refusals=50),  # too old
            _usage("2026-11-06", "m1", "alice", 1, 9.0),  # after "now"
        ],
        "anomalies": [
            _anomaly(
                "2026-11-05",
                "hourly",
                14,
                "*",
                "invocations",
                10.0,
                value=300.0,
                expected=100.0,
                direction="up",
            ),
            _anomaly(
                "2026-11-03", "daily", -1, "m1", "error_rate", 7.5, value=0.2, expected=0.01, direction="up"
            ),
            _anomaly(
                "2026-11-01", "daily", -1, "bob", "cost_usd", -8.25, value=1.0, expected=5.0, direction="down"
            ),
            _anomaly("2026-10-29", "daily", -1, "*", "invocations", 20.0),  # more than 7 days ago
            _anomaly("2026-11-06", "daily", -1, "*", "invocations", 30.0),  # after "now"
        ],
        "drift_results": [
            _drift("drift-20261105T020000Z-aaaaaa", "2026-11-04", "prompt_embedding", True, 0.01),
            _drift("drift-20261106T010000Z-bbbbbb", "2026-11-05", "prompt_embedding", False, 0.9),
            # a later backfill of an older window: a newer run id, not the newest window
            _drift("drift-20261107T000000Z-zzzzzz", "2026-11-03", "prompt_embedding", True, 0.02),
            _drift(
                "drift-20261106T090000Z-cccccc",
                "2026-11-05",
                "prompt_embedding",
                True,
                0.001,
                method="knn_permutation",
            ),
            _drift(
                "drift-20261106T090000Z-cccccc", "2026-11-05", "completion_sentiment_compound", True, 0.0001
            ),
            _drift(
                "drift-20261106T090000Z-cccccc",
                "2026-11-05",
                "completion_refusal_flag",
                False,
                0.4,
                slice_type="model",
                slice="m1",
                method="two_proportion",
            ),
            _drift(
                "drift-20261106T090000Z-cccccc",
                "2026-11-05",
                "*",
                None,
                None,
                slice_type="caller",
                slice="carol",
                method="not_tested",
                note="too few invocations",
            ),
        ],
        "invocations": [
            *[_invocation(i, "2026-11-04", 7, "m1", 100 * i) for i in range(1, 6)],
            _invocation(6, "2026-11-04", 7, "m1", None, "ThrottlingException"),
            *[_invocation(i, "2026-11-05", 13, "m2", 1000) for i in range(7, 10)],
            _invocation(10, "2026-11-05", 13, "m2", None, "ValidationException"),
            _invocation(11, "2026-10-20", 0, "m1", 99999),  # too old
        ],
        "quarantine": [
            _quarantine("2026-11-05", 1, "invalid_json", False, "f1", 3),
            _quarantine("2026-11-05", 1, "invalid_json", False, "f2", 9),
            _quarantine("2026-11-05", 1, "wrong_type", True, "f1", 4),
            _quarantine("2026-11-04", 23, "invalid_json", False, "f3", 1),
            _quarantine("2026-10-01", 0, "invalid_json", False, "f0", 1),
        ],
    }
    for table, table_rows in rows.items():
        tables.append_rows(spark, table_rows, wh, schemas.load(table))
    return wh


def run(sql: str, warehouse: str) -> list[tuple[Any, ...]]:
    return q.run(sql, warehouse, now=NOW).rows


def named(name: str, warehouse: str) -> list[dict[str, Any]]:
    result = q.run(q.named_queries()[name][1], warehouse, now=NOW)
    return [dict(zip(result.columns, row, strict=True)) for row in result.rows]


# --- the named queries -------------------------------------------------------------------------------------


def test_named_queries_are_athena_sql_with_descriptions() -> None:
    queries = q.named_queries()
    assert sorted(queries) == NAMED
    for name, (description, sql) in queries.items():
        assert 40 < len(description) <= 1024, name  # Athena NamedQuery Description limit
        assert not sql.startswith("--")
        tree = sqlglot.parse_one(sql, read="athena")
        assert {
            t.db for t in tree.find_all(sqlglot.exp.Table) if t.name not in ("latest", "daily", "rates")
        } == {"llmdrift"}, name


def test_named_queries_take_another_database_name() -> None:
    for name, (_, sql) in q.named_queries("prod_llm").items():
        assert "llmdrift." not in sql, name
        assert "prod_llm." in sql, name
    with pytest.raises(ValueError, match="not valid"):
        q.named_queries("prod-llm")


def test_top_callers_by_cost(warehouse: str) -> None:
    rows = named("top_callers_by_cost", warehouse)
    assert [
        (r["caller_name"], r["total_cost_usd"], r["invocations"], r["unpriced"], r["models"]) for r in rows
    ] == [
        ("bob", 2.0, 20, 0, 1),
        ("alice", 1.75, 15, 1, 2),
        ("dave", 0.125, 1, 0, 1),
        ("carol", None, 3, 3, 1),  # nothing priced: no cost, not zero
    ]
    assert (rows[1]["input_tokens"], rows[1]["output_tokens"]) == (1200, 600)


def test_refusal_ratio_by_model_and_day(warehouse: str) -> None:
    rows = named("refusal_ratio_by_model_day", warehouse)
    assert [(r["dt"], r["base_model_id"], r["scored"], r["refusals"], r["refusal_ratio"]) for r in rows] == [
        ("2026-11-05", "m2", 4, 2, 0.5),
        ("2026-11-05", "m1", 10, 1, 0.1),
        ("2026-11-04", "m1", 20, 0, 0.0),
        ("2026-11-04", "m2", 0, 0, None),
    ]
    low, high = wilson(1, 10)
    assert rows[1]["ci_low"] == pytest.approx(low, abs=2e-4)
    assert rows[1]["ci_high"] == pytest.approx(high, abs=2e-4)
    assert (rows[3]["ci_low"], rows[3]["ci_high"]) == (None, None)


def test_latest_drift_verdicts_are_the_newest_window_and_run(warehouse: str) -> None:
    rows = named("latest_drift_verdicts", warehouse)
    assert {r["run_id"] for r in rows} == {"drift-20261106T090000Z-cccccc"}
    assert [(r["feature"], r["slice"], r["verdict"], r["q_value"]) for r in rows] == [
        ("completion_sentiment_compound", "*", "drift", 0.0001),
        ("prompt_embedding", "*", "drift", 0.001),
        ("completion_refusal_flag", "m1", "stable", 0.4),
        ("*", "carol", "not tested", None),
    ]
    assert rows[-1]["note"] == "too few invocations"
    assert (rows[0]["current_start"], rows[0]["current_end"]) == ("2026-11-05", "2026-11-06")


def test_anomalies_this_week(warehouse: str) -> None:
    rows = named("anomalies_this_week", warehouse)
    assert [(r["dt"], r["grain"], r["hour"], r["metric"], r["robust_z"], r["direction"]) for r in rows] == [
        ("2026-11-05", "hourly", 14, "invocations", 10.0, "up"),
        ("2026-11-01", "daily", None, "cost_usd", -8.25, "down"),
        ("2026-11-03", "daily", None, "error_rate", 7.5, "up"),
    ]
    assert (rows[0]["observed"], rows[0]["baseline"]) == (300.0, 100.0)


def test_latency_by_model(warehouse: str) -> None:
    rows = named("latency_by_model", warehouse)
    assert [(r["base_model_id"], r["invocations"], r["with_latency"], r["errors"]) for r in rows] == [
        ("m2", 4, 3, 1),
        ("m1", 6, 5, 1),
    ]
    m2, m1 = rows
    assert (m2["latency_p50_ms"], m2["latency_p90_ms"], m2["latency_p99_ms"]) == (1000, 1000, 1000)
    assert m1["latency_p50_ms"] == pytest.approx(300, abs=50)  # approximate (t-digest), as in Athena
    assert 400 <= m1["latency_p90_ms"] <= 500
    assert (m1["throttled_share"], m2["throttled_share"]) == (pytest.approx(1 / 6, abs=1e-4), 0.0)


def test_quarantine_by_reason(warehouse: str) -> None:
    rows = named("quarantine_by_reason", warehouse)
    assert [tuple(r.values()) for r in rows] == [
        ("2026-11-05", "invalid_json", 2, 0, 2, 2, "f1"),
        ("2026-11-05", "wrong_type", 1, 1, 0, 1, "f1"),
        ("2026-11-04", "invalid_json", 1, 0, 1, 1, "f3"),
    ]


@pytest.mark.parametrize("name", NAMED)
def test_every_named_query_runs_from_the_command_line(
    name: str, warehouse: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        main(
            [
                "query",
                "--warehouse",
                warehouse,
                "--named",
                name,
                "--now",
                "2026-11-05T12:00",
                "--format",
                "json",
            ]
        )
        == 0
    )
    records = json.loads(capsys.readouterr().out)
    assert records == json.loads(
        json.dumps([{k: q._plain(v) for k, v in r.items()} for r in named(name, warehouse)])
    )
    assert records


# --- the local engine ------------------------------------------------------------------------------------


def test_tables_are_reachable_qualified_unqualified_and_with_the_catalog(warehouse: str) -> None:
    for name in (
        "usage_daily",
        "llmdrift.usage_daily",
        '"llmdrift"."usage_daily"',
        "awsdatacatalog.llmdrift.usage_daily",
    ):
        assert run(f"SELECT count(*) FROM {name}", warehouse) == [(7,)], name


def test_partition_columns_and_timestamps_have_athena_types(warehouse: str) -> None:
    rows = run(
        "SELECT typeof(dt), typeof(hour), typeof(event_ts), hour, to_iso8601(event_ts),"
        " format_datetime(event_ts, 'yyyy-MM-dd''T''HH:mm:ss.SSS EEE'), request_metadata['app']"
        " FROM llmdrift.invocations WHERE request_id = 'req-1'",
        warehouse,
    )
    assert rows == [
        (
            "VARCHAR",
            "INTEGER",
            "TIMESTAMP",
            7,
            "2026-11-04T07:15:00.123",
            "2026-11-04T07:15:00.123 Wed",
            "checkout",
        )
    ]
    assert run("SELECT DISTINCT hour FROM invocations ORDER BY hour", warehouse) == [(0,), (7,), (13,)]


def test_trino_functions_through_macros_and_rewrites(warehouse: str) -> None:
    assert run("SELECT 7 / 2, -7 / 2, 7 / 2.0, CAST(7 AS double) / 2, 1.0 / 0", warehouse) == [
        (3, -3, 3.5, 3.5, None)
    ]
    assert run(
        "SELECT to_iso8601(DATE '2026-11-05'), to_iso8601(from_iso8601_timestamp('2026-11-05T01:02:03.456Z')),"
        " format_datetime(parse_datetime('2026/11/5 7', 'yyyy/MM/d H'), 'd MMM yyyy, HH:mm')",
        warehouse,
    ) == [("2026-11-05", "2026-11-05T01:02:03.456Z", "5 Nov 2026, 07:00")]
    counts = run(
        "SELECT map_agg(base_model_id, n) FROM (SELECT base_model_id, count(*) AS n FROM invocations GROUP BY 1)",
        warehouse,
    )
    assert counts == [({"m1": 7, "m2": 4},)]
    assert run("SELECT count_if(error_code = 'Nope'), count(*) FROM invocations", warehouse) == [(0, 11)]
    assert (
        run("SELECT current_date, date_format(now(), '%Y-%m-%d %H:%i')", warehouse)[0][1]
        == "2026-11-05 12:00"
    )


def test_transpile_uses_the_injected_clock_and_duckdb_names() -> None:
    sql = q.transpile(
        "SELECT approx_percentile(x, 0.9), count_if(y) FROM t WHERE d >= current_date - INTERVAL '6' DAY",
        now=NOW,
    )
    assert sql == (
        "SELECT APPROX_QUANTILE(x, 0.9), COUNT(CASE WHEN y THEN 1 END) FROM t"
        " WHERE d >= CAST('2026-11-05' AS DATE) - INTERVAL '6' DAY"
    )


def test_joda_patterns() -> None:
    assert q.joda_to_strftime("yyyy-MM-dd HH:mm:ss.SSS") == "%Y-%m-%d %H:%M:%S.%g"
    assert q.joda_to_strftime("d/M/yy h:mm a") == "%-d/%-m/%y %-I:%M %p"
    assert q.joda_to_strftime("EEEE, MMMM d 'at' H'h' 100%") == "%A, %B %-d at %-Hh 100%%"
    assert q.joda_to_strftime("''yyyy''") == "'%Y'"
    with pytest.raises(q.QueryError, match="'Q'"):
        q.joda_to_strftime("yyyy-QQ")


def test_a_table_without_data_is_empty_not_missing(warehouse: str) -> None:
    result = q.run("SELECT * FROM llmdrift.alerts", warehouse, now=NOW)
    assert result.rows == []
    assert result.columns == schemas.load("alerts").names


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELEC 1", "does not parse as Athena"),
        ("SELECT (1", "does not parse as Athena"),
        ("SELECT * FROM llmdrift.invocation", "table llmdrift.invocation does not exist"),
        ("SELECT * FROM otherdb.invocations", "database 'otherdb' is not known locally"),
        ("SELECT 1; SELECT 2", "one statement at a time"),
        ("DROP TABLE llmdrift.invocations", "only queries"),
        ("SELECT no_such_function(1)", "the query failed locally"),
        ("SELECT no_such_column FROM invocations", "no_such_column"),
    ],
)
def test_bad_queries_give_clear_errors(sql: str, message: str, warehouse: str) -> None:
    with pytest.raises(q.QueryError, match=message):
        q.run(sql, warehouse, now=NOW)


def test_s3_and_missing_warehouses_are_refused(tmp_path: Path) -> None:
    with pytest.raises(q.QueryError, match="Athena"):
        q.run("SELECT 1", "s3://bucket/warehouse")
    with pytest.raises(q.QueryError, match="does not exist"):
        q.run("SELECT 1", str(tmp_path / "nothing"))


# --- output and the command ------------------------------------------------------------------------------


def test_text_output_is_aligned() -> None:
    result = q.QueryResult(["name", "n", "cost"], [("alice", 3, 1.5), ("bo", 12, None)], "")
    assert q.format_result(result, "text").splitlines() == [
        "name  |  n | cost",
        "------+----+-----",
        "alice |  3 |  1.5",
        "bo    | 12 | NULL",
    ]


def test_csv_and_json_output(warehouse: str, capsys: pytest.CaptureFixture[str]) -> None:
    sql = "SELECT dt, hour, request_metadata, latency_ms FROM invocations WHERE request_id IN ('req-1', 'req-6') ORDER BY request_id"
    assert main(["query", sql, "--warehouse", warehouse, "--format", "csv"]) == 0
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows == [
        ["dt", "hour", "request_metadata", "latency_ms"],
        ["2026-11-04", "7", '{"app": "checkout", "n": "1"}', "100"],
        ["2026-11-04", "7", '{"app": "checkout", "n": "6"}', ""],
    ]
    assert main(["query", sql, "--warehouse", warehouse, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)[1] == {
        "dt": "2026-11-04",
        "hour": 7,
        "request_metadata": {"app": "checkout", "n": "6"},
        "latency_ms": None,
    }


def test_list_and_text_output_from_the_command(warehouse: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in listed] == NAMED
    assert main(["query", "SELECT count(*) AS n FROM llmdrift.quarantine", "--warehouse", warehouse]) == 0
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ["n", "-", "5"]
    assert "(1 row)" in captured.err


@pytest.mark.parametrize(
    ("argv", "code", "names"),
    [
        (["query", "SELECT 1"], 2, "--warehouse"),
        (["query", "SELECT 1", "--named", "top_callers_by_cost", "--warehouse", "/w"], 2, "--named"),
        (["query", "--warehouse", "/w"], 2, "--named"),
        (["query", "--named", "nope", "--warehouse", "/w"], 2, "--named"),
        (["query", "SELECT 1", "--warehouse", "/w", "--format", "xml"], 2, "--format"),
        (["query", "SELECT 1", "--warehouse", "/w", "--now", "tomorrow"], 2, "--now"),
        (["query", "SELECT 1", "--warehouse", "/w", "--database", "Bad"], 2, "--database"),
        (["query", "SELECT 1", "--warehouse", "hdfs://nn/wh"], 2, "--warehouse"),
        (["query", "SELECT 1", "--warehouse", "s3://bucket/wh"], 1, "Athena"),
        (["query", "SELECT FROM WHERE", "--warehouse", "/w"], 1, "does not parse"),
    ],
)
def test_bad_query_arguments_exit_non_zero_with_a_message(
    argv: list[str], code: int, names: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == code
    captured = capsys.readouterr()
    assert names in captured.err + captured.out


def test_a_missing_table_exits_1_naming_it(warehouse: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["query", "SELECT * FROM llmdrift.usage_weekly", "--warehouse", warehouse]) == 1
    err = capsys.readouterr().err
    assert "llmdrift.usage_weekly does not exist" in err
    assert "usage_daily" in err  # lists the tables that do exist
