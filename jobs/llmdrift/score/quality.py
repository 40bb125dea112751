"""How good are the text metrics? Figures per source of the third-party labeled corpus, and on our regression set.

- **Corpus** (``../shared/data/labeled``, its ``test`` split by default): every source on its own, the
  trainable ones and the ``eval_only`` ones (never trained on), through the scorer itself (``score_rows``):
  - refusal and toxicity: ROC-AUC, PR-AUC, precision / recall / F1 at the shipped threshold, expected
    calibration error (10 bins); refusal also by responding model;
  - sentiment: polar accuracy (the sign of the compound on rows labeled -1 or 1) and 3-class macro-F1 with
    the shipped neutral band (sources with a neutral class).
- **Regression set** (``tests/devset``: texts we wrote, hard cases such as look-alikes, quoted refusals and
  negation): the same figures, and accuracy per kind of item. It guards against regressions; it is never the
  headline figure and nothing is tuned on it.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from llmdrift.core.errors import LlmdriftError
from llmdrift.score.heads import DEFAULT_TIER, TIERS, sentiment_label, text_model
from llmdrift.score.metrics import score_rows
from llmdrift.score.train import TASK_FILES, Row, expected_calibration_error, read_task

BATCH = 2_000
SENTIMENT_CLASSES = {"negative": -1, "neutral": 0, "positive": 1}


class DevsetError(LlmdriftError, ValueError):
    """The regression set is missing or malformed."""


@dataclass(frozen=True)
class Item:
    id: str
    text: str
    label: Any
    kind: str


def load(devset: Path, name: str) -> list[Item]:
    path = devset / f"{name}.jsonl"
    if not path.exists():
        raise DevsetError(f"regression set file not found: {path}")
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


def scored_as_completions(texts: Sequence[str], tier: str, embedder: str = "static") -> dict[str, list[Any]]:
    """The scorer's columns for ``texts`` scored as completions (refusal, toxicity and sentiment of each)."""
    out: dict[str, list[Any]] = defaultdict(list)
    for lo in range(0, len(texts), BATCH):
        part = list(texts[lo : lo + BATCH])
        n = len(part)
        rows: dict[str, list[Any]] = {
            "request_id": [str(i) for i in range(n)],
            "completion_text": part,
            "prompt_text": [None] * n,
            "stop_reason": ["end_turn"] * n,
            "guardrail_intervened": [False] * n,
            "input_tokens": [None] * n,
            "output_tokens": [None] * n,
        }
        scored = score_rows(rows, embedder, tier=tier)
        for key in ("completion_refusal_score", "completion_toxicity_score", "completion_sentiment_compound"):
            out[key].extend(scored[key])
    return out


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 4)


def binary_figures(labels: Sequence[int], scores: Sequence[float], threshold: float) -> dict[str, Any]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    y = np.asarray(labels, dtype=float)
    p = np.asarray(scores, dtype=float)
    pred = p >= threshold
    tp, fp = int(np.sum(pred & (y == 1))), int(np.sum(pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))
    both = 0 < y.sum() < len(y)
    precision = tp / (tp + fp) if tp + fp else None
    recall = tp / (tp + fn) if tp + fn else None
    return {
        "n": len(y),
        "positives": int(y.sum()),
        "roc_auc": _r(roc_auc_score(y, p)) if both else None,
        "pr_auc": _r(average_precision_score(y, p)) if both else None,
        "precision": _r(precision),
        "recall": _r(recall),
        "f1": _r(2 * tp / (2 * tp + fp + fn)) if tp + fp + fn else None,
        "ece": expected_calibration_error(p, y),
    }


def sentiment_figures(labels: Sequence[int], compound: Sequence[float], band: float) -> dict[str, Any]:
    from sklearn.metrics import f1_score

    polar = [(lab, c) for lab, c in zip(labels, compound, strict=True) if lab != 0]
    predicted = [sentiment_label(c, band) for c in compound]
    has_neutral = any(lab == 0 for lab in labels)
    return {
        "n": len(labels),
        "polar_n": len(polar),
        "polar_accuracy": _r(float(np.mean([(c > 0) == (lab > 0) for lab, c in polar]))) if polar else None,
        "macro_f1": _r(f1_score(list(labels), predicted, average="macro")) if has_neutral else None,
        "accuracy": _r(float(np.mean([p == lab for p, lab in zip(predicted, labels, strict=True)]))),
    }


def _sample(rows: list[Row], limit: int | None) -> list[Row]:
    """At most ``limit`` rows per source (every k-th by id order: deterministic), or all."""
    if not limit:
        return rows
    by_source: dict[str, list[Row]] = defaultdict(list)
    for r in sorted(rows, key=lambda r: r.id):
        by_source[r.source].append(r)
    out: list[Row] = []
    for part in by_source.values():
        step = max(1, len(part) // limit)
        out.extend(part[::step][:limit])
    return out


def corpus_quality(
    labeled: Path, tier: str = DEFAULT_TIER, split: str = "test", limit: int | None = None
) -> dict[str, Any]:
    """Figures per task and source on ``split`` of the corpus."""
    model = text_model(tier)
    out: dict[str, Any] = {}
    for task in TASK_FILES:
        rows = _sample([r for r in read_task(labeled, task) if r.split == split], limit)
        scored = scored_as_completions([r.text for r in rows], tier)
        groups: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(rows):
            groups[r.source].append(i)
        figures: dict[str, Any] = {}
        if task == "sentiment":
            compound = scored["completion_sentiment_compound"]
            for source, idx in sorted(groups.items()):
                figures[source] = sentiment_figures(
                    [rows[i].label for i in idx], [compound[i] or 0.0 for i in idx], model.neutral_band
                )
                figures[source]["eval_only"] = rows[idx[0]].eval_only
        else:
            column = f"completion_{task}_score"
            threshold = model.heads[task].threshold
            for source, idx in sorted(groups.items()):
                figures[source] = binary_figures(
                    [rows[i].label for i in idx], [scored[column][i] or 0.0 for i in idx], threshold
                )
                figures[source]["eval_only"] = rows[idx[0]].eval_only
            if task == "refusal":
                by_model: dict[str, list[int]] = defaultdict(list)
                for i, r in enumerate(rows):
                    by_model[r.model or "(unknown)"].append(i)
                figures["by_model"] = {
                    m: binary_figures(
                        [rows[i].label for i in idx], [scored[column][i] or 0.0 for i in idx], threshold
                    )
                    for m, idx in sorted(by_model.items())
                }
                figures["all"] = binary_figures(
                    [r.label for r in rows], [s or 0.0 for s in scored[column]], threshold
                )
        out[task] = figures
    return out


def devset_quality(devset: Path, tier: str = DEFAULT_TIER) -> dict[str, Any]:
    """Figures on the regression set, with accuracy per kind of item."""
    model = text_model(tier)
    out: dict[str, Any] = {}
    for task in ("refusal", "toxicity"):
        items = load(devset, task)
        scores = [
            s or 0.0 for s in scored_as_completions([i.text for i in items], tier)[f"completion_{task}_score"]
        ]
        threshold = model.heads[task].threshold
        figures = binary_figures([int(i.label) for i in items], scores, threshold)
        per_kind: dict[str, list[bool]] = defaultdict(list)
        for item, s in zip(items, scores, strict=True):
            per_kind[item.kind].append((s >= threshold) == bool(item.label))
        figures["accuracy_by_kind"] = {k: _r(sum(v) / len(v)) for k, v in sorted(per_kind.items())}
        out[task] = figures
    items = load(devset, "sentiment")
    compound = [
        c or 0.0
        for c in scored_as_completions([i.text for i in items], tier)["completion_sentiment_compound"]
    ]
    labels = [SENTIMENT_CLASSES[i.label] for i in items]
    out["sentiment"] = sentiment_figures(labels, compound, model.neutral_band)
    return out


def evaluate(
    labeled: Path | None,
    devset: Path | None,
    tiers: Iterable[str] = TIERS,
    split: str = "test",
    limit: int | None = None,
) -> dict[str, Any]:
    """All figures, per tier, as one JSON-ready dict."""
    out: dict[str, Any] = {"split": split, "limit_per_source": limit, "tiers": {}}
    for tier in tiers:
        model = text_model(tier)
        entry: dict[str, Any] = {
            "version": model.version,
            "thresholds": {h: model.heads[h].threshold for h in ("refusal", "toxicity")},
            "neutral_band": model.neutral_band,
        }
        if labeled is not None:
            entry["corpus"] = corpus_quality(labeled, tier, split, limit)
        if devset is not None:
            entry["regression"] = devset_quality(devset, tier)
        out["tiers"][tier] = entry
    return out


def _cell(x: Any) -> str:
    return "-" if x is None else f"{x:.3f}"


def summary(figures: dict[str, Any]) -> list[str]:
    """Markdown tables: one row per task and source, a column group per tier."""
    tiers = list(figures["tiers"])
    lines = [f"Text metric quality, {figures['split']} split of the labeled corpus, per source"]
    if figures.get("limit_per_source"):
        lines[0] += f" (at most {figures['limit_per_source']} rows a source)"
    head = " | ".join(f"{t} ({figures['tiers'][t]['version']})" for t in tiers)
    lines += ["", f"| task | source | n | {head} |", "|---|---|---|" + "---|" * len(tiers)]

    def row(task: str, source: str, pick: Any, label: str | None = None) -> None:
        entries = []
        n = None
        for t in tiers:
            part = figures["tiers"][t]
            if source == "regression set":
                f = part.get("regression", {}).get(task)
            elif source.startswith("model "):
                f = part.get("corpus", {}).get(task, {}).get("by_model", {}).get(source[6:])
            else:
                f = part.get("corpus", {}).get(task, {}).get(source)
            entries.append("-" if f is None else pick(f))
            n = n or (f or {}).get("n")
        lines.append(f"| {task} | {label or source} | {n or '-'} | " + " | ".join(entries) + " |")

    def binary(f: dict[str, Any]) -> str:
        return (
            f"AUC {_cell(f['roc_auc'])}, PR-AUC {_cell(f['pr_auc'])}, F1 {_cell(f['f1'])}"
            f" (P {_cell(f['precision'])} R {_cell(f['recall'])}), ECE {_cell(f['ece'])}"
        )

    def sentiment(f: dict[str, Any]) -> str:
        return f"polar acc. {_cell(f['polar_accuracy'])}, macro-F1 {_cell(f['macro_f1'])}"

    first = figures["tiers"][tiers[0]]
    for task in TASK_FILES:
        sources = [s for s in first.get("corpus", {}).get(task, {}) if s not in ("by_model", "all")]
        for source in sources:
            label = source + (" (eval only)" if first["corpus"][task][source].get("eval_only") else "")
            row(task, source, sentiment if task == "sentiment" else binary, label)
        if task == "refusal" and "corpus" in first:
            row(task, "all", binary)
            for model in first["corpus"]["refusal"].get("by_model", {}):
                row(task, f"model {model}", binary)
        if "regression" in first:
            row(task, "regression set", sentiment if task == "sentiment" else binary)
    return lines
