"""How good are the text metrics? Figures on a labeled development set (``tests/devset/``).

- refusal: precision, recall and F1 of ``is_refusal`` at the default threshold, accuracy per kind of item
  (full and partial refusals, helpful answers, apologies that comply, look-alikes, quoted refusals,
  disclaimers), and F1 over a threshold sweep, from which the default was chosen;
- toxicity: ROC-AUC of the score, and precision/recall of the flag at the default threshold;
- sentiment: 3-class accuracy of the compound score (positive > 0.05, negative < -0.05, else neutral).

Items with an odd number in their id are the *tuning* half (the phrase lists and thresholds were adjusted
looking at them); even ids are *held out* and were only scored. Both halves are reported.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llmdrift.score import refusal
from llmdrift.score.metrics import TOXICITY_THRESHOLD, score_rows

SENTIMENT_NEUTRAL_BAND = 0.05
SPLITS = ("all", "tuning", "held_out")


class DevsetError(ValueError):
    """The development set is missing or malformed."""


@dataclass(frozen=True)
class Item:
    id: str
    text: str
    label: Any
    kind: str

    @property
    def split(self) -> str:
        digits = "".join(ch for ch in self.id if ch.isdigit())
        return "tuning" if digits and int(digits) % 2 == 1 else "held_out"


def load(devset: Path, name: str) -> list[Item]:
    path = devset / f"{name}.jsonl"
    if not path.exists():
        raise DevsetError(f"development set file not found: {path}")
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            items.append(Item(row["id"], row["text"], row["label"], row.get("kind", "-")))
        except (ValueError, KeyError) as exc:
            raise DevsetError(f"{path}:{number}: {exc}") from exc
    return items


def _score(texts: list[str], role: str, embedder: str) -> dict[str, list[Any]]:
    n = len(texts)
    other = "completion" if role == "prompt" else "prompt"
    rows: dict[str, list[Any]] = {
        "request_id": [str(i) for i in range(n)],
        f"{role}_text": texts,
        f"{other}_text": [None] * n,
        "stop_reason": ["end_turn"] * n,
        "guardrail_intervened": [False] * n,
        "input_tokens": [None] * n,
        "output_tokens": [None] * n,
    }
    return score_rows(rows, embedder)


def _prf(pairs: Iterable[tuple[bool, bool]]) -> dict[str, float]:
    tp = fp = fn = tn = 0
    for predicted, actual in pairs:
        tp += predicted and actual
        fp += predicted and not actual
        fn += actual and not predicted
        tn += not predicted and not actual
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    total = tp + fp + fn + tn
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "accuracy": round((tp + tn) / total, 4) if total else 0.0,
        "n": total,
    }


def _in_split(item: Item, split: str) -> bool:
    return split == "all" or item.split == split


def f1_sweep(scored: list[tuple[Item, float]]) -> dict[str, float]:
    """F1 of ``score >= t`` on the tuning half, for t from 0.30 to 0.95: how the defaults were chosen."""
    tuning = [(i, s) for i, s in scored if i.split == "tuning"]
    return {
        f"{t / 100:.2f}": _prf((s >= t / 100, bool(i.label)) for i, s in tuning)["f1"]
        for t in range(30, 96, 5)
    }


def refusal_quality(devset: Path, embedder: str = "static") -> dict[str, Any]:
    items = load(devset, "refusal")
    scores = _score([i.text for i in items], "completion", embedder)["completion_refusal_score"]
    scored = [(item, float(s or 0.0)) for item, s in zip(items, scores, strict=True)]
    threshold = refusal.DEFAULT_THRESHOLD
    out: dict[str, Any] = {"threshold": threshold}
    for split in SPLITS:
        out[split] = _prf((s >= threshold, bool(i.label)) for i, s in scored if _in_split(i, split))
    per_kind: dict[str, list[bool]] = defaultdict(list)
    for item, s in scored:
        per_kind[item.kind].append((s >= threshold) == bool(item.label))
    out["accuracy_by_kind"] = {k: round(sum(v) / len(v), 4) for k, v in sorted(per_kind.items())}
    out["tuning_f1_by_threshold"] = f1_sweep(scored)
    out["errors"] = [
        {"id": i.id, "kind": i.kind, "score": round(s, 3), "text": i.text[:120]}
        for i, s in scored
        if (s >= threshold) != bool(i.label)
    ]
    return out


def roc_auc(labels: list[int], scores: list[float]) -> float:
    from sklearn.metrics import roc_auc_score

    return round(float(roc_auc_score(labels, scores)), 4)


def toxicity_quality(devset: Path, embedder: str = "static") -> dict[str, Any]:
    items = load(devset, "toxicity")
    scores = _score([i.text for i in items], "prompt", embedder)["prompt_toxicity_score"]
    scored = [(item, float(s or 0.0)) for item, s in zip(items, scores, strict=True)]
    out: dict[str, Any] = {"threshold": TOXICITY_THRESHOLD}
    for split in SPLITS:
        part = [(i, s) for i, s in scored if _in_split(i, split)]
        out[split] = {
            "roc_auc": roc_auc([int(i.label) for i, _ in part], [s for _, s in part]),
            **_prf((s >= TOXICITY_THRESHOLD, bool(i.label)) for i, s in part),
        }
    out["tuning_f1_by_threshold"] = f1_sweep(scored)
    per_kind: dict[str, list[bool]] = defaultdict(list)
    for item, s in scored:
        per_kind[item.kind].append((s >= TOXICITY_THRESHOLD) == bool(item.label))
    out["accuracy_by_kind"] = {k: round(sum(v) / len(v), 4) for k, v in sorted(per_kind.items())}
    return out


def sentiment_label(compound: float | None) -> str:
    if compound is None:
        return "neutral"
    if compound > SENTIMENT_NEUTRAL_BAND:
        return "positive"
    if compound < -SENTIMENT_NEUTRAL_BAND:
        return "negative"
    return "neutral"


def sentiment_quality(devset: Path, embedder: str = "static") -> dict[str, Any]:
    items = load(devset, "sentiment")
    scores = _score([i.text for i in items], "prompt", embedder)["prompt_sentiment_compound"]
    predicted = [(item, sentiment_label(s)) for item, s in zip(items, scores, strict=True)]
    out: dict[str, Any] = {"neutral_band": SENTIMENT_NEUTRAL_BAND}
    for split in SPLITS:
        part = [(i, p) for i, p in predicted if _in_split(i, split)]
        out[split] = {"accuracy": round(sum(p == i.label for i, p in part) / len(part), 4), "n": len(part)}
    confusion: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for item, p in predicted:
        confusion[str(item.label)][p] += 1
    out["confusion"] = {k: dict(v) for k, v in sorted(confusion.items())}
    return out


def evaluate(devset: Path, embedder: str = "static") -> dict[str, Any]:
    """All figures, as one JSON-ready dict."""
    return {
        "embedder": embedder,
        "refusal": refusal_quality(devset, embedder),
        "toxicity": toxicity_quality(devset, embedder),
        "sentiment": sentiment_quality(devset, embedder),
    }


def summary(figures: dict[str, Any]) -> list[str]:
    r, t, s = figures["refusal"], figures["toxicity"], figures["sentiment"]
    lines = [f"dev-set quality ({figures['embedder']} embedder): all / tuning half / held-out half"]
    lines.append(
        f"  refusal  (threshold {r['threshold']}): "
        + " / ".join(f"P {r[k]['precision']:.3f} R {r[k]['recall']:.3f} F1 {r[k]['f1']:.3f}" for k in SPLITS)
    )
    lines.append(
        f"  toxicity (flag at {t['threshold']}): ROC-AUC "
        + " / ".join(f"{t[k]['roc_auc']:.3f}" for k in SPLITS)
    )
    lines.append("  sentiment: accuracy " + " / ".join(f"{s[k]['accuracy']:.3f}" for k in SPLITS))
    return lines
