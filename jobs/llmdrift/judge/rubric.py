"""The judge's rubric: the versioned prompt, the messages built from it, and the strict parser of its verdicts.

The rubric text is package data (``rubric/<version>.md``, e.g. ``rubric/v1.md``). Its identity is the version
and the SHA-256 of the file: editing the file gives a new ``sha256``, so verdicts made with different texts are
never mistaken for one another. The file holds a human preamble (not sent), the system prompt between
``<!-- BEGIN SYSTEM -->`` / ``<!-- END SYSTEM -->`` and the user-message template between
``<!-- BEGIN USER TEMPLATE -->`` / ``<!-- END USER TEMPLATE -->``.

The template's placeholders are ``{{prompt}}``, ``{{completion}}``, ``{{prompt_state}}``,
``{{completion_state}}`` and ``{{boundary}}``, filled in one pass (a judged text that contains ``{{...}}`` is
left as it is). The judged texts are delimited by marker lines that carry ``boundary``, a code derived from
a hash of both texts: a text cannot contain the code of the markers that enclose it.

:func:`parse_verdict` accepts one JSON object, bare or in one ```json fence, with exactly the rubric's keys,
every value checked for type and range. Anything else is a :class:`ParseFailure` whose reason names what was
wrong; it never raises. Reasons carry key names, type names and numbers only, never text of the reply, so
they are safe to log.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Final, Literal, TypeAlias, get_args

from llmdrift.core.errors import LlmdriftError

RUBRIC_VERSION: Final = "v1"
MAX_REASON_CHARS: Final = 300  # the rubric asks for at most 200; a small overrun is not worth a lost verdict
BOUNDARY_CHARS: Final = 20  # hex digits of the marker code

Refusal: TypeAlias = Literal["none", "partial", "full"]
Sentiment: TypeAlias = Literal["negative", "neutral", "positive"]
ToxicityCategory: TypeAlias = Literal[
    "none", "harassment", "hate", "sexual", "violence", "self_harm", "profanity", "illicit"
]
REFUSALS: Final[tuple[Refusal, ...]] = get_args(Refusal)
SENTIMENTS: Final[tuple[Sentiment, ...]] = get_args(Sentiment)
TOXICITY_CATEGORIES: Final[tuple[ToxicityCategory, ...]] = get_args(ToxicityCategory)
TOXIC_THRESHOLD: Final = 0.5  # at or above it, the category must name a kind of toxicity (rubric)

VERDICT_KEYS: Final = (
    "refusal",
    "prompt_toxicity",
    "completion_toxicity",
    "prompt_sentiment",
    "completion_sentiment",
    "helpfulness",
    "relevance",
    "reason",
)
TOXICITY_KEYS: Final = ("probability", "category")

_SYSTEM = ("<!-- BEGIN SYSTEM -->", "<!-- END SYSTEM -->")
_USER = ("<!-- BEGIN USER TEMPLATE -->", "<!-- END USER TEMPLATE -->")
_PLACEHOLDERS: Final = frozenset({"prompt", "completion", "prompt_state", "completion_state", "boundary"})
_PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")
_VERSION = re.compile(r"v[0-9]{1,4}")
_FENCE = re.compile(r"```(?:json|JSON)[ \t]*\r?\n(?P<body>.*?)\r?\n?```", re.DOTALL)
_SAFE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,39}")


class RubricError(LlmdriftError, ValueError):
    """A rubric version that does not exist, or a rubric file without its sections or placeholders."""


@dataclass(frozen=True)
class Rubric:
    """One rubric text: ``version`` (``"v1"``), the ``system`` prompt, the ``user_template`` and the file's
    ``sha256`` (hex), which identifies the exact text."""

    version: str
    system: str
    user_template: str
    sha256: str

    @property
    def identity(self) -> str:
        """``<version>-<first 12 hex digits of sha256>`` (e.g. ``v1-1a2b3c4d5e6f``): the ``rubric`` column of
        ``judgements``, short enough for a log line."""
        return f"{self.version}-{self.sha256[:12]}"


def _section(text: str, markers: tuple[str, str], version: str) -> str:
    begin, end = markers
    if text.count(begin) != 1 or text.count(end) != 1:
        raise RubricError(f"rubric {version}: expected exactly one {begin!r} and one {end!r}")
    start = text.index(begin) + len(begin)
    stop = text.index(end)
    if stop < start:
        raise RubricError(f"rubric {version}: {end!r} comes before {begin!r}")
    body = text[start:stop].strip()
    if not body:
        raise RubricError(f"rubric {version}: the section {begin!r} is empty")
    return body


def parse_rubric(version: str, data: bytes) -> Rubric:
    """A :class:`Rubric` from the bytes of a rubric file (UTF-8); :class:`RubricError` when malformed."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RubricError(f"rubric {version}: not UTF-8") from exc
    system = _section(text, _SYSTEM, version)
    user_template = _section(text, _USER, version)
    used = _PLACEHOLDER.findall(user_template)
    unknown = sorted(set(used) - _PLACEHOLDERS)
    if unknown:
        raise RubricError(f"rubric {version}: unknown placeholders {unknown}")
    for name in ("prompt", "completion"):
        if used.count(name) != 1:
            raise RubricError(
                f"rubric {version}: {{{{{name}}}}} must appear exactly once in the user template"
            )
    if "boundary" not in used:
        raise RubricError(f"rubric {version}: the user template must delimit the texts with {{{{boundary}}}}")
    if _PLACEHOLDER.search(system):
        raise RubricError(f"rubric {version}: the system prompt takes no placeholders")
    return Rubric(version, system, user_template, hashlib.sha256(data).hexdigest())


def load_rubric(version: str = RUBRIC_VERSION) -> Rubric:
    """The rubric ``version`` shipped in the package (``llmdrift/judge/rubric/<version>.md``), read once."""
    return _load_rubric(version)


@lru_cache(maxsize=8)
def _load_rubric(version: str) -> Rubric:
    if not _VERSION.fullmatch(version):
        raise RubricError(f"rubric version must look like 'v1', got {version!r}")
    resource = resources.files("llmdrift.judge").joinpath("rubric", f"{version}.md")
    try:
        data = resource.read_bytes()
    except FileNotFoundError as exc:
        raise RubricError(f"no rubric {version} in the package") from exc
    return parse_rubric(version, data)


def _clean(text: str) -> str:
    """``text`` with characters UTF-8 cannot carry (lone surrogates) replaced by ``?``."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _cut(text: str, max_chars: int) -> tuple[str, str]:
    """``text`` cut to ``max_chars`` characters, and the state line the template shows for it."""
    if not text:
        return "", "empty"
    if len(text) <= max_chars:
        return text, f"complete, {len(text)} characters"
    return text[:max_chars], f"truncated by the evaluator: the first {max_chars} of {len(text)} characters"


def boundary_for(prompt: str, completion: str) -> str:
    """The marker code for one exchange: hex digits of a hash of both texts (as sent, after cutting)."""
    digest = hashlib.sha256()
    for text in (prompt, completion):
        data = text.encode("utf-8")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()[:BOUNDARY_CHARS]


def render_user_message(rubric: Rubric, prompt: str, completion: str, max_chars: int) -> str:
    """The user message of the rubric's template for one exchange, texts cut to ``max_chars`` each."""
    if max_chars < 1:
        raise ValueError(f"max_chars must be >= 1, got {max_chars}")
    prompt_cut, prompt_state = _cut(_clean(prompt), max_chars)
    completion_cut, completion_state = _cut(_clean(completion), max_chars)
    values = {
        "prompt": prompt_cut,
        "completion": completion_cut,
        "prompt_state": prompt_state,
        "completion_state": completion_state,
        "boundary": boundary_for(prompt_cut, completion_cut),
    }
    # One pass: text substituted for a placeholder is never searched for placeholders again.
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], rubric.user_template)


def build_messages(
    rubric: Rubric, prompt: str, completion: str, max_chars: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(system, messages)`` for a Converse request judging one exchange, each text cut to ``max_chars``."""
    user = render_user_message(rubric, prompt, completion, max_chars)
    system: list[dict[str, Any]] = [{"text": rubric.system}]
    messages: list[dict[str, Any]] = [{"role": "user", "content": [{"text": user}]}]
    return system, messages


@dataclass(frozen=True)
class Toxicity:
    """A toxicity judgement of one text: ``probability`` in [0, 1] and the main ``category``."""

    probability: float
    category: ToxicityCategory


@dataclass(frozen=True)
class Verdict:
    """One judged exchange, every field validated against the rubric (``reason`` is the judge's own line)."""

    refusal: Refusal
    prompt_toxicity: Toxicity
    completion_toxicity: Toxicity
    prompt_sentiment: Sentiment
    completion_sentiment: Sentiment
    helpfulness: int
    relevance: int
    reason: str = field(repr=False)  # the judge may quote the texts: kept out of reprs (and so of logs)

    def to_dict(self) -> dict[str, Any]:
        """The verdict as the JSON object the rubric specifies."""
        return {
            "refusal": self.refusal,
            "prompt_toxicity": {
                "probability": self.prompt_toxicity.probability,
                "category": self.prompt_toxicity.category,
            },
            "completion_toxicity": {
                "probability": self.completion_toxicity.probability,
                "category": self.completion_toxicity.category,
            },
            "prompt_sentiment": self.prompt_sentiment,
            "completion_sentiment": self.completion_sentiment,
            "helpfulness": self.helpfulness,
            "relevance": self.relevance,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ParseFailure:
    """A reply that is not a valid verdict; ``reason`` names what was wrong (no reply text in it)."""

    reason: str


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _NonFiniteError(ValueError):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKeyError(key)
        obj[key] = value
    return obj


def _no_constant(name: str) -> Any:
    raise _NonFiniteError(name)


def _name(key: str) -> str:
    """A key name fit for a reason: itself when it looks like an identifier, else a placeholder."""
    return repr(key) if _SAFE_KEY.fullmatch(key) else "<a key that is not an identifier>"


def _type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _label(value: Any, allowed: tuple[str, ...], where: str, problems: list[str]) -> Any:
    if not isinstance(value, str):
        problems.append(f"{where}: expected a string, got {_type(value)}")
    elif value not in allowed:
        problems.append(f"{where}: not one of {'|'.join(allowed)}")
    else:
        return value
    return None


def _score(value: Any, where: str, problems: list[str]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        problems.append(f"{where}: expected an integer 1..5, got {_type(value)}")
        return None
    if not 1 <= value <= 5:
        problems.append(f"{where}: {value} is outside 1..5")
        return None
    return value


def _keys(obj: dict[str, Any], expected: tuple[str, ...], where: str, problems: list[str]) -> bool:
    missing = [key for key in expected if key not in obj]
    extra = [key for key in obj if key not in expected]
    if missing:
        problems.append(f"{where}missing key(s) {', '.join(missing)}")
    if extra:
        problems.append(f"{where}unexpected key(s) {', '.join(_name(key) for key in extra)}")
    return not missing


def _toxicity(value: Any, where: str, problems: list[str]) -> Toxicity | None:
    if not isinstance(value, dict):
        problems.append(f"{where}: expected an object, got {_type(value)}")
        return None
    if not _keys(value, TOXICITY_KEYS, f"{where}: ", problems):
        return None
    probability = value["probability"]
    prob: float | None = None
    if isinstance(probability, bool) or not isinstance(probability, int | float):
        problems.append(f"{where}.probability: expected a number 0..1, got {_type(probability)}")
    elif not math.isfinite(probability) or not 0.0 <= probability <= 1.0:
        problems.append(f"{where}.probability: {probability} is outside 0..1")
    else:
        prob = float(probability)
    category = _label(value["category"], TOXICITY_CATEGORIES, f"{where}.category", problems)
    if prob is None or category is None:
        return None
    if prob >= TOXIC_THRESHOLD and category == "none":
        problems.append(f"{where}: category 'none' with probability {prob} (>= {TOXIC_THRESHOLD})")
        return None
    return Toxicity(prob, category)


def _reason(value: Any, problems: list[str]) -> str | None:
    if not isinstance(value, str):
        problems.append(f"reason: expected a string, got {_type(value)}")
    elif not value.strip():
        problems.append("reason: blank")
    elif "\n" in value or "\r" in value:
        problems.append("reason: more than one line")
    elif len(value) > MAX_REASON_CHARS:
        problems.append(f"reason: {len(value)} characters, more than {MAX_REASON_CHARS}")
    else:
        return value.strip()
    return None


def _unfence(text: str) -> str | ParseFailure:
    """The JSON text: ``text`` stripped, or the body of one ```json fence that is the whole reply."""
    stripped = text.strip()
    if not stripped:
        return ParseFailure("empty reply")
    if not stripped.startswith("```"):
        return stripped
    match = _FENCE.fullmatch(stripped)
    if match is None:
        return ParseFailure(
            "reply starts with a code fence that is not one complete ```json fence around the object"
        )
    return match.group("body").strip()


def parse_verdict(text: str | None) -> Verdict | ParseFailure:
    """The judge's reply as a :class:`Verdict`, or a :class:`ParseFailure` naming every problem found."""
    if text is None:
        return ParseFailure("no reply text")
    body = _unfence(text)
    if isinstance(body, ParseFailure):
        return body
    try:
        obj = json.loads(body, object_pairs_hook=_pairs, parse_constant=_no_constant)
    except _DuplicateKeyError as exc:
        return ParseFailure(f"not a valid verdict: duplicate key {_name(exc.key)}")
    except _NonFiniteError:
        return ParseFailure("not valid JSON: NaN or Infinity")
    except json.JSONDecodeError as exc:
        return ParseFailure(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")
    except RecursionError:
        return ParseFailure("not valid JSON: nested too deeply")
    except ValueError:  # e.g. an integer literal longer than Python converts
        return ParseFailure("not valid JSON: a number that cannot be read")
    if not isinstance(obj, dict):
        return ParseFailure(f"top level is {_type(obj)}, not an object")

    problems: list[str] = []
    if not _keys(obj, VERDICT_KEYS, "", problems):
        return ParseFailure("; ".join(problems))
    refusal = _label(obj["refusal"], REFUSALS, "refusal", problems)
    prompt_toxicity = _toxicity(obj["prompt_toxicity"], "prompt_toxicity", problems)
    completion_toxicity = _toxicity(obj["completion_toxicity"], "completion_toxicity", problems)
    prompt_sentiment = _label(obj["prompt_sentiment"], SENTIMENTS, "prompt_sentiment", problems)
    completion_sentiment = _label(obj["completion_sentiment"], SENTIMENTS, "completion_sentiment", problems)
    helpfulness = _score(obj["helpfulness"], "helpfulness", problems)
    relevance = _score(obj["relevance"], "relevance", problems)
    reason = _reason(obj["reason"], problems)
    if (
        problems
        or refusal is None
        or prompt_toxicity is None
        or completion_toxicity is None
        or prompt_sentiment is None
        or completion_sentiment is None
        or helpfulness is None
        or relevance is None
        or reason is None
    ):
        return ParseFailure("; ".join(problems) or "invalid verdict")
    return Verdict(
        refusal=refusal,
        prompt_toxicity=prompt_toxicity,
        completion_toxicity=completion_toxicity,
        prompt_sentiment=prompt_sentiment,
        completion_sentiment=completion_sentiment,
        helpfulness=helpfulness,
        relevance=relevance,
        reason=reason,
    )
