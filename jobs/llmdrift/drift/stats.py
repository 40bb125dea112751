"""Two-sample tests behind drift detection (numpy/scipy, on bounded samples collected from Spark).

- Embeddings: a nearest-neighbour two-sample test with a permutation null (``knn_permutation``, the job's
  test). Each pooled vector's k nearest neighbours are found once; the statistic is how often a vector's
  neighbours come from its own window, averaged over the two windows so that a large reference does not
  drown a small current window. A new topic forms a tight group of current vectors whose neighbours are
  each other, which this statistic sees long before a global kernel mean moves.
  Kernel MMD (``mmd_permutation``: Gaussian kernel, median bandwidth; all permutations scored at once as
  ``diag(Sᵀ K S)``) is kept for comparison in the calibration benchmark.
  Both p-values are ``(1 + #{permuted >= observed}) / (1 + permutations)``, exact under exchangeability:
  the false-alarm rate is at most alpha by construction (for alpha above ``1 / (permutations + 1)``),
  whatever the embedding model. Beyond the permutations' resolution the tail is approximated by a
  distribution fitted to the permutation null (normal for kNN, gamma for MMD).
- Continuous scalars: two-sample Kolmogorov-Smirnov; effect size is the Wasserstein distance in units of
  the pooled standard deviation.
- Binary flags: two-proportion chi-square (Fisher's exact test when counts are small); effect size is the
  difference of proportions.
- Categorical shares: chi-square on the contingency table; effect size is the Jensen-Shannon distance.
- Many tests: Benjamini-Hochberg q-values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

Matrix = npt.NDArray[np.float64]


@dataclass(frozen=True)
class TestResult:
    method: str
    statistic: float
    p_value: float
    effect_size: float


def _sq_dists(z: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Pairwise squared Euclidean distances, in the dtype of ``z``."""
    norms = np.sum(z * z, axis=1)
    d: npt.NDArray[Any] = norms[:, None] + norms[None, :]
    d -= 2 * (z @ z.T)
    np.maximum(d, 0, out=d)
    return d


def mmd_permutation(
    x: Matrix, y: Matrix, permutations: int = 500, rng: np.random.Generator | None = None
) -> TestResult:
    """Kernel two-sample test of ``x`` (reference rows) against ``y`` (current rows)."""
    rng = rng or np.random.default_rng(0)
    z = np.vstack([x, y]).astype(np.float64)
    n, m = len(x), len(y)
    d2 = _sq_dists(z)
    upper = d2[np.triu_indices(len(z), k=1)]
    bandwidth2 = float(np.median(upper[upper > 0])) if np.any(upper > 0) else 1.0
    k = np.exp(-d2 / bandwidth2)
    labels = np.concatenate([np.full(n, 1.0 / n), np.full(m, -1.0 / m)])
    observed = float(labels @ k @ labels)
    perms = np.stack([rng.permutation(labels) for _ in range(permutations)], axis=1)
    null = np.sum((k @ perms) * perms, axis=0)
    exceed = int(np.sum(null >= observed))
    p = (1.0 + exceed) / (1.0 + permutations)
    if exceed < TAIL_EXCEEDANCES:
        p = gamma_tail(observed, null)
    return TestResult("mmd_permutation", observed, p, float(np.sqrt(max(observed, 0.0))))


TAIL_EXCEEDANCES = 1  # the fitted tail only where no permutation reached the observed value
NEIGHBOURS = 10


def nearest(z: npt.NDArray[np.floating[Any]], k: int = NEIGHBOURS) -> npt.NDArray[np.intp]:
    """Each row's ``k`` nearest other rows (Euclidean), as a (rows, k) index array in no particular order.
    Distances in float32: only their ranking matters."""
    d2 = _sq_dists(np.asarray(z, dtype=np.float32))
    np.fill_diagonal(d2, np.inf)
    k = max(1, min(k, len(z) - 1))
    return np.argpartition(d2, k - 1, axis=1)[:, :k]


def knn_permutation(
    x: Matrix,
    y: Matrix,
    permutations: int = 500,
    rng: np.random.Generator | None = None,
    k: int = NEIGHBOURS,
) -> TestResult:
    """Nearest-neighbour two-sample test of ``x`` (reference rows) against ``y`` (current rows).

    Statistic: for each window, the mean share of its vectors' ``k`` nearest pooled neighbours that lie in
    the same window; the two means are added. The neighbour graph does not depend on the labels, so the
    permutation null only relabels it. Identical vectors (repeated prompts) are tied at distance 0: the
    pooled sample is shuffled first so that ties fall to either window at random, not to the reference.
    Effect size: the separation of the windows, 0 when they mix as chance would and 1 when every
    neighbour is from the same window (each window's excess same-window share over its chance share
    ``(size - 1) / (pooled - 1)``, scaled by its room ``1 - chance`` and averaged).
    """
    from scipy.sparse import csr_matrix

    rng = rng or np.random.default_rng(0)
    n, m = len(x), len(y)
    k = max(1, min(k, n + m - 1))
    order = rng.permutation(n + m)
    labels = (np.arange(n + m) >= n)[order]
    neighbours = nearest(np.vstack([x, y])[order], k)

    pooled = n + m
    adjacency = csr_matrix(  # row i has a 1 at each of its k neighbours
        (np.ones(pooled * k), neighbours.ravel(), np.arange(0, pooled * k + 1, k)), shape=(pooled, pooled)
    )

    def per_window(lab: npt.NDArray[np.bool_]) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """Same-window neighbour share of each window; ``lab`` is (pooled,) or (pooled, permutations).
        With windows as signs s = ±1, ``s_i (A s)_i`` counts vector i's same-window neighbours minus the
        others: one sparse product scores every permutation."""
        sign = np.where(lab, 1.0, -1.0)
        same = (sign * (adjacency @ sign) / k + 1.0) / 2.0
        return np.sum(same * ~lab, axis=0) / n, np.sum(same * lab, axis=0) / m

    ref_same, cur_same = per_window(labels)
    observed = float(ref_same + cur_same)
    shuffled = rng.permuted(np.tile(labels, (permutations, 1)), axis=1).T  # (pooled, permutations)
    null = np.add(*per_window(shuffled))
    exceed = int(np.sum(null >= observed - 1e-9))  # the statistic is discrete: ties count as reached
    p = (1.0 + exceed) / (1.0 + permutations)
    if exceed < TAIL_EXCEEDANCES:
        p = normal_tail(observed, null)
    chance_ref, chance_cur = (n - 1) / (n + m - 1), (m - 1) / (n + m - 1)
    separation = 0.5 * (
        (float(ref_same) - chance_ref) / (1 - chance_ref) + (float(cur_same) - chance_cur) / (1 - chance_cur)
    )
    return TestResult("knn_permutation", observed, p, separation)


def normal_tail(observed: float, null: npt.NDArray[np.float64]) -> float:
    """Upper tail of ``observed`` under a normal fitted to the permutation null (the nearest-neighbour
    statistic is asymptotically normal); used, like ``gamma_tail``, only beyond the permutations'
    resolution."""
    from scipy.stats import norm

    mean, sd = float(np.mean(null)), float(np.std(null))
    if sd <= 0:
        return 1.0 / (1.0 + len(null))
    return float(max(norm.sf(observed, loc=mean, scale=sd), 1e-300))


def gamma_tail(observed: float, null: npt.NDArray[np.float64]) -> float:
    """Tail probability of ``observed`` under a gamma fitted (by moments) to the permutation null.

    Used only beyond the permutations' resolution (no permutation reached the observed value, so the
    permutation p is its floor ``1 / (permutations + 1)``, 0.0033 at 300): an approximation that lets a
    strong drift reach the small p values a Benjamini-Hochberg correction over hundreds of tests needs.
    Decisions at levels above that floor are the exact permutation test's.
    """
    from scipy.stats import gamma

    mean, var = float(np.mean(null)), float(np.var(null))
    if mean <= 0 or var <= 0:
        return 1.0 / (1.0 + len(null))
    return float(max(gamma.sf(observed, mean * mean / var, scale=var / mean), 1e-300))


def ks_test(x: Sequence[float], y: Sequence[float]) -> TestResult:
    from scipy.stats import ks_2samp, wasserstein_distance

    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    # the exact distribution costs milliseconds per test at thousands of values, where the asymptotic one
    # is already accurate
    res = ks_2samp(a, b, method="auto" if len(a) * len(b) <= 1_000_000 else "asymp")
    pooled = np.concatenate([a, b])
    sd = float(np.std(pooled)) or 1.0
    return TestResult("ks", float(res.statistic), float(res.pvalue), float(wasserstein_distance(a, b) / sd))


def proportion_test(x_hits: int, x_n: int, y_hits: int, y_n: int) -> TestResult:
    from scipy.stats import chi2_contingency, fisher_exact

    table = np.array([[x_hits, x_n - x_hits], [y_hits, y_n - y_hits]])
    diff = y_hits / y_n - x_hits / x_n
    if table.sum(axis=0).min() == 0:  # nobody, or everybody, has the flag in both windows
        return TestResult("two_proportion", 0.0, 1.0, 0.0)
    expected = table.sum(axis=1)[:, None] * table.sum(axis=0)[None, :] / table.sum()
    if expected.min() < 5:
        _, p = fisher_exact(table)
        return TestResult("fisher_exact", float(diff), float(p), float(diff))
    chi2, p, _, _ = chi2_contingency(table, correction=False)
    return TestResult("two_proportion", float(chi2), float(p), float(diff))


def categorical_test(x: Sequence[str], y: Sequence[str]) -> TestResult:
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import chi2_contingency

    categories = sorted(set(x) | set(y))
    if len(categories) < 2:
        return TestResult("chi_square", 0.0, 1.0, 0.0)
    index = {c: i for i, c in enumerate(categories)}
    table = np.zeros((2, len(categories)))
    for row, values in enumerate((x, y)):
        for v in values:
            table[row, index[v]] += 1
    chi2, p, _, _ = chi2_contingency(table, correction=False)
    js = float(jensenshannon(table[0] / table[0].sum(), table[1] / table[1].sum(), base=2))
    return TestResult("chi_square", float(chi2), float(p), js)


HIST_BINS = 12


def histograms(
    x: Sequence[float], y: Sequence[float], bins: int = HIST_BINS
) -> tuple[list[float], list[float], list[float]]:
    """(edges, reference shares, current shares) on shared bins between the pooled 1st and 99th
    percentiles (outliers go to the end bins), for the report's distribution charts."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    lo, hi = np.percentile(np.concatenate([a, b]), [1, 99])
    if hi <= lo:
        hi = lo + 1.0
    edges = np.linspace(lo, hi, bins + 1)
    shares = [np.histogram(np.clip(v, lo, hi), bins=edges)[0] / max(len(v), 1) for v in (a, b)]
    return [float(e) for e in edges], [float(v) for v in shares[0]], [float(v) for v in shares[1]]


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """q-values controlling the false discovery rate (step-up, monotone, capped at 1)."""
    p = np.asarray(p_values, dtype=np.float64)
    if p.size == 0:
        return []
    if not np.all(np.isfinite(p)):
        raise ValueError("p values must be finite numbers")
    order = np.argsort(p)
    ranked = p[order] * p.size / np.arange(1, p.size + 1)
    q_sorted = np.minimum.accumulate(ranked[::-1])[::-1]
    q = np.empty_like(q_sorted)
    q[order] = np.minimum(q_sorted, 1.0)
    return [float(v) for v in q]
