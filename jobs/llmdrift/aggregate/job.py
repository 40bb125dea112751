"""Aggregate: cost per invocation, usage per hour and day, prompt templates, anomalies and alerts.

Whole days are recomputed: the days of an explicit window, or by default the days that ingest runs wrote
since the last aggregate run (``_state/aggregate.json``). Each table's partitions for those days are
replaced, so a rerun gives the same tables. Tables:

- ``invocation_costs`` (dt, hour): each invocation priced from the versioned price table.
- ``usage_hourly`` / ``usage_daily`` (dt): per base model, caller and region. The additive columns of the
  hourly table sum to the daily table; percentiles and intervals are exact at each grain.
- ``template_daily`` (dt): quality per prompt template (system prompt + masked prompt skeleton).
- ``anomalies`` (dt): robust z-scores of the daily and hourly series per model, per caller and overall.
- ``alerts`` (dt): threshold rules from the config file that fired.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from llmdrift.aggregate import transforms
from llmdrift.aggregate.series import find_alerts, find_anomalies
from llmdrift.core import schemas, tables
from llmdrift.core.errors import LlmdriftError
from llmdrift.core.runs import RunContext, complete_days, complete_until, consumed, written_since
from llmdrift.core.settings import AggregateSettings
from llmdrift.core.storage import Storage, normalize, storage_for
from llmdrift.cost.prices import PriceTable, load_prices, load_profiles

STATE_FILE = "_state/aggregate.json"
BASELINE_DAYS = 35  # enough history for four same-weekday points
Log = Callable[[str], None]


class AggregateError(LlmdriftError, RuntimeError):
    """Aggregation cannot go on."""


@dataclass(frozen=True)
class AggregateConfig:
    warehouse: str
    start: date | None = None
    end: date | None = None  # exclusive
    settings: AggregateSettings = field(default_factory=AggregateSettings)

    def __post_init__(self) -> None:
        if (self.start is None) != (self.end is None):
            raise ValueError("give both start and end, or neither")
        if self.start and self.end and self.start >= self.end:
            raise ValueError("window start is not before end")


@dataclass
class AggregateResult:
    run_id: str
    days: list[str] = field(default_factory=list)
    invocations: int = 0
    priced: int = 0
    cost_usd: float = 0.0
    unpriced_by_status: dict[str, int] = field(default_factory=dict)
    templates: int = 0
    anomalies: int = 0
    alerts: int = 0
    price_version: str = ""
    seconds: float = 0.0
    outputs: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        unpriced = ", ".join(f"{k} {v:,}" for k, v in sorted(self.unpriced_by_status.items())) or "none"
        return (
            f"{self.invocations:,} invocations over {len(self.days)} days: ${self.cost_usd:,.2f} for {self.priced:,}"
            f" priced (prices {self.price_version}); not priced: {unpriced}; {self.templates:,} templates,"
            f" {self.anomalies:,} anomalies, {self.alerts:,} alerts"
        )


TABLES = ("invocation_costs", "usage_hourly", "usage_daily", "template_daily", "anomalies", "alerts")


def run(spark: Any, config: AggregateConfig, context: RunContext, log: Log = print) -> AggregateResult:
    from pyspark import StorageLevel

    warehouse = normalize(config.warehouse)
    storage = storage_for(warehouse)
    result = AggregateResult(context.run_id, outputs={t: tables.table_uri(warehouse, t) for t in TABLES})
    t0 = time.monotonic()
    days, newest_ingest = _days_to_aggregate(spark, storage, warehouse, config)
    if not days:
        log("nothing to aggregate: no new invocation days")
        return result
    result.days = days
    prices = load_prices(override=config.settings.price_override)
    profiles = load_profiles(config.settings.profiles)
    result.price_version = prices.version
    log(f"[aggregate {context.run_id}] days {days[0]} .. {days[-1]}, prices {prices.version}")

    base = _priced(spark, storage, warehouse, days, prices, profiles).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        _write_costs(base, storage, warehouse, days, result)
        log(
            f"  priced {result.priced:,} of {result.invocations:,} invocations: ${result.cost_usd:,.2f}"
            f"  [{time.monotonic() - t0:.1f}s]"
        )
        daily = transforms.usage(base, hourly=False)
        tables.replace_days(daily, storage, warehouse, schemas.load("usage_daily"), days)
        tables.replace_days(
            transforms.usage(base, hourly=True), storage, warehouse, schemas.load("usage_hourly"), days
        )
        templates = transforms.templates(base)
        tables.replace_days(templates, storage, warehouse, schemas.load("template_daily"), days)
        result.templates = templates.select("template_id").distinct().count()
        log(f"  wrote usage_hourly, usage_daily, template_daily  [{time.monotonic() - t0:.1f}s]")
    finally:
        base.unpersist()

    # A day still being ingested is aggregated (its tables fill up run by run) but not judged: its partial
    # totals would read as drops. Hours before the ingest watermark are complete.
    until = complete_until(storage, warehouse)
    judged = complete_days(days, until)
    anomalies = detect_anomalies(spark, storage, warehouse, days, config.settings.anomaly_z, judged, until)
    alerts = evaluate_alerts(spark, storage, warehouse, days, config.settings, judged, until)
    tables.replace_rows(spark, anomalies, storage, warehouse, schemas.load("anomalies"), days)
    tables.replace_rows(spark, alerts, storage, warehouse, schemas.load("alerts"), days)
    result.anomalies, result.alerts = len(anomalies), len(alerts)
    consumed(storage, warehouse, STATE_FILE, newest_ingest, context.run_id)
    if config.settings.cloudwatch:  # after the state: a publishing failure does not block later runs
        from llmdrift.aggregate.cloudwatch import publish_daily

        daily_rows = usage_rows(spark, storage, warehouse, "usage_daily", judged) if judged else []
        sent = publish_daily(daily_rows, judged, config.settings, context.now)
        log(f"  published {sent:,} CloudWatch metric values to {config.settings.cloudwatch_namespace}")
    result.seconds = time.monotonic() - t0
    log(f"  {result.summary()}  [{result.seconds:.1f}s]")
    return result


# ------------------------------------------------------------------------------------------- window


def _days_to_aggregate(
    spark: Any, storage: Storage, warehouse: str, config: AggregateConfig
) -> tuple[list[str], str | None]:
    if config.start and config.end:
        n = (config.end - config.start).days
        return [(config.start + timedelta(days=i)).isoformat() for i in range(n)], None
    written, newest = written_since(spark, storage, warehouse, STATE_FILE)
    return sorted({p[:10] for p in written}), newest


# ------------------------------------------------------------------------------------------- cost


def _priced(
    spark: Any,
    storage: Storage,
    warehouse: str,
    days: list[str],
    prices: PriceTable,
    profiles: dict[str, str],
) -> Any:
    """The days' invocations with their cost columns and their metrics (``transforms.priced``)."""
    parts = [(d,) for d in days]
    inv = tables.read(spark, storage, warehouse, schemas.load("invocations"), parts).drop(
        "completion_text", "request_metadata", "source_file", "source_line"
    )
    met = tables.read(spark, storage, warehouse, schemas.load("invocation_metrics"), parts)
    keys = transforms.price_keys(inv).collect()
    p = transforms.price_frame(spark, keys, prices, profiles)
    return transforms.priced(inv, met, p, prices.version)


def _write_costs(
    base: Any, storage: Storage, warehouse: str, days: list[str], result: AggregateResult
) -> None:
    from pyspark.sql import functions as F

    schema = schemas.load("invocation_costs")
    tables.replace_days(base.select(*schema.names), storage, warehouse, schema, days)
    counts = (
        base.groupBy("pricing_status").agg(F.count("*").alias("n"), F.sum("cost_usd").alias("cost")).collect()
    )
    for row in counts:
        if row["pricing_status"] in ("priced", "partial"):
            result.priced += int(row["n"])
            result.cost_usd += float(row["cost"] or 0.0)
        if row["pricing_status"] not in ("priced", "partial"):
            result.unpriced_by_status[row["pricing_status"]] = int(row["n"])
        result.invocations += int(row["n"])


# ------------------------------------------------------------------------------------------- reads


def usage_rows(
    spark: Any, storage: Storage, warehouse: str, table: str, days: list[str]
) -> list[dict[str, Any]]:
    df = tables.read(spark, storage, warehouse, schemas.load(table), [(d,) for d in days])
    return [r.asDict() for r in df.collect()]


def detect_anomalies(
    spark: Any,
    storage: Storage,
    warehouse: str,
    days: list[str],
    z: float,
    judged: list[str] | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Anomalies of the days (daily points only for the ``judged``, complete, days; hourly points only
    before ``until``), against up to ``BASELINE_DAYS`` of stored history."""
    first = date.fromisoformat(days[0])
    history = [(first - timedelta(days=i)).isoformat() for i in range(BASELINE_DAYS, 0, -1)]
    daily = usage_rows(spark, storage, warehouse, "usage_daily", history + days)
    hourly = usage_rows(spark, storage, warehouse, "usage_hourly", history + days)
    daily = [r for r in daily if judged is None or r["dt"] not in days or r["dt"] in judged]
    hourly = [r for r in hourly if until is None or _hour_start(r["dt"], r["hour"]) < until]
    return find_anomalies(daily, hourly, days, z)


def _hour_start(day: str, hour: int) -> datetime:
    return datetime.fromisoformat(day).replace(hour=int(hour), tzinfo=UTC)


def evaluate_alerts(
    spark: Any,
    storage: Storage,
    warehouse: str,
    days: list[str],
    settings: AggregateSettings,
    judged: list[str] | None = None,
    until: datetime | None = None,
) -> list[dict[str, Any]]:
    """Alert rules on the complete days (daily rules) and hours before ``until`` (hourly rules)."""
    if not settings.alerts:
        return []
    rows = {
        grain: usage_rows(spark, storage, warehouse, table, days)
        if any(r.grain == grain for r in settings.alerts)
        else []
        for grain, table in (("daily", "usage_daily"), ("hourly", "usage_hourly"))
    }
    daily = [r for r in rows["daily"] if judged is None or r["dt"] in judged]
    hourly = [r for r in rows["hourly"] if until is None or _hour_start(r["dt"], r["hour"]) < until]
    return find_alerts(settings.alerts, daily, hourly)
