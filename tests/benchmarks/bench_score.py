"""Scoring throughput: the default metric set through the Spark job, next to the naive way, in one run.

    python tests/benchmarks/bench_score.py --workdir bench-output [--records 40000] [--naive 400]

1. Generates logs (kept under the work directory) and ingests them once (not measured).
2. **default**: ``llmdrift score`` on every invocation (Spark ``local[*]``, static embeddings, batched
   per partition, one model per Python worker), timed end to end including the table writes, cold (no
   stored vectors reused), ``--rounds`` times (the first includes Python-worker start-up), median reported;
   then the same again with stored vectors reused by text hash.
3. **naive**: the same metrics computed one invocation at a time on the driver, with MiniLM called per
   text through sentence-transformers (no batching, no dedupe), on a sample of ``--naive`` invocations
   (the full set would take hours); VADER and the toxicity/PII/refusal functions are the same.
4. The text model's figures on the regression set (tests/devset), for the record.

Results go to ``<workdir>/score-bench.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from llmdrift.core import schemas, tables
from llmdrift.core.runs import RunContext
from llmdrift.core.spark import get_spark
from llmdrift.core.storage import LocalStorage
from llmdrift.generate.traffic import Scenario
from llmdrift.generate.writer import write_logs
from llmdrift.ingest.job import IngestConfig
from llmdrift.ingest.job import run as ingest
from llmdrift.score import metrics, quality
from llmdrift.score.job import INPUT_COLUMNS, ScoreConfig
from llmdrift.score.job import run as score
from llmdrift.text.embedders import encoder

START = date(2026, 11, 2)
DEVSET = Path(__file__).resolve().parents[1] / "devset"


def prepare(work: Path, records: int) -> tuple[Path, int]:
    """Logs and an ingested warehouse for ``records`` invocations over one day (cached)."""
    logs, warehouse = work / f"score-logs-{records}", work / f"score-warehouse-{records}"
    marker = warehouse / ".ingested"
    if not marker.exists():
        shutil.rmtree(logs, ignore_errors=True)
        shutil.rmtree(warehouse, ignore_errors=True)
        scenario = Scenario(seed=4321, start=START, days=1, per_day=records)
        print(f"generating ~{records:,} invocations into {logs} ...", flush=True)
        write_logs(scenario, LocalStorage(), str(logs))
        spark = get_spark("local[*]")
        start = datetime(START.year, START.month, START.day, tzinfo=UTC)
        result = ingest(
            spark,
            IngestConfig(str(logs), str(warehouse), start, start + timedelta(days=1, hours=1)),
            RunContext.create(),
            log=lambda m: None,
        )
        marker.write_text(json.dumps({"invocations": result.rows_new}))
    return warehouse, int(json.loads(marker.read_text())["invocations"])


def run_default(spark: Any, warehouse: Path, reuse_days: int = 0) -> dict[str, Any]:
    """Every invocation scored again; ``reuse_days=0``: cold (no stored vector reused)."""
    start = datetime(START.year, START.month, START.day, tzinfo=UTC)
    end = start + timedelta(days=1, hours=1)
    config = ScoreConfig(str(warehouse), start, end, rescore=True, reuse_days=reuse_days)
    t0 = time.monotonic()
    result = score(spark, config, RunContext.create("bench"), log=lambda m: print(m, flush=True))
    seconds = time.monotonic() - t0
    return {
        "invocations": result.scored,
        "vectors_reused": result.vectors_reused,
        "seconds": round(seconds, 2),
        "per_s": round(result.scored / seconds),
    }


def run_naive(spark: Any, warehouse: Path, sample: int) -> dict[str, Any]:
    """One invocation at a time; MiniLM per text via sentence-transformers."""
    inv = tables.read(spark, LocalStorage(), str(warehouse), schemas.load("invocations"))
    rows = [r.asDict() for r in inv.select(*INPUT_COLUMNS).limit(sample).collect()]
    minilm = encoder("minilm")

    class PerText:
        model_id = minilm.model_id

        def encode(self, texts: list[str]) -> Any:
            import numpy as np

            return np.vstack([minilm.encode([t]) for t in texts]) if texts else minilm.encode([])

    per_text = PerText()
    original = metrics.encoder
    metrics.encoder = lambda name="static": per_text  # type: ignore[assignment]
    try:
        t0 = time.monotonic()
        for row in rows:
            metrics.score_rows({k: [v] for k, v in row.items()}, "minilm")
        seconds = time.monotonic() - t0
    finally:
        metrics.encoder = original
    return {"invocations": len(rows), "seconds": round(seconds, 2), "per_s": round(len(rows) / seconds, 1)}


def regression_quality() -> dict[str, Any]:
    """The text model on the regression set (the same whatever the embedder: the text heads read the static
    model's vectors, encoded apart when the scorer runs MiniLM). Per-source figures: ``llmdrift quality``."""
    figures = quality.devset_quality(DEVSET)
    return {
        "refusal_precision": figures["refusal"]["precision"],
        "refusal_recall": figures["refusal"]["recall"],
        "refusal_f1": figures["refusal"]["f1"],
        "toxicity_roc_auc": figures["toxicity"]["roc_auc"],
        "sentiment_polar_accuracy": figures["sentiment"]["polar_accuracy"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", default="bench-output", help="where logs and outputs go")
    parser.add_argument("--records", type=int, default=40_000, help="invocations to generate (about)")
    parser.add_argument("--naive", type=int, default=400, help="invocations scored the naive way")
    parser.add_argument("--rounds", type=int, default=3, help="default-scorer rounds; the median is reported")
    parser.add_argument("--master", default="local[*]")
    args = parser.parse_args(argv)

    work = Path(args.workdir).resolve()
    warehouse, invocations = prepare(work, args.records)
    spark = get_spark(args.master)
    cores = spark.sparkContext.defaultParallelism
    print(f"{invocations:,} invocations, Spark {spark.version} {args.master} ({cores} cores)", flush=True)

    rounds = [run_default(spark, warehouse) for _ in range(args.rounds)]
    for i, r in enumerate(rounds, 1):
        print(f"default, round {i}: {r}", flush=True)
    default = sorted(rounds, key=lambda r: r["seconds"])[len(rounds) // 2]  # the median round
    default["rounds_per_s"] = [r["per_s"] for r in rounds]
    warm = run_default(spark, warehouse, reuse_days=7)
    print(f"rescore reusing stored vectors: {warm}", flush=True)
    naive = run_naive(spark, warehouse, args.naive)
    print(f"naive:   {naive}", flush=True)
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu",
        "master": args.master,
        "default": {
            **default,
            "embedder": "static (model2vec from MiniLM, 256-d)",
            "regression_set": regression_quality(),
        },
        "naive": {
            **naive,
            "embedder": "MiniLM per text (sentence-transformers)",
        },
    }
    report["rescore_reusing_vectors"] = warm
    report["speedup"] = round(default["per_s"] / naive["per_s"], 1)
    (work / "score-bench.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    print(f"results: {work / 'score-bench.json'}")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
