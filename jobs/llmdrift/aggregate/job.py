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

import fnmatch
import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from llmdrift import schemas, tables
from llmdrift.aggregate import stats
from llmdrift.aggregate.config import AggregateSettings, AlertRule
from llmdrift.cost.prices import PriceTable, load_prices, load_profiles, price_for
from llmdrift.ingest.job import RunContext, complete_until, written_since
from llmdrift.storage import Storage, join, normalize, storage_for

STATE_FILE = "_state/aggregate.json"
BASELINE_DAYS = 35  # enough history for four same-weekday points
ANOMALY_METRICS = (
    "invocations",
    "error_rate",
    "cost_usd",
    "latency_p90_ms",
    "refusal_ratio",
    "toxic_rate",
    "completion_sentiment_mean",
)
RATE_METRICS = {"error_rate": "invocations", "refusal_ratio": "scored", "toxic_rate": "scored"}
MIN_SLICE_INVOCATIONS = 20  # smaller slices are too noisy to score
Log = Callable[[str], None]


class AggregateError(RuntimeError):
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

    for table in TABLES:  # a day that lost rows (or all of them) must not keep old ones
        _clear_days(storage, warehouse, table, days)
    base = _priced_invocations(spark, storage, warehouse, days, prices, profiles).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    try:
        _write_costs(base, warehouse, result)
        log(
            f"  priced {result.priced:,} of {result.invocations:,} invocations: ${result.cost_usd:,.2f}"
            f"  [{time.monotonic() - t0:.1f}s]"
        )
        daily = _usage(base, hourly=False)
        tables.overwrite_partitions(daily, warehouse, schemas.load("usage_daily"))
        tables.overwrite_partitions(_usage(base, hourly=True), warehouse, schemas.load("usage_hourly"))
        templates = _templates(base)
        tables.overwrite_partitions(templates, warehouse, schemas.load("template_daily"))
        result.templates = templates.select("template_id").distinct().count()
        log(f"  wrote usage_hourly, usage_daily, template_daily  [{time.monotonic() - t0:.1f}s]")
    finally:
        base.unpersist()

    # A day still being ingested is aggregated (its tables fill up run by run) but not judged: its partial
    # totals would read as drops. Hours before the ingest watermark are complete.
    until = complete_until(storage, warehouse)
    judged = [
        d
        for d in days
        if until is None or datetime.fromisoformat(d).replace(tzinfo=UTC) + timedelta(days=1) <= until
    ]
    anomalies = detect_anomalies(spark, storage, warehouse, days, config.settings.anomaly_z, judged, until)
    alerts = evaluate_alerts(spark, storage, warehouse, days, config.settings, judged, until)
    tables.append_rows(spark, anomalies, warehouse, schemas.load("anomalies"))  # days cleared at the start
    tables.append_rows(spark, alerts, warehouse, schemas.load("alerts"))
    result.anomalies, result.alerts = len(anomalies), len(alerts)
    if newest_ingest:
        payload = {"last_ingest_finished_at": newest_ingest, "run_id": context.run_id}
        storage.write_bytes(join(warehouse, STATE_FILE), json.dumps(payload, indent=2).encode())
    if config.settings.cloudwatch:  # after the state: a publishing failure does not block later runs
        from llmdrift.aggregate.cloudwatch import publish_daily

        sent = publish_daily(spark, storage, warehouse, judged, config.settings, context.now)
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


def price_frame(spark: Any, keys: Iterable[Any], prices: PriceTable, profiles: dict[str, str]) -> Any:
    """One row per (model_id, region, dt): the prices that apply, from the price table (on the driver)."""
    from pyspark.sql import types as T

    rows = []
    for k in keys:
        p = price_for(
            prices,
            profiles,
            k["model_id"],
            k["base_model_id"],
            k["endpoint_scope"],
            k["region"],
            date.fromisoformat(k["dt"]),
        )
        rows.append(
            (
                k["model_id"],
                k["region"],
                k["dt"],
                p.base_model_id,
                p.status,
                p.input,
                p.output,
                p.cache_read,
                p.cache_write,
                p.price_ids,
            )
        )
    s, d = T.StringType(), T.DoubleType()
    schema = T.StructType(
        [
            T.StructField("p_model_id", s),
            T.StructField("p_region", s),
            T.StructField("p_dt", s),
            T.StructField("priced_base_model_id", s),
            T.StructField("model_status", s),
            T.StructField("p_input", d),
            T.StructField("p_output", d),
            T.StructField("p_cache_read", d),
            T.StructField("p_cache_write", d),
            T.StructField("price_ids", s),
        ]
    )
    return spark.createDataFrame(rows, schema)


def _priced_invocations(
    spark: Any,
    storage: Storage,
    warehouse: str,
    days: list[str],
    prices: PriceTable,
    profiles: dict[str, str],
) -> Any:
    """Invocations of the days with their cost columns and their metrics (left-joined)."""
    from pyspark.sql import functions as F

    inv = tables.read(spark, storage, warehouse, schemas.load("invocations"), [(d,) for d in days]).drop(
        "completion_text", "request_metadata", "source_file", "source_line"
    )
    met = tables.read(spark, storage, warehouse, schemas.load("invocation_metrics"), [(d,) for d in days])
    keys = (
        inv.groupBy("model_id", "region", "dt")
        .agg(
            F.first("base_model_id").alias("base_model_id"), F.first("endpoint_scope").alias("endpoint_scope")
        )
        .collect()
    )
    p = price_frame(spark, keys, prices, profiles)
    on = inv.model_id.eqNullSafe(p.p_model_id) & inv.region.eqNullSafe(p.p_region) & (inv.dt == p.p_dt)
    priced = inv.join(F.broadcast(p), on, "left")

    def tok(c: str) -> Any:
        return F.coalesce(F.col(c), F.lit(0)).cast("double")

    partial = ((tok("cache_read_tokens") > 0) & F.col("p_cache_read").isNull()) | (
        (tok("cache_write_tokens") > 0) & F.col("p_cache_write").isNull()
    )
    status = (
        F.when(F.col("model_status") != "priced", F.col("model_status"))
        .when(partial, F.lit("partial"))
        .otherwise(F.lit("priced"))
    )
    costed = F.col("pricing_status").isin("priced", "partial")

    def part(tokens: str, price: str) -> Any:
        return F.when(costed & F.col(price).isNotNull(), tok(tokens) * F.col(price) / 1000.0)

    priced = priced.withColumn("pricing_status", status)
    priced = priced.select(
        "*",
        part("input_tokens", "p_input").alias("cost_input_usd"),
        part("output_tokens", "p_output").alias("cost_output_usd"),
        part("cache_read_tokens", "p_cache_read").alias("cost_cache_read_usd"),
        part("cache_write_tokens", "p_cache_write").alias("cost_cache_write_usd"),
        F.lit(prices.version).alias("price_version"),
    ).withColumn(
        "cost_usd",
        F.when(
            costed,
            F.coalesce("cost_input_usd", F.lit(0.0))
            + F.coalesce("cost_output_usd", F.lit(0.0))
            + F.coalesce("cost_cache_read_usd", F.lit(0.0))
            + F.coalesce("cost_cache_write_usd", F.lit(0.0)),
        ),
    )
    metric_cols = [
        "completion_refusal_flag",
        "prompt_sentiment_compound",
        "completion_sentiment_compound",
        "prompt_toxicity_flag",
        "completion_toxicity_flag",
        "prompt_pii_count",
        "completion_similarity_prompt",
    ]
    scored = met.select("request_id", F.lit(True).alias("is_scored"), "template_id", *metric_cols)
    return (
        priced.drop("base_model_id")
        .withColumnRenamed("priced_base_model_id", "base_model_id")
        .join(scored, "request_id", "left")
        .withColumn("is_scored", F.coalesce("is_scored", F.lit(False)))
    )


def _write_costs(base: Any, warehouse: str, result: AggregateResult) -> None:
    from pyspark.sql import functions as F

    schema = schemas.load("invocation_costs")
    tables.overwrite_partitions(base.select(*schema.names), warehouse, schema)
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


# ------------------------------------------------------------------------------------------- usage


def wilson_columns(successes: Any, n: Any) -> tuple[Any, Any]:
    """Spark expressions for the Wilson 95% interval (the same formula as ``stats.wilson``)."""
    from pyspark.sql import functions as F

    z2 = stats.Z95 * stats.Z95
    p = successes / n
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = stats.Z95 * F.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    ok = n > 0
    return F.when(ok, F.greatest(F.lit(0.0), centre - half)), F.when(ok, F.least(F.lit(1.0), centre + half))


def _usage(base: Any, hourly: bool) -> Any:
    from pyspark.sql import functions as F

    def count_if(cond: Any) -> Any:
        return F.sum(F.when(cond, 1).otherwise(0)).cast("bigint")

    def total(c: str) -> Any:
        return F.coalesce(F.sum(c), F.lit(0)).cast("bigint")

    keys = ["dt", *(["hour"] if hourly else []), "base_model_id", "caller_name", "region"]
    grouped = base.withColumn("error_class", _error_class_column()).groupBy(*keys)
    out = grouped.agg(
        F.count("*").alias("invocations"),
        count_if(F.col("error_code").isNotNull()).alias("errors"),
        count_if(F.col("error_class") == "client").alias("errors_client"),
        count_if(F.col("error_class") == "server").alias("errors_server"),
        count_if(F.col("error_class") == "throttle").alias("errors_throttle"),
        count_if(F.col("guardrail_intervened")).alias("guardrail_interventions"),
        total("input_tokens").alias("input_tokens"),
        total("output_tokens").alias("output_tokens"),
        total("cache_read_tokens").alias("cache_read_tokens"),
        total("cache_write_tokens").alias("cache_write_tokens"),
        F.sum("cost_usd").alias("cost_usd"),
        count_if(~F.col("pricing_status").isin("priced")).alias("unpriced"),
        F.count("latency_ms").alias("latency_n"),
        F.expr("percentile(latency_ms, array(0.5, 0.9, 0.99))").alias("_lat"),
        count_if(F.col("is_scored")).alias("scored"),
        count_if(F.col("completion_refusal_flag")).alias("refusals"),
        F.sum("prompt_sentiment_compound").alias("prompt_sentiment_sum"),
        F.count("prompt_sentiment_compound").alias("prompt_sentiment_n"),
        F.sum("completion_sentiment_compound").alias("completion_sentiment_sum"),
        F.count("completion_sentiment_compound").alias("completion_sentiment_n"),
        count_if(F.col("prompt_toxicity_flag")).alias("toxic_prompts"),
        count_if(F.col("completion_toxicity_flag")).alias("toxic_completions"),
        count_if(F.col("prompt_toxicity_flag") | F.col("completion_toxicity_flag")).alias("_toxic_any"),
        count_if(F.col("prompt_pii_count") > 0).alias("pii_prompts"),
        F.sum("completion_similarity_prompt").alias("similarity_sum"),
        F.count("completion_similarity_prompt").alias("similarity_n"),
    )
    low, high = wilson_columns(F.col("refusals"), F.col("scored"))

    def ratio(num: str, den: str) -> Any:
        return F.when(F.col(den) > 0, F.col(num) / F.col(den))

    out = out.select(
        "*",
        ratio("errors", "invocations").alias("error_rate"),
        F.col("_lat")[0].alias("latency_p50_ms"),
        F.col("_lat")[1].alias("latency_p90_ms"),
        F.col("_lat")[2].alias("latency_p99_ms"),
        ratio("refusals", "scored").alias("refusal_ratio"),
        low.alias("refusal_ci_low"),
        high.alias("refusal_ci_high"),
        ratio("prompt_sentiment_sum", "prompt_sentiment_n").alias("prompt_sentiment_mean"),
        ratio("completion_sentiment_sum", "completion_sentiment_n").alias("completion_sentiment_mean"),
        ratio("_toxic_any", "scored").alias("toxic_rate"),
        ratio("pii_prompts", "scored").alias("pii_rate"),
        ratio("similarity_sum", "similarity_n").alias("similarity_mean"),
    )
    return out


def _error_class_column() -> Any:
    """``stats.error_class`` as a Column expression (no Python round trip)."""
    from pyspark.sql import functions as F

    code = F.col("error_code")
    return (
        F.when(code.isNull() | (code == ""), F.lit(None))
        .when(code.isin(*sorted(stats.THROTTLE_ERRORS)), F.lit("throttle"))
        .when(code.isin(*sorted(stats.SERVER_ERRORS)) | code.startswith("5"), F.lit("server"))
        .otherwise(F.lit("client"))
    )


# ------------------------------------------------------------------------------------------- templates


def _templates(base: Any) -> Any:
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    # Scored rows carry the scorer's template id; the others (not scored yet, or scored before it was
    # written) get it from their texts, so the UDF runs on those rows only.
    tid = F.udf(stats.template_id, T.StringType())
    unlabelled = F.col("template_id").isNull()
    rows = (
        base.filter(~unlabelled)
        .unionByName(base.filter(unlabelled).withColumn("template_id", tid("system_text", "prompt_text")))
        .select(
            "dt",
            "template_id",
            "caller_name",
            "system_text",
            "prompt_text",
            "error_code",
            "cost_usd",
            "is_scored",
            "completion_refusal_flag",
            "completion_sentiment_compound",
            "prompt_toxicity_flag",
            "completion_toxicity_flag",
            "prompt_pii_count",
            "completion_similarity_prompt",
        )
    )

    def count_if(cond: Any) -> Any:
        return F.sum(F.when(cond, 1).otherwise(0))

    agg = rows.groupBy("dt", "template_id").agg(
        F.min(F.struct(F.length("prompt_text").alias("n"), F.col("prompt_text").alias("t"))).alias("_rep"),
        F.max(F.col("system_text").isNotNull() & (F.trim("system_text") != "")).alias("has_system_prompt"),
        F.count("*").alias("invocations"),
        F.countDistinct("caller_name").alias("callers"),
        F.sum("cost_usd").alias("cost_usd"),
        count_if(F.col("is_scored")).alias("scored"),
        count_if(F.col("completion_refusal_flag")).alias("_refusals"),
        F.avg("completion_sentiment_compound").alias("completion_sentiment_mean"),
        count_if(F.col("prompt_toxicity_flag") | F.col("completion_toxicity_flag")).alias("_toxic"),
        count_if(F.col("prompt_pii_count") > 0).alias("_pii"),
        F.avg("completion_similarity_prompt").alias("similarity_mean"),
        count_if(F.col("error_code").isNotNull()).alias("_errors"),
    )
    per_scored = F.when(F.col("scored") > 0, F.lit(1.0) / F.col("scored"))
    skeleton = F.udf(stats.skeleton, T.StringType())  # one call a template: its prompts share the skeleton
    return agg.select(
        "*",
        skeleton(F.col("_rep.t")).alias("skeleton"),
        F.substring(F.col("_rep.t"), 1, 300).alias("representative_text"),
        (F.col("_refusals") * per_scored).alias("refusal_ratio"),
        (F.col("_toxic") * per_scored).alias("toxic_rate"),
        (F.col("_pii") * per_scored).alias("pii_rate"),
        (F.col("_errors") / F.col("invocations")).alias("error_rate"),
    )


# ------------------------------------------------------------------------------------------- series


ADDITIVE = (
    "invocations",
    "errors",
    "cost_usd",
    "unpriced",
    "scored",
    "refusals",
    "_toxic_any",
    "pii_prompts",
    "completion_sentiment_sum",
    "completion_sentiment_n",
    "similarity_sum",
    "similarity_n",
    "_latency_weighted",
    "latency_n",
)


def slice_series(
    rows: Iterable[dict[str, Any]], hourly: bool
) -> dict[tuple[str, str, str, int], dict[str, float]]:
    """Usage rows re-aggregated to (dt, slice_type, slice, hour) points with the alertable metrics.

    Slices: ``all`` ('*'), each ``model`` and each ``caller``. Additive columns are summed; the latency p90
    of a slice is the latency-count-weighted mean of its groups' p90s (percentiles do not add up).
    """
    sums: dict[tuple[str, str, str, int], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in rows:
        hour = int(r["hour"]) if hourly else -1
        values = {k: float(r.get(k) or 0.0) for k in ADDITIVE if not k.startswith("_")}
        tox = (r.get("toxic_rate") or 0.0) * (r.get("scored") or 0)
        values["_toxic_any"] = float(round(tox))
        values["_latency_weighted"] = float((r.get("latency_p90_ms") or 0.0) * (r.get("latency_n") or 0))
        slices = (
            ("all", "*"),
            ("model", r.get("base_model_id") or "(unknown)"),
            ("caller", r.get("caller_name") or "(unknown)"),
        )
        for slice_type, name in slices:
            point = sums[(r["dt"], slice_type, name, hour)]
            for k, v in values.items():
                point[k] += v
    out: dict[tuple[str, str, str, int], dict[str, float]] = {}
    for key, s in sums.items():
        n, scored = s["invocations"], s["scored"]
        out[key] = {
            "invocations": n,
            "errors": s["errors"],
            "error_rate": s["errors"] / n if n else float("nan"),
            "cost_usd": s["cost_usd"],
            "unpriced": s["unpriced"],
            "latency_p90_ms": s["_latency_weighted"] / s["latency_n"] if s["latency_n"] else float("nan"),
            "refusal_ratio": s["refusals"] / scored if scored else float("nan"),
            "toxic_rate": s["_toxic_any"] / scored if scored else float("nan"),
            "pii_rate": s["pii_prompts"] / scored if scored else float("nan"),
            "completion_sentiment_mean": s["completion_sentiment_sum"] / s["completion_sentiment_n"]
            if s["completion_sentiment_n"]
            else float("nan"),
            "similarity_mean": s["similarity_sum"] / s["similarity_n"] if s["similarity_n"] else float("nan"),
            "scored": scored,
            "completion_sentiment_n": s["completion_sentiment_n"],
        }
    return out


def usage_rows(
    spark: Any, storage: Storage, warehouse: str, table: str, days: list[str]
) -> list[dict[str, Any]]:
    df = tables.read(spark, storage, warehouse, schemas.load(table), [(d,) for d in days])
    return [r.asDict() for r in df.collect()]


def _baseline_keys(day: str, hour: int, hourly: bool, have: set[str]) -> tuple[list[tuple[str, int]], str]:
    """Comparison points: for days, the same weekday of the 4 prior weeks when 3+ exist, else the 7 prior
    days; for hours, the same hour of the 7 prior days."""
    d = date.fromisoformat(day)
    if not hourly:
        weekly = [(d - timedelta(weeks=w)).isoformat() for w in range(1, 5)]
        present = [x for x in weekly if x in have]
        if len(present) >= stats.MIN_BASELINE:
            return [(x, -1) for x in present], "same_weekday"
        return [((d - timedelta(days=i)).isoformat(), -1) for i in range(1, 8)], "recent"
    return [((d - timedelta(days=i)).isoformat(), hour) for i in range(1, 8)], "recent"


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


def find_anomalies(
    daily_rows: list[dict[str, Any]], hourly_rows: list[dict[str, Any]], days: list[str], z: float
) -> list[dict[str, Any]]:
    """Points of ``days`` whose robust z-score against their baseline is at least ``z`` (usage rows in)."""
    found: list[dict[str, Any]] = []
    for rows, hourly in ((daily_rows, False), (hourly_rows, True)):
        series = slice_series(rows, hourly)
        have = {k[0] for k in series}
        for (day, slice_type, name, hour), point in series.items():
            if day not in days or point["invocations"] < MIN_SLICE_INVOCATIONS:
                continue
            keys, kind = _baseline_keys(day, hour, hourly, have)
            for metric in ANOMALY_METRICS:
                value = point[metric]
                if value != value:  # NaN: no data for this metric
                    continue
                baseline = [
                    series[(d, slice_type, name, h)][metric]
                    for d, h in keys
                    if (d, slice_type, name, h) in series
                ]
                baseline = [b for b in baseline if b == b]
                if metric in RATE_METRICS:
                    sample = int(point[RATE_METRICS[metric]])
                    floor = stats.rate_floor(
                        sorted(baseline)[len(baseline) // 2] if baseline else value, sample
                    )
                elif metric == "completion_sentiment_mean":  # a mean of values in [-1, 1]: sd at most 1
                    floor = 0.5 / max(point["completion_sentiment_n"], 1) ** 0.5
                else:
                    floor = 0.1 * abs(sorted(baseline)[len(baseline) // 2]) if baseline else 0.0
                scored = stats.robust_score(value, baseline, floor)
                if scored is None or abs(scored.score) < z:
                    continue
                found.append(
                    {
                        "dt": day,
                        "grain": "hourly" if hourly else "daily",
                        "hour": hour,
                        "slice_type": slice_type,
                        "slice": name,
                        "metric": metric,
                        "value": scored.value,
                        "expected": scored.expected,
                        "scale": scored.scale,
                        "score": round(scored.score, 3),
                        "direction": "up" if scored.score > 0 else "down",
                        "baseline_points": scored.baseline_points,
                        "baseline_kind": kind,
                    }
                )
    return found


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


def find_alerts(
    rules_: tuple[AlertRule, ...], daily_rows: list[dict[str, Any]], hourly_rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The rules that fire on the usage rows: one value per day (and hour) over the groups a rule matches."""
    fired: list[dict[str, Any]] = []
    for grain, rows in (("daily", daily_rows), ("hourly", hourly_rows)):
        rules = [r for r in rules_ if r.grain == grain]
        for rule in rules:
            wanted = [
                r
                for r in rows
                if fnmatch.fnmatchcase(r.get("base_model_id") or "", rule.model)
                and fnmatch.fnmatchcase(r.get("caller_name") or "", rule.caller)
            ]
            # one point per day (and hour) over the matching groups; the slice names what was matched
            series = slice_series(wanted, grain == "hourly")
            for (day, slice_type, _, hour), point in sorted(series.items()):
                if slice_type != "all" or point["invocations"] < max(rule.min_invocations, 1):
                    continue
                value = point[rule.metric]
                if value != value:
                    continue
                hit = value > rule.threshold if rule.direction == "above" else value < rule.threshold
                if hit:
                    label = f"model {rule.model}, caller {rule.caller}"
                    when = day if hour < 0 else f"{day} {hour:02d}h"
                    fired.append(
                        {
                            "dt": day,
                            "rule": rule.name,
                            "grain": grain,
                            "hour": hour,
                            "slice": label,
                            "metric": rule.metric,
                            "value": value,
                            "threshold": rule.threshold,
                            "direction": rule.direction,
                            "message": f"{rule.name}: {rule.metric} {value:.4g} is {rule.direction}"
                            f" {rule.threshold:g} for {label} on {when}",
                        }
                    )
    return fired


def _clear_days(storage: Storage, warehouse: str, table: str, days: list[str]) -> None:
    schema = schemas.load(table)
    base = tables.table_uri(warehouse, table)
    for day in days:
        storage.delete_tree(tables.partition_path(base, schema, (day,)))
