"""How far a local detector can be trusted on the user's own traffic, measured against an LLM judge.

Pure statistics on a small judged sample (numpy; scipy for ranks and the t quantile). The judge's verdict is
the reference label; the local detector gives a flag and, for the AUC, a continuous score.

- Rates (judged rate, local flag rate, precision, recall, agreement): Wilson score intervals
  (``llmdrift.core.intervals.wilson``), which keep their coverage for small n and rates near 0 or 1, where
  the Wald interval collapses.
- AUC of the local score against the judge's label (ties count one half): the interval is the union of two
  95% intervals, because each alone loses coverage where the other keeps it (simulated: binormal scores,
  300 judged, 2 to 100 positives, AUC 0.55 to 0.998; the union covered 94% to 99% in every case):
  DeLong's variance from placement values, as a Wald interval on the logit scale (no assumption on the
  score distributions, but it undercovers with few judged positives or an AUC near 1: 68% to 91% there);
  and the Hanley-McNeil (1982) variance as a score interval, the AUCs A0 with ``|AUC - A0| <= z SE(A0)``
  (Wilson's construction: it stays inside [0, 1] and is not degenerate under perfect separation, but its
  exponential model undercovers, 84% to 87%, when positives' scores are far more spread than negatives').
  When the placement variance is 0 or undefined (perfect separation, all scores tied, a class with one
  member) the Hanley-McNeil interval is used alone.
- Corrected prevalence: the Rogan-Gladen estimator ``p = (q + Sp - 1) / (Se + Sp - 1)``, clipped to
  [0, 1], where q is the detector's flag rate over the whole population and Se, Sp its sensitivity and
  specificity on the judged sample. The 95% interval is a parametric bootstrap: Beta posteriors with
  Jeffreys priors (``Beta(x + 1/2, n - x + 1/2)``) for Se and Sp from the confusion counts and for q from
  the population counts, each draw put through the estimator and clipped, then the 2.5% and 97.5%
  percentiles (widened if needed to contain the point estimate). The bootstrap is chosen over the delta
  method because the estimator is a ratio whose denominator can come close to 0 and whose value is
  clipped at the bounds: there the delta method's symmetric interval runs outside [0, 1] and understates
  the uncertainty, while the percentile interval follows the skew of the ratio and the clipping. A fixed
  seed makes it deterministic.
  A detector no better than chance (``Se + Sp - 1`` with a 95% lower bound at or below 0, from the same
  draws) cannot be corrected: ``corrected_rate`` is None and ``method`` says so. When the sample has no
  judged positives (or no judged negatives), Se (or Sp) is undefined and the judged rate with its Wilson
  interval is reported instead. When no population is given, the population is the judged sample itself,
  and there Rogan-Gladen with the sample's Se and Sp equals the judged rate exactly (algebraically), so
  the judged rate and its Wilson interval are reported: the bootstrap would treat the sample's flags twice.
  Assumption: the judged sample is a simple random sample of the population (or at least not selected on
  the local flag), so that Se and Sp carry over to the population. Simulated coverage of the interval:
  0.95 to 0.98 (tests/test_judge_calibration.py), but on a random sample of 300 it is wider than the
  judged rate's own Wilson interval unless the prevalence is high (0.08 against 0.03 at a prevalence of
  0.02): its Se and Sp are estimated from those same 300 pairs.
- Sentiment (continuous): mean with a Student t interval, and the share of exact label agreement with a
  Wilson interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from llmdrift.core.intervals import Z95, wilson

BOOTSTRAP_DRAWS = 2000
BOOTSTRAP_SEED = 20_260_611

METHOD_NONE = "none: no judged pairs"
METHOD_SAMPLE = "judged rate (Wilson): no population given; Rogan-Gladen on the sample equals it"
METHOD_NO_POSITIVES = "judged rate (Wilson): no judged positives, sensitivity undefined"
METHOD_NO_NEGATIVES = "judged rate (Wilson): no judged negatives, specificity undefined"
METHOD_CHANCE = "none: detector not better than chance (95% lower bound of Se+Sp-1 <= 0)"
METHOD_ROGAN_GLADEN = "Rogan-Gladen, Jeffreys-Beta bootstrap percentile interval"


@dataclass(frozen=True)
class Calibration:
    """One day / slice / metric: the judged sample, the detector's accuracy on it, and the corrected rate.

    Rates and their bounds are None when their denominator is 0; ``auc*`` is None when no score was given
    or one judged class is empty; ``corrected*`` is None when the correction is impossible (``method``).
    """

    n: int
    judged_positive: int
    judged_rate: float | None
    judged_low: float | None
    judged_high: float | None
    local_rate: float | None
    precision: float | None
    precision_low: float | None
    precision_high: float | None
    recall: float | None
    recall_low: float | None
    recall_high: float | None
    auc: float | None
    auc_low: float | None
    auc_high: float | None
    corrected_rate: float | None
    corrected_low: float | None
    corrected_high: float | None
    method: str


def _ratio(k: int, n: int) -> float | None:
    return k / n if n > 0 else None


def _wilson(k: int, n: int) -> tuple[float | None, float | None]:
    """``wilson``, its bounds made to contain k / n (at k = 0 its lower bound is a rounding error above 0)."""
    low, high = wilson(k, n)
    if low is None or high is None:
        return None, None
    return min(low, k / n), max(high, k / n)


def rogan_gladen(q: float, se: float, sp: float) -> float | None:
    """True prevalence from an apparent rate q and a test's sensitivity and specificity, clipped to [0, 1].

    None when ``Se + Sp - 1 <= 0``: a test no better than chance carries no information on prevalence.
    """
    youden = se + sp - 1.0
    if youden <= 0.0:
        return None
    return min(1.0, max(0.0, (q + sp - 1.0) / youden))


def _hanley_mcneil_variance(a: float, m: int, k: int) -> float:
    """Hanley-McNeil (1982) variance of an AUC ``a`` from m positives and k negatives."""
    q1 = a / (2.0 - a)  # two positives both above one negative
    q2 = 2.0 * a * a / (1.0 + a)  # one positive above two negatives
    return (a * (1.0 - a) + (m - 1) * (q1 - a * a) + (k - 1) * (q2 - a * a)) / (m * k)


def _hanley_mcneil_interval(auc: float, m: int, k: int, z: float) -> tuple[float, float]:
    """The AUCs a0 with ``|auc - a0| <= z SE_HM(a0)``, found by bisection on each side of ``auc``."""

    def inside(a0: float) -> bool:
        return (auc - a0) ** 2 <= z * z * _hanley_mcneil_variance(a0, m, k)

    bounds = []
    for edge in (0.0, 1.0):
        if inside(edge):
            bounds.append(edge)
            continue
        near, far = auc, edge  # near is inside, far is outside
        for _ in range(60):
            mid = (near + far) / 2.0
            if inside(mid):
                near = mid
            else:
                far = mid
        bounds.append(near)
    return bounds[0], bounds[1]


def auc_with_interval(
    judge: Sequence[bool], score: Sequence[float], z: float = Z95
) -> tuple[float | None, float | None, float | None]:
    """ROC AUC of ``score`` against the labels ``judge``, with a 95% interval (module docstring).

    Ties between a positive and a negative count one half. (None, None, None) when a class is empty.
    """
    labels = np.asarray(judge, dtype=bool)
    values = np.asarray(score, dtype=float)
    if labels.shape != values.shape or labels.ndim != 1:
        raise ValueError("judge and score must be sequences of the same length")
    if not np.all(np.isfinite(values)):
        raise ValueError("score must be finite")
    m = int(labels.sum())
    k = int(labels.size - m)
    if m == 0 or k == 0:
        return None, None, None

    from scipy.stats import rankdata

    rank_all = rankdata(values)  # midranks: a tie counts one half
    # Placement values: the share of negatives below each positive, and of positives above each negative.
    v10 = (rank_all[labels] - rankdata(values[labels])) / k
    v01 = 1.0 - (rank_all[~labels] - rankdata(values[~labels])) / m
    auc = float(v10.mean())

    low, high = _hanley_mcneil_interval(auc, m, k, z)
    variance = float(v10.var(ddof=1) / m + v01.var(ddof=1) / k) if m >= 2 and k >= 2 else 0.0
    if variance > 0.0:  # then 0 < auc < 1
        centre = math.log(auc / (1.0 - auc))
        half = z * math.sqrt(variance) / (auc * (1.0 - auc))
        low = min(low, 1.0 / (1.0 + math.exp(-(centre - half))))
        high = max(high, 1.0 / (1.0 + math.exp(-(centre + half))))
    return auc, low, high


def _beta_jeffreys(
    rng: np.random.Generator, successes: float, n: float, draws: int
) -> npt.NDArray[np.float64]:
    return rng.beta(successes + 0.5, n - successes + 0.5, size=draws)


def calibrate(
    judge: Sequence[bool],
    flag: Sequence[bool],
    score: Sequence[float] | None,
    population_flag_rate: float | None = None,
    population_n: int | None = None,
    *,
    draws: int = BOOTSTRAP_DRAWS,
    seed: int = BOOTSTRAP_SEED,
) -> Calibration:
    """Compare the local detector (``flag``, ``score``) with the judge's verdicts on the same invocations.

    ``population_flag_rate`` is the detector's flag rate over ``population_n`` invocations (all the day's
    invocations of the slice, say); the corrected rate estimates the judge-positive prevalence there. Without
    a population the sample is its own population (module docstring); ``population_n`` alone is an error.
    ``draws`` and ``seed`` set the bootstrap: the same inputs give the same output.
    """
    labels = np.asarray(judge, dtype=bool)
    flags = np.asarray(flag, dtype=bool)
    if labels.shape != flags.shape or labels.ndim != 1:
        raise ValueError("judge and flag must be sequences of the same length")
    if population_flag_rate is None and population_n is not None:
        raise ValueError("population_n needs population_flag_rate")
    if population_flag_rate is not None and not 0.0 <= population_flag_rate <= 1.0:
        raise ValueError("population_flag_rate must lie in [0, 1]")
    if population_n is not None and population_n < 1:
        raise ValueError("population_n must be at least 1")
    if draws < 1:
        raise ValueError("draws must be at least 1")

    n = int(labels.size)
    positives = int(labels.sum())
    negatives = n - positives
    flagged = int(flags.sum())
    tp = int((labels & flags).sum())
    fp = flagged - tp
    tn = negatives - fp

    judged_low, judged_high = _wilson(positives, n)
    precision_low, precision_high = _wilson(tp, flagged)
    recall_low, recall_high = _wilson(tp, positives)
    if score is None:
        auc: tuple[float | None, float | None, float | None] = (None, None, None)
    else:
        auc = auc_with_interval(labels.tolist(), score)

    corrected: tuple[float | None, float | None, float | None]
    judged = (_ratio(positives, n), judged_low, judged_high)
    if n == 0:
        corrected, method = (None, None, None), METHOD_NONE
    elif positives == 0:
        corrected, method = judged, METHOD_NO_POSITIVES
    elif negatives == 0:
        corrected, method = judged, METHOD_NO_NEGATIVES
    elif population_flag_rate is None:
        corrected, method = judged, METHOD_SAMPLE
    else:
        pop_n = n if population_n is None else population_n
        corrected, method = _corrected(
            tp, positives, tn, negatives, population_flag_rate, pop_n, draws=draws, seed=seed
        )

    return Calibration(
        n=n,
        judged_positive=positives,
        judged_rate=judged[0],
        judged_low=judged_low,
        judged_high=judged_high,
        local_rate=_ratio(flagged, n),
        precision=_ratio(tp, flagged),
        precision_low=precision_low,
        precision_high=precision_high,
        recall=_ratio(tp, positives),
        recall_low=recall_low,
        recall_high=recall_high,
        auc=auc[0],
        auc_low=auc[1],
        auc_high=auc[2],
        corrected_rate=corrected[0],
        corrected_low=corrected[1],
        corrected_high=corrected[2],
        method=method,
    )


def _corrected(
    tp: int, positives: int, tn: int, negatives: int, q: float, pop_n: int, *, draws: int, seed: int
) -> tuple[tuple[float | None, float | None, float | None], str]:
    """Rogan-Gladen point estimate and its Jeffreys-Beta bootstrap percentile interval (both classes > 0)."""
    point = rogan_gladen(q, tp / positives, tn / negatives)
    if point is None:
        return (None, None, None), METHOD_CHANCE
    rng = np.random.default_rng(seed)
    se = _beta_jeffreys(rng, tp, positives, draws)
    sp = _beta_jeffreys(rng, tn, negatives, draws)
    qs = _beta_jeffreys(rng, q * pop_n, pop_n, draws)
    youden = se + sp - 1.0
    if float(np.quantile(youden, 0.025)) <= 0.0:
        return (None, None, None), METHOD_CHANCE
    # Condition on a detector better than chance (at most 2.5% of the draws are dropped here).
    keep = youden > 0.0
    p = np.clip((qs[keep] + sp[keep] - 1.0) / youden[keep], 0.0, 1.0)
    low, high = (float(v) for v in np.quantile(p, [0.025, 0.975]))
    return (point, min(low, point), max(high, point)), METHOD_ROGAN_GLADEN


def mean_with_interval(
    values: Sequence[float], z: float | None = None
) -> tuple[float | None, float | None, float | None]:
    """Mean with a 95% Student t interval (n - 1 degrees of freedom); a normal one when ``z`` is given.

    (None, None, None) for no values; (mean, None, None) for one value (no spread to measure).
    """
    data = np.asarray(values, dtype=float)
    if data.ndim != 1:
        raise ValueError("values must be a flat sequence")
    if not np.all(np.isfinite(data)):
        raise ValueError("values must be finite")
    n = int(data.size)
    if n == 0:
        return None, None, None
    mean = float(data.mean())
    if n == 1:
        return mean, None, None
    if z is None:
        from scipy.stats import t

        z = float(t.ppf(0.975, n - 1))
    half = z * float(data.std(ddof=1)) / math.sqrt(n)
    return mean, mean - half, mean + half


def agreement(
    judge_labels: Sequence[str], local_labels: Sequence[str]
) -> tuple[float | None, float | None, float | None]:
    """Share of exact label agreement (negative / neutral / positive, say) with a Wilson 95% interval.

    (None, None, None) for no pairs.
    """
    if len(judge_labels) != len(local_labels):
        raise ValueError("judge_labels and local_labels must have the same length")
    n = len(judge_labels)
    matches = sum(1 for a, b in zip(judge_labels, local_labels, strict=True) if a == b)
    low, high = _wilson(matches, n)
    return _ratio(matches, n), low, high
