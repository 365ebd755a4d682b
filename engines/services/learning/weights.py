"""WHO's model: scorer weights learned by logistic regression, moved only as far as the evidence carries them.

The regression (L2-penalised, Newton steps in numpy) of conversion on the four
scoring components, each divided by its COMPONENT_MAX, gives coefficients and
their covariance (the inverse of the Hessian at the fit). Its positive
coefficients, made proportional weights summing to 0.85 and projected into
[0.05, 0.50], are the *learned* weights.

The recommended weights are the weights in use moved toward the learned ones by
a share `shrinkage` in [0, 1]: a positive-part James-Stein factor
1 - c / W, where W is the Wald statistic of "the coefficients are proportional
to the weights in use" (chi-square with 3 degrees of freedom when they are) and
c its 95% quantile. On data where the weights in use are as good as any, W is
small and the weights do not move; with a real, well-measured difference W
grows and the weights move almost all the way.

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
# 95% quantile of the chi-square distribution with len(WEIGHT_KEYS) - 1 = 3 degrees of freedom.
CHI2_95_3DF = 7.815
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


def deviation_statistic(fit: LogisticFit, current: np.ndarray) -> float:
    """Wald statistic of "the coefficients are a multiple of `current`" (the weights in use are right)."""
    precision = np.linalg.pinv(fit.covariance)
    scale = float(current @ precision @ fit.coefficients) / float(current @ precision @ current)
    deviation = fit.coefficients - scale * current
    return float(deviation @ precision @ deviation)


def ranking_evidence(fit: LogisticFit) -> float:
    """Strength of the evidence that the components rank leads at all: 1 - the p-value of "every coefficient is 0"
    (Wald, chi-square with 4 degrees of freedom), and 0 when that p-value is above 5%."""
    statistic = float(fit.coefficients @ np.linalg.pinv(fit.covariance) @ fit.coefficients)
    p_value = math.exp(-statistic / 2) * (1 + statistic / 2)  # the chi-square survival function for 4 degrees
    return round(1 - p_value, 3) if p_value <= 0.05 else 0.0


def shrinkage(statistic: float, critical: float = CHI2_95_3DF) -> float:
    """Share of the move toward the learned weights the evidence carries: max(0, 1 - critical / statistic)."""
    return max(0.0, 1.0 - critical / statistic) if statistic > 0 else 0.0


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

    @property
    def not_worse(self) -> bool:
        """The new weights are not credibly worse: the interval of the difference reaches 0 or above."""
        return self.high >= 0


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
