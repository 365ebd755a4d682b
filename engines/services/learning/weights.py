"""WHO's model: scorer weights learned by logistic regression, moved only as far as the evidence carries them.

The regression (L2-penalised, Newton steps in numpy) of conversion on the four
scoring components, each divided by its COMPONENT_MAX, gives coefficients and
their covariance (the inverse of the Hessian at the fit). Its positive
coefficients, made proportional weights summing to 0.85 and projected into
[0.05, 0.50], are the *learned* weights.

The recommended weights are the weights in use moved toward the learned ones by
a share `shrinkage` in [0, 1]: a positive-part James-Stein factor
1 - c / W, where W is the Wald statistic of "the coefficients are proportional
to the weights in use" (chi-square with k - 1 degrees of freedom when they
are) and c its 95% quantile. On data where the weights in use are as good as
any, W is small and the weights do not move; with a real, well-measured
difference W grows and the weights move almost all the way.

k counts the components that vary among the leads (`varying`). A component
every lead has the same value of (the demo's leads carry no timing signal)
adds the same points to every lead: its coefficient is held at 0 by the
penalty, it says nothing about who converts, and counting it would test
against a quantile one degree of freedom too high, so that a difference the
evidence carries (p < 0.05) moved nothing.

Held-out check: `compare_auc` ranks the held-out leads with both weightings
(DeLong's paired comparison of the areas under the ROC curve).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from engines.rules.pattern_checks import WEIGHT_KEYS, WEIGHT_MAX, WEIGHT_MIN

WEIGHT_TOTAL = 0.85
L2_PENALTY = 1.0
# 95% quantiles of the chi-square distribution by degrees of freedom (1 to len(WEIGHT_KEYS)).
CHI2_95 = {1: 3.841, 2: 5.991, 3: 7.815, 4: 9.488}
AUC_INTERVAL_Z = NormalDist().inv_cdf(0.975)


@dataclass(frozen=True)
class LogisticFit:
    intercept: float
    coefficients: np.ndarray
    covariance: np.ndarray  # of the coefficients (intercept left out)

    @property
    def standard_errors(self) -> np.ndarray:
        return np.sqrt(np.diag(self.covariance))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = L2_PENALTY, steps: int = 50) -> LogisticFit:
    """P(y) = sigmoid(b0 + x @ b), the coefficients L2-penalised (Newton's method), with their covariance."""
    design = np.column_stack([np.ones(len(x)), x])
    target = y.astype(float)
    penalty = np.diag([0.0] + [l2] * x.shape[1])
    beta = np.zeros(design.shape[1])
    beta[0] = np.log(max(target.mean(), 1e-6) / max(1 - target.mean(), 1e-6))
    hessian = penalty
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(design @ beta)))
        gradient = design.T @ (target - p) - penalty @ beta
        hessian = (design * (p * (1 - p))[:, None]).T @ design + penalty
        step = np.linalg.solve(hessian, gradient)
        beta += step
        if np.abs(step).max() < 1e-8:
            break
    covariance = np.linalg.pinv(hessian)[1:, 1:]
    return LogisticFit(float(beta[0]), beta[1:], covariance)


def weights_from_coefficients(coefficients: np.ndarray, fallback: dict[str, float]) -> dict[str, float]:
    """Weights proportional to the positive coefficients, projected onto [0.05, 0.50] with a total of 0.85.

    A component that does not help (coefficient <= 0) gets the minimum weight;
    when none helps, `fallback` stands.
    """
    positive = np.clip(np.asarray(coefficients, dtype=float), 0, None)
    if positive.sum() <= 0:
        return dict(fallback)
    target = WEIGHT_TOTAL * positive / positive.sum()
    # Euclidean projection onto the box and the total: clip(target - shift), the shift found by bisection.
    low, high = target.min() - WEIGHT_MAX, target.max() - WEIGHT_MIN
    for _ in range(100):
        shift = (low + high) / 2
        if np.clip(target - shift, WEIGHT_MIN, WEIGHT_MAX).sum() > WEIGHT_TOTAL:
            low = shift
        else:
            high = shift
    weights = np.clip(target - (low + high) / 2, WEIGHT_MIN, WEIGHT_MAX)
    return {key: float(w) for key, w in zip(WEIGHT_KEYS, weights, strict=True)}


def varying(x: np.ndarray) -> np.ndarray:
    """Which components (columns) take more than one value among these leads."""
    mask: np.ndarray = np.ptp(x, axis=0) > 0 if len(x) else np.zeros(x.shape[1], dtype=bool)
    return mask


def _restricted(fit: LogisticFit, among: np.ndarray | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The coefficients, their precision (the inverse covariance) and the mask of the components `among`."""
    mask = np.ones(len(fit.coefficients), dtype=bool) if among is None else np.asarray(among, dtype=bool)
    precision = np.linalg.pinv(fit.covariance[np.ix_(mask, mask)])
    return fit.coefficients[mask], precision, mask


def deviation_statistic(fit: LogisticFit, current: np.ndarray, among: np.ndarray | None = None) -> tuple[float, int]:
    """Wald statistic of "the coefficients are a multiple of `current`" (the weights in use are right) over the
    components `among` (default all), and its degrees of freedom (their number less one)."""
    coefficients, precision, mask = _restricted(fit, among)
    in_use = current[mask]
    if len(in_use) < 2 or float(in_use @ precision @ in_use) <= 0:
        return 0.0, 0
    scale = float(in_use @ precision @ coefficients) / float(in_use @ precision @ in_use)
    deviation = coefficients - scale * in_use
    return float(deviation @ precision @ deviation), len(in_use) - 1


def chi2_survival(statistic: float, degrees: int) -> float:
    """P(X > statistic) for X chi-square with a whole number of degrees of freedom (1 or more)."""
    half = max(statistic, 0.0) / 2
    # Q(k + 2) = Q(k) + (x/2)^(k/2) e^(-x/2) / Gamma(k/2 + 1), from Q(1) = erfc(sqrt(x/2)) or Q(2) = e^(-x/2).
    survival, k = (math.erfc(math.sqrt(half)), 1) if degrees % 2 else (math.exp(-half), 2)
    while k < degrees:
        survival += math.exp((k / 2) * math.log(half) - half - math.lgamma(k / 2 + 1)) if half > 0 else 0.0
        k += 2
    return min(max(survival, 0.0), 1.0)


def ranking_evidence(fit: LogisticFit, among: np.ndarray | None = None) -> float:
    """Strength of the evidence that the components `among` (default all) rank leads at all: 1 - the p-value of
    "their coefficients are all 0" (Wald, chi-square with one degree of freedom per component), and 0 when that
    p-value is above 5%."""
    coefficients, precision, _ = _restricted(fit, among)
    if not len(coefficients):
        return 0.0
    p_value = chi2_survival(float(coefficients @ precision @ coefficients), len(coefficients))
    return round(1 - p_value, 3) if p_value <= 0.05 else 0.0


def shrinkage(statistic: float, degrees: int = 3) -> float:
    """Share of the move toward the learned weights the evidence carries: max(0, 1 - c / statistic), c the 95%
    quantile of the statistic's chi-square distribution (no move with no degree of freedom)."""
    if degrees < 1 or statistic <= 0:
        return 0.0
    return max(0.0, 1.0 - CHI2_95[degrees] / statistic)


def blend(current: dict[str, float], learned: dict[str, float], share: float) -> dict[str, float]:
    """current + share * (learned - current), rounded; both valid, so the blend is (box and total are convex)."""
    return {key: round(current[key] + share * (learned[key] - current[key]), 3) for key in WEIGHT_KEYS}


def _midranks(values: np.ndarray) -> np.ndarray:
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    return (np.cumsum(counts) - (counts - 1) / 2)[inverse]


def _placements(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong's placement values: per positive, the share of negatives it outscores (ties half), and per negative."""
    ranks = _midranks(scores)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    v10 = (ranks[positive] - _midranks(scores[positive])) / n_neg
    v01 = 1 - (ranks[~positive] - _midranks(scores[~positive])) / n_pos
    return v10, v01


@dataclass(frozen=True)
class AucComparison:
    auc_new: float
    auc_current: float
    low: float  # interval of auc_new - auc_current
    high: float
    leads: int


def compare_auc(x: np.ndarray, converted: np.ndarray, new: np.ndarray, current: np.ndarray) -> AucComparison:
    """Areas under the ROC curve of the scores x @ new and x @ current on the same leads, and their difference."""
    new_10, new_01 = _placements(x @ new, converted)
    cur_10, cur_01 = _placements(x @ current, converted)
    difference = float(new_10.mean() - cur_10.mean())
    variance = np.var(new_10 - cur_10, ddof=1) / len(new_10) + np.var(new_01 - cur_01, ddof=1) / len(new_01)
    spread = AUC_INTERVAL_Z * float(np.sqrt(max(variance, 0.0)))
    return AucComparison(
        auc_new=float(new_10.mean()),
        auc_current=float(cur_10.mean()),
        low=difference - spread,
        high=difference + spread,
        leads=len(converted),
    )
