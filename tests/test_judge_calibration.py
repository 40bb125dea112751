"""Statistics behind the judge calibration: hand-computed tables, edge cases, and the coverage of the intervals
by simulation.

Measured coverage of the 95% intervals (``test_coverage_by_simulation``: 400 seeded repetitions each; a
judged sample of 300 drawn from a population of 5,000; the corrected rate's bootstrap at its default 2,000
draws; a None corrected rate counts as a miss). Monte Carlo standard error about 0.011.

    prevalence  detector          corrected (Rogan-Gladen)       judged rate (Wilson)
                                  coverage        mean width     coverage  mean width
    0.02        Se 0.80 Sp 0.95   0.958 (9 None)  0.076          0.948     0.033
    0.02        Se 0.60 Sp 0.99   0.950 (7 None)  0.091          0.950     0.033
    0.10        Se 0.80 Sp 0.95   0.953           0.085          0.948     0.068
    0.10        Se 0.60 Sp 0.99   0.970           0.088          0.940     0.068
    0.30        Se 0.80 Sp 0.95   0.978           0.098          0.943     0.103
    0.30        Se 0.60 Sp 0.99   0.955           0.122          0.955     0.103

(None: one or two judged positives, missed by the detector, which is then not shown better than chance;
with no judged positive at all the judged rate stands in.) On a random judged sample the corrected interval is wider
than the judged rate's unless the prevalence is high: its Se and Sp come from the same 300 pairs.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from llmdrift.judge import calibration as cal
from llmdrift.judge.calibration import (
    Calibration,
    agreement,
    auc_with_interval,
    calibrate,
    mean_with_interval,
)

Z = 1.959963984540054


def table(tp: int, fp: int, fn: int, tn: int) -> tuple[list[bool], list[bool]]:
    """Judge verdicts and local flags with the given confusion counts (judge is the reference)."""
    judge = [True] * tp + [False] * fp + [True] * fn + [False] * tn
    flag = [True] * tp + [True] * fp + [False] * fn + [False] * tn
    return judge, flag


def test_confusion_table_by_hand() -> None:
    # n = 20: TP 6, FP 2, FN 3, TN 9. Judged positives k = 9, flagged 8.
    # Wilson, z^2 = 3.841459: denom = 1 + z^2/n, centre = (p + z^2/2n) / denom,
    # half = z sqrt(p(1-p)/n + z^2/4n^2) / denom.
    #   judged 9/20:   denom 1.192073, centre 0.458056, half 0.199858 -> [0.258198, 0.657915]
    #   precision 6/8: denom 1.480182, centre 0.668898, half 0.259623 -> [0.409275, 0.928521]
    #   recall 6/9:    denom 1.426829, centre 0.616809, half 0.262607 -> [0.354202, 0.879416]
    judge, flag = table(tp=6, fp=2, fn=3, tn=9)
    c = calibrate(judge, flag, None)
    assert (c.n, c.judged_positive) == (20, 9)
    assert c.judged_rate == pytest.approx(0.45)
    assert c.judged_low == pytest.approx(0.258198, abs=1e-4)
    assert c.judged_high == pytest.approx(0.657915, abs=1e-4)
    assert c.local_rate == pytest.approx(0.4)
    assert c.precision == pytest.approx(0.75)
    assert c.precision_low == pytest.approx(0.409275, abs=1e-4)
    assert c.precision_high == pytest.approx(0.928521, abs=1e-4)
    assert c.recall == pytest.approx(6 / 9)
    assert c.recall_low == pytest.approx(0.354202, abs=1e-4)
    assert c.recall_high == pytest.approx(0.879416, abs=1e-4)
    assert (c.auc, c.auc_low, c.auc_high) == (None, None, None)
    # No population given: the sample is the population, where Rogan-Gladen with the sample's own Se and Sp
    # is the judged rate: q = 0.4, Se = 6/9, Sp = 9/11 -> (0.4 - 2/11) / (6/9 - 2/11) = 0.45.
    assert cal.rogan_gladen(0.4, 6 / 9, 9 / 11) == pytest.approx(0.45)
    assert (c.corrected_rate, c.corrected_low, c.corrected_high) == (
        c.judged_rate,
        c.judged_low,
        c.judged_high,
    )
    assert c.method == cal.METHOD_SAMPLE


def test_auc_hand_ranked() -> None:
    # Positives 0.9, 0.8, 0.4; negatives 0.7, 0.3, 0.2, 0.4 (a tie at 0.4 counts one half).
    # Pairs won: 0.9 -> 4, 0.8 -> 4, 0.4 -> 0 + 1 + 1 + 0.5 = 2.5; AUC = 10.5 / 12 = 0.875.
    # Placements: V10 = (1, 1, 5/8), V01 = (2/3, 1, 1, 5/6). S10 = 3/64 (ddof 1), S01 = 11/432;
    # DeLong variance = S10/3 + S01/4 = 1/64 + 11/1728 = 19/864. On the logit scale:
    # logit(0.875) +- z sqrt(19/864) / (0.875 * 0.125) -> [0.329279, 0.990080], wider than Hanley-McNeil's.
    judge = [True, True, True, False, False, False, False]
    score = [0.9, 0.8, 0.4, 0.7, 0.3, 0.2, 0.4]
    auc, low, high = auc_with_interval(judge, score)
    centre = math.log(0.875 / 0.125)
    half = Z * math.sqrt(19 / 864) / (0.875 * 0.125)
    assert auc == pytest.approx(0.875)
    assert low == pytest.approx(1 / (1 + math.exp(-(centre - half))))
    assert high == pytest.approx(1 / (1 + math.exp(-(centre + half))))
    assert low == pytest.approx(0.329279, abs=1e-4)
    assert high == pytest.approx(0.990080, abs=1e-4)
    hm_low, hm_high = cal._hanley_mcneil_interval(0.875, 3, 4, Z)
    assert low is not None
    assert high is not None
    assert low <= hm_low <= 0.875 <= hm_high <= high

    # The same through calibrate; the order of the pairs does not matter.
    c = calibrate(judge[::-1], [s > 0.5 for s in score][::-1], score[::-1])
    assert (c.auc, c.auc_low, c.auc_high) == pytest.approx((auc, low, high))


def test_auc_degenerate_cases() -> None:
    # Perfect separation: placements do not vary, so the Hanley-McNeil score interval alone. Its lower bound L
    # solves (1 - L)^2 = z^2 SE_HM(L)^2, and the upper bound is 1.
    auc, low, high = auc_with_interval(
        [True] * 30 + [False] * 270, [1.0 + i for i in range(30)] + [0.0] * 270
    )
    assert (auc, high) == (1.0, 1.0)
    assert low is not None
    assert 0.9 < low < 0.97
    assert (1 - low) ** 2 == pytest.approx(Z * Z * cal._hanley_mcneil_variance(low, 30, 270), rel=1e-6)
    # All scores tied: AUC one half, a non-degenerate interval around it.
    auc, low, high = auc_with_interval([True, False, True, False], [0.3] * 4)
    assert auc == 0.5
    assert low is not None
    assert high is not None
    assert 0.0 < low < 0.5 < high < 1.0
    # One positive ranked last: AUC 0.
    auc, low, high = auc_with_interval([True, False, False], [0.1, 0.5, 0.9])
    assert (auc, low) == (0.0, 0.0)
    assert high is not None
    assert 0.0 < high < 1.0
    # One class empty.
    assert auc_with_interval([False, False], [0.1, 0.2]) == (None, None, None)
    with pytest.raises(ValueError, match="same length"):
        auc_with_interval([True, False], [0.1])
    with pytest.raises(ValueError, match="finite"):
        auc_with_interval([True, False], [0.1, math.nan])


def test_rogan_gladen_exact() -> None:
    # Se 0.8, Sp 0.95, true prevalence 0.3: q = 0.3 * 0.8 + 0.7 * 0.05 = 0.275, and
    # (0.275 + 0.95 - 1) / (0.8 + 0.95 - 1) = 0.225 / 0.75 = 0.3.
    assert cal.rogan_gladen(0.275, 0.8, 0.95) == pytest.approx(0.3)
    assert cal.rogan_gladen(0.01, 0.8, 0.95) == 0.0  # q below the false-positive rate: clipped
    assert cal.rogan_gladen(0.9, 0.8, 0.95) == 1.0  # q above Se: clipped
    assert cal.rogan_gladen(0.3, 0.5, 0.5) is None  # chance

    # The same through calibrate: a sample with exactly Se = 16/20 and Sp = 76/80.
    judge, flag = table(tp=16, fp=4, fn=4, tn=76)
    c = calibrate(judge, flag, None, population_flag_rate=0.275, population_n=5000)
    assert c.method == cal.METHOD_ROGAN_GLADEN
    assert c.corrected_rate == pytest.approx(0.3)
    assert c.corrected_low is not None
    assert c.corrected_high is not None
    assert 0.15 < c.corrected_low < 0.3 < c.corrected_high < 0.45
    # A bigger judged sample with the same rates narrows the interval.
    judge, flag = table(tp=160, fp=40, fn=40, tn=760)
    big = calibrate(judge, flag, None, population_flag_rate=0.275, population_n=5000)
    assert big.corrected_rate == pytest.approx(0.3)
    assert big.corrected_low is not None
    assert big.corrected_high is not None
    assert big.corrected_high - big.corrected_low < 0.5 * (c.corrected_high - c.corrected_low)
    # population_n defaults to the sample's n (a wider interval than with 5,000).
    small_pop = calibrate(judge, flag, None, population_flag_rate=0.275)
    assert small_pop.corrected_rate == pytest.approx(0.3)
    assert small_pop.corrected_low is not None
    assert small_pop.corrected_high is not None
    assert small_pop.corrected_high - small_pop.corrected_low > big.corrected_high - big.corrected_low


def test_clipped_at_zero_keeps_a_valid_interval() -> None:
    # Population flag rate below the false-positive rate: the estimate is 0, the interval [0, something].
    judge, flag = table(tp=8, fp=10, fn=2, tn=180)
    c = calibrate(judge, flag, None, population_flag_rate=0.03, population_n=5000)
    assert c.corrected_rate == 0.0
    assert c.corrected_low == 0.0
    assert c.corrected_high is not None
    assert 0.0 < c.corrected_high < 0.1


def test_no_pairs() -> None:
    c = calibrate([], [], [], population_flag_rate=0.1, population_n=100)
    assert c.n == 0
    assert c.judged_positive == 0
    values = [v for k, v in vars(c).items() if k not in {"n", "judged_positive", "method"}]
    assert values == [None] * len(values)
    assert c.method == cal.METHOD_NONE


def test_all_judged_negative() -> None:
    judge, flag = table(tp=0, fp=3, fn=0, tn=17)
    c = calibrate(judge, flag, [0.9] * 3 + [0.1] * 17, population_flag_rate=0.2, population_n=1000)
    assert c.judged_rate == 0.0
    # Wilson 0/20: centre = half = (z^2/40) / (1 + z^2/20) = 0.096036 / 1.192073 = 0.080563.
    assert c.judged_low == 0.0  # exactly: the bounds contain the rate (core's wilson leaves ~1e-18 here)
    assert c.judged_high == pytest.approx(0.161125, abs=1e-4)
    assert c.precision == 0.0
    assert (c.recall, c.recall_low, c.recall_high) == (None, None, None)
    assert (c.auc, c.auc_low, c.auc_high) == (None, None, None)
    assert (c.corrected_rate, c.corrected_low, c.corrected_high) == (0.0, c.judged_low, c.judged_high)
    assert c.method == cal.METHOD_NO_POSITIVES


def test_all_judged_positive() -> None:
    judge, flag = table(tp=7, fp=0, fn=3, tn=0)
    c = calibrate(judge, flag, None, population_flag_rate=0.2, population_n=1000)
    assert c.judged_rate == 1.0
    assert (c.precision, c.recall) == (1.0, 0.7)
    assert c.judged_high == 1.0
    # Wilson 7/10: denom 1.384146, centre 0.644493, half 0.247715.
    assert (c.recall_low, c.recall_high) == pytest.approx((0.396778, 0.892209), abs=1e-4)
    assert (c.corrected_rate, c.corrected_low, c.corrected_high) == (1.0, c.judged_low, c.judged_high)
    assert c.method == cal.METHOD_NO_NEGATIVES


def test_all_flagged_is_chance() -> None:
    # Everything flagged: Se = 1, Sp = 0, Se + Sp - 1 = 0.
    judge, flag = table(tp=5, fp=15, fn=0, tn=0)
    c = calibrate(judge, flag, None, population_flag_rate=1.0, population_n=1000)
    assert (c.local_rate, c.precision, c.recall) == (1.0, 0.25, 1.0)
    assert (c.corrected_rate, c.corrected_low, c.corrected_high) == (None, None, None)
    assert c.method == cal.METHOD_CHANCE
    assert "chance" in c.method


def test_detector_at_chance() -> None:
    # Se = 5/10, Sp = 5/10: exactly chance.
    judge, flag = table(tp=5, fp=5, fn=5, tn=5)
    c = calibrate(judge, flag, None, population_flag_rate=0.3, population_n=5000)
    assert (c.corrected_rate, c.corrected_low, c.corrected_high) == (None, None, None)
    assert c.method == cal.METHOD_CHANCE
    # Se 11/20, Sp 10/20: better than chance on the point estimate (0.05), not credibly so.
    judge, flag = table(tp=11, fp=10, fn=9, tn=10)
    c = calibrate(judge, flag, None, population_flag_rate=0.3, population_n=5000)
    assert c.corrected_rate is None
    assert c.method == cal.METHOD_CHANCE
    # The judged rate stays published whatever the detector.
    assert c.judged_rate == 0.5
    # Without a population the judged rate is the answer, at chance or not.
    assert calibrate(judge, flag, None).corrected_rate == 0.5


def test_invalid_input() -> None:
    with pytest.raises(ValueError, match="same length"):
        calibrate([True], [True, False], None)
    with pytest.raises(ValueError, match="population_n needs"):
        calibrate([True, False], [True, False], None, population_n=10)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        calibrate([True, False], [True, False], None, population_flag_rate=1.5, population_n=10)
    with pytest.raises(ValueError, match="at least 1"):
        calibrate([True, False], [True, False], None, population_flag_rate=0.5, population_n=0)
    with pytest.raises(ValueError, match="same length"):
        calibrate([True, False], [True, False], [0.5])


def test_deterministic() -> None:
    rng = np.random.default_rng(7)
    truth = rng.random(300) < 0.1
    flag = np.where(truth, rng.random(300) < 0.8, rng.random(300) < 0.05)
    score = np.where(flag, 0.5, 0.0) + rng.random(300) * 0.5
    args = (truth.tolist(), flag.tolist(), score.tolist(), 0.12, 5000)
    first = calibrate(*args)
    assert isinstance(first, Calibration)
    assert first.method == cal.METHOD_ROGAN_GLADEN
    assert calibrate(*args) == first
    other_seed = calibrate(*args, seed=cal.BOOTSTRAP_SEED + 1)
    assert other_seed.corrected_rate == first.corrected_rate
    assert other_seed != first  # only the bootstrap bounds move


def test_mean_with_interval() -> None:
    # Values 0.1, -0.3, 0.5, 0.2: mean 0.125; deviations -0.025, -0.425, 0.375, 0.075, squares summing to
    # 0.3275; s^2 = 0.3275 / 3, s = 0.330404, s / sqrt(4) = 0.165202; t(0.975, 3) = 3.182446;
    # half = 0.525746 -> [-0.400746, 0.650746].
    mean, low, high = mean_with_interval([0.1, -0.3, 0.5, 0.2])
    assert mean == pytest.approx(0.125)
    assert low == pytest.approx(-0.400746, abs=1e-5)
    assert high == pytest.approx(0.650746, abs=1e-5)
    # With a normal quantile instead: half = 1.959964 * 0.165202 = 0.323790.
    _, low, high = mean_with_interval([0.1, -0.3, 0.5, 0.2], z=Z)
    assert (low, high) == pytest.approx((0.125 - 0.323790, 0.125 + 0.323790), abs=1e-5)
    assert mean_with_interval([]) == (None, None, None)
    assert mean_with_interval([0.4]) == (0.4, None, None)
    assert mean_with_interval([0.2, 0.2, 0.2]) == pytest.approx((0.2, 0.2, 0.2))


def test_agreement() -> None:
    judge = ["negative", "neutral", "positive", "neutral", "positive", "negative", "neutral", "neutral"]
    local = ["negative", "neutral", "neutral", "neutral", "positive", "positive", "neutral", "negative"]
    # 5 of 8 agree: Wilson 5/8, p = 0.625: denom 1.480182, centre (0.625 + 0.240091) / 1.480182 = 0.584450,
    # half = 1.959964 sqrt(0.029297 + 0.015006) / 1.480182 = 0.278681 -> [0.305769, 0.863131].
    share, low, high = agreement(judge, local)
    assert share == pytest.approx(0.625)
    assert low == pytest.approx(0.305769, abs=1e-4)
    assert high == pytest.approx(0.863131, abs=1e-4)
    assert agreement([], []) == (None, None, None)
    assert agreement(["positive"] * 3, ["positive"] * 3)[0::2] == (1.0, 1.0)
    assert agreement(["positive"] * 3, ["negative"] * 3)[:2] == (0.0, 0.0)
    with pytest.raises(ValueError, match="same length"):
        agreement(["positive"], [])


def simulate_coverage(
    prevalence: float, se: float, sp: float, seed: int, reps: int = 400
) -> tuple[float, float]:
    """Share of repetitions whose 95% interval covers the true prevalence: (corrected, judged)."""
    rng = np.random.default_rng(seed)
    covered_corrected = covered_judged = 0
    for _ in range(reps):
        truth = rng.random(5000) < prevalence
        draw = rng.random(5000)
        flag = np.where(truth, draw < se, draw < 1.0 - sp)
        # The judged sample: 300 of the population's invocations (drawn at random already).
        c = calibrate(truth[:300].tolist(), flag[:300].tolist(), None, float(flag.mean()), 5000)
        assert c.judged_low is not None
        assert c.judged_high is not None
        covered_judged += c.judged_low <= prevalence <= c.judged_high
        if c.corrected_rate is not None:
            assert c.corrected_low is not None
            assert c.corrected_high is not None
            assert 0.0 <= c.corrected_low <= c.corrected_rate <= c.corrected_high <= 1.0
            covered_corrected += c.corrected_low <= prevalence <= c.corrected_high
    return covered_corrected / reps, covered_judged / reps


@pytest.mark.parametrize("prevalence", [0.02, 0.1, 0.3])
@pytest.mark.parametrize(("se", "sp"), [(0.8, 0.95), (0.6, 0.99)])
def test_coverage_by_simulation(prevalence: float, se: float, sp: float) -> None:
    """Coverage of the corrected rate's and the judged rate's 95% intervals (figures in the module docstring)."""
    seed = int(prevalence * 1000) * 10 + int(se * 10)
    corrected, judged = simulate_coverage(prevalence, se, sp, seed)
    assert 0.90 <= corrected <= 0.99
    assert 0.90 <= judged <= 0.99
