"""The statistics of comparison reports: means with confidence intervals over seeds, paired
tests between searchers, and rank correlations.

Example:
    >>> mean, half = mean_ci(np.array([0.80, 0.82, 0.84]))
    >>> round(float(mean), 2), round(float(half), 3)
    (0.82, 0.05)
    >>> rank_correlation([1, 2, 3, 4], [10, 30, 20, 40])["kendall"]
    0.666...
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats


def mean_ci(x: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Mean and the half-width of its 95% confidence interval (Student's t) along ``axis``
    (NaN for a single value)."""
    x = np.asarray(x, dtype=float)
    n = x.shape[axis]
    mean = x.mean(axis=axis)
    if n < 2:
        return mean, np.full_like(mean, np.nan)
    half = stats.t.ppf(0.975, n - 1) * x.std(axis=axis, ddof=1) / math.sqrt(n)
    return mean, half


def bands(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and 95% half-width over the seeds (rows) at each time (column); NaN until every
    seed has a result, so that a mean of best-so-far curves never decreases."""
    mean, half = mean_ci(curves)
    missing = np.isnan(curves).any(axis=0)
    return np.where(missing, np.nan, mean), np.where(missing, np.nan, half)


def paired_test(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    """``a`` against ``b`` over the same seeds: mean difference, paired t-test and Wilcoxon
    signed-rank p-values, two-sided (1.0 where the two never differ; seeds on which they tie
    are left out of the Wilcoxon test)."""
    d = np.asarray(a, float) - np.asarray(b, float)
    if len(d) < 2 or not np.any(d):
        return {"diff_mean": float(d.mean()) if len(d) else math.nan, "p_ttest": 1.0, "p_wilcoxon": 1.0}
    p_t = float(stats.ttest_rel(a, b).pvalue) if np.std(d) > 0 else 0.0
    # the normal approximation (with the tie correction): exact where n is large, deterministic always
    p_w = float(stats.wilcoxon(a, b, method="approx").pvalue)
    return {"diff_mean": float(d.mean()), "p_ttest": p_t, "p_wilcoxon": p_w}


def rank_correlation(x: Sequence[float], y: Sequence[float]) -> dict[str, float]:
    """Kendall's tau (tau-b, with its p-value) and Spearman's rho between ``x`` and ``y``, and
    the number of pairs; NaN below three pairs or where either side is constant."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    n = len(x)
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return {"n": n, "kendall": math.nan, "kendall_p": math.nan, "spearman": math.nan}
    tau = stats.kendalltau(x, y)
    return {
        "n": n,
        "kendall": float(tau.statistic),
        "kendall_p": float(tau.pvalue),
        "spearman": float(stats.spearmanr(x, y).statistic),
    }
