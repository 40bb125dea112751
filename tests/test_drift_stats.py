"""Drift tests on known samples: calibration of the permutation test, power on a planted shift, the scalar
tests, Benjamini-Hochberg by hand, cluster explanations, and the per-slice rules (minimum sample, FDR)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from llmdrift.core.windows import Window
from llmdrift.drift import explain, stats
from llmdrift.drift.config import DriftConfig
from llmdrift.drift.pool import evaluate_slices


def unit(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def planted_topic() -> tuple[np.random.Generator, np.ndarray, np.ndarray, np.ndarray]:
    """A reference of 200 random directions and a current window whose first 40 (20%) are a new topic."""
    rng = np.random.default_rng(3)
    topic = unit(rng.normal(size=(1, 32)))
    base = unit(rng.normal(size=(200, 32)))
    current = unit(rng.normal(size=(200, 32)))
    current[:40] = unit(topic + 0.3 * rng.normal(size=(40, 32)))  # 20% of the current window is a new topic
    return rng, topic, base, current


def test_mmd_finds_a_planted_topic_share() -> None:
    rng, _, base, current = planted_topic()
    result = stats.mmd_permutation(base, current, 300, rng)
    assert result.p_value < 0.01
    assert result.effect_size > 0
    same = stats.mmd_permutation(base, base.copy(), 300, rng)
    assert same.p_value > 0.5


@pytest.mark.parametrize(
    ("test", "sizes"),
    [
        (stats.knn_permutation, (100, 100)),
        (stats.knn_permutation, (600, 120)),  # the job's design: a reference of several days
        (stats.mmd_permutation, (100, 100)),
    ],
)
def test_permutation_false_alarms_stay_near_alpha(test: Any, sizes: tuple[int, int]) -> None:
    rng = np.random.default_rng(17)
    trials = 80
    alarms = sum(
        test(unit(rng.normal(size=(sizes[0], 32))), unit(rng.normal(size=(sizes[1], 32))), 200, rng).p_value
        < 0.05
        for _ in range(trials)
    )
    assert alarms <= 9  # expected 4; P(X >= 10 | p = 0.05) < 0.01


def test_knn_finds_a_planted_topic_share_and_measures_separation() -> None:
    rng, topic, base, current = planted_topic()
    result = stats.knn_permutation(base, current, 300, rng)
    assert result.method == "knn_permutation"
    assert result.p_value < 0.01
    assert 0.05 < result.effect_size < 0.5
    apart = stats.knn_permutation(base, unit(topic + 0.05 * rng.normal(size=(200, 32))), 300, rng)
    assert apart.effect_size > 0.9  # nearly every neighbour from the vector's own window
    same = stats.knn_permutation(base, base.copy(), 300, rng)
    assert same.p_value > 0.5  # each vector's nearest neighbour is its copy in the other window


def test_knn_repeated_prompts_do_not_tip_the_test() -> None:
    """Many identical vectors (the same short follow-up prompt in both windows) are tied at distance 0;
    ties must fall to either window at random, or the reference would win them and bias the p value."""
    rng = np.random.default_rng(5)
    repeated = unit(rng.normal(size=(1, 32)))
    p_values = []
    for _ in range(60):
        x = np.vstack([np.repeat(repeated, 60, axis=0), unit(rng.normal(size=(40, 32)))])
        y = np.vstack([np.repeat(repeated, 60, axis=0), unit(rng.normal(size=(40, 32)))])
        p_values.append(stats.knn_permutation(x, y, 200, rng).p_value)
    assert 0.35 < float(np.mean(p_values)) < 0.65  # uniform under the null: mean 0.5
    assert sum(p < 0.05 for p in p_values) <= 8


def test_scalar_tests() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0, 1, 500), rng.normal(0.5, 1, 500)
    shifted = stats.ks_test(a, b)
    assert shifted.p_value < 1e-6
    assert shifted.effect_size == pytest.approx(0.5, abs=0.15)
    assert stats.ks_test(a, a).p_value == pytest.approx(1.0)
    flags = stats.proportion_test(30, 1000, 120, 1000)
    assert flags.method == "two_proportion"
    assert flags.p_value < 1e-10
    assert flags.effect_size == pytest.approx(0.09)
    small = stats.proportion_test(1, 20, 6, 20)
    assert small.method == "fisher_exact"
    assert 0.03 < small.p_value < 0.2
    assert stats.proportion_test(0, 50, 0, 60).p_value == 1.0
    shares = stats.categorical_test(["a"] * 50 + ["b"] * 50, ["a"] * 80 + ["b"] * 20)
    assert shares.p_value < 1e-4
    assert 0 < shares.effect_size < 1


def test_benjamini_hochberg_by_hand() -> None:
    # sorted p: 0.01, 0.03, 0.04, 0.5 -> p*m/rank: 0.04, 0.06, 0.0533, 0.5 -> running min from the top
    q = stats.benjamini_hochberg([0.01, 0.04, 0.03, 0.5])
    assert q == pytest.approx([0.04, 0.05333, 0.05333, 0.5], abs=1e-4)
    assert stats.benjamini_hochberg([]) == []
    assert stats.benjamini_hochberg([0.9, 0.95]) == pytest.approx([0.95, 0.95])
    with pytest.raises(ValueError, match="finite"):
        stats.benjamini_hochberg([0.01, float("nan")])


def test_explain_names_the_cluster_that_grew() -> None:
    rng = np.random.default_rng(5)
    centres = unit(rng.normal(size=(3, 16)))
    words = (
        ["invoice refund order shipping"],
        ["python error function code"],
        ["crypto wallet bitcoin trading"],
    )

    def sample(shares: tuple[int, int, int]) -> tuple[np.ndarray, list[str]]:
        vectors, texts = [], []
        for topic, n in enumerate(shares):
            vectors.append(unit(centres[topic] + 0.05 * rng.normal(size=(n, 16))))
            texts += [f"{words[topic][0]} item {i}" for i in range(n)]
        return np.vstack(vectors).astype(np.float32), texts

    ref, ref_texts = sample((100, 100, 0))
    cur, cur_texts = sample((70, 70, 60))
    clusters = explain.explain(ref, cur, ref_texts, cur_texts, clusters=3)
    top = clusters[0]
    assert top.change == pytest.approx(0.3, abs=0.02)
    assert top.reference_share == pytest.approx(0.0, abs=0.01)
    assert {"crypto", "wallet", "bitcoin"} & set(top.terms)
    assert "crypto" in top.examples[0]


def test_a_mixed_cluster_is_shown_by_its_new_kind_of_text() -> None:
    """Support tickets in both windows and, in the current one only, crypto questions close to them: with
    two clusters both land in one that grew, and its examples must be the crypto questions (texts whose
    neighbours are all current), not the support tickets nearest its centre."""
    rng = np.random.default_rng(8)
    support, code = unit(rng.normal(size=(2, 16)))
    crypto = unit(support + 0.15 * unit(rng.normal(size=(1, 16))))[0]  # near the tickets, yet apart

    def group(centre: np.ndarray, n: int, text: str) -> tuple[np.ndarray, list[str]]:
        return unit(centre + 0.03 * rng.normal(size=(n, 16))), [f"{text} {i}" for i in range(n)]

    parts = {
        "reference": [group(support, 100, "refund ticket"), group(code, 100, "python error")],
        "current": [
            group(support, 70, "refund ticket"),
            group(code, 70, "python error"),
            group(crypto, 60, "bitcoin wallet"),
        ],
    }
    (ref, ref_texts), (cur, cur_texts) = (
        (np.vstack([v for v, _ in groups]).astype(np.float32), [t for _, ts in groups for t in ts])
        for groups in parts.values()
    )
    grown = explain.explain(ref, cur, ref_texts, cur_texts, clusters=2)[0]
    assert grown.change > 0
    assert grown.reference_share == pytest.approx(0.5, abs=0.01)  # the support tickets are in it too
    assert all(e.startswith("bitcoin wallet") for e in grown.examples)


def _rows(n: int, rng: np.random.Generator, refusal_rate: float = 0.03) -> pd.DataFrame:
    """A slice's sampled rows in one window, as the job collects them (no completion vectors)."""
    return pd.DataFrame(
        {
            "request_id": [f"r{i}" for i in range(n)],
            "embed": [True] * n,
            "prompt_vector": list(unit(rng.normal(size=(n, 8)))),
            "completion_vector": [None] * n,
            "prompt_text": [f"prompt {i}" for i in range(n)],
            "completion_text": [f"completion {i}" for i in range(n)],
            "base_model_id": ["m1"] * n,
            "stop_reason": ["end_turn"] * n,
            "completion_refusal_flag": rng.random(n) < refusal_rate,
            "prompt_sentiment_compound": rng.normal(size=n),
        }
    )


def test_slices_under_the_minimum_are_marked_and_fdr_is_applied() -> None:
    rng = np.random.default_rng(11)
    counts = {("all", "*"): (400, 400), ("caller", "tiny"): (400, 12)}
    samples = {
        ("all", "*", "reference"): _rows(400, rng),
        ("all", "*", "current"): _rows(400, rng, refusal_rate=0.15),
    }
    config = DriftConfig("/unused", permutations=200, min_samples=50)
    results, clusters = evaluate_slices(samples, counts, {("all", "*")}, config)
    tiny = [r for r in results if r["slice"] == "tiny"]
    assert len(tiny) == 1
    assert tiny[0]["method"] == "not_tested"
    assert tiny[0]["drifted"] is None
    by_feature = {r["feature"]: r for r in results if r["slice"] == "*"}
    assert by_feature["completion_refusal_flag"]["drifted"] is True
    assert by_feature["prompt_embedding"]["drifted"] is False
    assert by_feature["completion_embedding"]["method"] == "not_tested"  # no completion vectors
    tested = [r for r in results if r["p_value"] is not None]
    assert all(r["q_value"] >= r["p_value"] for r in tested)
    assert clusters  # all traffic is always explained
    assert {c["feature"] for c in clusters} == {"prompt_embedding"}


def test_identical_windows_show_no_drift() -> None:
    rng = np.random.default_rng(2)
    rows = _rows(300, rng)
    samples = {("all", "*", "reference"): rows, ("all", "*", "current"): rows.copy()}
    results, _ = evaluate_slices(
        samples, {("all", "*"): (300, 300)}, {("all", "*")}, DriftConfig("/unused", permutations=200)
    )
    assert not [r for r in results if r["drifted"]]


def test_slices_give_the_same_verdicts_in_a_process_pool_as_in_one_process() -> None:
    """Five slices run in two forkserver workers or in this process: every value must be identical (each
    slice has a generator seeded by its own key, so neither the scheduling nor the other slices change a
    p value)."""
    rng = np.random.default_rng(4)
    slices = [("all", "*"), *(("caller", f"c{i}") for i in range(4))]
    samples = {
        (*key, window): _rows(120, rng, refusal_rate=0.03 if window == "reference" else 0.2)
        for key in slices
        for window in ("reference", "current")
    }
    counts = dict.fromkeys(slices, (120, 120))

    def run(workers: int) -> list[dict[str, Any]]:
        config = DriftConfig("/unused", permutations=100, workers=workers)
        results, _ = evaluate_slices(samples, counts, set(slices), config)
        return results

    pooled, single = run(2), run(1)
    assert pooled == single
    alone, _ = evaluate_slices(  # a slice's p values do not depend on which other slices the run has
        {k: v for k, v in samples.items() if k[1] == "c3"},
        {("caller", "c3"): (120, 120)},
        {("caller", "c3")},
        DriftConfig("/unused", permutations=100, workers=1),
    )
    assert [r["p_value"] for r in alone] == [r["p_value"] for r in single if r["slice"] == "c3"]
    assert {r["slice"] for r in pooled if r["drifted"]} == {"*", "c0", "c1", "c2", "c3"}  # the refusal rise


SCRIPT = """
import numpy as np
import pandas as pd
from llmdrift.drift.config import DriftConfig
from llmdrift.drift.pool import evaluate_slices

def rows(rng, n):
    return pd.DataFrame({"request_id": [f"r{i}" for i in range(n)], "embed": [True] * n,
                         "prompt_vector": list(rng.normal(size=(n, 8))), "completion_vector": [None] * n})

def main():
    rng = np.random.default_rng(1)
    slices = [("caller", f"c{i}") for i in range(4)]
    samples = {(*k, w): rows(rng, 60) for k in slices for w in ("reference", "current")}
    config = DriftConfig("/unused", permutations=50, workers=2)
    results, _ = evaluate_slices(samples, dict.fromkeys(slices, (60, 60)), set(slices), config)
    print("tested", sum(r["p_value"] is not None for r in results))
"""


@pytest.mark.parametrize("guarded", [True, False])
def test_a_script_without_the_main_guard_gets_its_slices_tested_in_one_process(
    tmp_path: Path, guarded: bool
) -> None:
    """Worker processes import the main script again: with the guard they run the slices; without it the
    job must not start them (the script's work would run again in each), and tests the slices itself."""
    script = tmp_path / "caller.py"
    script.write_text(SCRIPT + ('if __name__ == "__main__":\n    main()\n' if guarded else "main()\n"))
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "tested 4" in done.stdout  # 4 slices with vectors only: one embedding test each
    assert ("in this process" in done.stdout) is not guarded
    assert "Traceback" not in done.stderr


def test_windows_parse_and_reject_nonsense() -> None:
    assert Window.parse("2026-11-02..2026-11-05").days == ["2026-11-02", "2026-11-03", "2026-11-04"]
    assert Window.parse("2026-11-05").days == ["2026-11-05"]
    with pytest.raises(ValueError, match="ends before"):
        Window.parse("2026-11-05..2026-11-02")
    with pytest.raises(ValueError, match="not a window"):
        Window.parse("last week")
    with pytest.raises(ValueError, match="overlaps"):
        DriftConfig("/w", Window.parse("2026-11-05"), Window.parse("2026-11-01..2026-11-06"))


@pytest.mark.parametrize("test", [stats.knn_permutation, stats.mmd_permutation])
def test_a_strong_drift_gets_a_p_value_below_the_permutation_resolution(test: Any) -> None:
    rng = np.random.default_rng(9)
    topic = unit(rng.normal(size=(1, 32)))
    current = unit(rng.normal(size=(200, 32)))
    current[:100] = unit(topic + 0.2 * rng.normal(size=(100, 32)))
    result = test(unit(rng.normal(size=(200, 32))), current, 200, rng)
    assert result.p_value < 1e-6  # far below 1 / 201: it can pass a BH correction over hundreds of tests
    assert stats.benjamini_hochberg([result.p_value] + [0.5] * 400)[0] < 0.05


def test_histograms_share_bins_and_sum_to_one() -> None:
    edges, ref, cur = stats.histograms([0.0, 1.0, 2.0, 3.0] * 25, [3.0] * 100, bins=3)
    assert (edges[0], edges[-1]) == (0.0, 3.0)  # pooled 1st and 99th percentiles
    assert len(edges) == 4
    assert sum(ref) == pytest.approx(1.0)
    assert sum(cur) == pytest.approx(1.0)
    assert cur[-1] == pytest.approx(1.0)  # every current value in the top bin
