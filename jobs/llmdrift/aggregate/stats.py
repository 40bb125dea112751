"""Pure functions behind the aggregates: error classes, Wilson intervals, prompt skeletons, anomaly scores."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median

THROTTLE_ERRORS = frozenset(
    {"ThrottlingException", "TooManyRequestsException", "ServiceQuotaExceededException"}
)
SERVER_ERRORS = frozenset(
    {
        "InternalServerException",
        "ServiceUnavailableException",
        "ModelErrorException",
        "ModelTimeoutException",
        "ModelNotReadyException",
        "ModelStreamErrorException",
        "ServiceException",
    }
)


def error_class(code: str | None) -> str | None:
    """client / server / throttle for a Bedrock ``errorCode`` (unknown codes count as client errors)."""
    if not code:
        return None
    if code in THROTTLE_ERRORS:
        return "throttle"
    if code in SERVER_ERRORS or code.startswith("5"):
        return "server"
    return "client"


Z95 = 1.959963984540054


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float | None, float | None]:
    """Wilson score interval for a proportion; (None, None) when n is 0."""
    if n <= 0:
        return None, None
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


# ------------------------------------------------------------------------------------------- templates

PROMPT_WORDS = 6
SYSTEM_WORDS = 12
_MASKS = (
    (re.compile(r"```.*?(?:```|$)", re.DOTALL), " <code> "),
    (re.compile(r"https?://\S+"), " <url> "),
    (re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b"), " <email> "),
    (re.compile(r"\"[^\"]{0,200}\"|'[^'\n]{2,200}'|\u201c[^\u201d]{0,200}\u201d"), " <quote> "),
    (re.compile(r"\b\d[\d,.:/-]*\b"), " <num> "),
    (re.compile(r"\b[A-Z0-9]{2,}[-_]?[A-Z0-9]*\d[A-Z0-9]*\b"), " <id> "),
    (re.compile(r"(?<=[a-z,;] )[A-Z][a-z]+(?: [A-Z][a-z]+)*"), " <name> "),
)
_WORD = re.compile(r"<\w+>|[a-z']+")


def skeleton(prompt: str | None, words_kept: int = PROMPT_WORDS) -> str:
    """The opening of a text with its variable parts (numbers, ids, names, quotes, code, URLs, emails)
    masked: the fixed part that the prompts of one template share."""
    if not prompt:
        return ""
    text = prompt[:2000]
    for pattern, mask in _MASKS:
        text = pattern.sub(mask, text)
    words: list[str] = []
    for w in _WORD.findall(text.lower()):
        if not (words and w == words[-1] and w.startswith("<")):  # runs of one mask collapse
            words.append(w)
        if len(words) >= words_kept:
            break
    return " ".join(words)


def template_id(system_text: str | None, prompt_text: str | None) -> str:
    """Stable id of a template: the skeletons of the system prompt and the prompt, hashed. The same
    template gets the same id in every run."""
    key = f"{skeleton(system_text, SYSTEM_WORDS)}\x1f{skeleton(prompt_text)}"
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


# ------------------------------------------------------------------------------------------- anomalies

MIN_BASELINE = 3
ANOMALY_Z = 4.0
MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class Score:
    value: float
    expected: float
    scale: float
    score: float
    baseline_points: int


def robust_score(value: float, baseline: Sequence[float], floor: float) -> Score | None:
    """Robust z-score of ``value`` against ``baseline``: (value - median) / max(1.4826 x MAD, floor).

    ``floor`` keeps a flat baseline from turning noise into anomalies (for a rate, its binomial standard
    error; for counts, a small fraction of the median). None when the baseline is too short.
    """
    points = [b for b in baseline if b is not None and not math.isnan(b)]
    if len(points) < MIN_BASELINE:
        return None
    centre = median(points)
    mad = median(abs(b - centre) for b in points)
    scale = max(MAD_TO_SIGMA * mad, floor, 1e-9)
    return Score(value, centre, scale, (value - centre) / scale, len(points))


def rate_floor(expected: float, n: int) -> float:
    """Binomial standard error of a rate at the baseline level for today's sample size."""
    p = min(max(expected, 1.0 / max(n, 1)), 1.0)
    return math.sqrt(p * (1 - p) / max(n, 1))
