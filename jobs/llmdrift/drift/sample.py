"""Spark side of drift: the scored rows of both windows tagged with their slices and counted, bounded samples
drawn per slice and window, and the samples collected to the driver as pandas frames (with latency, stop
reason, cost, vectors and text openings read for the sampled ids only)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any

from llmdrift.core import schemas, tables
from llmdrift.core.storage import storage_for
from llmdrift.core.windows import Window
from llmdrift.drift.config import DriftConfig
from llmdrift.drift.registry import CONTINUOUS, EMBEDDINGS, FLAGS, SliceKey
from llmdrift.text.embedders import embedder_id
from llmdrift.text.templates import fill_template_ids

Log = Callable[[str], None]
SCORED = (*[c for c in CONTINUOUS if c not in ("latency_ms", "cost_usd")], *FLAGS)
EXAMPLE_TEXT_CHARS = 1000  # explanations show 240 characters and take their terms from these


def sliced(
    spark: Any, warehouse: str, current: Window, config: DriftConfig, days: list[tuple[str]]
) -> tuple[Any, dict[SliceKey, tuple[int, int]]]:
    """The tagged rows (:func:`tagged`) and their slice counts. When the count finds rows whose metrics
    name no model or template (provisioned or custom models, rows scored before template ids), those are filled
    in (:func:`with_templates`, :func:`with_models`) and counted again: clean data costs one pass."""
    met = metrics_rows(spark, warehouse, days)
    rows = tagged(met, current, config.seed, label_unknown=False)
    counts = slice_counts(rows, config.max_templates)
    unnamed = {slice_type for slice_type, name in counts if name is None}
    if unnamed:
        if "template" in unnamed:
            met = with_templates(spark, warehouse, met, days)
        if "model" in unnamed:
            met = with_models(spark, warehouse, met, days)
        rows = tagged(met, current, config.seed)
        counts = slice_counts(rows, config.max_templates)
    return rows, counts


def metrics_rows(spark: Any, warehouse: str, days: list[tuple[str]]) -> Any:
    """The narrow metrics rows drift slices, samples and tests: no text is read."""
    from pyspark.sql import functions as F

    met = tables.read(spark, storage_for(warehouse), warehouse, schemas.load("invocation_metrics"), days)
    return met.select(
        "request_id",
        "dt",
        "base_model_id",
        "caller_name",
        "template_id",
        *[c for c in SCORED if c != "prompt_has_pii"],
        (F.col("prompt_pii_count") > 0).alias("prompt_has_pii"),
        text_model_column().alias("text_model"),
    )


def text_model_column() -> Any:
    """The text model of a metrics row, from its ``scorer_version`` (``<n>-<embedder>-<text model>``, see
    ``ScoreConfig.scorer_version``): ``fast-6e96e63c``, ``fast-6e96e63c-comprehend``; rows of scorer 1 (rules,
    before the learned models) read ``v1-rules`` (``comprehend`` when they came from Comprehend)."""
    from pyspark.sql import functions as F

    rest = F.regexp_replace(F.col("scorer_version"), r"^[0-9]+-[a-z0-9]+-?", "")
    return F.when(rest == "", F.lit("v1-rules")).otherwise(rest)


def tagged(met: Any, current: Window, seed: int, label_unknown: bool = True) -> Any:
    """Metrics rows of both windows, one row per slice they belong to, with a sampling key.

    Everything comes from ``invocation_metrics`` (narrow rows that carry model, caller and template), so
    counting and sampling never read the texts. A model or template the row does not name is left null
    for :func:`sliced` to see, or, once filled in as far as it can be, labelled "(unknown)". The sampling
    key ``u`` in [0, 1) is a hash of the request id and the seed: the same run on the same data draws the
    same sample, and an invocation kept for a small slice is also the one kept for the larger slices it
    belongs to, which keeps the union small.
    """
    from pyspark.sql import functions as F

    def named(column: str) -> Any:
        return F.coalesce(column, F.lit(UNKNOWN)) if label_unknown else F.col(column)

    window = F.when(F.col("dt").isin(*current.days), F.lit("current")).otherwise(F.lit("reference"))
    u = F.shiftrightunsigned(F.xxhash64("request_id", F.lit(seed)), 11).cast("double") / float(1 << 53)
    slices = F.array(
        F.struct(F.lit("all").alias("t"), F.lit("*").alias("v")),
        F.struct(F.lit("model").alias("t"), named("base_model_id").alias("v")),
        F.struct(F.lit("caller").alias("t"), F.coalesce("caller_name", F.lit(UNKNOWN)).alias("v")),
        F.struct(F.lit("template").alias("t"), named("template_id").alias("v")),
    )
    return (
        met.select("*", window.alias("window"), F.explode(slices).alias("s"), u.alias("u"))
        .select("*", F.col("s.t").alias("slice_type"), F.col("s.v").alias("slice"))
        .drop("s", "template_id", "caller_name", "dt")
    )


UNKNOWN = "(unknown)"


def with_templates(spark: Any, warehouse: str, met: Any, days: list[tuple[str]]) -> Any:
    """Metrics rows scored before ``template_id`` existed get it from their texts (one UDF pass over just
    those rows); rows that have it are left alone. Called only when the count found such rows."""
    from pyspark.sql import functions as F

    missing = met.filter(F.col("template_id").isNull())
    inv = tables.read(spark, storage_for(warehouse), warehouse, schemas.load("invocations"), days).select(
        "request_id",
        F.substring("system_text", 1, 2000).alias("system_text"),
        F.substring("prompt_text", 1, 2000).alias("prompt_text"),
    )
    filled = fill_template_ids(missing.join(inv, "request_id", "left")).select(*met.columns)
    return met.filter(F.col("template_id").isNotNull()).unionByName(filled)


def with_models(spark: Any, warehouse: str, met: Any, days: list[tuple[str]]) -> Any:
    """Rows whose invocation names no base model (provisioned and custom models, unmapped application
    profiles; ingest resolves the mapped ones) are sliced by their model ARN, so that no model slice is a
    mix of unrelated endpoints called "(unknown)"."""
    from pyspark.sql import functions as F

    unnamed = F.col("base_model_id").isNull()
    endpoints = (
        tables.read(spark, storage_for(warehouse), warehouse, schemas.load("invocations"), days)
        .filter(unnamed)
        .select("request_id", F.col("model_id").alias("endpoint"))
    )
    filled = (
        met.filter(unnamed)
        .join(endpoints, "request_id", "left")
        .withColumn("base_model_id", F.col("endpoint"))
        .select(*met.columns)
    )
    return met.filter(~unnamed).unionByName(filled)


def slice_counts(rows: Any, max_templates: int) -> dict[SliceKey, tuple[int, int]]:
    """(reference, current) invocations per slice; template slices limited to the largest (an unnamed one is
    kept for :func:`sliced` to see)."""
    counts: dict[SliceKey, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows.groupBy("slice_type", "slice", "window").count().collect():
        counts[(r["slice_type"], r["slice"])][0 if r["window"] == "reference" else 1] += int(r["count"])
    templates = sorted((k for k in counts if k[0] == "template" and k[1]), key=lambda k: -sum(counts[k]))
    for k in templates[max_templates:]:
        del counts[k]
    return {k: (v[0], v[1]) for k, v in counts.items()}


def sampled(
    spark: Any,
    rows: Any,
    counts: dict[SliceKey, tuple[int, int]],
    testable: set[SliceKey],
    config: DriftConfig,
) -> Any:
    """Bounded random samples of the testable slices: per slice and window a keep-fraction from the counts
    (``scalar_sample`` rows, of which ``embedding_sample`` also get their vectors), applied in one pass."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    keep = [
        (
            slice_type,
            name,
            window,
            min(1.0, config.scalar_sample / max(n, 1)),
            min(1.0, config.embedding_sample / max(n, 1)),
        )
        for (slice_type, name), (ref_n, cur_n) in counts.items()
        if (slice_type, name) in testable
        for window, n in (("reference", ref_n), ("current", cur_n))
    ]
    schema = T.StructType(
        [
            T.StructField("slice_type", T.StringType()),
            T.StructField("slice", T.StringType()),
            T.StructField("window", T.StringType()),
            T.StructField("scalar_fraction", T.DoubleType()),
            T.StructField("embedding_fraction", T.DoubleType()),
        ]
    )
    fractions = spark.createDataFrame(keep, schema)
    return (
        rows.join(F.broadcast(fractions), ["slice_type", "slice", "window"])
        .filter(F.col("u") < F.col("scalar_fraction"))
        .withColumn("embed", F.col("u") < F.col("embedding_fraction"))
        .drop("u", "scalar_fraction", "embedding_fraction")
    )


def collect_samples(
    spark: Any,
    warehouse: str,
    sampled: Any,
    config: DriftConfig,
    days: list[tuple[str]],
    progress: Log,
) -> dict[tuple[str, str, str], Any]:
    """The samples on the driver as one pandas frame per (slice_type, slice, window), completed with what
    the metrics table does not hold: latency and stop reason, cost, and for the rows kept for embeddings
    their vectors and the openings of their texts. Each of those tables is read once, joined to the
    broadcast sample ids (a few hundred thousand at most, whatever the window size)."""
    from pyspark.sql import functions as F

    storage = storage_for(warehouse)

    def table(name: str) -> Any:
        return tables.read(spark, storage, warehouse, schemas.load(name), days)

    # In a fixed order: Spark returns rows in an order that follows file sizes and partitioning, and the
    # k-means of the explanations starts from rows picked by position.
    frame = sampled.toPandas().sort_values(["slice_type", "slice", "window", "request_id"], kind="stable")
    frame = frame.reset_index(drop=True)
    progress(f"{len(frame):,} sampled rows collected")
    if frame.empty:
        return {}
    ids = sampled.groupBy("request_id").agg(F.max("embed").alias("embed"))
    embedded = ids.filter("embed").select("request_id")
    inv = (
        table("invocations")
        .select("request_id", "latency_ms", "stop_reason", "prompt_text", "completion_text")
        .join(F.broadcast(ids), "request_id")
        .select(
            "request_id",
            "latency_ms",
            "stop_reason",
            *[
                F.when(F.col("embed"), F.substring(c, 1, EXAMPLE_TEXT_CHARS)).alias(c)
                for c in ("prompt_text", "completion_text")
            ],
        )
        .toPandas()
        .drop_duplicates("request_id")
    )
    progress(f"latency, stop reason and texts of {len(inv):,} sampled invocations read")
    cost = (
        table("invocation_costs")
        .select("request_id", "cost_usd")
        .join(F.broadcast(ids.select("request_id")), "request_id", "left_semi")
        .toPandas()
        .drop_duplicates("request_id")
    )
    vectors = (
        table("embeddings")
        .filter(F.col("embedding_model") == embedder_id(config.embedder))  # one vector space only
        .select("request_id", "text_role", "vector")
        .join(F.broadcast(embedded), "request_id", "left_semi")
        .toPandas()
        .drop_duplicates(["request_id", "text_role"])
        .pivot(index="request_id", columns="text_role", values="vector")
    )
    progress(f"costs of {len(cost):,} and vectors of {len(vectors):,} sampled invocations read")
    for role in EMBEDDINGS:
        column = vectors[role] if role in vectors.columns else None
        frame[f"{role}_vector"] = (
            frame["request_id"].map(column).where(frame["embed"]) if column is not None else None
        )
    frame = frame.merge(inv, on="request_id", how="left").merge(cost, on="request_id", how="left")
    return {
        (str(k[0]), str(k[1]), str(k[2])): g.reset_index(drop=True)
        for k, g in frame.groupby(["slice_type", "slice", "window"], sort=False)
    }
