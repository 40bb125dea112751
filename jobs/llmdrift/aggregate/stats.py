"""Pure functions behind the aggregates: error classes and anomaly scores."""

from __future__ import annotations

import math
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
