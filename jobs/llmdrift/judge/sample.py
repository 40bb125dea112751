"""Spark side of the judge: a deterministic sample of each day's scored invocations, stratified by model and
caller, with the texts and the local detectors' values of the sampled ones.

Each invocation gets a key ``u`` = hash(request id, seed) in [0, 1). Within a day, each stratum (base model,
caller) keeps its ``quota`` lowest keys, the quota proportional to the stratum's share of the day (at least one
per stratum). The same data and seed always give the same sample, so a rerun picks the same invocations (and,
with the judgements already stored, judges none of them again); a day that gains invocations later keeps
most of its earlier picks.
"""

from __future__ import annotations

from typing import Any

from llmdrift.core import schemas, tables
from llmdrift.core.storage import Storage

LOCAL_COLUMNS = {
    "local_refusal_flag": "completion_refusal_flag",
    "local_refusal_score": "completion_refusal_score",
    "local_prompt_toxicity_flag": "prompt_toxicity_flag",
    "local_prompt_toxicity_score": "prompt_toxicity_score",
    "local_completion_toxicity_flag": "completion_toxicity_flag",
    "local_completion_toxicity_score": "completion_toxicity_score",
    "local_completion_sentiment": "completion_sentiment_compound",
}


def stratified(met: Any, per_day: int, seed: int) -> Any:
    """The sampled rows of ``met`` (metrics rows with ``dt``, ``base_model_id``, ``caller_name``,
    ``request_id``), with their ``rank`` in the day's sample order (by key)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    u = F.shiftrightunsigned(F.xxhash64("request_id", F.lit(seed)), 11).cast("double") / float(1 << 53)
    stratum = [F.coalesce(F.col(c), F.lit("(unknown)")) for c in ("base_model_id", "caller_name")]
    keyed = met.select("*", u.alias("u"), F.concat_ws("\x1f", *stratum).alias("stratum"))
    by_stratum = Window.partitionBy("dt", "stratum")
    ranked = keyed.select(
        "*",
        F.row_number().over(by_stratum.orderBy("u", "request_id")).alias("_pos"),
        F.count("*").over(by_stratum).alias("_n_stratum"),
        F.count("*").over(Window.partitionBy("dt")).alias("_n_day"),
    )
    quota = F.least(
        F.col("_n_stratum"),
        F.greatest(
            F.lit(1), F.round(F.lit(float(per_day)) * F.col("_n_stratum") / F.col("_n_day")).cast("int")
        ),
    )
    kept = ranked.filter(F.col("_pos") <= quota)
    order = Window.partitionBy("dt").orderBy("u", "request_id")
    return kept.select("*", F.row_number().over(order).alias("rank")).drop("_pos", "_n_stratum", "_n_day")


def sampled_rows(
    spark: Any, storage: Storage, warehouse: str, days: list[str], per_day: int, seed: int
) -> list[dict[str, Any]]:
    """The day's sample on the driver, in (dt, rank) order: ids, strata, local values and the texts."""
    from pyspark.sql import functions as F

    parts = [(d,) for d in days]
    met = tables.read(spark, storage, warehouse, schemas.load("invocation_metrics"), parts).select(
        "request_id",
        "dt",
        "base_model_id",
        "caller_name",
        "scorer_version",
        *[F.col(source).alias(name) for name, source in LOCAL_COLUMNS.items()],
    )
    picked = stratified(met, per_day, seed)
    inv = tables.read(spark, storage, warehouse, schemas.load("invocations"), parts).select(
        "request_id", "prompt_text", "completion_text", "system_text"
    )
    joined = picked.join(inv, "request_id", "left").orderBy("dt", "rank")
    return [r.asDict() for r in joined.collect()]


def population(spark: Any, storage: Storage, warehouse: str, days: list[str]) -> list[dict[str, Any]]:
    """Per day and slice (all, model, caller): scored invocations, and per metric how many the local detector
    rated (``n_<metric>``) and flagged (``<metric>``)."""
    from pyspark.sql import functions as F

    met = tables.read(spark, storage, warehouse, schemas.load("invocation_metrics"), [(d,) for d in days])
    slices = F.array(
        F.struct(F.lit("all").alias("t"), F.lit("*").alias("v")),
        F.struct(F.lit("model").alias("t"), F.coalesce("base_model_id", F.lit("(unknown)")).alias("v")),
        F.struct(F.lit("caller").alias("t"), F.coalesce("caller_name", F.lit("(unknown)")).alias("v")),
    )

    def flagged(column: Any) -> Any:
        return F.sum(F.when(column, 1).otherwise(0)).cast("long")

    flags = {
        "refusal": F.col("completion_refusal_flag"),
        "prompt_toxicity": F.col("prompt_toxicity_flag"),
        "completion_toxicity": F.col("completion_toxicity_flag"),
        "completion_sentiment": F.col("completion_sentiment_compound") <= -NEGATIVE_COMPOUND,
    }
    # Per metric, the invocations the detector gave a value (a flag is null without a text, e.g. tool-use
    # turns and errors): the same population its precision and recall are measured on.
    rows = (
        met.select("*", F.explode(slices).alias("s"))
        .groupBy("dt", F.col("s.t").alias("slice_type"), F.col("s.v").alias("slice"))
        .agg(
            F.count("*").alias("n"),
            *[flagged(flag).alias(metric) for metric, flag in flags.items()],
            *[F.count(flag).alias(f"n_{metric}") for metric, flag in flags.items()],
        )
    )
    return [r.asDict() for r in rows.collect()]


NEGATIVE_COMPOUND = 0.05  # a compound at or below -0.05 reads as negative (the usual VADER convention)
