"""The drift tests, by name: which statistic each feature of ``drift_results`` is tested with, and the tests of
one slice (numpy / pandas on the driver-side samples; no Spark).

Each ``DriftTest`` names a feature (the ``feature`` column of ``drift_results``), the sample column it reads
and its kind; each kind is one function returning the test's ``Outcome``. Adding a metric to drift is one line
in ``REGISTRY`` (and the column in the samples, ``drift.sample``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from llmdrift.drift import stats

SliceKey = tuple[str, str]
EMBEDDINGS = ("prompt", "completion")
SLICE_TYPES = ("all", "model", "caller", "template")

# Metrics a text model produces: two windows scored by different models are not compared on them.
TEXT_MODEL_METRICS = frozenset(
    {
        "prompt_sentiment_compound",
        "completion_sentiment_compound",
        "prompt_toxicity_score",
        "completion_toxicity_score",
        "completion_refusal_score",
        "prompt_toxicity_flag",
        "completion_toxicity_flag",
        "completion_refusal_flag",
    }
)


@dataclass(frozen=True)
class DriftTest:
    feature: str  # drift_results.feature
    kind: str  # a key of KINDS: embedding | continuous | flag | categorical
    column: str  # the sample column read (for embeddings: the text role)
    skip_slice_types: tuple[str, ...] = ()  # slice types where the test means nothing

    @property
    def text_model(self) -> bool:
        """Produced by a text model: two windows scored by different models are not compared on it."""
        return self.feature in TEXT_MODEL_METRICS


def _named(kind: str, *columns: str) -> tuple[DriftTest, ...]:
    return tuple(DriftTest(c, kind, c) for c in columns)


REGISTRY: tuple[DriftTest, ...] = (
    *(DriftTest(f"{role}_embedding", "embedding", role) for role in EMBEDDINGS),
    *_named(
        "continuous",
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
    ),
    *_named(
        "flag",
        "completion_refusal_flag",
        "prompt_toxicity_flag",
        "completion_toxicity_flag",
        "prompt_has_pii",
    ),
    # model shares within a model (or template) slice say nothing new
    DriftTest("model_share", "categorical", "base_model_id", skip_slice_types=("model", "template")),
    DriftTest("stop_reason_share", "categorical", "stop_reason"),
)
CONTINUOUS = tuple(t.column for t in REGISTRY if t.kind == "continuous")
FLAGS = tuple(t.column for t in REGISTRY if t.kind == "flag")


class TestSettings(Protocol):
    """What the tests read of the drift config (``DriftConfig`` has it)."""

    @property
    def min_samples(self) -> int: ...
    @property
    def permutations(self) -> int: ...
    @property
    def neighbours(self) -> int: ...
    @property
    def seed(self) -> int: ...
    @property
    def alpha(self) -> float: ...
    @property
    def workers(self) -> int: ...


@dataclass(frozen=True)
class SliceSample:
    """One slice's samples: metric rows (pandas) of each window, each role's vectors (reference, current)."""

    ref: Any
    cur: Any
    vectors: dict[str, tuple[Any, Any]]


@dataclass(frozen=True)
class Outcome:
    result: stats.TestResult | None  # None: not tested (the note says why)
    n: tuple[int, int]
    values: tuple[Any, Any] = (None, None)
    note: str = ""
    hist: tuple[list[float], list[float], list[float]] | None = None


def _embedding(test: DriftTest, s: SliceSample, settings: TestSettings, rng: np.random.Generator) -> Outcome:
    xa, ya = s.vectors[test.column]
    n = (len(xa), len(ya))
    if min(n) < settings.min_samples // 2:
        return Outcome(None, n, note="too few texts with an embedding")
    return Outcome(stats.knn_permutation(xa, ya, settings.permutations, rng, settings.neighbours), n)


def _continuous(test: DriftTest, s: SliceSample, settings: TestSettings, rng: np.random.Generator) -> Outcome:
    x, y = values(s.ref, test.column), values(s.cur, test.column)
    n = (len(x), len(y))
    if min(n) < settings.min_samples // 2:
        return Outcome(None, n, note="too few values")
    means = (float(np.mean(x)), float(np.mean(y)))
    return Outcome(stats.ks_test(x, y), n, means, hist=stats.histograms(x, y))


def _flag(test: DriftTest, s: SliceSample, settings: TestSettings, rng: np.random.Generator) -> Outcome:
    x, y = values(s.ref, test.column), values(s.cur, test.column)
    n = (len(x), len(y))
    if min(n) < settings.min_samples // 2:
        return Outcome(None, n, note="too few values")
    hits = (int(np.sum(x > 0)), int(np.sum(y > 0)))
    return Outcome(stats.proportion_test(hits[0], n[0], hits[1], n[1]), n, (hits[0] / n[0], hits[1] / n[1]))


def _categorical(
    test: DriftTest, s: SliceSample, settings: TestSettings, rng: np.random.Generator
) -> Outcome:
    xs, ys = (
        [str(v) for v in frame[test.column]] if test.column in frame else [] for frame in (s.ref, s.cur)
    )
    n = (len(xs), len(ys))
    if min(n) < settings.min_samples // 2:
        return Outcome(None, n, note="too few values")
    return Outcome(stats.categorical_test(xs, ys), n)


KINDS: dict[str, Callable[[DriftTest, SliceSample, TestSettings, np.random.Generator], Outcome]] = {
    "embedding": _embedding,
    "continuous": _continuous,
    "flag": _flag,
    "categorical": _categorical,
}


def evaluate_slice(
    key: SliceKey,
    sample: SliceSample,
    totals: tuple[int, int],
    settings: TestSettings,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """The registry's tests of one slice, in registry order (p values only; q values come after)."""
    mismatch = text_model_mismatch(sample.ref, sample.cur)
    results: list[dict[str, Any]] = []
    for test in REGISTRY:
        if key[0] in test.skip_slice_types:
            continue
        if mismatch and test.text_model:
            x, y = values(sample.ref, test.column), values(sample.cur, test.column)
            outcome = Outcome(None, (len(x), len(y)), note=mismatch)
        else:
            outcome = KINDS[test.kind](test, sample, settings, rng)
        res, hist = outcome.result, outcome.hist
        results.append(
            {
                "slice_type": key[0],
                "slice": key[1],
                "feature": test.feature,
                "method": res.method if res else "not_tested",
                "statistic": res.statistic if res else None,
                "p_value": res.p_value if res else None,
                "effect_size": res.effect_size if res else None,
                "reference_n": outcome.n[0],
                "current_n": outcome.n[1],
                "reference_total": totals[0],
                "current_total": totals[1],
                "note": outcome.note or None,
                "reference_value": outcome.values[0],
                "current_value": outcome.values[1],
                "bin_edges": hist[0] if hist else None,
                "reference_hist": hist[1] if hist else None,
                "current_hist": hist[2] if hist else None,
            }
        )
    return results


def text_model_mismatch(ref: Any, cur: Any) -> str | None:
    """Why the text metrics of two sample frames cannot be compared (None when they can): each window must
    be scored by one and the same text model."""
    models = [
        sorted({str(v) for v in frame["text_model"]}) if "text_model" in frame else [] for frame in (ref, cur)
    ]
    if models[0] == models[1] and len(models[0]) <= 1:
        return None
    return (
        f"scored by different text models (reference: {', '.join(models[0]) or 'none'}; current:"
        f" {', '.join(models[1]) or 'none'}): rescore both windows with one model to compare them"
    )


def not_tested(key: SliceKey, counts: dict[SliceKey, tuple[int, int]], min_samples: int) -> dict[str, Any]:
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


def values(frame: Any, column: str) -> Any:
    """The finite values of a column (absent column: none)."""
    if column not in frame:
        return np.zeros(0)
    values = np.asarray(frame[column].astype("float64"), dtype=np.float64)
    return values[np.isfinite(values)]


def embedded(frame: Any, role: str) -> tuple[Any, list[str]]:
    """(vectors, texts) of the rows kept for embeddings that have a vector for ``role``."""
    column = f"{role}_vector"
    if column not in frame or "embed" not in frame:
        return np.zeros((0, 0)), []
    keep = frame[frame["embed"].fillna(False).astype(bool) & frame[column].notna()]
    if keep.empty:
        return np.zeros((0, 0)), []
    texts = (
        keep[f"{role}_text"].fillna("").astype(str).tolist() if f"{role}_text" in keep else [""] * len(keep)
    )
    return np.vstack([np.asarray(v, dtype=np.float32) for v in keep[column]]), texts
