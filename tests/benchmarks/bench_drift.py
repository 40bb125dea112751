"""Calibration and power of embedding drift, ours next to Evidently's four methods, on generated prompts.

    python tests/benchmarks/bench_drift.py --workdir bench-output [--null-pairs 200] [--power-pairs 100]

1. Pools of prompt texts from the generator: ordinary traffic, and traffic from a topic never seen before
   (the generator's ``topic_shift`` at full strength), parsed from the log records exactly as ingest
   does and embedded with the default static model.
2. For current windows of 200 and 2,000 invocations, two designs:
   - ``equal``: a reference window of the same size;
   - ``job``: the job's default, a reference of the 7 days before a one-day current window, so 7 times
     the current window's size.
   Pairs drawn from the ordinary pool (no drift) give the false-alarm rate at alpha 0.05 with its Wilson 95%
   interval; pairs whose current window has a share p of new-topic prompts give the power at each p. Our
   tests see what the job sees: at most ``--sample`` (1,000) vectors per window, a permutation null
   (``--permutations``, 300). ``llmdrift_knn`` is the job's test; ``llmdrift_mmd`` is the kernel test it
   replaced, on the same pairs.
3. The same pairs (``equal`` design) through Evidently 0.7's embedding-drift methods (``model``,
   ``ratio``, ``distance``, ``mmd``) with their defaults.

Results go to ``<workdir>/drift-calibration.json`` and a table is printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np

from llmdrift.bedrock.records import parse_line
from llmdrift.core.intervals import wilson
from llmdrift.drift.stats import knn_permutation, mmd_permutation
from llmdrift.generate.traffic import Change, Scenario, records_for_hour
from llmdrift.text.embedders import encoder

WINDOWS = (200, 2000)
DESIGNS = {"equal": 1, "job": 7}  # reference size as a multiple of the current window's
SHARES = (0.05, 0.1, 0.2, 0.3)


def prompt_pool(seed: int, days: int, per_day: int, changes: tuple[Change, ...] = ()) -> list[str]:
    start = date(2026, 11, 2)
    scenario = Scenario(
        seed=seed,
        start=start,
        days=days,
        per_day=per_day,
        changes=changes,
        change_from=start if changes else None,
    )
    texts = []
    for hour in scenario.hours():
        for g in records_for_hour(scenario, hour):
            row = parse_line(json.dumps(g.record).encode(), hour, None, 64 << 20).row
            if row and row.get("prompt_text") and row["prompt_text"].strip():
                texts.append(row["prompt_text"])
    return texts


def evidently_methods() -> dict[str, Any]:
    os.environ.setdefault("EVIDENTLY_DISABLE_TELEMETRY", "1")
    from evidently.legacy.metrics.data_drift import embedding_drift_methods as m

    return {
        "evidently_model": m.model(),
        "evidently_ratio": m.ratio(),
        "evidently_distance": m.distance(),
        "evidently_mmd": m.mmd(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", default="bench-output")
    parser.add_argument("--null-pairs", type=int, default=200)
    parser.add_argument("--power-pairs", type=int, default=100)
    parser.add_argument(
        "--sample", type=int, default=1000, help="vectors per window our tests use (as the job)"
    )
    parser.add_argument("--permutations", type=int, default=300)
    parser.add_argument(
        "--evidently-pairs", type=int, default=40, help="pairs per cell for Evidently (slower); 0 skips it"
    )
    args = parser.parse_args(argv)
    work = Path(args.workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    import pandas as pd

    t0 = time.monotonic()
    ordinary = prompt_pool(101, 14, 1500)
    novel = prompt_pool(202, 3, 1500, (Change("topic_shift", 1.0),))
    enc = encoder("static")
    base = enc.encode([t[:1200] for t in ordinary]).astype(np.float64)
    new = enc.encode([t[:1200] for t in novel]).astype(np.float64)
    print(
        f"pools: {len(base):,} ordinary and {len(new):,} new-topic prompts embedded [{time.monotonic() - t0:.0f}s]",
        flush=True,
    )
    rng = np.random.default_rng(0)
    methods = evidently_methods() if args.evidently_pairs else {}

    def pair(n_ref: int, n: int, share: float) -> tuple[np.ndarray, np.ndarray]:
        idx = rng.choice(len(base), size=n_ref + n, replace=False)
        ref = base[idx[:n_ref]]
        k = round(share * n)
        cur = base[idx[n_ref : n_ref + n - k]]
        if k:
            cur = np.vstack([cur, new[rng.choice(len(new), size=k, replace=False)]])
        return ref, cur

    def capped(v: np.ndarray) -> np.ndarray:
        return v[rng.choice(len(v), size=min(args.sample, len(v)), replace=False)]

    ours = {
        "llmdrift_knn": lambda r, c: knn_permutation(capped(r), capped(c), args.permutations, rng),
        "llmdrift_mmd": lambda r, c: mmd_permutation(capped(r), capped(c), args.permutations, rng),
    }

    def theirs(name: str, ref: np.ndarray, cur: np.ndarray) -> bool:
        cols = [f"e{i}" for i in range(ref.shape[1])]
        _, drifted, _ = methods[name](pd.DataFrame(cur, columns=cols), pd.DataFrame(ref, columns=cols))
        return bool(drifted)

    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "sample": args.sample,
        "pools": {"ordinary": len(base), "new_topic": len(new)},
        "cells": [],
    }
    for design, ratio in DESIGNS.items():
        for n in WINDOWS:
            for share in (0.0, *SHARES):
                pairs = args.null_pairs if share == 0.0 else args.power_pairs
                ev_pairs = min(pairs, args.evidently_pairs) if design == "equal" else 0
                hits = dict.fromkeys([*ours, *methods], 0)
                cell_t = time.monotonic()
                for i in range(pairs):
                    ref, cur = pair(n * ratio, n, share)
                    for name, test in ours.items():
                        hits[name] += test(ref, cur).p_value < 0.05
                    if i < ev_pairs:
                        for name in methods:
                            hits[name] += theirs(name, ref, cur)
                counts = {name: (hits[name], pairs if name in ours else ev_pairs) for name in hits}
                counts = {name: km for name, km in counts.items() if km[1]}
                for name, (k, m) in counts.items():
                    low, high = wilson(k, m)
                    report["cells"].append(
                        {
                            "design": design,
                            "window": n,
                            "reference": n * ratio,
                            "new_topic_share": share,
                            "method": name,
                            "drift_rate": k / m,
                            "ci_low": low,
                            "ci_high": high,
                            "pairs": m,
                        }
                    )
                print(
                    f"{design:>5} n={n:>5} ref={n * ratio:>6} p={share:.2f}: "
                    + "  ".join(
                        f"{name.replace('evidently_', 'ev_')} {k / m:.2f}" for name, (k, m) in counts.items()
                    )
                    + f"  [{time.monotonic() - cell_t:.0f}s]",
                    flush=True,
                )
    (work / "drift-calibration.json").write_text(json.dumps(report, indent=2))
    print(f"results: {work / 'drift-calibration.json'}  [{time.monotonic() - t0:.0f}s]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
