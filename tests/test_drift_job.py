"""Drift end to end with real Spark on generated traffic: a planted topic shift is found and its cluster
named; two unchanged days show no embedding drift; results carry q values and untested slices."""

from __future__ import annotations

import shutil
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from llmdrift.bedrock.models import resolve_model_id
from llmdrift.core import schemas, tables
from llmdrift.core.runs import RunContext
from llmdrift.core.storage import LocalStorage
from llmdrift.core.windows import Window
from llmdrift.cost.prices import load_profiles, profile_target
from llmdrift.drift.job import DriftConfig
from llmdrift.drift.job import run as drift
from llmdrift.drift.sample import sliced
from llmdrift.generate.traffic import Change, Scenario

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
    assert prompt["method"] == "knn_permutation"
    assert prompt["drifted"] is True
    assert prompt["q_value"] >= prompt["p_value"]
    assert result.drifted >= 1
    clusters = tables.read(spark, LocalStorage(), str(shifted), schemas.load("drift_clusters"))
    top = (
        clusters.filter("run_id = 'd1' and slice_type = 'all' and feature = 'prompt_embedding'")
        .orderBy(clusters.change.desc())
        .first()
    )
    assert top["change"] > 0.1, top["change"]  # a new topic took a share of the current window
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
    gate = {
        "table_name": "drift_results",
        "expectation": "expect_table_row_count_to_be_between",
        "columns": "",
        "description": "rows exist",
        "severity": "critical",
        "success": True,
        "dt": NOW.date().isoformat(),
    }
    dq_runs = [("q-d3", "run d3", NOW), ("q-later", "days 2026-11-05", NOW + timedelta(days=1))]
    tables.append_rows(
        spark,
        [{**gate, "run_id": r, "scope": scope, "run_time": t} for r, scope, t in dq_runs],
        str(shifted),
        schemas.load("dq_results"),
    )
    result = report(spark, ReportConfig(str(shifted), run_id="d3"), log=quiet)
    page = Path(result.outputs["report"]).read_text(encoding="utf-8")
    assert "Run q-d3 checked 1 expectations" in page  # the gates of this drift run, not the newest ones
    assert result.outputs["report"].endswith("reports/dt=2026-11-04/drift-report-d3.html")
    assert "what users ask (prompt embeddings)" in page
    assert 'id="trends"' in page
    assert "<script" not in page
    assert result.bytes < 1_000_000
    index = Path(result.outputs["index"]).read_text(encoding="utf-8")
    assert 'href="dt=2026-11-04/drift-report-d3.html"' in index


def test_metrics_scored_before_template_ids_get_them_from_the_texts(
    spark: Any, shifted: Path, tmp_path: Path
) -> None:
    """Rows written by an older scorer have no template_id: drift derives it from the invocation texts,
    and the slices come out exactly as from the ids the scorer now stores."""
    from pyspark.sql import functions as F

    met_s = schemas.load("invocation_metrics")
    stored = tables.read(spark, LocalStorage(), str(shifted), met_s)
    assert stored.filter(F.col("template_id").isNull()).count() == 0  # the scorer writes them
    old = tmp_path / "old"
    shutil.copytree(shifted, old)
    tables.overwrite_partitions(stored.withColumn("template_id", F.lit(None).cast("string")), str(old), met_s)
    reference, current = Window.parse("2026-11-02..2026-11-04"), Window.parse("2026-11-04")
    days = [(d,) for d in reference.days + current.days]
    counts = [sliced(spark, str(w), current, DriftConfig(str(w)), days)[1] for w in (shifted, old)]
    assert counts[0] == counts[1]
    assert sum(1 for k in counts[0] if k[0] == "template") >= 5


def test_endpoints_without_a_base_model_are_sliced_as_pricing_sees_them(spark: Any, shifted: Path) -> None:
    """Application inference profiles are stored by ingest as the model they map to (profiles.csv), and
    provisioned models are sliced by their ARN: the model slices agree with the invocations, and none is
    a mix called "(unknown)"."""
    reference, current = Window.parse("2026-11-02..2026-11-04"), Window.parse("2026-11-04")
    days = [(d,) for d in reference.days + current.days]
    _, counts = sliced(spark, str(shifted), current, DriftConfig(str(shifted)), days)
    profiles = load_profiles()
    invocations = tables.read(spark, LocalStorage(), str(shifted), schemas.load("invocations"))
    scored = tables.read(spark, LocalStorage(), str(shifted), schemas.load("invocation_metrics"))
    expected: Counter[tuple[str, int]] = Counter()
    rows = invocations.join(scored.select("request_id"), "request_id", "left_semi").collect()
    for r in rows:
        name = r["base_model_id"] or r["model_id"]
        expected[(name, 1 if r["dt"] in current.days else 0)] += 1
    models = {k[1]: v for k, v in counts.items() if k[0] == "model"}
    assert models == {name: (expected[(name, 0)], expected[(name, 1)]) for name in {n for n, _ in expected}}
    assert "(unknown)" not in models
    assert any(name.startswith("arn:aws:bedrock:") and "provisioned-model" in name for name in models)
    profiled = [r for r in rows if r["endpoint_scope"] == "application_profile"]
    mapped = [r for r in profiled if profile_target(profiles, r["model_id"])]
    assert mapped  # the generated traffic has a mapped application profile, stored as its model
    for r in mapped:
        assert r["base_model_id"] == resolve_model_id(profile_target(profiles, r["model_id"])).base_model_id
    assert all(r["base_model_id"] is None for r in profiled if r not in mapped)
