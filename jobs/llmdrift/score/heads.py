"""The learned text models: calibrated linear heads over shared text features, by tier.

A *tier* (``fast``, the default and only one shipped) is a set of heads trained by ``llmdrift models train`` on the
third-party labeled corpus (``llmdrift.score.train``):

- ``refusal``: P(the completion refuses, fully or partly);
- ``toxicity``: P(toxic / abusive / hateful), for prompts and completions alike;
- ``sentiment_positive`` and ``sentiment_negative``: P(positive), P(negative); the sentiment compound in
  [-1, 1] is their difference.

Each head is a logistic model over some feature blocks (``llmdrift.score.features``), followed by Platt
scaling fitted on the ``dev`` split so that its output is a probability; its decision threshold was chosen on
``dev`` for F1 (sentiment: the neutral band, for macro-F1). A tier lives in ``textmodels/<tier>/``:
``manifest.json`` (blocks, biases, calibration, thresholds, evidence, training provenance, dev figures) and
``weights.f16.gz`` (every weight vector as float16, concatenated; gzip without timestamps, so a retrain from
the same data gives the same bytes). The tier's *version* is a hash of both files; every scored row records it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from llmdrift.score import features
from llmdrift.text.embedders import ModelError

# One tier ships: an "accurate" tier (the fast features plus MiniLM) was measured and dropped (README of
# the text models): it did not beat the fast one on every source, and could not be rebuilt in CI.
TIERS = ("fast",)
DEFAULT_TIER = "fast"
HEADS = ("refusal", "toxicity", "sentiment_positive", "sentiment_negative")
MANIFEST = "manifest.json"
WEIGHTS = "weights.f16.gz"

Probabilities = npt.NDArray[np.float64]


class TextModelError(ModelError):
    """A text model is missing, unknown or damaged."""


def sigmoid(z: npt.NDArray[np.float64]) -> Probabilities:
    out: Probabilities = 1.0 / (1.0 + np.exp(-np.clip(z, -40.0, 40.0)))
    return out


@dataclass(frozen=True)
class Head:
    name: str
    blocks: tuple[str, ...]
    weights: dict[str, npt.NDArray[np.float32]]
    bias: float
    platt: tuple[float, float]  # p = sigmoid(a * z + b), z the raw linear score
    threshold: float
    # An evidence block (0/1 columns) and each column's precision on the training data: a column that fires
    # raises p by noisy-OR, p' = 1 - (1 - p) * (1 - precision).
    evidence: tuple[str, tuple[float, ...]] | None = None

    def logit(self, feats: dict[str, Any]) -> npt.NDArray[np.float64]:
        z: npt.NDArray[np.float64] | None = None
        for block in self.blocks:
            part = np.asarray(feats[block] @ self.weights[block], dtype=np.float64).ravel()
            z = part if z is None else z + part
        if z is None:
            raise TextModelError(f"head {self.name} reads no feature block")
        return z + self.bias

    def probability(self, feats: dict[str, Any]) -> Probabilities:
        a, b = self.platt
        p = sigmoid(a * self.logit(feats) + b)
        if self.evidence is None:
            return p
        block, precision = self.evidence
        fired = np.asarray(feats[block], dtype=np.float64)
        keep = np.prod(1.0 - fired * np.asarray(precision, dtype=np.float64), axis=1)
        out: Probabilities = 1.0 - (1.0 - p) * keep
        return out

    def needs(self) -> tuple[str, ...]:
        """The feature blocks this head reads."""
        return self.blocks + ((self.evidence[0],) if self.evidence else ())


@dataclass(frozen=True)
class TextModel:
    tier: str
    version: str  # "<tier>-<8 hex digits>"
    heads: dict[str, Head]
    neutral_band: float  # |compound| at or below it reads as neutral
    manifest: dict[str, Any]

    def blocks(self, heads: Sequence[str]) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for name in heads:
            seen.update(dict.fromkeys(self.heads[name].needs()))
        return tuple(seen)

    def features(
        self, texts: Sequence[str], heads: Sequence[str], known: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The feature blocks the named heads read, for non-empty ``texts``."""
        return features.compute(texts, self.blocks(heads), known)

    def score(
        self, texts: Sequence[str], heads: Sequence[str], known: dict[str, Any] | None = None
    ) -> dict[str, Probabilities]:
        """Calibrated probabilities of each named head for non-empty ``texts``."""
        if not texts:
            return {h: np.zeros(0) for h in heads}
        feats = self.features(texts, heads, known)
        return {h: self.heads[h].probability(feats) for h in heads}


def shipped_dir() -> Path:
    """``textmodels/`` inside the installed package (the wheel carries it to Glue)."""
    return Path(str(resources.files("llmdrift.score") / "textmodels"))


def version_of(manifest_bytes: bytes, weights_bytes: bytes) -> str:
    digest = hashlib.sha256(manifest_bytes + b"\0" + weights_bytes).hexdigest()
    return digest[:8]


def load(tier: str, root: Path | None = None) -> TextModel:
    if tier not in TIERS:
        raise TextModelError(f"unknown text model {tier!r} ({' or '.join(TIERS)})")
    folder = (root or shipped_dir()) / tier
    try:
        manifest_bytes = (folder / MANIFEST).read_bytes()
        weights_bytes = (folder / WEIGHTS).read_bytes()
    except FileNotFoundError as exc:
        raise TextModelError(
            f"text model {tier!r} not found at {folder}: rebuild it with `llmdrift models train`"
        ) from exc
    manifest = json.loads(manifest_bytes)
    flat = np.frombuffer(gzip.decompress(weights_bytes), dtype="<f2")
    heads: dict[str, Head] = {}
    for name, spec in manifest["heads"].items():
        weights: dict[str, npt.NDArray[np.float32]] = {}
        for block in spec["blocks"]:
            offset, size = spec["offsets"][block]
            if offset + size > flat.size or size != features.width(block):
                raise TextModelError(f"{folder / WEIGHTS}: head {name} block {block} is out of range")
            weights[block] = flat[offset : offset + size].astype(np.float32)
        heads[name] = Head(
            name,
            tuple(spec["blocks"]),
            weights,
            float(spec["bias"]),
            (float(spec["platt"][0]), float(spec["platt"][1])),
            float(spec["threshold"]),
            (spec["evidence"]["block"], tuple(spec["evidence"]["precision"]))
            if spec.get("evidence")
            else None,
        )
    missing = [h for h in HEADS if h not in heads]
    if missing:
        raise TextModelError(f"{folder / MANIFEST}: heads missing: {', '.join(missing)}")
    return TextModel(
        tier,
        f"{tier}-{version_of(manifest_bytes, weights_bytes)}",
        heads,
        float(manifest["neutral_band"]),
        manifest,
    )


@cache
def text_model(tier: str = DEFAULT_TIER) -> TextModel:
    """The shipped tier, loaded once per process (Spark reuses its Python workers)."""
    return load(tier)


def sentiment_label(compound: float | None, band: float) -> int:
    """-1, 0 or 1: neutral when the compound is null or within the band."""
    if compound is None or abs(compound) <= band:
        return 0
    return 1 if compound > 0 else -1
