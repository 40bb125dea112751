"""Drift between a reference and a current window, per slice and feature, with FDR-controlled verdicts.

1. Spark reads the scored invocations of both windows from ``invocation_metrics`` (narrow rows carrying
   model, caller and template: no text is read), tags each with its slices (all traffic, its base model,
   its caller, its prompt template) and counts every slice in each window.
2. Slices with at least ``min_samples`` invocations in both windows are tested; smaller ones are written as
   ``not_tested`` (never as "no drift"). Template slices are the ``max_templates`` largest.
3. Bounded samples are drawn in Spark (a per-slice keep-fraction from the counts against a hash of the
   request id: no sort, one pass) and collected: up to ``scalar_sample`` metric rows and ``embedding_sample``
   vectors per slice and window. Latency, stop reason, cost, vectors and text openings are then read for
   the sampled ids only (broadcast joins, one scan per table). The tests therefore cost the same whatever
   the window size; the scans grow linearly.
4. Tests (``drift.stats``): a k-nearest-neighbour test with a permutation null for prompt and completion
   embeddings (each window's sample is compared whole: a 7-day reference against one day); KS for
   continuous metrics; two-proportion tests for flags; chi-square for model and stop-reason shares.
   Benjamini-Hochberg over every test of the run; a test drifts when q < ``alpha``.
5. For each drifted embedding test (and always for all traffic), the pooled sample is clustered and the
   clusters whose share moved most are written with examples and terms (``drift.explain``).
"""

from __future__ import annotations

import os
import time
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from llmdrift import schemas, tables
from llmdrift.aggregate.stats import template_id
from llmdrift.cost.prices import load_profiles, profile_target
from llmdrift.drift import explain, stats
from llmdrift.ingest.job import RunContext, complete_until
from llmdrift.score.models import EMBEDDERS, embedder_id
from llmdrift.storage import normalize, storage_for

Log = Callable[[str], None]
CONTINUOUS = (
    "prompt_text_chars",
    "completion_text_chars",
    "prompt_text_tokens",
    "completion_text_tokens",
    "prompt_sentiment_compound",
    "completion_sentiment_compound",
    "prompt_toxicity_score",
    "completion_toxicity_score",
    "completion_refusal_score",
    "completion_similarity_prompt",
    "latency_ms",
    "cost_usd",
)
FLAGS = ("completion_refusal_flag", "prompt_toxicity_flag", "completion_toxicity_flag", "prompt_has_pii")
CATEGORICAL = {"model_share": "base_model_id", "stop_reason_share": "stop_reason"}
EMBEDDINGS = ("prompt", "completion")
SLICE_TYPES = ("all", "model", "caller", "template")


class DriftError(RuntimeError):
    """Drift detection cannot go on."""


@dataclass(frozen=True)
class Window:
    start: date
    end: date  # exclusive

    @classmethod
    def parse(cls, text: str) -> Window:
        """``2026-11-02..2026-11-05`` (end exclusive) or a single day ``2026-11-05``."""
        first, sep, last = text.partition("..")
        try:
            start = date.fromisoformat(first)
            end = date.fromisoformat(last) if sep else start + timedelta(days=1)
        except ValueError:
            raise ValueError(f"{text!r} is not a window like 2026-11-02..2026-11-05 or a day") from None
        if end <= start:
            raise ValueError(f"window {text!r} ends before it starts")
        return cls(start, end)

    @property
    def days(self) -> list[str]:
        return [(self.start + timedelta(days=i)).isoformat() for i in range((self.end - self.start).days)]

    def __str__(self) -> str:
        return f"{self.start}..{self.end}"


@dataclass(frozen=True)
class DriftConfig:
    warehouse: str
    current: Window | None = None  # default: the last day with invocations
    reference: Window | None = None  # default: the reference_days before the current window
    reference_days: int = 7
    min_samples: int = 50
    embedding_sample: int = 1000
    scalar_sample: int = 5000
    max_templates: int = 20
    permutations: int = 300
    neighbours: int = stats.NEIGHBOURS  # k of the embedding test
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)  # processes testing slices
    alpha: float = 0.05
    seed: int = 0
    embedder: str = "static"  # whose vectors are compared (the scorer's --embedder)
    profiles: Path | None = None  # application inference profile -> model (default: the shipped profiles.csv)

    def __post_init__(self) -> None:
        if self.reference_days < 1:
            raise ValueError("reference_days must be at least 1")
        if self.neighbours < 1:
            raise ValueError("neighbours must be at least 1")
        if self.min_samples < 10:
            raise ValueError("min_samples must be at least 10")
        if not 0 < self.alpha < 1:
            raise ValueError("alpha must be within (0, 1)")
        if self.embedder not in EMBEDDERS:
            raise ValueError(f"embedder must be {' or '.join(EMBEDDERS)}, got {self.embedder!r}")
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        if self.current and self.reference and self.reference.end > self.current.start:
            raise ValueError(f"reference window {self.reference} overlaps or follows current {self.current}")


@dataclass
class DriftResult:
    run_id: str
    reference: Window | None = None
    current: Window | None = None
    tests: int = 0
    drifted: int = 0
    not_tested: int = 0
    seconds: float = 0.0
    headlines: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"{self.current} against {self.reference}: {self.tests:,} tests, {self.drifted:,} drifted (q <"
            f" alpha), {self.not_tested:,} slices not tested (too few invocations)"
        )


def run(spark: Any, config: DriftConfig, context: RunContext, log: Log = print) -> DriftResult:
    from pyspark import StorageLevel

    warehouse = normalize(config.warehouse)
    result = DriftResult(
        context.run_id,
        outputs={t: tables.table_uri(warehouse, t) for t in ("drift_results", "drift_clusters")},
    )
    t0 = time.monotonic()
    current, reference = _windows(spark, warehouse, config)
    result.current, result.reference = current, reference
    log(f"[drift {context.run_id}] current {current}, reference {reference}")
    days = [(d,) for d in reference.days + current.days]

    def progress(what: str) -> None:
        log(f"  {what}  [{time.monotonic() - t0:.1f}s]")

    rows, counts = _sliced(spark, warehouse, current, config, days)
    progress(f"{len(counts):,} slices counted")
    testable = {k for k, (r, c) in counts.items() if r >= config.min_samples and c >= config.min_samples}
    sampled = _sampled(spark, rows, counts, testable, config).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        samples = _collect_samples(spark, warehouse, sampled, config, days, progress)
    finally:
        sampled.unpersist()
    progress(f"samples of {len(testable):,} slices ready: {sum(len(v) for v in samples.values()):,} rows")
    results, clusters = evaluate_slices(samples, counts, testable, config)
    base = {
        "run_id": context.run_id,
        "reference_start": reference.start.isoformat(),
        "reference_end": reference.end.isoformat(),
        "current_start": current.start.isoformat(),
        "current_end": current.end.isoformat(),
        "dt": (current.end - timedelta(days=1)).isoformat(),
    }
    progress(f"{len(results):,} tests evaluated, {len(clusters):,} clusters explained")
    tables.append_rows(spark, [{**base, **r} for r in results], warehouse, schemas.load("drift_results"))
    tables.append_rows(spark, [{**base, **c} for c in clusters], warehouse, schemas.load("drift_clusters"))
    result.tests = sum(1 for r in results if r["method"] != "not_tested")
    result.drifted = sum(1 for r in results if r["drifted"])
    result.not_tested = sum(1 for r in results if r["feature"] == "*")
    for r in sorted((r for r in results if r["drifted"]), key=lambda r: r["q_value"])[:8]:
        result.headlines.append(
            f"{r['slice_type']} {r['slice']}: {r['feature']} drifted ({r['method']}, effect {r['effect_size']:.3f},"
            f" q {r['q_value']:.2g})"
        )
    result.seconds = time.monotonic() - t0
    for line in result.headlines:
        log(f"    {line}")
    log(f"  {result.summary()}  [{result.seconds:.1f}s]")
    return result


def _windows(spark: Any, warehouse: str, config: DriftConfig) -> tuple[Window, Window]:
    current = config.current
    if current is None:
        from pyspark.sql import functions as F

        storage = storage_for(warehouse)
        inv = tables.read(spark, storage, warehouse, schemas.load("invocations"))
        last = inv.agg(F.max("dt")).first()[0]
        if last is None:
            raise DriftError(f"no invocations under {warehouse}: run ingest first")
        until = complete_until(storage, warehouse)
        if until is not None:  # a day still being ingested is not compared with whole days
            last = min(last, (until - timedelta(days=1)).date().isoformat())
        current = Window.parse(last)
    reference = config.reference or Window(
        current.start - timedelta(days=config.reference_days), current.start
    )
    if reference.end > current.start:
        raise DriftError(f"reference window {reference} overlaps or follows current {current}")
    return current, reference


SCORED = (*[c for c in CONTINUOUS if c not in ("latency_ms", "cost_usd")], *FLAGS)
SliceKey = tuple[str, str]
EXAMPLE_TEXT_CHARS = 1000  # explanations show 240 characters and take their terms from these


def _sliced(
    spark: Any, warehouse: str, current: Window, config: DriftConfig, days: list[tuple[str]]
) -> tuple[Any, dict[SliceKey, tuple[int, int]]]:
    """The tagged rows (:func:`_tagged`) and their slice counts. When the count finds rows whose metrics
    name no model or template (application profiles, rows scored before template ids), those are filled
    in (:func:`_with_templates`, :func:`_with_models`) and counted again: clean data costs one pass."""
    met = _metrics(spark, warehouse, days)
    rows = _tagged(met, current, config.seed, label_unknown=False)
    counts = _slice_counts(rows, config.max_templates)
    unnamed = {slice_type for slice_type, name in counts if name is None}
    if unnamed:
        if "template" in unnamed:
            met = _with_templates(spark, warehouse, met, days)
        if "model" in unnamed:
            met = _with_models(spark, warehouse, met, days, load_profiles(config.profiles))
        rows = _tagged(met, current, config.seed)
        counts = _slice_counts(rows, config.max_templates)
    return rows, counts


def _metrics(spark: Any, warehouse: str, days: list[tuple[str]]) -> Any:
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


# Metrics a text model produces: two windows scored by different models are not compared on them.
TEXT_MODEL_METRICS = frozenset(
    {
        "prompt_sentiment_compound",
        "completion_sentiment_compound",
        "prompt_toxicity_score",
        "completion_toxicity_score",
        "completion_refusal_score",
        "prompt_toxicity_flag",
        "completion_toxicity_flag",
        "completion_refusal_flag",
    }
)


def text_model_mismatch(ref: Any, cur: Any) -> str | None:
    """Why the text metrics of two sample frames cannot be compared (None when they can): each window must
    be scored by one and the same text model."""
    models = [
        sorted({str(v) for v in frame["text_model"]}) if "text_model" in frame else [] for frame in (ref, cur)
    ]
    if models[0] == models[1] and len(models[0]) <= 1:
        return None
    return (
        f"scored by different text models (reference: {', '.join(models[0]) or 'none'}; current:"
        f" {', '.join(models[1]) or 'none'}): rescore both windows with one model to compare them"
    )


def _tagged(met: Any, current: Window, seed: int, label_unknown: bool = True) -> Any:
    """Metrics rows of both windows, one row per slice they belong to, with a sampling key.

    Everything comes from ``invocation_metrics`` (narrow rows that carry model, caller and template), so
    counting and sampling never read the texts. A model or template the row does not name is left null
    for :func:`_sliced` to see, or, once filled in as far as it can be, labelled "(unknown)". The sampling
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


def _with_templates(spark: Any, warehouse: str, met: Any, days: list[tuple[str]]) -> Any:
    """Metrics rows scored before ``template_id`` existed get it from their texts (one UDF pass over just
    those rows); rows that have it are left alone. Called only when the count found such rows."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    missing = met.filter(F.col("template_id").isNull())
    inv = tables.read(spark, storage_for(warehouse), warehouse, schemas.load("invocations"), days).select(
        "request_id",
        F.substring("system_text", 1, 2000).alias("system_text"),
        F.substring("prompt_text", 1, 2000).alias("prompt_text"),
    )
    template = F.udf(template_id, T.StringType())("system_text", "prompt_text")
    filled = (
        missing.drop("template_id")
        .join(inv, "request_id", "left")
        .withColumn("template_id", template)
        .select(*met.columns)
    )
    return met.filter(F.col("template_id").isNotNull()).unionByName(filled)


def _with_models(
    spark: Any, warehouse: str, met: Any, days: list[tuple[str]], profiles: dict[str, str]
) -> Any:
    """Rows whose logs name no base model (application inference profiles, provisioned and custom models)
    are sliced as pricing sees them: a mapped profile as the model it invokes, anything else by its model
    ARN, so that no model slice is a mix of unrelated endpoints called "(unknown)"."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    unnamed = F.col("base_model_id").isNull()
    endpoints = (
        tables.read(spark, storage_for(warehouse), warehouse, schemas.load("invocations"), days)
        .filter(unnamed)
        .select("request_id", "model_id")
    )
    names = [
        (m, profile_target(profiles, m) or m)
        for m in (r["model_id"] for r in endpoints.select("model_id").distinct().collect())
        if m
    ]
    schema = T.StructType([T.StructField("model_id", T.StringType()), T.StructField("name", T.StringType())])
    named = endpoints.join(F.broadcast(spark.createDataFrame(names, schema)), "model_id").select(
        "request_id", F.col("name").alias("base_model_id")
    )
    filled = met.filter(unnamed).drop("base_model_id").join(named, "request_id", "left").select(*met.columns)
    return met.filter(~unnamed).unionByName(filled)


def _slice_counts(rows: Any, max_templates: int) -> dict[SliceKey, tuple[int, int]]:
    """(reference, current) invocations per slice; template slices limited to the largest (an unnamed one is
    kept for :func:`_sliced` to see)."""
    counts: dict[SliceKey, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows.groupBy("slice_type", "slice", "window").count().collect():
        counts[(r["slice_type"], r["slice"])][0 if r["window"] == "reference" else 1] += int(r["count"])
    templates = sorted((k for k in counts if k[0] == "template" and k[1]), key=lambda k: -sum(counts[k]))
    for k in templates[max_templates:]:
        del counts[k]
    return {k: (v[0], v[1]) for k, v in counts.items()}


def _sampled(
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


def _collect_samples(
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


def _not_tested(key: SliceKey, counts: dict[SliceKey, tuple[int, int]], min_samples: int) -> dict[str, Any]:
    ref, cur = counts[key]
    return {
        "slice_type": key[0],
        "slice": key[1],
        "feature": "*",
        "method": "not_tested",
        "statistic": None,
        "p_value": None,
        "q_value": None,
        "effect_size": None,
        "drifted": None,
        "reference_n": ref,
        "current_n": cur,
        "reference_total": ref,
        "current_total": cur,
        "note": f"fewer than {min_samples} invocations in a window",
        "reference_value": None,
        "current_value": None,
        "bin_edges": None,
        "reference_hist": None,
        "current_hist": None,
    }


def _values(frame: Any, column: str) -> Any:
    """The finite values of a column (absent column: none)."""
    if column not in frame:
        return np.zeros(0)
    values = np.asarray(frame[column].astype("float64"), dtype=np.float64)
    return values[np.isfinite(values)]


def _embedded(frame: Any, role: str) -> tuple[Any, list[str]]:
    """(vectors, texts) of the rows kept for embeddings that have a vector for ``role``."""
    column = f"{role}_vector"
    if column not in frame or "embed" not in frame:
        return np.zeros((0, 0)), []
    keep = frame[frame["embed"].fillna(False).astype(bool) & frame[column].notna()]
    if keep.empty:
        return np.zeros((0, 0)), []
    texts = (
        keep[f"{role}_text"].fillna("").astype(str).tolist() if f"{role}_text" in keep else [""] * len(keep)
    )
    return np.vstack([np.asarray(v, dtype=np.float32) for v in keep[column]]), texts


def _evaluate_slice(
    key: SliceKey,
    ref: Any,
    cur: Any,
    vectors: dict[str, tuple[Any, Any]],
    totals: tuple[int, int],
    config: DriftConfig,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """The tests of one slice (p values only). ``ref`` and ``cur`` are the slice's sampled metric rows
    (pandas) in each window, ``vectors`` each role's embedding samples (reference, current)."""
    results: list[dict[str, Any]] = []

    def add(
        feature: str,
        res: stats.TestResult | None,
        n: tuple[int, int],
        values: tuple[Any, Any],
        note: str = "",
        hist: tuple[list[float], list[float], list[float]] | None = None,
    ) -> None:
        results.append(
            {
                "slice_type": key[0],
                "slice": key[1],
                "feature": feature,
                "method": res.method if res else "not_tested",
                "statistic": res.statistic if res else None,
                "p_value": res.p_value if res else None,
                "effect_size": res.effect_size if res else None,
                "reference_n": n[0],
                "current_n": n[1],
                "reference_total": totals[0],
                "current_total": totals[1],
                "note": note or None,
                "reference_value": values[0],
                "current_value": values[1],
                "bin_edges": hist[0] if hist else None,
                "reference_hist": hist[1] if hist else None,
                "current_hist": hist[2] if hist else None,
            }
        )

    least = config.min_samples // 2
    mismatch = text_model_mismatch(ref, cur)
    for role in EMBEDDINGS:
        xa, ya = vectors[role]
        feature = f"{role}_embedding"
        if min(len(xa), len(ya)) < least:
            add(feature, None, (len(xa), len(ya)), (None, None), "too few texts with an embedding")
            continue
        add(
            feature,
            stats.knn_permutation(xa, ya, config.permutations, rng, config.neighbours),
            (len(xa), len(ya)),
            (None, None),
        )
    for column in CONTINUOUS:
        x, y = _values(ref, column), _values(cur, column)
        if mismatch and column in TEXT_MODEL_METRICS:
            add(column, None, (len(x), len(y)), (None, None), mismatch)
            continue
        if min(len(x), len(y)) < least:
            add(column, None, (len(x), len(y)), (None, None), "too few values")
            continue
        means = (float(np.mean(x)), float(np.mean(y)))
        add(column, stats.ks_test(x, y), (len(x), len(y)), means, hist=stats.histograms(x, y))
    for column in FLAGS:
        x, y = _values(ref, column), _values(cur, column)
        if mismatch and column in TEXT_MODEL_METRICS:
            add(column, None, (len(x), len(y)), (None, None), mismatch)
            continue
        if min(len(x), len(y)) < least:
            add(column, None, (len(x), len(y)), (None, None), "too few values")
            continue
        hits = (int(np.sum(x > 0)), int(np.sum(y > 0)))
        res = stats.proportion_test(hits[0], len(x), hits[1], len(y))
        add(column, res, (len(x), len(y)), (hits[0] / len(x), hits[1] / len(y)))
    for feature, column in CATEGORICAL.items():
        if feature == "model_share" and key[0] in ("model", "template"):
            continue
        xs, ys = ([str(v) for v in frame[column]] if column in frame else [] for frame in (ref, cur))
        if min(len(xs), len(ys)) < least:
            add(feature, None, (len(xs), len(ys)), (None, None), "too few values")
            continue
        add(feature, stats.categorical_test(xs, ys), (len(xs), len(ys)), (None, None))
    return results


Task = tuple[SliceKey, Any, Any, dict[str, tuple[Any, Any]], tuple[int, int], DriftConfig]


def _task(key: SliceKey, ref: Any, cur: Any, totals: tuple[int, int], config: DriftConfig) -> Task:
    """What a worker needs for one slice: the metric columns, and each role's vectors as two float32
    matrices (cheap to send to another process, unlike a column of arrays)."""
    vectors = {role: (_embedded(ref, role)[0], _embedded(cur, role)[0]) for role in EMBEDDINGS}
    heavy = [f"{role}_{part}" for role in EMBEDDINGS for part in ("vector", "text")]
    light = [frame.drop(columns=[c for c in heavy if c in frame]) for frame in (ref, cur)]
    return key, light[0], light[1], vectors, totals, config


def _slice_task(task: Task) -> list[dict[str, Any]]:
    """One slice's tests, with a generator seeded by the slice itself: its verdicts depend neither on the
    worker that ran it nor on which other slices the run has."""
    key, ref, cur, vectors, totals, config = task
    stream = zlib.crc32("\x1f".join(key).encode("utf-8"))  # the slice's own: other slices do not shift it
    return _evaluate_slice(
        key, ref, cur, vectors, totals, config, np.random.default_rng([config.seed, stream])
    )


def _run_tasks(tasks: list[Task], workers: int) -> list[list[dict[str, Any]]]:
    """Slices are independent: on a multi-core driver they run in a pool of fresh processes (forkserver:
    no copy of the Spark driver's threads), each with one math thread."""
    if workers <= 1 or len(tasks) < 4:
        return [_slice_task(t) for t in tasks]
    if not _main_is_import_safe():
        print(
            'drift: the main script has no `if __name__ == "__main__":` guard, which worker processes need;'
            " testing the slices in this process (slower)"
        )
        return [_slice_task(t) for t in tasks]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["llmdrift.drift.job"])
    try:
        with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=context) as pool:
            return list(pool.map(_slice_task, tasks, chunksize=1))
    except BrokenProcessPool:  # a worker died (out of memory, killed): the same tests, in this process
        print("drift: a worker process failed; testing the slices in this process")
        return [_slice_task(t) for t in tasks]


def _main_is_import_safe() -> bool:
    """Every new process imports the caller's main module again (Python's multiprocessing contract).
    That is harmless for a module run by name (``python -m``, Glue), an interactive session, or a script
    whose work sits under the ``__main__`` guard (the ``llmdrift`` command, ``glue/llmdrift_job.py``).
    A script without the guard would run its work again in each worker, Spark session and writes included."""
    import re
    import sys

    main = sys.modules.get("__main__")
    if getattr(getattr(main, "__spec__", None), "name", None):
        return True
    path = getattr(main, "__file__", None)
    if path is None:
        return True
    try:
        source = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return re.search(r"""__name__\s*==\s*['"]__main__['"]""", source) is not None


def evaluate_slices(
    samples: dict[tuple[str, str, str], Any],
    counts: dict[SliceKey, tuple[int, int]],
    testable: set[SliceKey],
    config: DriftConfig,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every test of the run (q values filled in) and the clusters of the explained embedding tests."""
    import pandas as pd  # type: ignore[import-untyped]

    empty = pd.DataFrame()

    def frames(key: SliceKey) -> tuple[Any, Any]:
        return samples.get((*key, "reference"), empty), samples.get((*key, "current"), empty)

    keys = sorted(counts)
    tasks = [_task(key, *frames(key), counts[key], config) for key in keys if key in testable]
    tested_slices = iter(_run_tasks(tasks, config.workers))
    results: list[dict[str, Any]] = []
    for key in keys:
        if key in testable:
            results.extend(next(tested_slices))
        else:
            results.append(_not_tested(key, counts, config.min_samples))
    tested = [r for r in results if r["method"] != "not_tested"]
    for r, q in zip(tested, stats.benjamini_hochberg([r["p_value"] for r in tested]), strict=True):
        r["q_value"] = q
        r["drifted"] = q < config.alpha
    for r in results:
        r.setdefault("q_value", None)
        r.setdefault("drifted", None)
        r["threshold"] = config.alpha
    clusters = []
    for r in tested:
        key = (r["slice_type"], r["slice"])
        explained = r["feature"].endswith("_embedding") and (r["drifted"] or key == ("all", "*"))
        if not explained:
            continue
        role = r["feature"].removesuffix("_embedding")
        ref, cur = frames(key)
        (xa, ref_texts), (ya, cur_texts) = _embedded(ref, role), _embedded(cur, role)
        for cl in explain.explain(xa, ya, ref_texts, cur_texts, seed=config.seed):
            clusters.append(
                {
                    "slice_type": key[0],
                    "slice": key[1],
                    "feature": r["feature"],
                    "cluster": cl.cluster,
                    "reference_share": cl.reference_share,
                    "current_share": cl.current_share,
                    "change": cl.change,
                    "examples": cl.examples,
                    "terms": cl.terms,
                }
            )
    return results, clusters
