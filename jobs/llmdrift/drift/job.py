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

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from llmdrift.core import schemas, tables
from llmdrift.core.runs import RunContext, complete_until
from llmdrift.core.storage import normalize, storage_for
from llmdrift.core.windows import Window
from llmdrift.drift import pool, sample
from llmdrift.drift.config import DriftConfig, DriftError

__all__ = ["DriftConfig", "DriftError", "DriftResult", "choose_windows", "run"]

Log = Callable[[str], None]


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
    current, reference = choose_windows(spark, warehouse, config)
    result.current, result.reference = current, reference
    log(f"[drift {context.run_id}] current {current}, reference {reference}")
    days = [(d,) for d in reference.days + current.days]

    def progress(what: str) -> None:
        log(f"  {what}  [{time.monotonic() - t0:.1f}s]")

    rows, counts = sample.sliced(spark, warehouse, current, config, days)
    progress(f"{len(counts):,} slices counted")
    testable = {k for k, (r, c) in counts.items() if r >= config.min_samples and c >= config.min_samples}
    sampled = sample.sampled(spark, rows, counts, testable, config).persist(StorageLevel.MEMORY_AND_DISK)
    try:
        samples = sample.collect_samples(spark, warehouse, sampled, config, days, progress)
    finally:
        sampled.unpersist()
    progress(f"samples of {len(testable):,} slices ready: {sum(len(v) for v in samples.values()):,} rows")
    results, clusters = pool.evaluate_slices(samples, counts, testable, config)
    base = {
        "run_id": context.run_id,
        "reference_start": reference.start.isoformat(),
        "reference_end": reference.end.isoformat(),
        "current_start": current.start.isoformat(),
        "current_end": current.end.isoformat(),
        "dt": (current.end - timedelta(days=1)).isoformat(),
    }
    progress(f"{len(results):,} tests evaluated, {len(clusters):,} clusters explained")
    storage = storage_for(warehouse)
    tables.append_compact(
        spark, [{**base, **r} for r in results], storage, warehouse, schemas.load("drift_results")
    )
    tables.append_compact(
        spark, [{**base, **c} for c in clusters], storage, warehouse, schemas.load("drift_clusters")
    )
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


def choose_windows(spark: Any, warehouse: str, config: DriftConfig) -> tuple[Window, Window]:
    current = config.current
    if current is None:
        storage = storage_for(warehouse)
        # The last day with invocations, from the partition folders (no scan of the table).
        days = tables.partition_days(storage, warehouse, "invocations")
        if not days:
            raise DriftError(f"no invocations under {warehouse}: run ingest first")
        last = days[-1]
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
