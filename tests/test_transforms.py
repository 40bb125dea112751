"""Spark transforms and table writes on tiny inline DataFrames (no generated logs, no whole jobs)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from llmdrift.aggregate import transforms
from llmdrift.core import intervals, schemas, tables
from llmdrift.core.storage import LocalStorage
from llmdrift.cost.prices import load_prices, load_profiles
from llmdrift.ingest.job import COUNTS

HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


def rows_of(table: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with every column of the table (unnamed columns null, required strings filled)."""
    schema = schemas.load(table)
    filled = []
    for i, row in enumerate(rows):
        base: dict[str, Any] = dict.fromkeys(schema.names)
        if "request_id" in base:
            base["request_id"] = f"r{i}"
        if "event_ts" in base:
            base["event_ts"] = datetime(2026, 11, 2, 7)
        base.update(
            {"event_ts_source": "timestamp", "source_file": "f", "source_line": i}
            if table == "invocations"
            else {}
        )
        if table == "invocation_metrics":
            base["scorer_version"] = "test"
        base.update(row)
        filled.append(base)
    return filled


def frame(spark: Any, table: str, rows: list[dict[str, Any]]) -> Any:
    return tables.frame(spark, rows_of(table, rows), schemas.load(table))


def parquet_files(root: Path) -> list[Path]:
    return sorted(root.rglob("*.parquet"))


# ------------------------------------------------------------------------------------------- tables


def test_replace_days_replaces_the_days_and_drops_what_they_lost(spark: Any, tmp_path: Path) -> None:
    schema = schemas.load("invocation_costs")
    wh, storage = str(tmp_path), LocalStorage()

    def costs(*keys: tuple[str, int, str]) -> Any:
        return frame(
            spark,
            "invocation_costs",
            [
                {"dt": d, "hour": h, "request_id": r, "pricing_status": "priced", "price_version": "v"}
                for d, h, r in keys
            ],
        )

    first = [("2026-11-02", 7, "a"), ("2026-11-02", 8, "b"), ("2026-11-03", 1, "c"), ("2026-11-04", 5, "d")]
    tables.replace_days(costs(*first), storage, wh, schema, ["2026-11-02", "2026-11-03", "2026-11-04"])
    # Day 2 recomputed with hour 8 gone and a new row in hour 7; day 3 lost every row; day 4 not recomputed.
    second = [("2026-11-02", 7, "a"), ("2026-11-02", 7, "e")]
    tables.replace_days(costs(*second), storage, wh, schema, ["2026-11-02", "2026-11-03"])

    stored = tables.read(spark, storage, wh, schema).select("dt", "hour", "request_id").collect()
    assert sorted((r.dt, r.hour, r.request_id) for r in stored) == [
        ("2026-11-02", 7, "a"),
        ("2026-11-02", 7, "e"),
        ("2026-11-04", 5, "d"),
    ]
    base = tmp_path / "invocation_costs"
    assert not (base / "dt=2026-11-02" / "hour=8").exists()
    assert not (base / "dt=2026-11-03").exists()


def test_append_compact_keeps_one_file_per_partition(spark: Any, tmp_path: Path) -> None:
    schema = schemas.load("ingest_runs")
    wh, storage = str(tmp_path), LocalStorage()
    template = {
        "started_at": datetime(2026, 11, 2, 7),
        "finished_at": datetime(2026, 11, 2, 7, 1),
        "window_start": datetime(2026, 11, 2, 5),
        "window_end": datetime(2026, 11, 2, 7),
        "logs_uri": "/logs",
        "partitions_written": "",
        **dict.fromkeys(COUNTS, 0),
    }
    for i, dt in enumerate(["2026-11-02", "2026-11-02", "2026-11-03", "2026-11-02"]):
        tables.append_compact(spark, [{**template, "run_id": f"run-{i}", "dt": dt}], storage, wh, schema)

    runs = tables.read(spark, storage, wh, schema).collect()
    assert sorted((r.dt, r.run_id) for r in runs) == [
        ("2026-11-02", "run-0"),
        ("2026-11-02", "run-1"),
        ("2026-11-02", "run-3"),
        ("2026-11-03", "run-2"),
    ]
    assert [p.parent.name for p in parquet_files(tmp_path / "ingest_runs")] == [
        "dt=2026-11-02",
        "dt=2026-11-03",
    ]


# ------------------------------------------------------------------------------------------- aggregate


@pytest.fixture(scope="module")
def priced(spark: Any) -> Any:
    inv = frame(
        spark,
        "invocations",
        [
            {
                "dt": "2026-11-02",
                "hour": 7,
                "model_id": HAIKU,
                "region": "us-east-1",
                "caller_name": "app",
                "input_tokens": 1000,
                "output_tokens": 2000,
                "latency_ms": 100,
            },
            {
                "dt": "2026-11-02",
                "hour": 7,
                "model_id": HAIKU,
                "region": "us-east-1",
                "caller_name": "app",
                "input_tokens": 4000,
                "output_tokens": 0,
                "latency_ms": 300,
                "error_code": "ThrottlingException",
            },
            {
                "dt": "2026-11-02",
                "hour": 8,
                "model_id": HAIKU,
                "region": "us-east-1",
                "caller_name": "etl",
                "input_tokens": 10,
                "output_tokens": 10,
                "latency_ms": 200,
                "error_code": "ValidationException",
            },
            {
                "dt": "2026-11-02",
                "hour": 8,
                "model_id": "acme.unknown-model-v1",
                "region": "us-east-1",
                "caller_name": "etl",
                "input_tokens": 5,
                "output_tokens": 5,
                "latency_ms": 200,
            },
        ],
    )
    met = frame(
        spark,
        "invocation_metrics",
        [
            {
                "request_id": "r0",
                "template_id": "t1",
                "completion_refusal_flag": True,
                "prompt_toxicity_flag": False,
                "completion_toxicity_flag": True,
                "prompt_pii_count": 1,
            },
            {
                "request_id": "r2",
                "template_id": "t1",
                "completion_refusal_flag": False,
                "prompt_toxicity_flag": False,
                "completion_toxicity_flag": False,
                "prompt_pii_count": 0,
            },
        ],
    ).drop("dt", "hour")
    prices = load_prices()
    keys = transforms.price_keys(inv).collect()
    return transforms.priced(
        inv, met, transforms.price_frame(spark, keys, prices, load_profiles()), prices.version
    )


def test_priced_costs_each_token_class_and_leaves_unknown_models_unpriced(priced: Any) -> None:
    rows = {r.request_id: r for r in priced.collect()}
    # Haiku: $0.00025 / 1k input, $0.00125 / 1k output (prices.csv)
    assert rows["r0"].cost_usd == pytest.approx(1000 * 0.00025 / 1000 + 2000 * 0.00125 / 1000)
    assert rows["r1"].cost_usd == pytest.approx(4000 * 0.00025 / 1000)
    assert rows["r0"].pricing_status == "priced"
    assert rows["r3"].pricing_status != "priced"
    assert rows["r3"].cost_usd is None
    assert rows["r0"].is_scored
    assert not rows["r1"].is_scored
    assert rows["r0"].base_model_id == HAIKU


def test_usage_counts_errors_rates_and_intervals(priced: Any) -> None:
    daily = {r.caller_name: r for r in transforms.usage(priced, hourly=False).collect()}
    app = daily["app"]
    assert (app.invocations, app.errors, app.errors_throttle, app.errors_client) == (2, 1, 1, 0)
    assert app.error_rate == 0.5
    assert (app.scored, app.refusals, app.refusal_ratio) == (1, 1, 1.0)
    assert (app.refusal_ci_low, app.refusal_ci_high) == pytest.approx(intervals.wilson(1, 1))
    assert app.toxic_rate == 1.0
    assert app.pii_rate == 1.0
    assert app.input_tokens == 5000
    assert app.output_tokens == 2000
    assert app.latency_p50_ms == pytest.approx(200.0)
    etl = [r for r in transforms.usage(priced, hourly=True).collect() if r.caller_name == "etl"]
    assert sum(r.invocations for r in etl) == 2
    assert {r.hour for r in etl} == {8}
    assert sum(r.errors_client for r in etl) == 1
    assert sum(r.unpriced for r in etl) == 1


def test_templates_group_by_the_scorer_template_and_fill_unscored_rows(priced: Any) -> None:
    rows = transforms.templates(priced).collect()
    by_id = {r.template_id: r for r in rows}
    assert by_id["t1"].invocations == 2
    assert by_id["t1"].scored == 2
    assert by_id["t1"].refusal_ratio == 0.5
    assert sum(r.invocations for r in rows) == 4  # the unscored rows get an id from their texts
