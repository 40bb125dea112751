"""Drift never compares text metrics of windows scored by different text models: it says so instead.

Inline frames and a tiny inline DataFrame; the whole-job drift tests live in test_drift_job.py.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped]

from llmdrift.drift import registry
from llmdrift.drift.config import DriftConfig
from llmdrift.drift.registry import TEXT_MODEL_METRICS, SliceSample
from llmdrift.drift.sample import text_model_column


def frame(n: int, model: str, refusal_rate: float, seed: int) -> Any:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "text_model": [model] * n,
            "completion_refusal_score": rng.random(n) * refusal_rate,
            "completion_refusal_flag": rng.random(n) < refusal_rate,
            "prompt_toxicity_score": rng.random(n) * 0.1,
            "prompt_text_chars": rng.integers(10, 200, n),
            "base_model_id": ["m"] * n,
            "stop_reason": ["end_turn"] * n,
        }
    )


def evaluate(ref: Any, cur: Any) -> dict[str, dict[str, Any]]:
    config = DriftConfig("/unused", min_samples=20, workers=1, permutations=50)
    empty = (np.zeros((0, 0)), np.zeros((0, 0)))
    rows = registry.evaluate_slice(
        ("all", "*"),
        SliceSample(ref, cur, {"prompt": empty, "completion": empty}),
        (len(ref), len(cur)),
        config,
        np.random.default_rng(0),
    )
    return {r["feature"]: r for r in rows}


def test_text_metrics_of_windows_scored_by_different_models_are_not_tested() -> None:
    out = evaluate(frame(200, "v1-rules", 0.05, 1), frame(200, "fast-1234abcd", 0.30, 2))
    for feature in ("completion_refusal_score", "completion_refusal_flag", "prompt_toxicity_score"):
        assert out[feature]["method"] == "not_tested", feature
        assert "different text models (reference: v1-rules; current: fast-1234abcd)" in out[feature]["note"]
    assert out["prompt_text_chars"]["method"] == "ks"  # not a text-model metric: still compared


def test_one_model_on_both_sides_is_compared_and_a_mixed_window_is_not() -> None:
    same = evaluate(frame(200, "fast-1234abcd", 0.05, 1), frame(200, "fast-1234abcd", 0.30, 2))
    assert same["completion_refusal_flag"]["method"] == "two_proportion"
    assert same["completion_refusal_flag"]["p_value"] < 1e-6
    mixed = pd.concat([frame(100, "v1-rules", 0.05, 3), frame(100, "fast-1234abcd", 0.05, 4)])
    out = evaluate(mixed, frame(200, "fast-1234abcd", 0.05, 5))
    assert out["completion_refusal_score"]["method"] == "not_tested"
    assert (
        "reference: fast-1234abcd, v1-rules; current: fast-1234abcd"
        in out["completion_refusal_score"]["note"]
    )


def test_every_text_metric_is_a_drift_feature() -> None:
    assert {t.feature for t in registry.REGISTRY if t.text_model} == TEXT_MODEL_METRICS
    assert set(registry.CONTINUOUS + registry.FLAGS) >= TEXT_MODEL_METRICS


def test_the_text_model_is_read_from_the_scorer_version(spark: Any) -> None:
    versions = [
        "2-static-fast-9c414c24",
        "2-minilm-accurate-00ff00ff-comprehend",
        "1-static",
        "1-static-comprehend",
    ]
    df = spark.createDataFrame([(v,) for v in versions], "scorer_version string")
    got = [r[0] for r in df.select(text_model_column()).collect()]
    assert got == ["fast-9c414c24", "accurate-00ff00ff-comprehend", "v1-rules", "comprehend"]
