"""The metric registry and the batch scorer that runs it (inside Spark's Python workers).

A metric is named ``{prompt|completion}.{family}.{measure}`` and stored as the snake_case column. Each
family is a small frozen spec: its metrics and a function computing them for a batch of invocations.
Model-based families share one embedding pass (identical texts embedded once per batch, by hash).

Inputs are prepared once per batch: a null text stays null (a null in, a null out); a text over
``MAX_TEXT_CHARS`` is scored on its first ``MAX_TEXT_CHARS`` characters and flagged ``truncated``; a text
that looks binary (over 10% control or replacement characters) gets null model metrics and is flagged
``binary``. Flags land in ``quality_flags`` and in the quarantine table.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np

from llmdrift.score import refusal
from llmdrift.score.comprehend import ComprehendScorer
from llmdrift.score.features import EMBED_CHARS
from llmdrift.score.heads import DEFAULT_TIER, TextModel, text_model
from llmdrift.text import pii
from llmdrift.text.embedders import Encoder, Vectors, encoder

MAX_TEXT_CHARS = 20_000
# Bounded reads keep the cost per invocation flat for long completions (score/README.md, "What made the batched path fast"):
# Amazon Comprehend's toxicity is a probability of its own; its flag keeps the threshold it had before the
# local heads were learned (not measured here: no AWS account in CI).
COMPREHEND_TOXICITY_THRESHOLD = 0.75
ROLES = ("prompt", "completion")


@dataclass(frozen=True)
class Metric:
    name: str
    type: str
    description: str

    @property
    def column(self) -> str:
        return self.name.replace(".", "_")


@dataclass
class Batch:
    """One batch of invocations, texts prepared, plus the shared embeddings."""

    texts: dict[str, list[str | None]]  # role -> prepared text (None when null or binary)
    prepared: dict[str, list[Prepared]]  # role -> lengths and flags of the whole texts
    flags: list[list[str]]
    stop_reason: list[str | None]
    guardrail: list[bool | None]
    input_tokens: list[int | None]
    output_tokens: list[int | None]
    backend: str = "local"  # sentiment and toxicity: local models, or "comprehend" (Amazon Comprehend)
    region: str | None = None
    encoder: Encoder | None = None
    vectors: dict[str, list[Vectors | None]] = field(default_factory=dict)
    text_model: TextModel | None = None
    # role -> head (or "refusal_phrase") -> one value per row, None where the text is null or empty
    text_probs: dict[str, dict[str, list[Any]]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.flags)

    def model(self) -> TextModel:
        if self.text_model is None:
            raise ValueError("the batch has no text model")
        return self.text_model


Compute = Callable[[Batch], dict[str, list[Any]]]


@dataclass(frozen=True)
class Family:
    name: str
    metrics: tuple[Metric, ...]
    compute: Compute
    uses_embeddings: bool = False


class Registry:
    def __init__(self) -> None:
        self._families: dict[str, Family] = {}

    def register(self, family: Family) -> Family:
        if family.name in self._families:
            raise ValueError(f"metric family {family.name!r} is already registered")
        taken = {m.name for f in self._families.values() for m in f.metrics}
        for metric in family.metrics:
            if metric.name in taken:
                raise ValueError(f"metric {metric.name!r} is already registered")
            if metric.name.split(".")[0] not in ROLES:
                raise ValueError(f"metric {metric.name!r} must start with prompt. or completion.")
        self._families[family.name] = family
        return family

    @property
    def families(self) -> list[Family]:
        return list(self._families.values())

    @property
    def metrics(self) -> list[Metric]:
        return [m for f in self._families.values() for m in f.metrics]


REGISTRY = Registry()


# ------------------------------------------------------------------------------------------- families


def _per_role(fn: Callable[[str | None], Any], batch: Batch, role: str) -> list[Any]:
    return [fn(t) for t in batch.texts[role]]


def _text_stats(batch: Batch) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for role in ROLES:
        out[f"{role}_text_chars"] = [p.chars for p in batch.prepared[role]]
        out[f"{role}_text_words"] = [p.words for p in batch.prepared[role]]
    out["prompt_text_tokens"] = batch.input_tokens
    out["completion_text_tokens"] = batch.output_tokens
    return out


@cache
def comprehend_scorer(region: str | None) -> ComprehendScorer:
    """One Comprehend client per worker process and region."""
    return ComprehendScorer(region=region)


def _sentiment(batch: Batch) -> dict[str, list[Any]]:
    if batch.backend == "comprehend":
        scorer = comprehend_scorer(batch.region)
        return {f"{role}_sentiment_compound": scorer.sentiment(batch.texts[role]) for role in ROLES}
    out: dict[str, list[Any]] = {}
    for role in ROLES:
        pos, neg = batch.text_probs[role]["sentiment_positive"], batch.text_probs[role]["sentiment_negative"]
        out[f"{role}_sentiment_compound"] = [
            None if p is None or n is None else round(p - n, 6) for p, n in zip(pos, neg, strict=True)
        ]
    return out


def _toxicity(batch: Batch) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    threshold = (
        COMPREHEND_TOXICITY_THRESHOLD
        if batch.backend == "comprehend"
        else batch.model().heads["toxicity"].threshold
    )
    for role in ROLES:
        if batch.backend == "comprehend":
            scores = comprehend_scorer(batch.region).toxicity(batch.texts[role])
        else:
            scores = batch.text_probs[role]["toxicity"]
        out[f"{role}_toxicity_score"] = scores
        out[f"{role}_toxicity_flag"] = [None if s is None else s >= threshold for s in scores]
    return out


def _pii(batch: Batch) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for role in ROLES:
        pairs = _per_role(pii.summarize, batch, role)
        out[f"{role}_pii_count"] = [c for c, _ in pairs]
        out[f"{role}_pii_types"] = [t for _, t in pairs]
    return out


def _similarity(batch: Batch) -> dict[str, list[Any]]:
    sims: list[float | None] = []
    for p, c in zip(batch.vectors["prompt"], batch.vectors["completion"], strict=True):
        sims.append(None if p is None or c is None else float(np.dot(p, c)))
    return {"completion_similarity_prompt": sims}


def _refusal(batch: Batch) -> dict[str, list[Any]]:
    threshold = batch.model().heads["refusal"].threshold
    probs = batch.text_probs["completion"]["refusal"]
    phrases = batch.text_probs["completion"].get("refusal_phrase", [None] * len(batch))
    out_score: list[float | None] = []
    out_flag: list[bool | None] = []
    out_signal: list[str | None] = []
    for i, prob in enumerate(probs):
        if batch.stop_reason[i] in refusal.STOP_REASONS:
            score, signal = 1.0, "stop_reason"
        elif batch.guardrail[i]:
            score, signal = 1.0, "guardrail"
        elif prob is None:
            out_score.append(None)
            out_flag.append(None)
            out_signal.append(None)
            continue
        else:
            score = prob
            signal = "none" if prob < threshold else ("phrase" if phrases[i] else "model")
        out_score.append(score)
        out_flag.append(score >= threshold)
        out_signal.append(signal)
    return {
        "completion_refusal_score": out_score,
        "completion_refusal_flag": out_flag,
        "completion_refusal_signal": out_signal,
    }


def _m(name: str, type_: str, description: str) -> Metric:
    return Metric(name, type_, description)


REGISTRY.register(
    Family(
        "text",
        (
            _m("prompt.text.chars", "int", "Characters in the prompt (latest user turn)"),
            _m("prompt.text.words", "int", "Whitespace-separated words in the prompt"),
            _m("prompt.text.tokens", "bigint", "Input tokens of the request (record count)"),
            _m("completion.text.chars", "int", "Characters in the completion"),
            _m("completion.text.words", "int", "Whitespace-separated words in the completion"),
            _m("completion.text.tokens", "bigint", "Output tokens (record count)"),
        ),
        _text_stats,
    )
)
REGISTRY.register(
    Family(
        "sentiment",
        (
            _m(
                "prompt.sentiment.compound",
                "double",
                "Sentiment in [-1, 1]: P(positive) - P(negative) of the text model (first 1,500 characters)",
            ),
            _m(
                "completion.sentiment.compound",
                "double",
                "Sentiment in [-1, 1]: P(positive) - P(negative) of the text model (first 1,500 characters)",
            ),
        ),
        _sentiment,
    )
)
REGISTRY.register(
    Family(
        "toxicity",
        (
            _m(
                "prompt.toxicity.score",
                "double",
                "Toxicity probability in [0, 1] (calibrated text model; Comprehend's with --text-backend comprehend)",
            ),
            _m("prompt.toxicity.flag", "boolean", "prompt_toxicity_score >= the text model's threshold"),
            _m("completion.toxicity.score", "double", "Toxicity probability in [0, 1]"),
            _m(
                "completion.toxicity.flag",
                "boolean",
                "completion_toxicity_score >= the text model's threshold",
            ),
        ),
        _toxicity,
        uses_embeddings=True,
    )
)
REGISTRY.register(
    Family(
        "pii",
        (
            _m("prompt.pii.count", "int", "Personal-data matches in the prompt"),
            _m("prompt.pii.types", "array<string>", f"Kinds found: {', '.join(pii.PII_TYPES)}"),
            _m("completion.pii.count", "int", "Personal-data matches in the completion"),
            _m("completion.pii.types", "array<string>", "Kinds found"),
        ),
        _pii,
    )
)
REGISTRY.register(
    Family(
        "similarity",
        (
            _m(
                "completion.similarity.prompt",
                "double",
                "Cosine similarity of the completion and prompt embeddings",
            ),
        ),
        _similarity,
        uses_embeddings=True,
    )
)
REGISTRY.register(
    Family(
        "refusal",
        (
            _m(
                "completion.refusal.score",
                "double",
                "Refusal probability in [0, 1] (calibrated text model); 1 when the stop reason or a guardrail says so",
            ),
            _m(
                "completion.refusal.flag",
                "boolean",
                "is_refusal: completion_refusal_score >= the text model's threshold",
            ),
            _m(
                "completion.refusal.signal",
                "string",
                "What decided: stop_reason, guardrail, phrase (the model, with a refusal phrase), model, or none",
            ),
        ),
        _refusal,
        uses_embeddings=True,
    )
)


# ------------------------------------------------------------------------------------------- batch scoring


def text_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()


_ODD_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffd]")


def looks_binary(text: str) -> bool:
    sample = text[:4000]
    if not sample:
        return False
    odd = len(_ODD_CHARS.findall(sample))
    return odd / len(sample) > 0.10


@dataclass(frozen=True)
class Prepared:
    text: str | None  # what the model metrics read (None when null or binary)
    chars: int | None  # of the whole text
    words: int | None  # of the whole text (None when null or binary)
    flags: tuple[str, ...] = ()


def prepare(value: str | None) -> Prepared:
    """One raw text: a null stays null; binary-looking text gets no model input; a huge one is cut."""
    if value is None:
        return Prepared(None, None, None)
    if looks_binary(value):
        return Prepared(None, len(value), None, ("binary",))
    words = len(value.split())
    if len(value) > MAX_TEXT_CHARS:
        return Prepared(value[:MAX_TEXT_CHARS], len(value), words, ("truncated",))
    return Prepared(value, len(value), words)


def embed_unique(
    enc: Encoder, texts: list[str | None], known: list[Any] | None = None
) -> tuple[list[Vectors | None], list[str | None]]:
    """Vectors and hashes, each distinct non-empty text encoded once; a text whose vector is ``known``
    (stored by an earlier run, same model, looked up by hash) is not encoded at all."""
    hashes = [text_hash(t) if t and t.strip() else None for t in texts]
    lookup: dict[str, Any] = {}
    for h, vector in zip(hashes, known or [None] * len(texts), strict=True):
        if h is not None and vector is not None:
            lookup[h] = np.asarray(vector, dtype=np.float32)
    unique: dict[str, str] = {}
    for t, h in zip(texts, hashes, strict=True):
        if h is not None and h not in lookup and h not in unique:
            unique[h] = t  # type: ignore[assignment]
    keys = list(unique)
    if keys:
        matrix = enc.encode([unique[k][:EMBED_CHARS] for k in keys])
        lookup.update({k: matrix[i] for i, k in enumerate(keys)})
    return [lookup[h] if h is not None else None for h in hashes], hashes


def role_heads(role: str, backend: str) -> tuple[str, ...]:
    """The text-model heads scored for a role: refusal reads completions; sentiment and toxicity come from
    Amazon Comprehend instead with the ``comprehend`` backend."""
    heads: tuple[str, ...] = ("refusal",) if role == "completion" else ()
    if backend != "comprehend":
        heads += ("toxicity", "sentiment_positive", "sentiment_negative")
    return heads


def score_texts(
    model: TextModel, texts: list[str | None], heads: tuple[str, ...], static: list[Any] | None = None
) -> dict[str, list[Any]]:
    """Head probabilities per row (None for a null or blank text), each distinct text scored once; ``static``
    holds the rows' static vectors when the embedding pass made them (reused, not encoded again).
    Also ``refusal_phrase``: whether a refusal phrase was found (when the refusal head ran)."""
    n = len(texts)
    out: dict[str, list[Any]] = {h: [None] * n for h in heads}
    if not heads:
        return out
    first: dict[str, int] = {}
    for i, t in enumerate(texts):
        if t and t.strip() and t not in first:
            first[t] = i
    unique = list(first)
    if not unique:
        return out
    known = None
    if static is not None and all(static[first[t]] is not None for t in unique):
        known = {"static": np.stack([static[first[t]] for t in unique])}
    feats = model.features(unique, heads, known)
    at = {t: k for k, t in enumerate(unique)}
    for head in heads:
        probs = model.heads[head].probability(feats)
        out[head] = [None if not t or not t.strip() else float(probs[at[t]]) for t in texts]
    if "refusal_phrases" in feats:  # the phrase evidence, not refusal_rules (any refusal word at all)
        hit = np.asarray(feats["refusal_phrases"]).sum(axis=1) > 0
        out["refusal_phrase"] = [None if not t or not t.strip() else bool(hit[at[t]]) for t in texts]
    return out


def score_rows(
    rows: dict[str, list[Any]],
    embedder: str = "static",
    backend: str = "local",
    region: str | None = None,
    tier: str = DEFAULT_TIER,
) -> dict[str, list[Any]]:
    """Score one batch given as columns; returns metric columns plus vectors, hashes and flags.

    ``tier`` picks the learned text model (``llmdrift.score.heads``) of refusal, toxicity and sentiment;
    ``backend`` ``comprehend`` takes sentiment and toxicity from Amazon Comprehend in ``region`` instead.
    """
    n = len(rows["request_id"])
    texts: dict[str, list[str | None]] = {}
    prepared: dict[str, list[Prepared]] = {}
    flags: list[list[str]] = [[] for _ in range(n)]
    for role in ROLES:
        prepared[role] = [prepare(v) for v in rows[f"{role}_text"]]
        texts[role] = [p.text for p in prepared[role]]
        for i, p in enumerate(prepared[role]):
            flags[i].extend(f"{role}_text:{flag}" for flag in p.flags)
    batch = Batch(
        texts,
        prepared,
        flags,
        rows["stop_reason"],
        rows["guardrail_intervened"],
        rows["input_tokens"],
        rows["output_tokens"],
        backend,
        region,
    )
    out: dict[str, list[Any]] = {}
    if any(f.uses_embeddings for f in REGISTRY.families):
        batch.encoder = encoder(embedder)
        for role in ROLES:
            known = rows.get(f"{role}_known_vector")
            batch.vectors[role], out[f"{role}_hash"] = embed_unique(batch.encoder, texts[role], known)
        out["embedding_model"] = [batch.encoder.model_id] * n
        known = [rows.get(f"{role}_known_vector") or [None] * n for role in ROLES]
        out["reused_vectors"] = [sum(k[i] is not None for k in known) for i in range(n)]
    batch.text_model = text_model(tier)
    for role in ROLES:
        static = batch.vectors.get(role) if embedder == "static" else None
        batch.text_probs[role] = score_texts(batch.text_model, texts[role], role_heads(role, backend), static)
    for family in REGISTRY.families:
        out.update(family.compute(batch))
    for role in ROLES:
        out[f"{role}_vector"] = batch.vectors.get(role, [None] * n)  # numpy rows; the job makes Arrow lists
    out["quality_flags"] = [f or None for f in flags]
    return out
