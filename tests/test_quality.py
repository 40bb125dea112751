"""Metric quality: floors a change to the text models must keep.

The figures themselves come from ``llmdrift quality`` (jobs/llmdrift/score/README.md, "Quality per source"). The corpus floors are measured here on
at most ``LIMIT`` test rows a source (fast, deterministic), so they sit a little under the full-split figures;
the regression set (tests/devset, texts we wrote) is scored whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmdrift.score import quality

DEVSET = Path(__file__).parent / "devset"
LABELED = Path(__file__).resolve().parents[2] / "shared" / "data" / "labeled"
LIMIT = 300
needs_corpus = pytest.mark.skipif(
    not (LABELED / "refusal.jsonl.gz").exists(),
    reason=f"the third-party labeled corpus is not beside the repository ({LABELED})",
)


@pytest.fixture(scope="module")
def corpus() -> dict[str, Any]:
    return quality.corpus_quality(LABELED, "fast", "test", LIMIT)


@pytest.fixture(scope="module")
def regression() -> dict[str, Any]:
    return quality.devset_quality(DEVSET, "fast")


@needs_corpus
def test_refusal_on_third_party_responses(corpus: dict[str, Any]) -> None:
    r = corpus["refusal"]
    assert r["gptfuzz"]["f1"] >= 0.93
    assert r["gptfuzz"]["roc_auc"] >= 0.96
    assert r["chatgpt_refusals"]["roc_auc"] >= 0.89
    assert r["all"]["f1"] >= 0.88
    assert set(r["by_model"]) == {"gpt-3.5-turbo"}


@needs_corpus
def test_toxicity_per_source(corpus: dict[str, Any]) -> None:
    t = corpus["toxicity"]
    floors = {"convabuse": 0.89, "stormfront": 0.84, "fox_news": 0.62, "diasafety": 0.56}
    floors |= {"ethos": 0.73, "tweeteval_hate": 0.67, "tweeteval_offensive": 0.75}
    for source, floor in floors.items():
        assert t[source]["roc_auc"] >= floor, source
    assert t["toxic_spans"]["recall"] >= 0.90  # positives only: recall at the shipped threshold
    assert t["ethos"]["eval_only"]
    assert not t["convabuse"]["eval_only"]


@needs_corpus
def test_sentiment_per_source(corpus: dict[str, Any]) -> None:
    s = corpus["sentiment"]
    assert s["goemotions"]["polar_accuracy"] >= 0.84
    assert s["goemotions"]["macro_f1"] >= 0.62
    assert s["poem_sentiment"]["polar_accuracy"] >= 0.72
    assert s["uci_sentences"]["polar_accuracy"] >= 0.75
    assert s["tweeteval_sentiment"]["polar_accuracy"] >= 0.69
    assert s["uci_sentences"]["macro_f1"] is None  # no neutral class there


def test_regression_set_refusal(regression: dict[str, Any]) -> None:
    r = regression["refusal"]
    assert r["n"] == 395
    assert r["roc_auc"] >= 0.96
    assert r["precision"] >= 0.92
    assert r["f1"] >= 0.91
    for kind in ("apology_comply", "lookalike", "quoted", "disclaimer", "helpful", "full", "partial"):
        assert r["accuracy_by_kind"][kind] >= 0.8, kind


def test_regression_set_toxicity_and_sentiment(regression: dict[str, Any]) -> None:
    t = regression["toxicity"]
    assert t["roc_auc"] >= 0.94
    assert t["accuracy_by_kind"]["threat"] >= 0.8
    assert t["accuracy_by_kind"]["quoting"] >= 0.6
    s = regression["sentiment"]
    assert s["n"] == 219
    assert s["polar_accuracy"] >= 0.92


def test_figures_on_known_counts() -> None:
    f = quality.binary_figures([1, 1, 0, 0], [0.9, 0.4, 0.6, 0.1], 0.5)
    assert (f["precision"], f["recall"], f["f1"], f["roc_auc"]) == (0.5, 0.5, 0.5, 0.75)
    assert quality.binary_figures([1, 1], [0.9, 0.2], 0.5)["roc_auc"] is None  # one class: no AUC
    s = quality.sentiment_figures([1, -1, 0, 1], [0.8, -0.5, 0.02, -0.1], 0.05)
    assert s["polar_accuracy"] == pytest.approx(2 / 3, abs=1e-4)
    assert s["accuracy"] == 0.75


def test_a_missing_regression_set_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(quality.DevsetError, match="not found"):
        quality.devset_quality(tmp_path)
    (tmp_path / "refusal.jsonl").write_text('{"id": "r1", "text": "x"}\n')
    with pytest.raises(quality.DevsetError, match=r"refusal\.jsonl:1"):
        quality.load(tmp_path, "refusal")
