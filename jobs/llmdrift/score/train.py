"""Train the text heads of each tier from the third-party labeled corpus (``../shared/data/labeled``).

    llmdrift models train --labeled ../shared/data/labeled [--out DIR] [--tier fast|all]

Rules of the corpus (its README): weights learn only from ``split == "train"`` rows with ``eval_only`` false;
calibration (Platt scaling) and thresholds are fitted on ``dev`` rows of the trainable sources; ``test`` is
never read here (``llmdrift quality`` reports it, per source).

Each head is an L2-regularised logistic regression (liblinear: deterministic, no threads) over the blocks of
its tier (``TIER_BLOCKS``). Rows are weighted so that no source dominates and no source teaches a shortcut:
a source weighs in proportion to the square root of its size, and inside a source each label weighs the same
(a source with one label only, such as the toxic-span posts, gets the half of its weight that the label it has
would get). Weights are rounded to float16 before calibration, so the shipped model is the one calibrated.
The output is byte-for-byte the same for the same corpus, installed packages and static embedding model.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from llmdrift.core.errors import LlmdriftError
from llmdrift.score import features
from llmdrift.score.heads import HEADS, MANIFEST, TIERS, WEIGHTS, sigmoid, version_of

TASK_FILES = {
    "refusal": "refusal.jsonl.gz",
    "toxicity": "toxicity.jsonl.gz",
    "sentiment": "sentiment.jsonl.gz",
}
HEAD_TASK = {
    "refusal": "refusal",
    "toxicity": "toxicity",
    "sentiment_positive": "sentiment",
    "sentiment_negative": "sentiment",
}
_RULES = {"refusal": "refusal_rules", "toxicity": "toxicity_rules", "sentiment": "vader"}
_VIEW = {"refusal": "masked_", "toxicity": "masked_", "sentiment": ""}
EVIDENCE = {"refusal": "refusal_phrases", "toxicity": "toxicity_patterns"}  # noisy-OR blocks (heads.Head)
# Refusal and toxicity read words and static vector through one mask. Reading the raw text's vector instead
# would spare re-encoding a fifth of the texts but cost precision where it matters: a quoted slur reads as one
# (regression-set quoting 0.83 -> 0.33), "I'm sorry to hear that. Here is how..." as a refusal (0.47 -> 0.76).
# Sentiment reads the text as it is ("I can't wait" is a tone).
TIER_BLOCKS: dict[str, dict[str, tuple[str, ...]]] = {
    "fast": {h: (f"{_VIEW[t]}words", f"{_VIEW[t]}static", _RULES[t]) for h, t in HEAD_TASK.items()},
}
# Inverse regularisation: 1 did better than 4 on dev in the first toxicity and sentiment trials; not swept further.
C = {"refusal": 1.0, "toxicity": 1.0, "sentiment": 1.0}
Log = Callable[[str], None]


class TrainError(LlmdriftError, ValueError):
    """The labeled corpus is missing or not as expected."""


@dataclass(frozen=True)
class Row:
    id: str
    text: str
    label: int
    source: str
    split: str
    eval_only: bool
    model: str | None = None
    label_fine: str | None = None


def read_task(labeled: Path, task: str) -> list[Row]:
    path = labeled / TASK_FILES[task]
    if not path.exists():
        raise TrainError(f"labeled corpus file not found: {path} (see ../shared/data/labeled/README.md)")
    rows = []
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            try:
                r = json.loads(line)
                rows.append(
                    Row(
                        r["id"],
                        r["text"],
                        int(r["label"]),
                        r["source"],
                        r["split"],
                        bool(r["eval_only"]),
                        r.get("model"),
                        r.get("label_fine"),
                    )
                )
            except (ValueError, KeyError, TypeError) as exc:
                raise TrainError(f"{path}:{number}: {exc}") from exc
    return rows


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def sample_weights(rows: Sequence[Row], target: Sequence[int]) -> npt.NDArray[np.float64]:
    """Per row: source weight sqrt(n_source), split evenly over the labels (two) inside the source."""
    n_source = Counter(r.source for r in rows)
    n_cell = Counter((r.source, t) for r, t in zip(rows, target, strict=True))
    w = np.array(
        [math.sqrt(n_source[r.source]) / 2 / n_cell[(r.source, t)] for r, t in zip(rows, target, strict=True)]
    )
    out: npt.NDArray[np.float64] = w * len(rows) / w.sum()
    return out


def platt(z: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> tuple[float, float]:
    """(a, b) minimising the log loss of sigmoid(a z + b) on (z, y): Newton's method, a small ridge."""
    a, b = 1.0, 0.0
    for _ in range(50):
        p = sigmoid(a * z + b)
        g = np.array([np.sum((p - y) * z) + 1e-6 * a, np.sum(p - y)])
        s = p * (1 - p)
        h = np.array([[np.sum(s * z * z) + 1e-6, np.sum(s * z)], [np.sum(s * z), np.sum(s) + 1e-9]])
        step = np.linalg.solve(h, g)
        a, b = a - float(step[0]), b - float(step[1])
        if np.max(np.abs(step)) < 1e-10:
            break
    return round(a, 6), round(b, 6)


def f1_at(p: npt.NDArray[np.float64], y: npt.NDArray[np.float64], t: float) -> float:
    pred = p >= t
    tp = float(np.sum(pred & (y == 1)))
    fp = float(np.sum(pred & (y == 0)))
    fn = float(np.sum(~pred & (y == 1)))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def best_threshold(p: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> float:
    """The threshold of the best F1, in the middle of its plateau."""
    grid = [round(0.05 + 0.01 * i, 2) for i in range(91)]
    scores = [f1_at(p, y, t) for t in grid]
    best = max(scores)
    # the middle of the thresholds within 0.002 of the best F1: a plateau, not a spike
    near = [t for t, s in zip(grid, scores, strict=True) if s >= best - 0.002]
    return near[len(near) // 2]


def expected_calibration_error(
    p: npt.NDArray[np.float64], y: npt.NDArray[np.float64], bins: int = 10
) -> float:
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1]), 0, bins - 1)
    err = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            err += mask.mean() * abs(float(p[mask].mean()) - float(y[mask].mean()))
    return round(err, 4)


def _stack(feats: dict[str, Any], blocks: Sequence[str]) -> Any:
    import scipy.sparse as sp

    parts = [f if sp.issparse(f) else sp.csr_matrix(f) for f in (feats[b] for b in blocks)]
    return sp.hstack(parts, format="csr")


ORDINARY_SOURCE = "ordinary_texts"
ORDINARY_PER_SOURCE = 50


def ordinary_texts(corpus: dict[str, list[Row]]) -> list[Row]:
    """Non-refusals from the other tasks' trainable ``train`` rows: comments, replies and verse that say
    "sorry", "can't" or "help" without refusing anything. The refusal corpus holds one model's answers only,
    whose short replies are nearly all refusals, so without these "Hi! How can I help?" reads as one.
    At most ``ORDINARY_PER_SOURCE`` a source (every k-th by id), labeled comply, weighed as one more source."""
    out: list[Row] = []
    for task in ("toxicity", "sentiment"):
        by_source: dict[str, list[Row]] = {}
        for r in sorted(corpus.get(task, []), key=lambda r: r.id):
            if r.split == "train" and not r.eval_only and not (task == "toxicity" and r.label == 1):
                by_source.setdefault(r.source, []).append(r)
        for rows in by_source.values():
            step = max(1, len(rows) // ORDINARY_PER_SOURCE)
            out += [
                Row(r.id, r.text, 0, ORDINARY_SOURCE, "train", False, None, "comply")
                for r in rows[::step][:ORDINARY_PER_SOURCE]
            ]
    return out


def evidence_precision(
    fired: npt.NDArray[np.float32], y: npt.NDArray[np.float64], rows: Sequence[Row]
) -> list[float]:
    """Per 0/1 column: the share of positives among the training rows where it fires, in sources that have
    both labels (add-one smoothed, so a rule seen firing twice is not trusted as certain)."""
    both = _two_label_rows(rows, y)
    out = []
    for j in range(fired.shape[1]):
        hit = (fired[:, j] > 0) & both
        out.append(round(float((y[hit].sum() + 1) / (hit.sum() + 2)), 4))
    return out


ASSISTANT_SOURCE = "assistant_texts"


def assistant_texts(corpus: dict[str, list[Row]]) -> list[Row]:
    """Non-toxic assistant replies from the refusal corpus's ``train`` rows: every refusal, and the answers of
    chatgpt_refusals (poems, summaries, articles). The toxicity sources hold comments, forum posts and short
    chat turns only, so without these an ordinary step-by-step answer scored 0.2-0.3 and one completion in
    three of the demo read as toxic. gptfuzz's complying answers (jailbroken, harmful) are left out."""
    out = []
    for r in sorted(corpus.get("refusal", []), key=lambda r: r.id):
        if r.split == "train" and not r.eval_only and (r.label == 1 or r.source == "chatgpt_refusals"):
            out.append(Row(r.id, r.text, 0, ASSISTANT_SOURCE, "train", False, None, "assistant"))
    return out


def _two_label_rows(rows: Sequence[Row], y: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    labels: dict[str, set[float]] = {}
    for r, t in zip(rows, y, strict=True):
        labels.setdefault(r.source, set()).add(float(t))
    return np.array([len(labels[r.source]) == 2 for r in rows])


def _target(head: str, rows: Sequence[Row]) -> npt.NDArray[np.float64]:
    if head == "sentiment_positive":
        return np.array([float(r.label == 1) for r in rows])
    if head == "sentiment_negative":
        return np.array([float(r.label == -1) for r in rows])
    return np.array([float(r.label) for r in rows])


def _sentiment_band(
    p_pos: npt.NDArray[np.float64], p_neg: npt.NDArray[np.float64], labels: Sequence[int]
) -> float:
    from sklearn.metrics import f1_score

    compound = p_pos - p_neg
    grid = [round(0.02 * i, 2) for i in range(46)]
    scores = []
    for band in grid:
        pred = np.where(np.abs(compound) <= band, 0, np.sign(compound)).astype(int)
        scores.append(float(f1_score(list(labels), pred, average="macro")))
    best = max(scores)
    near = [b for b, s in zip(grid, scores, strict=True) if s >= best - 0.002]
    return near[len(near) // 2]


def train_tier(
    tier: str, corpus: dict[str, list[Row]], out: Path, provenance: dict[str, Any], log: Log = print
) -> str:
    """Fit every head of ``tier``, write ``out/<tier>/``; returns the tier's version."""
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    blocks_needed = {
        t: tuple(dict.fromkeys(b for h, bs in TIER_BLOCKS[tier].items() if HEAD_TASK[h] == t for b in bs))
        + ((EVIDENCE[t],) if t in EVIDENCE else ())
        for t in TASK_FILES
    }
    feats: dict[tuple[str, str], dict[str, Any]] = {}
    rows_of: dict[tuple[str, str], list[Row]] = {}
    for task, rows in corpus.items():
        for split in ("train", "dev"):
            part = [r for r in rows if r.split == split and not r.eval_only]
            if task == "refusal" and split == "train":
                part += ordinary_texts(corpus)
            if task == "toxicity" and split == "train":
                part += assistant_texts(corpus)
            t0 = time.monotonic()
            rows_of[(task, split)] = part
            feats[(task, split)] = features.compute([r.text for r in part], blocks_needed[task])
            log(f"  [{tier}] {task} {split}: {len(part):,} texts, features in {time.monotonic() - t0:.1f}s")
    flat: list[npt.NDArray[np.float16]] = []
    offset = 0
    heads: dict[str, Any] = {}
    dev_probs: dict[str, npt.NDArray[np.float64]] = {}
    for head in HEADS:
        task = HEAD_TASK[head]
        blocks = TIER_BLOCKS[tier][head]
        train_rows, dev_rows = rows_of[(task, "train")], rows_of[(task, "dev")]
        y = _target(head, train_rows)
        t0 = time.monotonic()
        model = LogisticRegression(
            C=C[task], solver="liblinear", intercept_scaling=10.0, max_iter=500, random_state=0
        )
        # One math thread: liblinear sums with OpenBLAS, whose threaded sums move the last bits, and the
        # limit must come after scikit-learn has loaded scipy's OpenBLAS (a second library from numpy's).
        with threadpool_limits(limits=1):
            model.fit(
                _stack(feats[(task, "train")], blocks),
                y,
                sample_weight=sample_weights(train_rows, [int(t) for t in y]),
            )
        coef = model.coef_.ravel().astype(np.float16)
        bias = round(float(model.intercept_[0]), 6)
        offsets: dict[str, list[int]] = {}
        start = 0
        for block in blocks:
            size = features.width(block)
            offsets[block] = [offset + start, size]
            start += size
        flat.append(coef)
        offset += coef.size
        z = (
            np.asarray(_stack(feats[(task, "dev")], blocks) @ coef.astype(np.float32), dtype=np.float64)
            + bias
        )
        y_dev = _target(head, dev_rows)
        # Calibration and threshold see the dev rows of sources that have both labels: a source of positives
        # only (the toxic-span posts) says nothing about where to cut, and would inflate the base rate.
        both = _two_label_rows(dev_rows, y_dev)
        a, b = platt(z[both], y_dev[both])
        p_dev = sigmoid(a * z + b)
        evidence = None
        if task in EVIDENCE:
            block = EVIDENCE[task]
            precision = evidence_precision(np.asarray(feats[(task, "train")][block]), y, train_rows)
            evidence = {"block": block, "precision": precision}
            fired = np.asarray(feats[(task, "dev")][block], dtype=np.float64)
            p_dev = 1.0 - (1.0 - p_dev) * np.prod(1.0 - fired * np.asarray(precision), axis=1)
        dev_probs[head] = p_dev
        p, y_dev = p_dev[both], y_dev[both]
        threshold = best_threshold(p, y_dev)
        heads[head] = {
            "task": task,
            "blocks": list(blocks),
            "offsets": offsets,
            "bias": bias,
            "platt": [a, b],
            "threshold": threshold,
            "evidence": evidence,
            "C": C[task],
            "train_rows": len(train_rows),
            "dev": {"f1": round(f1_at(p, y_dev, threshold), 4), "ece": expected_calibration_error(p, y_dev)},
        }
        log(
            f"  [{tier}] {head}: fitted in {time.monotonic() - t0:.1f}s, threshold {threshold},"
            f" dev F1 {heads[head]['dev']['f1']}, dev ECE {heads[head]['dev']['ece']}"
        )
    band = _sentiment_band(
        dev_probs["sentiment_positive"],
        dev_probs["sentiment_negative"],
        [r.label for r in rows_of[("sentiment", "dev")]],
    )
    manifest = {
        "tier": tier,
        "heads": heads,
        "neutral_band": band,
        "features": {
            "text_chars": features.TEXT_CHARS,
            "embed_chars": features.EMBED_CHARS,
            "vader_chars": features.VADER_CHARS,
            "hash_buckets": features.HASH_BUCKETS,
            "token_pattern": features.TOKEN_PATTERN,
            "rule_scale": features.RULE_SCALE,
        },
        "training": provenance,
    }
    manifest_bytes = (json.dumps(manifest, indent=1, sort_keys=True) + "\n").encode()
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as gz:
        gz.write(np.concatenate(flat).astype("<f2").tobytes())
    weights_bytes = buffer.getvalue()
    folder = out / tier
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MANIFEST).write_bytes(manifest_bytes)
    (folder / WEIGHTS).write_bytes(weights_bytes)
    version = f"{tier}-{version_of(manifest_bytes, weights_bytes)}"
    log(f"  [{tier}] wrote {folder} ({len(weights_bytes) / 1e6:.1f} MB of weights), version {version}")
    return version


def provenance_of(labeled: Path) -> dict[str, Any]:
    from importlib.metadata import version

    from llmdrift.text.embedders import STATIC_NAME, model_dir

    static = model_dir() / STATIC_NAME / "model.safetensors"
    return {
        "corpus": {name: file_sha256(labeled / name) for name in sorted(TASK_FILES.values())},
        "rows": "split == train and eval_only == false (weights); dev, trainable sources (calibration, thresholds)",
        "scikit_learn": version("scikit-learn"),
        "static_model_sha256": file_sha256(static) if static.exists() else None,
    }


def train(labeled: Path, out: Path, tiers: Sequence[str] = TIERS, log: Log = print) -> dict[str, str]:
    """Train ``tiers`` into ``out``; returns tier -> version."""
    for tier in tiers:
        if tier not in TIERS:
            raise TrainError(f"unknown tier {tier!r} ({' or '.join(TIERS)})")
    t0 = time.monotonic()
    corpus = {task: read_task(labeled, task) for task in TASK_FILES}
    log(f"read {sum(len(r) for r in corpus.values()):,} labeled texts from {labeled}")
    provenance = provenance_of(labeled)
    versions = {tier: train_tier(tier, corpus, out, provenance, log) for tier in tiers}
    log(f"trained {', '.join(versions.values())} in {time.monotonic() - t0:.0f}s -> {out}")
    return versions
