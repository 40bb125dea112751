"""Drift at scale: a current window of 1,000,000 invocations against a reference of the same size.

    python tests/benchmarks/bench_drift_scale.py --workdir bench-output [--per-window 1000000] [--rounds 2]

1. A synthetic warehouse, built directly in Spark (generating and scoring two million log records would
   take hours and is not what is measured): the four tables drift reads (``invocations``,
   ``invocation_metrics``, ``invocation_costs``, ``embeddings``) with their real schemas and partitions.
   The reference is 7 days of ``per-window / 7`` invocations, the current window one day of
   ``per-window``. Slices as in production: 8 models, 40 callers of uneven size (a few too small to
   test), prompts from 30 templates with texts of about 1,300 characters (prompt) and 700 (completion)
   and 256-dimension vectors for both texts, as incompressible as real ones. It is built once and reused (``--rebuild`` forces it).
2. ``llmdrift.drift.job.run`` on it in local Spark, as ``llmdrift drift`` runs it, timed per round
   (``--rounds``, the first includes Spark's warm-up), with the job's own progress lines.

Results go to ``<workdir>/drift-scale.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from llmdrift.core import schemas, tables
from llmdrift.core.runs import RunContext
from llmdrift.core.spark import get_spark
from llmdrift.core.windows import Window
from llmdrift.drift.job import DriftConfig
from llmdrift.drift.job import run as run_drift
from llmdrift.text.embedders import embedder_id

CURRENT = date(2026, 11, 9)
REFERENCE_DAYS = 7
MODELS = 8
CALLERS = 40
TEMPLATES = 30
DIM = 256
# Texts are words drawn per row from a vocabulary (about as compressible as real prose), so the scans
# decode what real prompts would cost; vectors carry per-row noise that does not compress.
VOCABULARY = [
    "account",
    "answer",
    "billing",
    "check",
    "client",
    "code",
    "contract",
    "customer",
    "data",
    "deadline",
    "delivery",
    "draft",
    "email",
    "error",
    "explain",
    "feature",
    "file",
    "help",
    "invoice",
    "issue",
    "list",
    "meeting",
    "order",
    "plan",
    "please",
    "policy",
    "price",
    "project",
    "question",
    "refund",
    "report",
    "request",
    "review",
    "schedule",
    "service",
    "step",
    "summary",
    "support",
    "table",
    "team",
    "ticket",
    "update",
    "user",
]


def _words(count: int, salt: int) -> Any:
    from pyspark.sql import functions as F

    vocab = ", ".join(f"'{w}'" for w in VOCABULARY)
    return F.expr(
        f"concat_ws(' ', transform(sequence(1, {count}), i -> element_at(array({vocab}),"
        f" cast(pmod(xxhash64(id, i, {salt}), {len(VOCABULARY)}) + 1 as int))))"
    )


def _day(spark: Any, day: date, n: int, offset: int) -> Any:
    """One day's invocations with the columns drift and the slices need; the rest of the schema null."""
    from pyspark.sql import functions as F

    start = datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()
    h = F.abs(F.xxhash64("id"))
    template = h % TEMPLATES
    # uneven callers: caller c gets a share falling with c, so the last few are below the minimum sample
    caller = F.floor(F.pow(F.rand(11 + offset), 3) * CALLERS).cast("int")
    return spark.range(offset, offset + n).select(
        F.format_string("req-%012d", "id").alias("request_id"),
        F.lit(day.isoformat()).alias("dt"),
        F.timestamp_seconds(F.lit(start) + (F.col("id") - offset) * (86400.0 / n)).alias("event_ts"),
        F.format_string("anthropic.claude-model-%d", (h % MODELS).cast("int")).alias("base_model_id"),
        F.when(F.col("id") % 100_000 < 3, F.format_string("tiny-%d", F.col("id") % 100_000))
        .otherwise(F.format_string("service-%02d", caller))
        .alias("caller_name"),
        F.when(template < 10, F.format_string("You are assistant number %d. Be concise.", template)).alias(
            "system_text"
        ),
        F.concat(
            F.format_string("Template %d asks about order %d. ", template, F.col("id")),
            _words(200, 1),
        ).alias("prompt_text"),
        F.concat(F.format_string("Answer %d: ", F.col("id") % 977), _words(110, 2)).alias("completion_text"),
        F.when(h % 20 == 0, "max_tokens").otherwise("end_turn").alias("stop_reason"),
        (F.rand(1 + offset) * 3000 + 200).cast("long").alias("latency_ms"),
        template.alias("template"),
        F.col("id"),
        F.hour(F.timestamp_seconds(F.lit(start) + (F.col("id") - offset) * (86400.0 / n))).alias("hour"),
    )


def _vector(seed: int) -> Any:
    """A deterministic 256-d float vector per row: its template's direction plus per-row noise."""
    from pyspark.sql import functions as F

    return F.expr(
        f"transform(sequence(0, {DIM - 1}), i -> cast(sin(template * 13.7 + i * 0.37)"
        f" + 0.6 * (pmod(xxhash64(id, i, {seed}), 2000001) / 1000000.0 - 1) as float))"
    )


def build(spark: Any, warehouse: str, per_window: int) -> None:
    from pyspark.sql import functions as F

    days = [(CURRENT - timedelta(days=REFERENCE_DAYS - i), per_window // REFERENCE_DAYS) for i in range(7)]
    days.append((CURRENT, per_window))
    offset = 0
    for day, n in days:
        t0 = time.monotonic()
        rows = _day(spark, day, n, offset)
        offset += n
        _write_filled(rows, warehouse, schemas.load("invocations"))
        met = schemas.load("invocation_metrics")
        metrics = rows.select(
            "request_id",
            "event_ts",
            "base_model_id",
            "caller_name",
            F.format_string("%016x", F.xxhash64("template")).alias("template_id"),  # as the scorer writes
            "dt",
            "hour",
            F.lit(1200.0).alias("prompt_text_chars"),
            F.lit(700.0).alias("completion_text_chars"),
            (F.rand(2) * 400 + 100).alias("prompt_text_tokens"),
            (F.rand(3) * 300 + 50).alias("completion_text_tokens"),
            (F.rand(4) * 2 - 1).alias("prompt_sentiment_compound"),
            (F.rand(5) * 2 - 1).alias("completion_sentiment_compound"),
            (F.rand(6) * 0.2).alias("prompt_toxicity_score"),
            (F.rand(7) * 0.2).alias("completion_toxicity_score"),
            (F.rand(8) * 0.3).alias("completion_refusal_score"),
            (F.rand(9) * 0.5 + 0.4).alias("completion_similarity_prompt"),
            (F.rand(10) < 0.03).alias("completion_refusal_flag"),
            (F.rand(12) < 0.01).alias("prompt_toxicity_flag"),
            (F.rand(13) < 0.01).alias("completion_toxicity_flag"),
            F.when(F.rand(14) < 0.05, 1).otherwise(0).alias("prompt_pii_count"),
        )
        _write_filled(metrics, warehouse, met)
        costs = rows.select(
            "request_id",
            "event_ts",
            "base_model_id",
            "caller_name",
            "dt",
            "hour",
            (F.rand(15) * 0.02).alias("cost_usd"),
        )
        _write_filled(costs, warehouse, schemas.load("invocation_costs"))
        emb = rows.select(
            "request_id",
            "event_ts",
            "dt",
            "hour",
            "id",
            "template",
            F.explode(F.array(F.lit("prompt"), F.lit("completion"))).alias("text_role"),
        ).select(
            "*",
            F.sha1(F.concat_ws(":", "request_id", "text_role")).alias("text_hash"),
            F.lit(embedder_id("static")).alias("embedding_model"),
            F.when(F.col("text_role") == "prompt", _vector(0)).otherwise(_vector(1)).alias("vector"),
        )
        _write_filled(emb, warehouse, schemas.load("embeddings"))
        print(f"  built {day}: {n:,} invocations  [{time.monotonic() - t0:.0f}s]", flush=True)


def _write_filled(df: Any, warehouse: str, schema: schemas.TableSchema) -> None:
    from pyspark.sql import functions as F

    present = set(df.columns)
    cols = [
        F.col(f.name).cast(f.dataType) if f.name in present else F.lit(None).cast(f.dataType).alias(f.name)
        for f in schema.spark_schema().fields
    ]
    tables.overwrite_partitions(df.select(*cols), warehouse, schema)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", default="bench-output")
    parser.add_argument("--per-window", type=int, default=1_000_000, help="invocations in each window")
    parser.add_argument("--rounds", type=int, default=2, help="timed drift runs (the first warms Spark up)")
    parser.add_argument("--rebuild", action="store_true", help="build the synthetic warehouse again")
    parser.add_argument("--master", default="local[*]")
    args = parser.parse_args(argv)
    work = Path(args.workdir).resolve()
    warehouse = str(work / f"drift-scale-{args.per_window}")
    marker = Path(warehouse) / "_built"
    spark = get_spark(args.master, {"spark.driver.memory": "8g"})
    t0 = time.monotonic()
    if args.rebuild or not marker.exists():
        print(
            f"building a synthetic warehouse of 2 x {args.per_window:,} invocations at {warehouse}",
            flush=True,
        )
        build(spark, warehouse, args.per_window)
        marker.write_text(datetime.now(UTC).isoformat())
        print(f"built in {time.monotonic() - t0:.0f}s", flush=True)
    config = DriftConfig(
        warehouse,
        current=Window(CURRENT, CURRENT + timedelta(days=1)),
        reference=Window(CURRENT - timedelta(days=REFERENCE_DAYS), CURRENT),
    )
    rounds = []
    for i in range(args.rounds):
        result = run_drift(spark, config, RunContext.create("drift"))
        rounds.append(result.seconds)
        print(f"round {i + 1}: {result.seconds:.1f}s, {result.tests:,} tests", flush=True)
    out = work / "drift-scale.json"
    out.write_text(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "per_window": args.per_window,
                "master": args.master,
                "seconds": rounds,
            },
            indent=2,
        )
    )
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
