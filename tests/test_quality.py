"""Metric quality on the labeled dev set (tests/devset): floors that a change to the metrics must keep.

The figures themselves are printed by ``llmdrift quality`` and reported in the README; the floors here sit a
little under them, on the whole set and on the held-out half separately.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from llmdrift.score import quality

DEVSET = Path(__file__).parent / "devset"


@pytest.fixture(scope="module")
def figures() -> dict[str, Any]:
    return quality.evaluate(DEVSET)


def test_refusal_precision_recall_f1(figures: dict[str, Any]) -> None:
    r = figures["refusal"]
    assert r["all"]["n"] == 395
    assert r["all"]["precision"] >= 0.95
    assert r["all"]["recall"] >= 0.88
    assert r["all"]["f1"] >= 0.92
    assert r["held_out"]["f1"] >= 0.88


def test_refusal_lookalikes_are_not_refusals(figures: dict[str, Any]) -> None:
    by_kind = figures["refusal"]["accuracy_by_kind"]
    for kind in ("apology_comply", "lookalike", "quoted", "disclaimer", "helpful"):
        assert by_kind[kind] >= 0.9, kind
    assert by_kind["partial"] >= 0.8


def test_toxicity_roc_auc(figures: dict[str, Any]) -> None:
    t = figures["toxicity"]
    assert t["all"]["roc_auc"] >= 0.94
    assert t["held_out"]["roc_auc"] >= 0.92
    assert t["accuracy_by_kind"]["threat"] >= 0.8


def test_sentiment_accuracy(figures: dict[str, Any]) -> None:
    s = figures["sentiment"]
    assert s["all"]["accuracy"] >= 0.82
    assert sum(sum(row.values()) for row in s["confusion"].values()) == 219


def test_the_default_thresholds_sit_on_the_tuning_f1_plateau(figures: dict[str, Any]) -> None:
    for family in ("refusal", "toxicity"):
        sweep = figures[family]["tuning_f1_by_threshold"]
        chosen = sweep[f"{figures[family]['threshold']:.2f}"]
        assert chosen >= max(sweep.values()) - 0.02, family


def test_prf_and_auc_on_known_counts() -> None:
    pairs = [(True, True)] * 8 + [(True, False)] * 2 + [(False, True)] * 2 + [(False, False)] * 8
    assert quality._prf(pairs) == {"precision": 0.8, "recall": 0.8, "f1": 0.8, "accuracy": 0.8, "n": 20}
    assert quality.roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
    assert quality.sentiment_label(0.3) == "positive"
    assert quality.sentiment_label(-0.3) == "negative"
    assert quality.sentiment_label(0.01) == "neutral"


def test_a_missing_devset_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(quality.DevsetError, match="not found"):
        quality.evaluate(tmp_path)
    (tmp_path / "refusal.jsonl").write_text('{"id": "r1", "text": "x"}\n')
    with pytest.raises(quality.DevsetError, match=r"refusal\.jsonl:1"):
        quality.load(tmp_path, "refusal")
