"""Calibration and power of embedding drift, ours next to Evidently's four methods, on generated prompts.

    python tests/benchmarks/bench_drift.py --workdir bench-output [--null-pairs 200] [--power-pairs 100]

1. Pools of prompt texts from the generator: ordinary traffic, and traffic from topics never seen before
   (the generator's ``topic_shift`` at full strength), parsed from the log records exactly as ingest
   does and embedded with the default static model.
2. For windows of 200 and 2,000 invocations: pairs drawn from the ordinary pool (no drift) give the
   false-alarm rate at alpha 0.05 with its Wilson 95% interval; pairs whose current window has a share p of
   new-topic prompts give the power at each p. Our test sees what the job sees: at most ``--sample``
   (1,000) vectors per window, MMD with a permutation null (``--permutations``, 300).
3. The same pairs through Evidently 0.7's embedding-drift methods (``model``, ``ratio``, ``distance``,
   ``mmd``) with their defaults.

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

from llmdrift.aggregate.stats import wilson
from llmdrift.bedrock.records import parse_line
from llmdrift.drift.stats import mmd_permutation
from llmdrift.generate.traffic import Change, Scenario, records_for_hour
from llmdrift.score.models import encoder

WINDOWS = (200, 2000)
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
        "--sample", type=int, default=1000, help="vectors per window our test uses (as the job)"
    )
    parser.add_argument("--permutations", type=int, default=300)
    parser.add_argument(
        "--evidently-pairs", type=int, default=40, help="pairs per cell for Evidently (slower)"
    )
    args = parser.parse_args(argv)
    work = Path(args.workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    import pandas as pd

    t0 = time.monotonic()
    ordinary = prompt_pool(101, 10, 1500)
    novel = prompt_pool(202, 3, 1500, (Change("topic_shift", 1.0),))
    enc = encoder("static")
    base = enc.encode([t[:1200] for t in ordinary]).astype(np.float64)
    new = enc.encode([t[:1200] for t in novel]).astype(np.float64)
    print(
        f"pools: {len(base):,} ordinary and {len(new):,} new-topic prompts embedded [{time.monotonic() - t0:.0f}s]",
        flush=True,
    )
    rng = np.random.default_rng(0)
    methods = evidently_methods()

    def pair(n: int, share: float) -> tuple[np.ndarray, np.ndarray]:
        idx = rng.choice(len(base), size=2 * n, replace=False)
        ref = base[idx[:n]]
        k = round(share * n)
        cur = (
            np.vstack([base[idx[n : 2 * n - k]], new[rng.choice(len(new), size=k, replace=False)]])
            if k
            else base[idx[n:]]
        )
        return ref, cur

    def ours(ref: np.ndarray, cur: np.ndarray) -> bool:
        r = ref[rng.choice(len(ref), size=min(args.sample, len(ref)), replace=False)]
        c = cur[rng.choice(len(cur), size=min(args.sample, len(cur)), replace=False)]
        return mmd_permutation(r, c, args.permutations, rng).p_value < 0.05

    def theirs(name: str, ref: np.ndarray, cur: np.ndarray) -> bool:
        cols = [f"e{i}" for i in range(ref.shape[1])]
        _, drifted, _ = methods[name](pd.DataFrame(cur, columns=cols), pd.DataFrame(ref, columns=cols))
        return bool(drifted)

    report: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "sample": args.sample,
        "cells": [],
    }
    for n in WINDOWS:
        for share in (0.0, *SHARES):
            pairs = args.null_pairs if share == 0.0 else args.power_pairs
            hits = {"llmdrift_mmd_permutation": 0}
            ev_hits = dict.fromkeys(methods, 0)
            ev_pairs = min(pairs, args.evidently_pairs)
            cell_t = time.monotonic()
            for i in range(pairs):
                ref, cur = pair(n, share)
                hits["llmdrift_mmd_permutation"] += ours(ref, cur)
                if i < ev_pairs:
                    for name in methods:
                        ev_hits[name] += theirs(name, ref, cur)
            rows = {"llmdrift_mmd_permutation": (hits["llmdrift_mmd_permutation"], pairs)}
            rows.update({name: (ev_hits[name], ev_pairs) for name in methods})
            for name, (k, m) in rows.items():
                low, high = wilson(k, m)
                report["cells"].append(
                    {
                        "window": n,
                        "new_topic_share": share,
                        "method": name,
                        "drift_rate": k / m,
                        "ci_low": low,
                        "ci_high": high,
                        "pairs": m,
                    }
                )
            print(
                f"n={n:>5} p={share:.2f}: "
                + "  ".join(
                    f"{name.replace('evidently_', 'ev_')} {k / m:.2f}" for name, (k, m) in rows.items()
                )
                + f"  [{time.monotonic() - cell_t:.0f}s]",
                flush=True,
            )
    (work / "drift-calibration.json").write_text(json.dumps(report, indent=2))
    print(f"results: {work / 'drift-calibration.json'}  [{time.monotonic() - t0:.0f}s]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
