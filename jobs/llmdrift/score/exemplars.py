"""Score texts by how much nearer they are to one set of exemplar sentences than to another."""

from __future__ import annotations

import numpy as np

from llmdrift.score.models import Encoder, Vectors

_CACHE: dict[tuple[str, tuple[str, ...], tuple[str, ...]], tuple[Vectors, Vectors]] = {}


def margin_scores(
    encoder: Encoder,
    vectors: Vectors,
    positive: tuple[str, ...],
    negative: tuple[str, ...],
    offset: float,
    scale: float,
) -> Vectors:
    """Per row: ``0.5 + (max sim to positive - max sim to negative - offset) * scale``, clipped to [0, 1].

    Exemplar vectors are encoded once per model and exemplar set; ``vectors`` are unit rows.
    """
    if len(vectors) == 0:
        return np.zeros(0, dtype=np.float32)
    key = (encoder.model_id, positive, negative)
    if key not in _CACHE:
        _CACHE[key] = (encoder.encode(list(positive)), encoder.encode(list(negative)))
    pos, neg = _CACHE[key]
    margin = (vectors @ pos.T).max(axis=1) - (vectors @ neg.T).max(axis=1)
    scores: Vectors = np.clip(0.5 + (margin - offset) * scale, 0.0, 1.0).astype(np.float32)
    return scores
