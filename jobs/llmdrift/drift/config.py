"""The drift step's settings and its error (shared by its modules)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from llmdrift.core.errors import LlmdriftError
from llmdrift.core.windows import Window
from llmdrift.drift import stats
from llmdrift.text.embedders import EMBEDDERS


class DriftError(LlmdriftError, RuntimeError):
    """Drift detection cannot go on."""


WORKERS_VARIABLE = "LLMDRIFT_DRIFT_WORKERS"


def default_workers() -> int:
    """Processes that test slices: ``$LLMDRIFT_DRIFT_WORKERS`` when set (e.g. 1 where a pool is not worth its
    start-up: small windows, the test suite), else one per core."""
    value = os.environ.get(WORKERS_VARIABLE, "").strip()
    if value:
        try:
            return max(1, int(value))
        except ValueError:
            raise ValueError(f"{WORKERS_VARIABLE} must be a whole number, got {value!r}") from None
    return os.cpu_count() or 1


@dataclass(frozen=True)
class DriftConfig:
    warehouse: str
    current: Window | None = None  # default: the last day with invocations
    reference: Window | None = None  # default: the reference_days before the current window
    reference_days: int = 7
    min_samples: int = 50
    embedding_sample: int = 1000
    scalar_sample: int = 5000
    max_templates: int = 20
    permutations: int = 300
    neighbours: int = stats.NEIGHBOURS  # k of the embedding test
    workers: int = field(default_factory=lambda: default_workers())  # processes testing slices
    alpha: float = 0.05
    seed: int = 0
    embedder: str = "static"  # whose vectors are compared (the scorer's --embedder)

    def __post_init__(self) -> None:
        if self.reference_days < 1:
            raise ValueError("reference_days must be at least 1")
        if self.neighbours < 1:
            raise ValueError("neighbours must be at least 1")
        if self.min_samples < 10:
            raise ValueError("min_samples must be at least 10")
        if not 0 < self.alpha < 1:
            raise ValueError("alpha must be within (0, 1)")
        if self.embedder not in EMBEDDERS:
            raise ValueError(f"embedder must be {' or '.join(EMBEDDERS)}, got {self.embedder!r}")
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        if self.current and self.reference and self.reference.end > self.current.start:
            raise ValueError(f"reference window {self.reference} overlaps or follows current {self.current}")
