"""Data-quality gates: great-expectations suites over the tables a run wrote, results in dq_results."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from llmdrift.core import schemas, tables
from llmdrift.core.runs import RunContext
from llmdrift.core.storage import LocalStorage
from llmdrift.dq.job import DQConfig, DQError, judge, run, validate_frame
from llmdrift.dq.suites import WARNING, between, suites

NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)
DAYS = ("2026-11-02", "2026-11-03")


def test_every_table_with_a_schema_and_rows_has_a_suite_with_its_key_and_not_null_rules() -> None:
    all_suites = suites()
    for name in ("invocations", "invocation_metrics", "invocation_costs", "drift_results", "ingest_runs"):
        expectations = {c.expectation for c in all_suites[name].checks}
        assert {"ExpectColumnValuesToNotBeNull"} <= expectations
        assert expectations & {"ExpectColumnValuesToBeUnique", "ExpectCompoundColumnsToBeUnique"}
    columns = {c.columns for c in all_suites["invocation_metrics"].checks}
    assert {"completion_refusal_score", "prompt_toxicity_score", "request_id"} <= columns


def test_validate_frame_reports_each_broken_rule_with_failing_keys() -> None:
    frame = pd.DataFrame(
        {
            "request_id": ["a", "b", "b", "c"],
            "score": [0.1, 1.7, 0.5, None],
            "cost": [1.0, None, 2.0, None],
            "status": ["priced", "priced", "priced", "unpriced"],
        }
    )
    from llmdrift.dq.suites import Check

    checks = [
        Check("ExpectColumnValuesToBeUnique", {"column": "request_id"}, "request_id is unique"),
        between("score", 0, 1),
        Check(
            "ExpectColumnValuesToNotBeNull",
            {"column": "cost"},
            "cost present when priced",
            WARNING,
            when=("status", "priced"),
        ),
        between("cost", 0, None),
    ]
    rows = validate_frame("t", frame, checks, ["request_id"])
    by_rule = {r["description"]: r for r in rows}
    assert [r["success"] for r in rows] == [False, False, False, True]
    assert by_rule["request_id is unique"]["unexpected_count"] == 2
    assert by_rule["request_id is unique"]["failing_keys"] == ["request_id=b", "request_id=b"]
    assert by_rule["score within [0, 1] (nulls allowed)"]["failing_keys"] == ["request_id=b"]
    priced = by_rule["cost present when priced"]
    assert (priced["element_count"], priced["unexpected_count"], priced["severity"]) == (3, 1, WARNING)


@pytest.fixture(scope="module")
def pipeline_warehouse(spark: Any, tmp_path_factory: pytest.TempPathFactory, scored_warehouse: Any) -> Path:
    """Two scored days, aggregated, with a drift run: what `llmdrift run` leaves behind."""
    from llmdrift.aggregate.job import AggregateConfig
    from llmdrift.aggregate.job import run as aggregate
    from llmdrift.core.windows import Window
    from llmdrift.drift.job import DriftConfig
    from llmdrift.drift.job import run as drift
    from llmdrift.generate.traffic import Scenario

    scenario = Scenario(seed=3, start=date(2026, 11, 2), days=2, per_day=150, duplicate_rate=0.02)
    warehouse = scored_warehouse(spark, scenario, tmp_path_factory.mktemp("dq"))
    quiet = lambda _: None  # noqa: E731
    aggregate(spark, AggregateConfig(str(warehouse)), RunContext("a", NOW), log=quiet)
    window = DriftConfig(
        str(warehouse), Window.parse("2026-11-03"), Window.parse("2026-11-02"), min_samples=20
    )
    drift(spark, window, RunContext("drift-dq", NOW), log=quiet)
    return warehouse


def test_a_clean_run_passes_every_critical_expectation_and_stores_results(
    spark: Any, pipeline_warehouse: Path
) -> None:
    lines: list[str] = []
    result = run(
        spark, DQConfig(str(pipeline_warehouse), DAYS), RunContext("dq-clean", NOW), log=lines.append
    )
    assert result.failed_critical() == [], lines
    checked = {r["table_name"] for r in result.rows}
    assert {
        "invocations",
        "invocation_metrics",
        "invocation_costs",
        "usage_daily",
        "drift_results",
    } <= checked
    stored = tables.read(spark, LocalStorage(), str(pipeline_warehouse), schemas.load("dq_results")).where(
        "run_id = 'dq-clean'"
    )
    assert stored.count() == len(result.rows)
    coverage = stored.where("table_name = 'invocation_metrics' AND columns = 'scored'").collect()
    assert coverage[0]["success"]
    assert coverage[0]["element_count"] > 200  # every invocation of both days was checked


def test_a_damaged_table_fails_the_gate_naming_the_rows(
    spark: Any, pipeline_warehouse: Path, tmp_path: Path
) -> None:
    from pyspark.sql import functions as F

    warehouse = tmp_path / "wh"
    shutil.copytree(pipeline_warehouse, warehouse)
    schema = schemas.load("invocation_metrics")
    metrics = tables.read(spark, LocalStorage(), str(warehouse), schema, [(DAYS[0],)]).cache()
    victim = metrics.orderBy("request_id").first()["request_id"]
    damaged = metrics.withColumn(
        "completion_toxicity_score",
        F.when(F.col("request_id") == victim, F.lit(1.7)).otherwise(F.col("completion_toxicity_score")),
    )
    extra = metrics.where(F.col("request_id") == victim)  # the same request twice
    tables.overwrite_partitions(damaged.unionByName(extra).localCheckpoint(), str(warehouse), schema)

    lines: list[str] = []
    bad = run(spark, DQConfig(str(warehouse), DAYS), RunContext("dq-bad", NOW), log=lines.append)
    with pytest.raises(DQError, match="invocation_metrics"):
        judge(bad, "fail-on-critical")
    judge(bad, "warn-only")  # recorded, not raised
    stored = tables.read(spark, LocalStorage(), str(warehouse), schemas.load("dq_results")).where(
        "run_id = 'dq-bad' AND NOT success"
    )
    failed = {r["columns"]: r for r in stored.collect()}
    assert failed["completion_toxicity_score"]["failing_keys"] == [f"request_id={victim}"]
    assert failed["request_id"]["unexpected_count"] == 2
    assert any("completion_toxicity_score" in line for line in lines)

    assert len(bad.failed_critical()) == 2


def test_bad_policy_or_table_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="policy"):
        DQConfig("/tmp/x", DAYS, policy="sometimes")
    with pytest.raises(ValueError, match="no_such_table"):
        DQConfig("/tmp/x", DAYS, tables=("no_such_table",))


def test_results_stay_with_their_checks_when_one_errors() -> None:
    """great-expectations returns a failed metric's result first: each row must still be its own check's."""
    from llmdrift.dq.suites import Check

    frame = pd.DataFrame({"x": [1, -1, 2], "k": ["a", "b", "c"]})
    checks = [
        between("x", 0, None),
        Check("ExpectColumnValuesToBeUnique", {"column": "k"}, "k is unique", WARNING),
        between("missing_col", 0, None),
    ]
    rows = validate_frame("t", frame, checks, ["k"])
    assert [(r["columns"], r["success"], r["unexpected_count"]) for r in rows] == [
        ("x", False, 1),
        ("k", True, 0),
        ("missing_col", False, None),
    ]
    assert "missing_col" in rows[2]["error"]


def test_the_policy_comes_from_the_config_file_unless_the_command_line_says(tmp_path: Path) -> None:
    from llmdrift.core.settings import ConfigError, load
    from llmdrift.pipeline import PipelineConfig

    good = tmp_path / "llmdrift.toml"
    good.write_text('[quality]\npolicy = "warn-only"\n')
    settings = load(good)
    assert PipelineConfig("/tmp/wh", steps=("dq",), settings=settings).policy == "warn-only"
    assert (
        PipelineConfig("/tmp/wh", steps=("dq",), settings=settings, dq_policy="fail-on-any").policy
        == "fail-on-any"
    )
    assert PipelineConfig("/tmp/wh", steps=("dq",)).policy == "fail-on-critical"
    bad = tmp_path / "bad.toml"
    bad.write_text('[quality]\npolicy = "sometimes"\n')
    with pytest.raises(ConfigError, match=r"bad\.toml: quality\.policy"):
        load(bad)
