"""``llmdrift demo``: generate a few days of logs with a change on the last day, run every job, show results.

Everything lands under one work directory (``logs/``, ``warehouse/``); the summary is read back from the
written tables, so it shows what a user's own queries would see.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from llmdrift.core import intervals, schemas, tables
from llmdrift.core.settings import JudgeSettings
from llmdrift.core.spark import get_spark
from llmdrift.core.storage import normalize, storage_for
from llmdrift.generate.traffic import Change, Scenario, records_for_hour
from llmdrift.generate.writer import write_logs
from llmdrift.pipeline import PipelineConfig, run_pipeline

DEMO_START = date(2026, 11, 2)
DEMO_CONFIG = Path(__file__).with_name("demo.toml")
DEMO_CHANGES = (Change("topic_shift", 0.3), Change("refusal_rise", 0.12), Change("toxicity_rise", 0.08))


JUDGES = ("simulated", "off")


def ground_truth(scenario: Scenario) -> dict[str, str]:
    """request id -> what the generator wrote (refusal, partial_refusal, guardrail, toxic, normal...);
    ``toxic_refused`` for a toxic prompt it answered with a refusal."""
    return {
        g.record["requestId"]: "toxic_refused" if g.outcome == "toxic" and g.refused else g.outcome
        for hour in scenario.hours()
        for g in records_for_hour(scenario, hour)
    }


def demo_options(logs: str, warehouse: str, start: datetime, days: int) -> dict[str, Any]:
    """The demo's pipeline options (names of ``llmdrift.pipeline.OPTIONS``): every day it generated, its
    example config, and data-quality failures reported without failing the demo."""
    return {
        "warehouse": warehouse,
        "logs": logs,
        "start": start,
        "end": start + timedelta(days=days, hours=1),
        "config": str(DEMO_CONFIG),
        "dq_policy": "warn-only",
        "drift": "always",
    }


def run_demo(
    workdir: Path,
    *,
    seed: int = 7,
    days: int = 4,
    per_day: int = 1500,
    master: str = "local[*]",
    judge: str = "simulated",
    log: Callable[[str], None] = print,
) -> dict[str, str]:
    root = workdir.resolve()
    logs, warehouse = normalize(str(root / "logs")), normalize(str(root / "warehouse"))
    for stale in (logs, warehouse):
        shutil.rmtree(stale, ignore_errors=True)  # the demo always starts clean
    t0 = time.monotonic()
    scenario = Scenario(
        seed=seed,
        start=DEMO_START,
        days=days,
        per_day=per_day,
        changes=DEMO_CHANGES,
        change_from=DEMO_START + timedelta(days=days - 1),
        malformed_rate=0.002,
    )
    log(
        f"[1/2] generate: {days} days of Bedrock invocation logs from {DEMO_START}, changes from"
        f" {scenario.change_from} ({', '.join(f'{c.kind}:{c.strength:g}' for c in DEMO_CHANGES)})"
    )
    stats = write_logs(scenario, storage_for(logs), logs, progress=log)
    log(
        f"      {stats.records:,} invocations, {stats.files:,} files, {stats.data_objects:,} offloaded bodies"
        f"  [{time.monotonic() - t0:.1f}s]"
    )

    start = datetime(DEMO_START.year, DEMO_START.month, DEMO_START.day, tzinfo=UTC)
    config = PipelineConfig.from_options(demo_options(logs, warehouse, start, days))
    truth = None
    if judge == "simulated":  # no Bedrock here: the generator's own ground truth stands in, labelled so
        settings = replace(config.settings, judge=JudgeSettings(enabled=True, backend="simulated"))
        config = replace(config, settings=settings)
        truth = ground_truth(scenario)
    log(f"[2/2] the pipeline: {', '.join(config.steps)} (as `llmdrift run` runs it)")
    spark = get_spark(master)
    result = run_pipeline(spark, config, log=log, judge_truth=truth)
    _summarise(spark, warehouse, log)
    outputs = {"logs": logs, **result.outputs}
    log(f"done in {time.monotonic() - t0:.1f}s. Written:")
    for name, uri in outputs.items():
        log(f"  {name:<12} {uri}")
    return outputs


def _summarise(spark: Any, warehouse: str, log: Callable[[str], None]) -> None:
    from pyspark.sql import functions as F

    storage = storage_for(warehouse)
    inv = tables.read(spark, storage, warehouse, schemas.load("invocations"))
    quarantine = tables.read(spark, storage, warehouse, schemas.load("quarantine"))
    log("  invocations per day (errors, guardrail interventions):")
    for row in (
        inv.groupBy("dt")
        .agg(
            F.count("*").alias("n"),
            F.sum(F.col("error_code").isNotNull().cast("int")).alias("errors"),
            F.sum(F.col("guardrail_intervened").cast("int")).alias("guardrail"),
        )
        .orderBy("dt")
        .collect()
    ):
        log(
            f"    {row['dt']}  {row['n']:>6,} invocations  {row['errors']:>4} errors  {row['guardrail']:>4} guardrail"
        )
    daily = tables.read(spark, storage, warehouse, schemas.load("usage_daily"))
    log("  cost and quality per day (usage_daily; refusal ratio with its 95% interval):")
    for row in (
        daily.groupBy("dt")
        .agg(
            F.sum("cost_usd").alias("cost"),
            F.sum("refusals").alias("refusals"),
            F.sum("scored").alias("scored"),
            F.sum("completion_sentiment_sum").alias("sent"),
            F.sum("completion_sentiment_n").alias("sent_n"),
            F.sum("pii_prompts").alias("pii"),
            F.sum("toxic_prompts").alias("toxic"),
        )
        .orderBy("dt")
        .collect()
    ):
        low, high = intervals.wilson(int(row["refusals"]), int(row["scored"]))
        log(
            f"    {row['dt']}  ${row['cost'] or 0:>7,.2f}  refusal {row['refusals'] / max(row['scored'], 1):6.1%}"
            f" [{low or 0:.1%}, {high or 0:.1%}]  sentiment {(row['sent'] or 0) / max(row['sent_n'], 1):+.2f}"
            f"  toxic prompts {row['toxic'] / max(row['scored'], 1):5.1%}  PII {row['pii'] / max(row['scored'], 1):5.1%}"
        )
    anomalies = tables.read(spark, storage, warehouse, schemas.load("anomalies"))
    log("  anomalies, whole traffic, daily (robust z against the prior days):")
    for row in (
        anomalies.filter((F.col("grain") == "daily") & (F.col("slice_type") == "all")).orderBy("dt").collect()
    ):
        log(
            f"    {row['dt']}  {row['metric']:<26} {row['value']:>9.3f} vs {row['expected']:>9.3f} expected"
            f"  z {row['score']:+.1f}"
        )
    for row in tables.read(spark, storage, warehouse, schemas.load("alerts")).orderBy("dt", "rule").collect():
        log(f"  alert: {row['message']}")
    clusters = tables.read(spark, storage, warehouse, schemas.load("drift_clusters"))
    log("  drift explained: prompt clusters of all traffic whose share moved most (reference -> current):")
    for row in (
        clusters.filter("slice_type = 'all' and feature = 'prompt_embedding'")
        .orderBy(F.desc(F.abs("change")))
        .limit(3)
        .collect()
    ):
        log(
            f"    {row['reference_share']:6.1%} -> {row['current_share']:6.1%}  terms: {', '.join(row['terms'][:5])}"
            f"  e.g. {(row['examples'] or [''])[0][:70]!r}"
        )
    log("  top callers:")
    for row in inv.groupBy("caller_name").count().orderBy(F.desc("count"), "caller_name").limit(5).collect():
        log(f"    {row['caller_name']:<24} {row['count']:>6,}")
    log("  operations x response shapes:")
    for row in (
        inv.groupBy("operation", "output_body_shape").count().orderBy("operation", F.desc("count")).collect()
    ):
        log(f"    {row['operation']:<30} {row['output_body_shape']:<20} {row['count']:>6,}")
    log("  quarantine by reason:")
    for row in quarantine.groupBy("reason_code", "row_kept").count().orderBy(F.desc("count")).collect():
        kept = "row kept" if row["row_kept"] else "rejected"
        log(f"    {row['reason_code']:<26} {kept:<9} {row['count']:>5,}")
