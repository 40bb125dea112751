"""Ingest throughput next to its floor: a plain Spark JSON read + Parquet write of the same files.

    python tests/benchmarks/bench_ingest.py --workdir bench-output [--records 300000] [--rounds 2]

Generates the logs once (kept under the work directory for later runs), then, in one Spark session,
alternates the floor and the full ingest for a few rounds and reports records/s for each and their ratio.
The floor reads the envelope with an explicit schema (bodies kept as raw JSON strings) and writes Parquet
partitioned by date: what any ingestion must at least do. Results go to ``<workdir>/ingest-bench.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from llmdrift.bedrock.layout import list_window
from llmdrift.core.runs import RunContext
from llmdrift.core.spark import get_spark
from llmdrift.core.storage import LocalStorage, spark_path
from llmdrift.generate.traffic import Scenario
from llmdrift.generate.writer import write_logs
from llmdrift.ingest.job import IngestConfig, run

START = date(2026, 11, 2)


def floor_schema() -> Any:
    from pyspark.sql import types as T

    s = T.StringType()
    return T.StructType(
        [
            T.StructField("timestamp", s),
            T.StructField("accountId", s),
            T.StructField("region", s),
            T.StructField("requestId", s),
            T.StructField("operation", s),
            T.StructField("modelId", s),
            T.StructField("identity", T.StructType([T.StructField("arn", s)])),
            T.StructField(
                "input",
                T.StructType(
                    [T.StructField("inputBodyJson", s), T.StructField("inputTokenCount", T.LongType())]
                ),
            ),
            T.StructField(
                "output",
                T.StructType(
                    [T.StructField("outputBodyJson", s), T.StructField("outputTokenCount", T.LongType())]
                ),
            ),
        ]
    )


def run_floor(spark: Any, files: list[str], out: Path) -> int:
    from pyspark.sql import functions as F

    df = spark.read.schema(floor_schema()).json([spark_path(f) for f in files])
    df = df.withColumn("dt", F.substring("timestamp", 1, 10))
    df.write.mode("overwrite").partitionBy("dt").parquet(spark_path(str(out)))
    return int(spark.read.parquet(spark_path(str(out))).count())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", default="bench-output", help="where logs and outputs go")
    parser.add_argument("--records", type=int, default=300_000, help="invocations to generate (about)")
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="floor/ingest rounds; the median is reported")
    parser.add_argument("--master", default="local[*]")
    args = parser.parse_args(argv)

    work = Path(args.workdir).resolve()
    logs = work / f"logs-{args.records}-{args.days}d"
    marker = logs / ".complete"
    scenario = Scenario(seed=1234, start=START, days=args.days, per_day=max(1, args.records // args.days))
    if not marker.exists():
        shutil.rmtree(logs, ignore_errors=True)
        print(f"generating ~{args.records:,} invocations into {logs} ...", flush=True)
        t0 = time.monotonic()
        stats = write_logs(scenario, LocalStorage(), str(logs), progress=lambda m: print(m, flush=True))
        gen_s = time.monotonic() - t0
        marker.write_text(
            json.dumps(
                {
                    "records": stats.records,
                    "duplicates": stats.duplicates,
                    "files": stats.files,
                    "bytes": stats.bytes,
                    "seconds": gen_s,
                }
            )
        )
        print(
            f"generated {stats.records:,} records ({stats.bytes / 1e6:,.0f} MB gzipped) in {gen_s:.0f}s"
            f" = {stats.records / gen_s:,.0f} records/s",
            flush=True,
        )
    generated = json.loads(marker.read_text())

    start = datetime(START.year, START.month, START.day, tzinfo=UTC)
    end = start + timedelta(days=args.days, hours=1)
    objects, _ = list_window(LocalStorage(), str(logs), start, end)
    files = [o.uri for o in objects]
    lines = generated["records"] + generated["duplicates"]
    spark = get_spark(args.master)
    cores = spark.sparkContext.defaultParallelism
    print(
        f"{len(files):,} files, {lines:,} lines, Spark {spark.version} {args.master} ({cores} cores)",
        flush=True,
    )
    run_floor(spark, files[:20], work / "warmup")  # JIT and Python-worker warm-up, not measured

    floor_s, ingest_s = [], []
    for i in range(args.rounds):
        shutil.rmtree(work / "floor", ignore_errors=True)
        t0 = time.monotonic()
        n = run_floor(spark, files, work / "floor")
        floor_s.append(time.monotonic() - t0)
        shutil.rmtree(work / "warehouse", ignore_errors=True)
        t0 = time.monotonic()
        result = run(
            spark,
            IngestConfig(str(logs), str(work / "warehouse"), start=start, end=end, lookback_hours=0),
            RunContext.create("bench"),
            log=lambda m: None,
        )
        ingest_s.append(time.monotonic() - t0)
        if n != lines or not result.reconciles() or result.rows_new != generated["records"]:
            print(f"count mismatch: floor {n}, ingest {result.summary()}", file=sys.stderr)
            return 1
        print(
            f"round {i + 1}: floor {floor_s[-1]:.1f}s ({lines / floor_s[-1]:,.0f} rec/s), ingest {ingest_s[-1]:.1f}s"
            f" ({lines / ingest_s[-1]:,.0f} rec/s)",
            flush=True,
        )

    floor, ingest = statistics.median(floor_s), statistics.median(ingest_s)
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu",
        "master": args.master,
        "files": len(files),
        "lines": lines,
        "records": generated["records"],
        "gzipped_mb": round(generated["bytes"] / 1e6, 1),
        "rounds": args.rounds,
        "floor_seconds": round(floor, 2),
        "ingest_seconds": round(ingest, 2),
        "floor_records_per_s": round(lines / floor),
        "ingest_records_per_s": round(lines / ingest),
        "ingest_over_floor": round(ingest / floor, 2),
    }
    (work / "ingest-bench.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    print(f"results: {work / 'ingest-bench.json'}")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
