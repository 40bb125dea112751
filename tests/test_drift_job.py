"""Drift end to end with real Spark on generated traffic: a planted topic shift is found and its cluster
named; two unchanged days show no embedding drift; results carry q values and untested slices."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from llmdrift import schemas, tables
from llmdrift.drift.job import DriftConfig, Window
from llmdrift.drift.job import run as drift
from llmdrift.generate.traffic import Change, Scenario
from llmdrift.ingest.job import RunContext
from llmdrift.storage import LocalStorage

NOW = datetime(2026, 11, 25, 8, tzinfo=UTC)
START = date(2026, 11, 2)


def quiet(_: str) -> None:
    pass


@pytest.fixture(scope="module")
def shifted(spark: Any, tmp_path_factory: pytest.TempPathFactory, scored_warehouse: Any) -> Path:
    """Three days of traffic; from the third, 40% of prompts come from new topics."""
    root = tmp_path_factory.mktemp("drift")
    scenario = Scenario(
        seed=21,
        start=START,
        days=3,
        per_day=500,
        changes=(Change("topic_shift", 0.4),),
        change_from=START + timedelta(days=2),
    )
    return scored_warehouse(spark, scenario, root)


def results(spark: Any, warehouse: Path, run_id: str) -> list[dict[str, Any]]:
    df = tables.read(spark, LocalStorage(), str(warehouse), schemas.load("drift_results"))
    return [r.asDict() for r in df.filter(df.run_id == run_id).collect()]


def test_a_topic_shift_is_found_and_explained(spark: Any, shifted: Path) -> None:
    config = DriftConfig(
        str(shifted), Window.parse("2026-11-04"), Window.parse("2026-11-02..2026-11-04"), permutations=300
    )
    result = drift(spark, config, RunContext("d1", NOW), log=quiet)
    rows = {(r["slice_type"], r["slice"], r["feature"]): r for r in results(spark, shifted, "d1")}
    prompt = rows[("all", "*", "prompt_embedding")]
    assert prompt["method"] == "mmd_permutation"
    assert prompt["drifted"] is True
    assert prompt["q_value"] >= prompt["p_value"]
    assert result.drifted >= 1
    clusters = tables.read(spark, LocalStorage(), str(shifted), schemas.load("drift_clusters"))
    top = (
        clusters.filter("run_id = 'd1' and slice_type = 'all' and feature = 'prompt_embedding'")
        .orderBy(clusters.change.desc())
        .first()
    )
    assert top["change"] > 0.1  # a new topic took a share of the current window
    assert top["reference_share"] < top["current_share"]
    assert top["terms"]
    assert top["examples"]
    assert any(r["method"] == "not_tested" for r in rows.values())  # small slices are marked, not passed


def test_two_unchanged_days_show_no_embedding_drift(spark: Any, shifted: Path) -> None:
    config = DriftConfig(
        str(shifted), Window.parse("2026-11-03"), Window.parse("2026-11-02"), permutations=300
    )
    drift(spark, config, RunContext("d2", NOW), log=quiet)
    rows = results(spark, shifted, "d2")
    embedding = [r for r in rows if r["feature"].endswith("_embedding") and r["slice_type"] == "all"]
    assert len(embedding) == 2
    assert not [r for r in embedding if r["drifted"]]


def test_the_report_renders_from_stored_results(spark: Any, shifted: Path) -> None:
    from llmdrift.report.job import ReportConfig
    from llmdrift.report.job import run as report

    config = DriftConfig(
        str(shifted), Window.parse("2026-11-04"), Window.parse("2026-11-02..2026-11-04"), permutations=300
    )
    drift(spark, config, RunContext("d3", NOW), log=quiet)
    result = report(spark, ReportConfig(str(shifted), run_id="d3"), log=quiet)
    page = Path(result.outputs["report"]).read_text(encoding="utf-8")
    assert result.outputs["report"].endswith("reports/dt=2026-11-04/drift-report-d3.html")
    assert "what users ask (prompt embeddings)" in page
    assert 'id="trends"' in page
    assert "<script" not in page
    assert result.bytes < 1_000_000
    index = Path(result.outputs["index"]).read_text(encoding="utf-8")
    assert 'href="dt=2026-11-04/drift-report-d3.html"' in index
