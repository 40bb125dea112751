"""Pure logic of the aggregate step on small driver-side data: usage rows re-aggregated into series per
slice, robust anomaly scores against each point's baseline, and alert rules.
"""

from __future__ import annotations

import fnmatch
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from llmdrift.aggregate import stats
from llmdrift.core.settings import AlertRule

ANOMALY_METRICS = (
    "invocations",
    "error_rate",
    "cost_usd",
    "latency_p90_ms",
    "refusal_ratio",
    "toxic_rate",
    "completion_sentiment_mean",
)
RATE_METRICS = {"error_rate": "invocations", "refusal_ratio": "scored", "toxic_rate": "scored"}
MIN_SLICE_INVOCATIONS = 20  # smaller slices are too noisy to score


ADDITIVE = (
    "invocations",
    "errors",
    "cost_usd",
    "unpriced",
    "scored",
    "refusals",
    "_toxic_any",
    "pii_prompts",
    "completion_sentiment_sum",
    "completion_sentiment_n",
    "similarity_sum",
    "similarity_n",
    "_latency_weighted",
    "latency_n",
)


def slice_series(
    rows: Iterable[dict[str, Any]], hourly: bool
) -> dict[tuple[str, str, str, int], dict[str, float]]:
    """Usage rows re-aggregated to (dt, slice_type, slice, hour) points with the alertable metrics.

    Slices: ``all`` ('*'), each ``model`` and each ``caller``. Additive columns are summed; the latency p90
    of a slice is the latency-count-weighted mean of its groups' p90s (percentiles do not add up).
    """
    sums: dict[tuple[str, str, str, int], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in rows:
        hour = int(r["hour"]) if hourly else -1
        values = {k: float(r.get(k) or 0.0) for k in ADDITIVE if not k.startswith("_")}
        tox = (r.get("toxic_rate") or 0.0) * (r.get("scored") or 0)
        values["_toxic_any"] = float(round(tox))
        values["_latency_weighted"] = float((r.get("latency_p90_ms") or 0.0) * (r.get("latency_n") or 0))
        slices = (
            ("all", "*"),
            ("model", r.get("base_model_id") or "(unknown)"),
            ("caller", r.get("caller_name") or "(unknown)"),
        )
        for slice_type, name in slices:
            point = sums[(r["dt"], slice_type, name, hour)]
            for k, v in values.items():
                point[k] += v
    out: dict[tuple[str, str, str, int], dict[str, float]] = {}
    for key, s in sums.items():
        n, scored = s["invocations"], s["scored"]
        out[key] = {
            "invocations": n,
            "errors": s["errors"],
            "error_rate": s["errors"] / n if n else float("nan"),
            "cost_usd": s["cost_usd"],
            "unpriced": s["unpriced"],
            "latency_p90_ms": s["_latency_weighted"] / s["latency_n"] if s["latency_n"] else float("nan"),
            "refusal_ratio": s["refusals"] / scored if scored else float("nan"),
            "toxic_rate": s["_toxic_any"] / scored if scored else float("nan"),
            "pii_rate": s["pii_prompts"] / scored if scored else float("nan"),
            "completion_sentiment_mean": s["completion_sentiment_sum"] / s["completion_sentiment_n"]
            if s["completion_sentiment_n"]
            else float("nan"),
            "similarity_mean": s["similarity_sum"] / s["similarity_n"] if s["similarity_n"] else float("nan"),
            "scored": scored,
            "completion_sentiment_n": s["completion_sentiment_n"],
        }
    return out


def _baseline_keys(day: str, hour: int, hourly: bool, have: set[str]) -> tuple[list[tuple[str, int]], str]:
    """Comparison points: for days, the same weekday of the 4 prior weeks when 3+ exist, else the 7 prior
    days; for hours, the same hour of the 7 prior days."""
    d = date.fromisoformat(day)
    if not hourly:
        weekly = [(d - timedelta(weeks=w)).isoformat() for w in range(1, 5)]
        present = [x for x in weekly if x in have]
        if len(present) >= stats.MIN_BASELINE:
            return [(x, -1) for x in present], "same_weekday"
        return [((d - timedelta(days=i)).isoformat(), -1) for i in range(1, 8)], "recent"
    return [((d - timedelta(days=i)).isoformat(), hour) for i in range(1, 8)], "recent"


def find_anomalies(
    daily_rows: list[dict[str, Any]], hourly_rows: list[dict[str, Any]], days: list[str], z: float
) -> list[dict[str, Any]]:
    """Points of ``days`` whose robust z-score against their baseline is at least ``z`` (usage rows in)."""
    found: list[dict[str, Any]] = []
    for rows, hourly in ((daily_rows, False), (hourly_rows, True)):
        series = slice_series(rows, hourly)
        have = {k[0] for k in series}
        for (day, slice_type, name, hour), point in series.items():
            if day not in days or point["invocations"] < MIN_SLICE_INVOCATIONS:
                continue
            keys, kind = _baseline_keys(day, hour, hourly, have)
            for metric in ANOMALY_METRICS:
                value = point[metric]
                if value != value:  # NaN: no data for this metric
                    continue
                baseline = [
                    series[(d, slice_type, name, h)][metric]
                    for d, h in keys
                    if (d, slice_type, name, h) in series
                ]
                baseline = [b for b in baseline if b == b]
                if metric in RATE_METRICS:
                    sample = int(point[RATE_METRICS[metric]])
                    floor = stats.rate_floor(
                        sorted(baseline)[len(baseline) // 2] if baseline else value, sample
                    )
                elif metric == "completion_sentiment_mean":  # a mean of values in [-1, 1]: sd at most 1
                    floor = 0.5 / max(point["completion_sentiment_n"], 1) ** 0.5
                else:
                    floor = 0.1 * abs(sorted(baseline)[len(baseline) // 2]) if baseline else 0.0
                scored = stats.robust_score(value, baseline, floor)
                if scored is None or abs(scored.score) < z:
                    continue
                found.append(
                    {
                        "dt": day,
                        "grain": "hourly" if hourly else "daily",
                        "hour": hour,
                        "slice_type": slice_type,
                        "slice": name,
                        "metric": metric,
                        "value": scored.value,
                        "expected": scored.expected,
                        "scale": scored.scale,
                        "score": round(scored.score, 3),
                        "direction": "up" if scored.score > 0 else "down",
                        "baseline_points": scored.baseline_points,
                        "baseline_kind": kind,
                    }
                )
    return found


def find_alerts(
    rules_: tuple[AlertRule, ...], daily_rows: list[dict[str, Any]], hourly_rows: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The rules that fire on the usage rows: one value per day (and hour) over the groups a rule matches."""
    fired: list[dict[str, Any]] = []
    for grain, rows in (("daily", daily_rows), ("hourly", hourly_rows)):
        rules = [r for r in rules_ if r.grain == grain]
        for rule in rules:
            wanted = [
                r
                for r in rows
                if fnmatch.fnmatchcase(r.get("base_model_id") or "", rule.model)
                and fnmatch.fnmatchcase(r.get("caller_name") or "", rule.caller)
            ]
            # one point per day (and hour) over the matching groups; the slice names what was matched
            series = slice_series(wanted, grain == "hourly")
            for (day, slice_type, _, hour), point in sorted(series.items()):
                if slice_type != "all" or point["invocations"] < max(rule.min_invocations, 1):
                    continue
                value = point[rule.metric]
                if value != value:
                    continue
                hit = value > rule.threshold if rule.direction == "above" else value < rule.threshold
                if hit:
                    label = f"model {rule.model}, caller {rule.caller}"
                    when = day if hour < 0 else f"{day} {hour:02d}h"
                    fired.append(
                        {
                            "dt": day,
                            "rule": rule.name,
                            "grain": grain,
                            "hour": hour,
                            "slice": label,
                            "metric": rule.metric,
                            "value": value,
                            "threshold": rule.threshold,
                            "direction": rule.direction,
                            "message": f"{rule.name}: {rule.metric} {value:.4g} is {rule.direction}"
                            f" {rule.threshold:g} for {label} on {when}",
                        }
                    )
    return fired
