"""The aggregate job end to end with real Spark on generated logs: costs by hand, hourly sums equal daily,
reruns replace exactly their partitions, re-pricing with an override, intervals and percentiles."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from llmdrift.aggregate.job import AggregateConfig
from llmdrift.aggregate.job import run as aggregate
from llmdrift.core import intervals, schemas, tables
from llmdrift.core.runs import RunContext
from llmdrift.core.settings import load as load_settings
from llmdrift.core.storage import LocalStorage
from llmdrift.ingest.job import IngestConfig
from llmdrift.ingest.job import run as ingest
from llmdrift.score.job import ScoreConfig
from llmdrift.score.job import run as score
from llmdrift.text import templates as text_templates

DAY = datetime(2026, 11, 2, tzinfo=UTC)
NOW = datetime(2026, 11, 25, 8, tzinfo=UTC)
WINDOW = (date(2026, 11, 2), date(2026, 11, 4))  # the generated day and the late-delivery day after it
ADDITIVE = (
    "invocations",
    "errors",
    "errors_client",
    "errors_server",
    "errors_throttle",
    "guardrail_interventions",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "unpriced",
    "scored",
    "refusals",
    "toxic_prompts",
    "pii_prompts",
    "latency_n",
)


def quiet(_: str) -> None:
    pass


def read(spark: Any, warehouse: Path, table: str) -> Any:
    return tables.read(spark, LocalStorage(), str(warehouse), schemas.load(table))


@pytest.fixture(scope="module")
def aggregated(
    spark: Any, small_logs: tuple[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Any]:
    warehouse = tmp_path_factory.mktemp("wh-aggregate")
    window = IngestConfig(small_logs[0], str(warehouse), DAY, DAY + timedelta(days=1, hours=1))
    ingest(spark, window, RunContext("i1", NOW), log=quiet)
    score(spark, ScoreConfig(str(warehouse)), RunContext("s1", NOW), log=quiet)
    result = aggregate(spark, AggregateConfig(str(warehouse)), RunContext("a1", NOW), log=quiet)
    return warehouse, result


def test_every_invocation_is_priced_or_says_why_not(spark: Any, aggregated: tuple[Path, Any]) -> None:
    warehouse, result = aggregated
    costs = read(spark, warehouse, "invocation_costs")
    assert costs.count() == read(spark, warehouse, "invocations").count() == result.invocations
    statuses = {
        r["pricing_status"]: r["n"]
        for r in costs.groupBy("pricing_status").count().withColumnRenamed("count", "n").collect()
    }
    assert statuses["priced"] > 300
    assert statuses.get("provisioned", 0) > 0  # the provisioned-throughput caller is flagged, not priced at 0
    not_costed = costs.filter(~costs.pricing_status.isin("priced", "partial"))
    assert not_costed.filter(not_costed.cost_usd.isNotNull()).count() == 0
    llama2 = (
        costs.filter(costs.base_model_id == "meta.llama2-13b-chat-v1")
        .select("pricing_status", "cost_usd")
        .collect()
    )
    assert llama2
    assert {(r[0], r[1]) for r in llama2} == {("unpriced", None)}
    assert result.cost_usd == pytest.approx(costs.agg({"cost_usd": "sum"}).first()[0])


def test_cost_by_hand_for_nova_micro(spark: Any, aggregated: tuple[Path, Any]) -> None:
    warehouse, _ = aggregated
    rows = (
        read(spark, warehouse, "invocation_costs")
        .filter("base_model_id = 'amazon.nova-micro-v1:0' and pricing_status = 'priced'")
        .collect()
    )
    assert rows
    for r in rows:
        # USD per 1,000 tokens: input 0.000035, output 0.00014, cache read 0.00000875, cache write 0
        expected = (
            (r["input_tokens"] or 0) * 0.000035
            + (r["output_tokens"] or 0) * 0.00014
            + (r["cache_read_tokens"] or 0) * 0.00000875
        ) / 1000
        assert r["cost_usd"] == pytest.approx(expected, rel=1e-12)
        assert "amazon.nova-micro-v1:0|*|*|input" in r["price_ids"]
        assert r["price_version"] == "2026-11-01"


def test_hourly_sums_to_daily(spark: Any, aggregated: tuple[Path, Any]) -> None:
    from pyspark.sql import functions as F

    warehouse, _ = aggregated
    keys = ["dt", "base_model_id", "caller_name", "region"]
    hourly = (
        read(spark, warehouse, "usage_hourly")
        .groupBy(*keys)
        .agg(*[F.sum(c).alias(c) for c in ADDITIVE], F.sum("cost_usd").alias("cost_usd"))
    )
    daily = read(spark, warehouse, "usage_daily").select(*keys, *ADDITIVE, "cost_usd")

    def rows(df: Any) -> dict[tuple[Any, ...], tuple[Any, ...]]:
        return {tuple(r[k] for k in keys): tuple(r[c] for c in ADDITIVE) for r in df.collect()}

    def cost(df: Any) -> dict[tuple[Any, ...], float]:
        return {tuple(r[k] for k in keys): r["cost_usd"] or 0.0 for r in df.collect()}

    assert rows(hourly) == rows(daily)
    daily_cost = cost(daily)
    assert cost(hourly) == {k: pytest.approx(v, rel=1e-9, abs=1e-12) for k, v in daily_cost.items()}
    total = read(spark, warehouse, "usage_daily").agg(F.sum("invocations")).first()[0]
    assert total == read(spark, warehouse, "invocations").count()


def test_intervals_and_percentiles_are_exact(spark: Any, aggregated: tuple[Path, Any]) -> None:
    warehouse, _ = aggregated
    daily = read(spark, warehouse, "usage_daily").orderBy("invocations", ascending=False).limit(3).collect()
    inv = read(spark, warehouse, "invocations")
    for row in daily:
        low, high = intervals.wilson(row["refusals"], row["scored"])
        assert row["refusal_ci_low"] == pytest.approx(low)
        assert row["refusal_ci_high"] == pytest.approx(high)
        cond = (inv.dt == row["dt"]) & (inv.caller_name == row["caller_name"]) & (inv.region == row["region"])
        latencies = [
            r[0]
            for r in inv.filter(cond & inv.base_model_id.eqNullSafe(row["base_model_id"]))
            .select("latency_ms")
            .collect()
            if r[0] is not None
        ]
        if latencies and row["base_model_id"]:
            assert row["latency_p50_ms"] == pytest.approx(float(np.percentile(latencies, 50)))
            assert row["latency_p99_ms"] == pytest.approx(float(np.percentile(latencies, 99)))


def test_templates_cover_every_invocation(spark: Any, aggregated: tuple[Path, Any]) -> None:
    from pyspark.sql import functions as F

    warehouse, result = aggregated
    templates = read(spark, warehouse, "template_daily")
    assert templates.agg(F.sum("invocations")).first()[0] == result.invocations
    assert templates.select("template_id").distinct().count() == result.templates
    assert templates.filter(F.length("template_id") != 16).count() == 0
    # The ids (the scorer's where a row is scored, else from the texts) group exactly as the texts say.
    texts = read(spark, warehouse, "invocations").select("dt", "system_text", "prompt_text").collect()
    expected = Counter(
        (str(r["dt"]), text_templates.template_id(r["system_text"], r["prompt_text"])) for r in texts
    )
    rows = templates.select("dt", "template_id", "invocations", "skeleton", "representative_text").collect()
    assert {(str(r["dt"]), r["template_id"]): r["invocations"] for r in rows} == dict(expected)
    whole = [r for r in rows if len(r["representative_text"] or "") < 300]  # the text is cut at 300
    assert whole
    for r in whole:
        assert r["skeleton"] == text_templates.skeleton(r["representative_text"])


def test_a_rerun_replaces_exactly_its_partitions(spark: Any, aggregated: tuple[Path, Any]) -> None:
    warehouse, _ = aggregated
    before = {
        t: sorted(map(tuple, read(spark, warehouse, t).collect()), key=repr)
        for t in ("usage_daily", "usage_hourly", "invocation_costs")
    }
    again = aggregate(spark, AggregateConfig(str(warehouse), *WINDOW), RunContext("a2", NOW), log=quiet)
    assert again.days == ["2026-11-02", "2026-11-03"]
    for table, rows in before.items():
        assert sorted(map(tuple, read(spark, warehouse, table).collect()), key=repr) == rows, table


def test_repricing_with_an_override_gives_new_figures(
    spark: Any, aggregated: tuple[Path, Any], tmp_path: Path
) -> None:
    warehouse, _ = aggregated
    override = tmp_path / "prices.csv"
    override.write_text(
        "base_model_id,source_region,endpoint_scope,token_class,service_tier,usd_per_1k,effective_from,effective_to,status,source\n"
        "amazon.nova-micro-v1:0,*,*,input,default,0.00007,2024-01-01,,published,test: doubled\n"
        "amazon.nova-micro-v1:0,*,*,output,default,0.00028,2024-01-01,,published,test: doubled\n"
    )
    config = tmp_path / "llmdrift.toml"
    config.write_text('[pricing]\noverride = "prices.csv"\n')
    nova = "base_model_id = 'amazon.nova-micro-v1:0' and coalesce(cache_read_tokens, 0) = 0"
    old = {
        r["request_id"]: r["cost_usd"]
        for r in read(spark, warehouse, "invocation_costs").filter(nova).collect()
    }
    result = aggregate(
        spark,
        AggregateConfig(str(warehouse), *WINDOW, settings=load_settings(config)),
        RunContext("a3", NOW),
        log=quiet,
    )
    assert result.price_version.startswith("2026-11-01+")
    new = {r["request_id"]: r for r in read(spark, warehouse, "invocation_costs").filter(nova).collect()}
    assert old
    assert set(new) == set(old)
    for request_id, cost in old.items():
        assert new[request_id]["cost_usd"] == pytest.approx(2 * cost)
        assert new[request_id]["price_version"] == result.price_version


def test_an_injected_refusal_rise_shows_in_usage_and_as_an_anomaly(
    spark: Any, tmp_path: Path, scored_warehouse: Any
) -> None:
    """Four generated days, refusals raised on the last: its refusal ratio and an anomaly match."""
    from pyspark.sql import functions as F

    from llmdrift.generate.traffic import Change, Scenario

    start = date(2026, 11, 2)
    scenario = Scenario(
        seed=5,
        start=start,
        days=4,
        per_day=400,
        changes=(Change("refusal_rise", 0.15),),
        change_from=start + timedelta(days=3),
    )
    warehouse = scored_warehouse(spark, scenario, tmp_path)
    aggregate(spark, AggregateConfig(str(warehouse)), RunContext("a", NOW), log=quiet)

    daily = (
        read(spark, warehouse, "usage_daily")
        .groupBy("dt")
        .agg((F.sum("refusals") / F.sum("scored")).alias("r"))
    )
    ratio = {r["dt"]: r["r"] for r in daily.collect()}
    before = [ratio[f"2026-11-0{d}"] for d in (2, 3, 4)]
    assert ratio["2026-11-05"] > 2 * max(before)
    anomalies = read(spark, warehouse, "anomalies").filter("grain = 'daily' and slice_type = 'all'").collect()
    hits = {(a["dt"], a["metric"], a["direction"]) for a in anomalies}
    assert ("2026-11-05", "refusal_ratio", "up") in hits
    assert not [a for a in anomalies if a["metric"] == "refusal_ratio" and a["dt"] != "2026-11-05"]
