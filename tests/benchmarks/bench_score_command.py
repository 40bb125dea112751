"""Scoring throughput as a user meets it: the whole ``llmdrift score`` command, Spark start included.

    python tests/benchmarks/bench_score_command.py --workdir bench-output [--records 100000] [--rounds 3]
        [--source DIR]   # score with another checkout's package (its jobs/ dir), e.g. to compare before/after

1. Generates ``--records`` invocations in one day and ingests them once (kept under the work directory).
2. Each round copies the ingested warehouse without scores and times ``llmdrift score`` on it in a fresh
   process (JVM and Python workers start, models load, both tables written): invocations / wall seconds.

Prints each round and the median; results go to ``<workdir>/score-command-bench.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_score import START, prepare


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("bench-output"))
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--source", type=Path, help="a checkout's jobs/ directory to score with")
    args = parser.parse_args(argv)
    args.workdir.mkdir(parents=True, exist_ok=True)
    warehouse, invocations = prepare(args.workdir, args.records)
    env = dict(os.environ)
    if args.source:
        env["PYTHONPATH"] = str(args.source.resolve())
    day, next_day = START.isoformat(), (START + timedelta(days=1)).isoformat()
    rates = []
    for round_ in range(1, args.rounds + 1):
        copy = args.workdir / "score-command-warehouse"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(
            warehouse, copy, ignore=shutil.ignore_patterns("invocation_metrics", "embeddings", "score.json")
        )
        command = [
            sys.executable,
            "-c",
            "import sys; from llmdrift.cli import main; sys.exit(main(sys.argv[1:]))",
        ]
        command += ["score", "--warehouse", str(copy), "--start", f"{day}T00", "--end", f"{next_day}T01"]
        t0 = time.monotonic()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        seconds = time.monotonic() - t0
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            return 1
        rates.append(invocations / seconds)
        print(
            f"round {round_}: {invocations:,} invocations in {seconds:.1f}s = {rates[-1]:,.0f}/s", flush=True
        )
    result = {
        "records": args.records,
        "invocations": invocations,
        "rounds": [round(r, 1) for r in rates],
        "median_per_second": round(statistics.median(rates), 1),
        "source": str(args.source) if args.source else "installed llmdrift",
    }
    out = args.workdir / "score-command-bench.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"median {result['median_per_second']:,.0f} invocations/s -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
