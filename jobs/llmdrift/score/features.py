"""Features of a text for the learned text heads (refusal, toxicity, sentiment): pure, batch in, matrices out.

Every head reads some of these *blocks*, computed once per text and role and shared by the heads:

- ``words``: word 1-2 grams, hashed into ``HASH_BUCKETS`` columns (l2-normalised counts). No vocabulary to
  ship, and the same text always lands in the same columns.
- ``static``: the text's static embedding (256-d, the vector the scorer writes to ``embeddings`` anyway).
- ``masked_words``, ``masked_static``: the same of the text as the refusal and toxicity heads read it
  (``toxicity.masked`` then ``refusal.masked``): quotations, look-alikes ("I can't wait", "sorry to hear"),
  negated insults and hostility replaced by placeholder words. Most texts have nothing to mask; their rows
  are taken from ``words`` and ``static`` as they are.
- ``toxicity_rules``: alt-profanity-check's probability (of the masked text), and whether the only threat or
  insult patterns found were negated.
- ``toxicity_patterns``: a threat, incitement, dehumanisation or second-person insult (``toxicity.pattern_score``).
- ``refusal_rules``: whether the text has any word a refusal is made of (``refusal.has_trigger``: a negation,
  an apology, "decline"...). Most refusals have one whatever the model's style; without it, "Hi! How can I
  help?" reads like one.
- ``refusal_phrases``: a refusal phrase in the opening, or further in (``refusal.phrase_score``).

``*_patterns`` and ``*_phrases`` are *evidence* blocks: 0/1 columns that a head does not weigh with its
words but combines with its probability by noisy-OR, each with the precision it had on the training data
(``llmdrift.score.heads``). They were written to hold across models' styles; the training data holds one.
- ``vader``: VADER's compound, positive and negative shares of the first ``VADER_CHARS`` characters (a
  lexicon that knows domains our data lacks).

Every block reads the first ``TEXT_CHARS`` characters (the static embedding its first 1,200).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

import numpy as np
import numpy.typing as npt

from llmdrift.score import refusal, toxicity
from llmdrift.text.embedders import encoder, profanity_model, sentiment_analyzer

# The scorer embeds a text's first EMBED_CHARS characters for the embeddings table (MiniLM reads 256 word
# pieces, about 1,000-1,200 characters; the static model the same), and the heads reuse those vectors: so the
# features, which read the first TEXT_CHARS, must see at least that much (a test holds it).
TEXT_CHARS = 1_500
VADER_CHARS = 300  # the opening carries the tone; VADER costs 0.26 ms a 1,500-character text, 0.18 at 600
EMBED_CHARS = 1_200
HASH_BUCKETS = 2**18
TOKEN_PATTERN = r"(?u)\b\w+\b|[!?]"  # keeps "i", "no" and the marks of tone that the default drops

# Rule features enter at this scale: the same L2 penalty then costs them less than a word's weight, a prior
# that a rule written to be style-independent should count for more than one model's wording.
RULE_SCALE = 4.0
Dense = npt.NDArray[np.float32]
Block = Any  # a scipy CSR matrix (hashed n-grams) or a dense float32 array, one row per text
VIEWS = ("masked",)
BLOCKS = (
    "words",
    "static",
    *[f"{view}_{kind}" for view in VIEWS for kind in ("words", "static")],
    "toxicity_rules",
    "toxicity_patterns",
    "refusal_rules",
    "refusal_phrases",
    "vader",
)


@cache
def _hasher() -> Any:
    from sklearn.feature_extraction.text import HashingVectorizer

    return HashingVectorizer(
        n_features=HASH_BUCKETS,
        ngram_range=(1, 2),
        token_pattern=TOKEN_PATTERN,
        alternate_sign=False,
        norm="l2",
        dtype=np.float32,
    )


class Texts:
    """The texts of one ``compute`` call, with each rule scan run once per text, when first needed."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self._scans: dict[str, list[Any]] = {}

    def toxicity(self) -> list[tuple[float, bool, str]]:
        if "toxicity" not in self._scans:
            self._scans["toxicity"] = [toxicity.scan(t) for t in self.texts]
        return self._scans["toxicity"]

    def refusal(self) -> list[tuple[float, bool]]:
        if "refusal" not in self._scans:
            self._scans["refusal"] = [refusal.scan_phrases(t) for t in self.texts]
        return self._scans["refusal"]

    def toxicity_masked(self) -> list[str]:
        return [masked for _, _, masked in self.toxicity()]

    def view(self, name: str) -> list[str]:
        """The texts as the ``masked`` view reads them (the only view)."""
        if name not in VIEWS:
            raise ValueError(f"unknown view {name!r}")
        if "masked" not in self._scans:
            self._scans["masked"] = [refusal.masked(t) for t in self.toxicity_masked()]
        return self._scans["masked"]


def _toxicity_rules(texts: Texts) -> Dense:
    scans = texts.toxicity()
    out = np.zeros((len(scans), 2), dtype=np.float32)
    if scans:  # on the masked text: a quoted or negated insult is not profanity of the writer's
        out[:, 0] = profanity_model().predict_prob(texts.toxicity_masked())
    out[:, 1] = [float(negated) * RULE_SCALE for _, negated, _ in scans]
    return out


def _toxicity_patterns(texts: Texts) -> Dense:
    return np.array([float(hit > 0) for hit, _, _ in texts.toxicity()], dtype=np.float32).reshape(-1, 1)


def _refusal_rules(texts: Texts) -> Dense:
    return np.array(
        [float(trigger) * RULE_SCALE for _, trigger in texts.refusal()], dtype=np.float32
    ).reshape(-1, 1)


def _refusal_phrases(texts: Texts) -> Dense:
    scans = texts.refusal()
    out = np.zeros((len(scans), 2), dtype=np.float32)
    for i, (score, _) in enumerate(scans):
        out[i, 0], out[i, 1] = float(score >= 0.95), float(0 < score < 0.95)
    return out


def _vader(texts: Texts) -> Dense:
    analyzer = sentiment_analyzer()
    out = np.zeros((len(texts.texts), 3), dtype=np.float32)
    for i, text in enumerate(texts.texts):
        s = analyzer.polarity_scores(text[:VADER_CHARS])
        out[i] = (s["compound"], s["pos"], s["neg"])
    return out


def _static(texts: Sequence[str]) -> Dense:
    return encoder("static").encode([t[:EMBED_CHARS] for t in texts])


# Blocks of the texts themselves (also computed for the rows a view's mask changed)...
_OF_STRINGS: dict[str, Callable[[Sequence[str]], Block]] = {
    "words": lambda texts: _hasher().transform(texts),
    "static": _static,
}


def _of_texts(f: Callable[[Sequence[str]], Block]) -> Callable[[Texts], Block]:
    return lambda texts: f(texts.texts)


# ... and blocks of the rule scans.
_COMPUTE: dict[str, Callable[[Texts], Block]] = {
    **{name: _of_texts(f) for name, f in _OF_STRINGS.items()},
    "toxicity_rules": _toxicity_rules,
    "toxicity_patterns": _toxicity_patterns,
    "refusal_rules": _refusal_rules,
    "refusal_phrases": _refusal_phrases,
    "vader": _vader,
}


def compute(
    texts: Sequence[str], blocks: Sequence[str], known: dict[str, Block] | None = None
) -> dict[str, Block]:
    """The named blocks for ``texts`` (non-empty strings). ``known`` holds blocks already computed (the
    scorer passes the static vectors of its embedding pass), which are used as they are. A view's block
    (``masked_words``...) computes only the rows its mask changed and takes the others from the raw text's
    block: most texts have nothing to mask."""
    cut = Texts([t[:TEXT_CHARS] for t in texts])
    out: dict[str, Block] = dict(known or {})
    views: dict[str, tuple[list[str], list[int]]] = {}
    for name in blocks:
        if name in out:
            continue
        if name in _COMPUTE:
            out[name] = _COMPUTE[name](cut)
            continue
        view, _, kind = name.partition("_")
        if view not in VIEWS or kind not in ("words", "static"):
            raise ValueError(f"unknown feature block {name!r} (one of {', '.join(BLOCKS)})")
        if view not in views:
            seen = cut.view(view)
            views[view] = (seen, [i for i, (a, b) in enumerate(zip(seen, cut.texts, strict=True)) if a != b])
        seen, changed = views[view]
        if kind not in out:
            out[kind] = _COMPUTE[kind](cut)
        fresh = _OF_STRINGS[kind]([seen[i] for i in changed]) if changed else None
        out[name] = _with_rows(out[kind], changed, fresh)
    return {name: out[name] for name in blocks}


def _with_rows(base: Block, rows: list[int], replacement: Block | None) -> Block:
    """``base`` with the given rows replaced by ``replacement``'s rows, in order (sparse or dense)."""
    if replacement is None:
        return base
    if isinstance(base, np.ndarray):
        out = base.copy()
        out[rows] = replacement
        return out
    import scipy.sparse as sp

    index = np.arange(base.shape[0])
    index[rows] = base.shape[0] + np.arange(len(rows))
    return sp.vstack([base, replacement], format="csr")[index]


def width(name: str) -> int:
    """Columns of a block."""
    view, _, kind = name.partition("_")
    name = kind if view in VIEWS and kind in ("words", "static") else name
    widths = {"words": HASH_BUCKETS, "static": 256}
    widths.update({"toxicity_rules": 2, "toxicity_patterns": 1, "refusal_rules": 1, "refusal_phrases": 2})
    widths["vader"] = 3
    return widths[name]
