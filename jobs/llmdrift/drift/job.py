"""Drift between a reference and a current window, per slice and feature, with FDR-controlled verdicts.

1. Spark joins invocations, their metrics and costs for both windows, tags each with its slices (all traffic,
   its base model, its caller, its prompt template) and counts every slice in each window.
2. Slices with at least ``min_samples`` invocations in both windows are tested; smaller ones are written as
   ``not_tested`` (never as "no drift"). Template slices are the ``max_templates`` largest.
3. Bounded samples are drawn in Spark (a per-slice keep-fraction from the counts: no sort, one pass) and
   collected: up to ``embedding_sample`` vectors and ``scalar_sample`` metric rows per slice and window.
   The cost of the tests therefore does not grow with the windows; the Spark passes do, linearly.
4. Tests (``drift.stats``): MMD with a permutation null for prompt and completion embeddings; KS for
   continuous metrics; two-proportion tests for flags; chi-square for model and stop-reason shares.
   Benjamini-Hochberg over every test of the run; a test drifts when q < ``alpha``.
5. For each drifted embedding test (and always for all traffic), the pooled sample is clustered and the
   clusters whose share moved most are written with examples and terms (``drift.explain``).
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import numpy as np

from llmdrift import schemas, tables
from llmdrift.aggregate.stats import template_id
from llmdrift.drift import explain, stats
from llmdrift.ingest.job import RunContext, complete_until
from llmdrift.score.models import embedder_id
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
    alpha: float = 0.05
    seed: int = 0
    embedder: str = "static"  # whose vectors are compared (the scorer's --embedder)

    def __post_init__(self) -> None:
        if self.reference_days < 1:
            raise ValueError("reference_days must be at least 1")
        if self.min_samples < 10:
            raise ValueError("min_samples must be at least 10")
        if not 0 < self.alpha < 1:
            raise ValueError("alpha must be within (0, 1)")
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
    rows = _tagged(spark, warehouse, reference, current, config.seed).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        counts = _slice_counts(rows, config.max_templates)
        log(f"  {len(counts):,} slices counted  [{time.monotonic() - t0:.1f}s]")
        testable = {k for k, (r, c) in counts.items() if r >= config.min_samples and c >= config.min_samples}
        days = [(d,) for d in reference.days + current.days]
        samples = _samples(spark, warehouse, rows, counts, testable, config, days)
        log(f"  samples collected for {len(testable):,} slices  [{time.monotonic() - t0:.1f}s]")
    finally:
        rows.unpersist()
    results, clusters = evaluate_slices(samples, counts, testable, config)
    base = {
        "run_id": context.run_id,
        "reference_start": reference.start.isoformat(),
        "reference_end": reference.end.isoformat(),
        "current_start": current.start.isoformat(),
        "current_end": current.end.isoformat(),
        "dt": (current.end - timedelta(days=1)).isoformat(),
    }
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


def _tagged(spark: Any, warehouse: str, reference: Window, current: Window, seed: int) -> Any:
    """Invocations of both windows with their metrics, cost, window label, slices and a sampling key."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    storage = storage_for(warehouse)
    days = [(d,) for d in reference.days + current.days]
    inv = tables.read(spark, storage, warehouse, schemas.load("invocations"), days).select(
        "request_id",
        "dt",
        "base_model_id",
        "caller_name",
        # templates read the first 2,000 characters, explanations show 240: the rest is never carried
        F.substring("system_text", 1, 2000).alias("system_text"),
        F.substring("prompt_text", 1, 2000).alias("prompt_text"),
        F.substring("completion_text", 1, 600).alias("completion_text"),
        "stop_reason",
        "latency_ms",
    )
    met = tables.read(spark, storage, warehouse, schemas.load("invocation_metrics"), days).select(
        "request_id",
        *[c for c in CONTINUOUS if c not in ("latency_ms", "cost_usd")],
        "completion_refusal_flag",
        "prompt_toxicity_flag",
        "completion_toxicity_flag",
        (F.col("prompt_pii_count") > 0).alias("prompt_has_pii"),
    )
    cost = tables.read(spark, storage, warehouse, schemas.load("invocation_costs"), days).select(
        "request_id", "cost_usd"
    )
    template = F.udf(template_id, T.StringType())("system_text", "prompt_text")
    window = F.when(F.col("dt").isin(*current.days), F.lit("current")).otherwise(F.lit("reference"))
    slices = F.array(
        F.struct(F.lit("all").alias("t"), F.lit("*").alias("v")),
        F.struct(F.lit("model").alias("t"), F.coalesce("base_model_id", F.lit("(unknown)")).alias("v")),
        F.struct(F.lit("caller").alias("t"), F.coalesce("caller_name", F.lit("(unknown)")).alias("v")),
        F.struct(F.lit("template").alias("t"), template.alias("v")),
    )
    return (
        inv.join(met, "request_id", "left")
        .join(cost, "request_id", "left")
        .select("*", window.alias("window"), F.explode(slices).alias("s"), F.rand(seed).alias("u"))
        .select("*", F.col("s.t").alias("slice_type"), F.col("s.v").alias("slice"))
        .drop("s", "system_text")
    )


SliceKey = tuple[str, str]


def _slice_counts(rows: Any, max_templates: int) -> dict[SliceKey, tuple[int, int]]:
    """(reference, current) invocations per slice; template slices limited to the largest."""
    counts: dict[SliceKey, list[int]] = defaultdict(lambda: [0, 0])
    for r in rows.groupBy("slice_type", "slice", "window").count().collect():
        counts[(r["slice_type"], r["slice"])][0 if r["window"] == "reference" else 1] += int(r["count"])
    templates = sorted((k for k in counts if k[0] == "template"), key=lambda k: -sum(counts[k]))
    for k in templates[max_templates:]:
        del counts[k]
    return {k: (v[0], v[1]) for k, v in counts.items()}


def _samples(
    spark: Any,
    warehouse: str,
    rows: Any,
    counts: dict[SliceKey, tuple[int, int]],
    testable: set[SliceKey],
    config: DriftConfig,
    days: list[tuple[str]],
) -> dict[tuple[str, str, str], list[dict[str, Any]]]:
    """Bounded random samples per (slice_type, slice, window), embeddings attached to the first rows."""
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    if not testable:
        return {}
    keep = []
    for (slice_type, name), (ref_n, cur_n) in counts.items():
        if (slice_type, name) in testable:
            for window, n in (("reference", ref_n), ("current", cur_n)):
                keep.append(
                    (
                        slice_type,
                        name,
                        window,
                        min(1.0, config.scalar_sample / max(n, 1)),
                        min(1.0, config.embedding_sample / max(n, 1)),
                    )
                )
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
    sampled = rows.join(F.broadcast(fractions), ["slice_type", "slice", "window"]).filter(
        F.col("u") < F.col("scalar_fraction")
    )
    sampled = sampled.withColumn("embed", F.col("u") < F.col("embedding_fraction"))
    emb = tables.read(spark, storage_for(warehouse), warehouse, schemas.load("embeddings"), list(days))
    emb = emb.filter(F.col("embedding_model") == embedder_id(config.embedder))  # one vector space only
    wanted = sampled.filter("embed").select("request_id").distinct()
    vectors = (
        emb.join(F.broadcast(wanted), "request_id", "left_semi")
        .groupBy("request_id")
        .agg(F.map_from_entries(F.collect_list(F.struct("text_role", "vector"))).alias("vectors"))
    )
    joined = sampled.join(vectors, "request_id", "left")
    out: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in joined.drop("u", "scalar_fraction", "embedding_fraction").collect():
        out[(r["slice_type"], r["slice"], r["window"])].append(r.asDict())
    return out


def _finite(value: Any) -> bool:
    return value is not None and math.isfinite(value)


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


def _evaluate_slice(
    key: SliceKey,
    ref_rows: list[dict[str, Any]],
    cur_rows: list[dict[str, Any]],
    totals: tuple[int, int],
    config: DriftConfig,
    rng: np.random.Generator,
) -> tuple[list[dict[str, Any]], dict[str, tuple[Any, Any, list[str], list[str]]]]:
    """The tests of one slice (p values only), and its embedding samples for explanation."""
    results: list[dict[str, Any]] = []
    explainable: dict[str, tuple[Any, Any, list[str], list[str]]] = {}

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

    for role in EMBEDDINGS:
        x = [
            r["vectors"][role]
            for r in ref_rows
            if r["embed"] and r["vectors"] and r["vectors"].get(role) is not None
        ]
        y = [
            r["vectors"][role]
            for r in cur_rows
            if r["embed"] and r["vectors"] and r["vectors"].get(role) is not None
        ]
        feature = f"{role}_embedding"
        if min(len(x), len(y)) < config.min_samples // 2:
            add(feature, None, (len(x), len(y)), (None, None), "too few texts with an embedding")
            continue
        xa, ya = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        add(
            feature,
            stats.mmd_permutation(xa, ya, config.permutations, rng),
            (len(x), len(y)),
            (None, None),
        )
        texts = f"{role}_text"
        ref_texts = [
            r[texts] or ""
            for r in ref_rows
            if r["embed"] and r["vectors"] and r["vectors"].get(role) is not None
        ]
        cur_texts = [
            r[texts] or ""
            for r in cur_rows
            if r["embed"] and r["vectors"] and r["vectors"].get(role) is not None
        ]
        explainable[feature] = (xa, ya, ref_texts, cur_texts)
    for column in CONTINUOUS:
        x = [r[column] for r in ref_rows if _finite(r.get(column))]
        y = [r[column] for r in cur_rows if _finite(r.get(column))]
        if min(len(x), len(y)) < config.min_samples // 2:
            add(column, None, (len(x), len(y)), (None, None), "too few values")
            continue
        means = (float(np.mean(x)), float(np.mean(y)))
        add(column, stats.ks_test(x, y), (len(x), len(y)), means, hist=stats.histograms(x, y))
    for column in FLAGS:
        x = [bool(r[column]) for r in ref_rows if r.get(column) is not None]
        y = [bool(r[column]) for r in cur_rows if r.get(column) is not None]
        if min(len(x), len(y)) < config.min_samples // 2:
            add(column, None, (len(x), len(y)), (None, None), "too few values")
            continue
        res = stats.proportion_test(sum(x), len(x), sum(y), len(y))
        add(column, res, (len(x), len(y)), (sum(x) / len(x), sum(y) / len(y)))
    for feature, column in CATEGORICAL.items():
        if feature == "model_share" and key[0] in ("model", "template"):
            continue
        xs = [str(r[column]) for r in ref_rows]
        ys = [str(r[column]) for r in cur_rows]
        add(feature, stats.categorical_test(xs, ys), (len(xs), len(ys)), (None, None))
    return results, explainable


def evaluate_slices(
    samples: dict[tuple[str, str, str], list[dict[str, Any]]],
    counts: dict[SliceKey, tuple[int, int]],
    testable: set[SliceKey],
    config: DriftConfig,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every test of the run (q values filled in) and the clusters of the explained embedding tests."""
    rng = np.random.default_rng(config.seed)
    results: list[dict[str, Any]] = []
    pooled: dict[tuple[SliceKey, str], tuple[Any, Any, list[str], list[str]]] = {}
    for key in sorted(counts):
        if key not in testable:
            results.append(_not_tested(key, counts, config.min_samples))
            continue
        rows, explainable = _evaluate_slice(
            key,
            samples.get((*key, "reference"), []),
            samples.get((*key, "current"), []),
            counts[key],
            config,
            rng,
        )
        results.extend(rows)
        pooled.update({(key, feature): data for feature, data in explainable.items()})
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
        if explained and (key, r["feature"]) in pooled:
            xa, ya, ref_texts, cur_texts = pooled[(key, r["feature"])]
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
