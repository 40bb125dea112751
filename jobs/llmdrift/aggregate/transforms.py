"""Spark transforms of the aggregate step (DataFrame in, DataFrame out; no paths, no I/O).

- ``priced``: invocations joined with their prices (from ``price_frame``) and their metrics, with cost columns.
- ``usage``: the usage_hourly / usage_daily rows of priced invocations.
- ``templates``: the template_daily rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from llmdrift.aggregate import stats
from llmdrift.core import intervals
from llmdrift.cost.prices import PriceTable, price_for
from llmdrift.text import templates as text_templates

METRIC_COLUMNS = (
    "completion_refusal_flag",
    "prompt_sentiment_compound",
    "completion_sentiment_compound",
    "prompt_toxicity_flag",
    "completion_toxicity_flag",
    "prompt_pii_count",
    "completion_similarity_prompt",
)


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


def price_keys(inv: Any) -> Any:
    """The (model_id, region, dt) keys of the invocations, with the endpoint they name (one row each)."""
    from pyspark.sql import functions as F

    return inv.groupBy("model_id", "region", "dt").agg(
        F.min("base_model_id").alias("base_model_id"), F.min("endpoint_scope").alias("endpoint_scope")
    )


def priced(inv: Any, met: Any, p: Any, price_version: str) -> Any:
    """Invocations with their cost columns (prices ``p`` from ``price_frame``) and their metrics (left-joined)."""
    from pyspark.sql import functions as F

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
        F.lit(price_version).alias("price_version"),
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
    scored = met.select("request_id", F.lit(True).alias("is_scored"), "template_id", *METRIC_COLUMNS)
    return (
        priced.drop("base_model_id")
        .withColumnRenamed("priced_base_model_id", "base_model_id")
        .join(scored, "request_id", "left")
        .withColumn("is_scored", F.coalesce("is_scored", F.lit(False)))
    )


def wilson_columns(successes: Any, n: Any) -> tuple[Any, Any]:
    """Spark expressions for the Wilson 95% interval (the same formula as ``intervals.wilson``)."""
    from pyspark.sql import functions as F

    z2 = intervals.Z95 * intervals.Z95
    p = successes / n
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = intervals.Z95 * F.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / denom
    ok = n > 0
    return F.when(ok, F.greatest(F.lit(0.0), centre - half)), F.when(ok, F.least(F.lit(1.0), centre + half))


def usage(base: Any, hourly: bool) -> Any:
    from pyspark.sql import functions as F

    def count_if(cond: Any) -> Any:
        return F.sum(F.when(cond, 1).otherwise(0)).cast("bigint")

    def total(c: str) -> Any:
        return F.coalesce(F.sum(c), F.lit(0)).cast("bigint")

    keys = ["dt", *(["hour"] if hourly else []), "base_model_id", "caller_name", "region"]
    grouped = base.withColumn("error_class", error_class_column()).groupBy(*keys)
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


def error_class_column() -> Any:
    """``stats.error_class`` as a Column expression (no Python round trip)."""
    from pyspark.sql import functions as F

    code = F.col("error_code")
    return (
        F.when(code.isNull() | (code == ""), F.lit(None))
        .when(code.isin(*sorted(stats.THROTTLE_ERRORS)), F.lit("throttle"))
        .when(code.isin(*sorted(stats.SERVER_ERRORS)) | code.startswith("5"), F.lit("server"))
        .otherwise(F.lit("client"))
    )


def templates(base: Any) -> Any:
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    # Scored rows carry the scorer's template id; the others (not scored yet, or scored before it was
    # written) get it from their texts, so the UDF runs on those rows only.
    rows = text_templates.fill_template_ids(base).select(
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
    skeleton = F.udf(
        text_templates.skeleton, T.StringType()
    )  # one call a template: its prompts share the skeleton
    return agg.select(
        "*",
        skeleton(F.col("_rep.t")).alias("skeleton"),
        F.substring(F.col("_rep.t"), 1, 300).alias("representative_text"),
        (F.col("_refusals") * per_scored).alias("refusal_ratio"),
        (F.col("_toxic") * per_scored).alias("toxic_rate"),
        (F.col("_pii") * per_scored).alias("pii_rate"),
        (F.col("_errors") / F.col("invocations")).alias("error_rate"),
    )
