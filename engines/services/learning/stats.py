"""The statistics the detectors share: grouped rates, lifts with their intervals, false discovery control.

A detector names a winner (a day, a sequence, a CTA...) only when the
evidence carries it. Each candidate is compared with the rest of the units
(the risk ratio of its rate to theirs, stratified where like must be compared
with like, or adjusted for several factors at once in a log-linear model
where stratifying on every combination of them would leave too few units in
each), and every candidate of one detection run is judged at once with
the Benjamini-Hochberg procedure, so that on data where nothing matters a run
names nothing in about 95 runs of 100 however many candidates it tries.

Each p-value comes from a score statistic (computed under "no difference",
so it keeps its level with few positives); the interval of each ratio is
reported at the level the procedure used: with R discoveries among m tests, a
(1 - alpha * R / m) interval (Benjamini & Yekutieli's false-coverage
intervals), which for a discovery all but always excludes 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import NotRequired, TypedDict

import numpy as np
import numpy.typing as npt

# The arrays the detectors compute with.
Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

# Buckets (a day, a CTA, a sequence...) with fewer units than this are reported nowhere and never tested.
MIN_BUCKET = 30
# The Beta prior every displayed rate is smoothed with is worth this many outcomes at the client's overall rate.
PRIOR_EVENTS = 5.0
# The false discovery rate of a detection run.
FDR = 0.05
_NORMAL = NormalDist()


def beta_prior(base_rate: float, events: float = PRIOR_EVENTS) -> tuple[float, float]:
    """(alpha, beta) of a Beta prior centred on `base_rate` and worth `events` outcomes."""
    p = min(max(base_rate, 1e-6), 1 - 1e-6)
    return events, events * (1 - p) / p


def smoothed_rate(
    positives: npt.ArrayLike, totals: npt.ArrayLike, base_rate: float, events: float = PRIOR_EVENTS
) -> Floats:
    """Posterior mean rate of each bucket, pulled toward `base_rate` the fewer units it has."""
    alpha, beta = beta_prior(base_rate, events)
    return (np.asarray(positives, dtype=float) + alpha) / (np.asarray(totals, dtype=float) + alpha + beta)


def rate(value: float) -> float:
    """A rate rounded for storage, kept inside [0, 1]."""
    return min(max(round(float(value), 4), 0.0), 1.0)


@dataclass(frozen=True)
class Groups:
    """Units counted by label: `keys[i]` has `totals[i]` units, `positives[i]` of them positive.

    `first[i]` is the index of the first unit carrying the label (for showing it as first spelled).
    """

    keys: npt.NDArray[np.generic]
    totals: npt.NDArray[np.intp]
    positives: Floats
    first: npt.NDArray[np.intp] | None = None

    def smoothed(self, base_rate: float) -> Floats:
        return smoothed_rate(self.positives, self.totals, base_rate)

    def big_enough(self, minimum: int = MIN_BUCKET) -> npt.NDArray[np.intp]:
        """Indices of the groups with at least `minimum` units."""
        return np.flatnonzero(self.totals >= minimum)


def group(labels: npt.NDArray[np.generic], positive: npt.ArrayLike, *, size: int | None = None) -> Groups:
    """Count units and positives by label: integer labels 0..size-1 when `size` is given, any labels otherwise."""
    weights = np.asarray(positive, dtype=float)
    if size is not None:
        codes = np.asarray(labels, dtype=np.int64)
        return Groups(
            keys=np.arange(size),
            totals=np.bincount(codes, minlength=size),
            positives=_weighted_count(codes, weights, size),
        )
    keys, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    return Groups(
        keys=keys,
        totals=np.bincount(inverse, minlength=len(keys)),
        positives=_weighted_count(inverse, weights, len(keys)),
        first=first,
    )


def _weighted_count(labels: npt.NDArray[np.integer], weights: Floats, size: int) -> Floats:
    """np.bincount with weights: a float array (numpy's stubs type it as an integer one; asarray copies nothing)."""
    return np.asarray(np.bincount(labels, weights=weights, minlength=size), dtype=np.float64)


@dataclass(frozen=True)
class Lifts:
    """Rate ratios of several candidates against the rest.

    `ratio` and `log_se` (the standard error of its log) give the intervals;
    `z`, the score statistic of "no difference" (the (Cochran-)Mantel-Haenszel
    or pooled two-proportion z, positive when the candidate does better), gives
    the p-values: computed under the null, it keeps its nominal level where the
    Wald statistic of the ratio, with few positives, does not.
    """

    ratio: Floats
    log_se: Floats
    z: Floats

    @property
    def p_values(self) -> Floats:
        """Two-sided p-values of "the ratio is 1"."""
        return np.array([math.erfc(abs(value) / math.sqrt(2)) if np.isfinite(value) else 1.0 for value in self.z])

    def interval(self, z: float) -> tuple[Floats, Floats]:
        spread = np.exp(z * self.log_se)
        return self.ratio / spread, self.ratio * spread

    def subset(self, indices: npt.NDArray[np.integer] | Bools) -> Lifts:
        return Lifts(self.ratio[indices], self.log_se[indices], self.z[indices])


def lifts(k1: npt.ArrayLike, n1: npt.ArrayLike, k0: npt.ArrayLike, n0: npt.ArrayLike) -> Lifts:
    """Ratio of the rates k1/n1 and k0/n0 from the log risk ratio, with half-counts against zeros."""
    k1, n1, k0, n0 = (np.atleast_1d(np.asarray(x, dtype=float)) for x in (k1, n1, k0, n0))
    ratio = ((k1 + 0.5) / (n1 + 0.5)) / ((k0 + 0.5) / (n0 + 0.5))
    se = np.sqrt(np.maximum(1 / (k1 + 0.5) - 1 / (n1 + 0.5) + 1 / (k0 + 0.5) - 1 / (n0 + 0.5), 0.0))
    pooled = (k1 + k0) / np.maximum(n1 + n0, 1)
    spread = np.sqrt(pooled * (1 - pooled) * (1 / np.maximum(n1, 1) + 1 / np.maximum(n0, 1)))
    z = (k1 / np.maximum(n1, 1) - k0 / np.maximum(n0, 1)) / np.where(spread > 0, spread, np.inf)
    return Lifts(ratio, se, z)


def lift_interval(
    k1: npt.ArrayLike, n1: npt.ArrayLike, k0: npt.ArrayLike, n0: npt.ArrayLike, z: float = 2.576
) -> tuple[Floats, Floats]:
    """Interval of the rate ratio (k1/n1) / (k0/n0) at the normal quantile `z`."""
    return lifts(k1, n1, k0, n0).interval(z)


def stratified_lifts(
    candidate: npt.NDArray[np.integer], positive: npt.ArrayLike, stratum: npt.ArrayLike, n_candidates: int
) -> Lifts:
    """Each candidate's rate against the other units' within the same strata (Mantel-Haenszel risk ratio).

    `candidate[i]` is unit i's candidate (-1: none, but still part of the rest),
    `stratum[i]` >= 0 its stratum. Strata where the candidate or the rest is
    absent say nothing. The ratio's 2x2 tables get half-counts against zeros
    and its variance is Greenland and Robins'; the p-value comes from the
    Cochran-Mantel-Haenszel score statistic.
    """
    stratum = np.asarray(stratum, dtype=np.int64)
    n_strata = int(stratum.max()) + 1 if len(stratum) else 1
    positive = np.asarray(positive, dtype=float)
    totals_s = np.bincount(stratum, minlength=n_strata).astype(float)
    positives_s = _weighted_count(stratum, positive, n_strata)
    mine = candidate >= 0
    cell = candidate[mine].astype(np.int64) * n_strata + stratum[mine]
    n1 = np.bincount(cell, minlength=n_candidates * n_strata).reshape(n_candidates, n_strata).astype(float)
    a = _weighted_count(cell, positive[mine], n_candidates * n_strata).reshape(n_candidates, n_strata)
    n0, c0 = totals_s - n1, positives_s - a
    informative = (n1 > 0) & (n0 > 0)
    z = _cmh_z(a, n1, n0, positives_s, totals_s, informative)
    # Half-counts against zeros: each 2x2 table gains half a positive and half a negative in both rows.
    a_, c0_, n1_, n0_ = a + 0.5, c0 + 0.5, n1 + 1, n0 + 1
    total = n1_ + n0_
    r = np.where(informative, a_ * n0_ / total, 0.0).sum(axis=1)
    s = np.where(informative, c0_ * n1_ / total, 0.0).sum(axis=1)
    spread = np.where(informative, (n1_ * n0_ * (a_ + c0_) - a_ * c0_ * total) / total**2, 0.0).sum(axis=1)
    tested = (r > 0) & (s > 0)
    ratio = np.where(tested, r / np.where(tested, s, 1.0), 1.0)
    se = np.where(tested, np.sqrt(np.maximum(spread, 0.0) / np.where(tested, r * s, 1.0)), np.inf)
    return Lifts(ratio, se, z)


def _cmh_z(a: Floats, n1: Floats, n0: Floats, positives_s: Floats, totals_s: Floats, informative: Bools) -> Floats:
    """Cochran-Mantel-Haenszel score statistic per candidate: sum of (observed - expected) over its variance's root."""
    totals = np.maximum(totals_s, 1)  # an empty stratum is never informative
    expected = n1 * positives_s / totals
    variance = n1 * n0 * positives_s * (totals_s - positives_s) / (totals**2 * np.maximum(totals_s - 1, 1))
    difference: Floats = np.where(informative, a - expected, 0.0).sum(axis=1)
    spread = np.sqrt(np.where(informative, variance, 0.0).sum(axis=1))
    return difference / np.where(spread > 0, spread, np.inf)


# A log-linear fit stops when no coefficient moves more than this; a level without positives has no finite
# coefficient, so the fit also stops after FIT_STEPS, and RIDGE keeps its equations solvable.
FIT_TOLERANCE = 1e-8
FIT_STEPS = 30
RIDGE = 1e-6
MAX_LOG = 50.0
# Keys and values spanning at most this many are counted with bincount, not sorted.
DENSE_RANGE = 1 << 20


@dataclass(frozen=True)
class _Cells:
    """Units pooled into cells of equal factor levels and candidate: units, positives, design, candidate."""

    units: Floats
    positives: Floats
    design: Floats  # intercept, then one column per factor level but the first of each factor
    candidate: Ints


def _levels(values: Ints) -> tuple[Ints, int]:
    """Each value's level among the values present (0, 1, ...) and their number; linear time for small ranges."""
    if not len(values):
        return values, 1
    low, high = int(values.min()), int(values.max())
    if high - low > DENSE_RANGE:
        present, code = np.unique(values, return_inverse=True)
        return code.astype(np.int64), len(present)
    seen = np.bincount(values - low, minlength=high - low + 1) > 0
    lookup = np.cumsum(seen) - 1
    return lookup[values - low].astype(np.int64), int(seen.sum())


class Adjustment:
    """Factors to adjust for (a unit's channel, day, hour...), read once for every candidate family compared."""

    def __init__(self, positive: npt.ArrayLike, factors: Sequence[npt.ArrayLike]):
        self.positive: Floats = np.asarray(positive, dtype=float)
        self.levels: list[int] = []
        self.key: Ints = np.zeros(len(self.positive), dtype=np.int64)
        for factor in factors:  # mixed radix: one key per combination of levels
            code, levels = _levels(np.asarray(factor, dtype=np.int64))
            self.key = self.key * levels + code
            self.levels.append(levels)
        self.size = math.prod(self.levels)

    def cells(self, candidate: Ints) -> _Cells:
        """The units pooled by candidate and factor levels; the design has a column per level but the first."""
        key = (candidate + 1) * self.size + self.key
        size = (int(candidate.max(initial=-1)) + 2) * self.size
        if size <= DENSE_RANGE:
            seen = np.bincount(key, minlength=size) > 0
            used = np.flatnonzero(seen)
            inverse = (np.cumsum(seen) - 1)[key]
        else:
            used, inverse = np.unique(key, return_inverse=True)
        cells = len(used)
        columns = [np.ones(cells)]
        place = used
        for levels in reversed(self.levels):  # the levels of each cell, read back from its key
            of_cell, place = place % levels, place // levels
            columns[1:1] = [(of_cell == level).astype(float) for level in range(1, levels)]
        return _Cells(
            units=np.bincount(inverse, minlength=cells).astype(float),
            positives=_weighted_count(inverse, self.positive, cells),
            design=np.column_stack(columns),
            candidate=place - 1,
        )

    def lifts(self, candidate: npt.ArrayLike, n_candidates: int) -> Lifts:
        """adjusted_lifts of these units' candidates."""
        labels: Ints = np.asarray(candidate, dtype=np.int64)
        ratio, se, z = np.ones(n_candidates), np.full(n_candidates, np.inf), np.zeros(n_candidates)
        if not len(labels) or self.positive.sum() <= 0:
            return Lifts(ratio, se, z)
        cells = self.cells(labels)
        _, expected, information = _poisson_fit(cells.design, cells.positives, cells.units)
        inverse = np.linalg.pinv(information)
        for c in range(n_candidates):
            mine = (cells.candidate == c).astype(float)
            units = float(mine @ cells.units)
            if units <= 0 or units >= cells.units.sum():
                continue
            cross = cells.design.T @ (expected * mine)
            variance = float(mine @ expected - cross @ inverse @ cross)
            if variance <= 0:
                continue
            score = float(mine @ (cells.positives - expected))
            z[c] = score / math.sqrt(variance)
            log_ratio, log_se = score / variance, 1 / math.sqrt(variance)
            if mine @ cells.positives > 0:
                beta, _, full = _poisson_fit(np.column_stack([cells.design, mine]), cells.positives, cells.units)
                log_ratio, log_se = float(beta[-1]), float(math.sqrt(max(np.linalg.pinv(full)[-1, -1], 0.0)))
            # A candidate with next to no information has a boundless ratio and spread: kept finite and far.
            ratio[c], se[c] = math.exp(min(max(log_ratio, -MAX_LOG), MAX_LOG)), min(log_se, MAX_LOG)
        return Lifts(ratio, se, z)


def _poisson_fit(design: Floats, positives: Floats, units: Floats) -> tuple[Floats, Floats, Floats]:
    """Rates exp(design @ beta) per unit fitted by Newton's method: (beta, expected positives, information)."""
    beta = np.zeros(design.shape[1])
    beta[0] = math.log(max(positives.sum(), 0.5) / max(units.sum(), 1.0))
    ridge = np.diag([0.0] + [RIDGE] * (design.shape[1] - 1))
    for _ in range(FIT_STEPS):
        expected = units * np.exp(np.minimum(design @ beta, 50.0))
        information = (design * expected[:, None]).T @ design + ridge
        step = np.linalg.solve(information, design.T @ (positives - expected) - ridge @ beta)
        beta += step
        if np.abs(step).max() < FIT_TOLERANCE:
            break
    expected = units * np.exp(np.minimum(design @ beta, 50.0))
    return beta, expected, (design * expected[:, None]).T @ design + ridge


def adjusted_lifts(
    candidate: npt.ArrayLike, positive: npt.ArrayLike, factors: Sequence[npt.ArrayLike], n_candidates: int
) -> Lifts:
    """Each candidate's rate against the other units', adjusted for `factors` (a log-linear model of their effects).

    `candidate[i]` is unit i's candidate (-1: none, but still part of the rest).
    The rate of a unit is modelled as a product of one effect per factor level
    (a unit's channel, its hour...) and, for a candidate's units, the
    candidate's ratio to the rest; the factors are adjusted for all at once,
    however few units each combination of levels has, which stratifying on
    every combination could not do. Units are pooled into cells of equal
    levels first (the counts are sufficient), so the cost does not grow with
    the units. The ratio and its standard error come from the model with the
    candidate (maximum likelihood; the score's one step when the candidate
    has no positive); the p-value from the score statistic of the model
    without it (computed under "no difference", as Cochran-Mantel-Haenszel's,
    of which it is the log-linear counterpart). Adjustment reads the factors
    once for several comparisons of the same units.
    """
    return Adjustment(positive, factors).lifts(candidate, n_candidates)


class LiftEntry(TypedDict):
    """A candidate's stored statistics: its rate ratio to the rest, the interval of it, its q-value."""

    lift: float
    interval: list[float | None]
    q_value: float


@dataclass(frozen=True)
class Verdict:
    """One family of candidates after the run's false discovery control."""

    ratio: Floats
    low: Floats
    high: Floats
    q_values: Floats
    z: Floats
    alpha: float = FDR

    @property
    def better(self) -> Bools:
        """Candidates credibly above the rest: a discovery at the run's false discovery rate, upward."""
        return (self.q_values <= self.alpha) & (self.z > 0)

    @property
    def worse(self) -> Bools:
        return (self.q_values <= self.alpha) & (self.z < 0)

    def entry(self, i: int) -> LiftEntry:
        """The stored statistics of candidate i; an interval that could not be computed is [null, null]."""
        return {
            "lift": round(float(self.ratio[i]), 3),
            "interval": [_finite(self.low[i]), _finite(self.high[i])],
            "q_value": round(float(self.q_values[i]), 4),
        }


def _finite(value: float | np.floating) -> float | None:
    return round(float(value), 3) if np.isfinite(value) and value > 0 else None


def q_values(p: Floats) -> Floats:
    """Benjamini-Hochberg adjusted p-values: a test is a discovery at false discovery rate alpha when q <= alpha."""
    m = len(p)
    if m == 0:
        return np.array([])
    order = np.argsort(p)
    scaled = p[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum(np.minimum.accumulate(scaled[::-1])[::-1], 1.0)
    out = np.empty(m)
    out[order] = adjusted
    return out


def judge(*families: Lifts, alpha: float = FDR) -> tuple[list[Verdict], float]:
    """Judge every candidate of a run at once; returns one Verdict per family and the run's confidence.

    Confidence is the strength of the best finding, 1 - its q-value, and 0 when
    nothing is credible: it grows with the evidence, not with the sample size.
    """
    p = np.concatenate([family.p_values for family in families]) if families else np.array([])
    q = q_values(p)
    discoveries = int(np.count_nonzero(q <= alpha))
    level = alpha * max(discoveries, 1) / max(len(p), 1)
    z = _NORMAL.inv_cdf(1 - level / 2)
    verdicts, start = [], 0
    for family in families:
        low, high = family.interval(z)
        end = start + len(family.ratio)
        verdicts.append(Verdict(family.ratio, low, high, q[start:end], family.z, alpha))
        start = end
    credible = [verdict.q_values[verdict.better | verdict.worse] for verdict in verdicts]
    found = np.concatenate(credible) if credible else np.array([])
    strength = round(float(1 - found.min()), 3) if len(found) else 0.0
    return verdicts, strength


class HoldoutCheck(TypedDict):
    """A pattern's `activation` check on held-out units (see holdout_check)."""

    checked: bool
    units: int
    following: int
    activated: NotRequired[bool]
    rate_following: NotRequired[float]
    rate_rest: NotRequired[float]
    interval: NotRequired[list[float]]


def holdout_check(positive: Bools, following: Bools, *, checked: bool) -> HoldoutCheck:
    """The held-out units that followed a choice made without them, against the rest: activated unless worse.

    `checked` false (nothing was chosen, or nobody or everybody followed it)
    records that no check was possible; such a pattern stays activated.
    """
    entry: HoldoutCheck = {
        "checked": checked,
        "units": int(len(positive)),
        "following": int(following.sum()) if checked else 0,
    }
    if not checked:
        return {**entry, "activated": True}
    k1, n1 = int(positive[following].sum()), int(following.sum())
    k0, n0 = int(positive[~following].sum()), int((~following).sum())
    low, high = lifts(k1, n1, k0, n0).interval(_NORMAL.inv_cdf(0.975))
    return {
        **entry,
        "rate_following": rate(k1 / n1),
        "rate_rest": rate(k0 / n0),
        "interval": [round(float(low[0]), 3), round(float(high[0]), 3)],
        "activated": bool(high[0] >= 1),
    }
