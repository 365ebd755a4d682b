"""WHEN: the lead's local days and hours that earn answers, the gaps converting sequences used, the converting touch.

Unit: a settled touch, one at least `settle_days` old, whatever became of its
lead since (Evidence.t_settled: judging only the touches of finished leads
would favour recent hours, whose leads are finished only when they answered).
By default a touch is positive when it earned a booking or a reply (`outcome`
in the pattern says which): replies are many times more frequent than
bookings, so days and hours are judged on far more evidence. Days (Monday=0)
and hours are the lead's local ones, as the content snapshot recorded them:
when a planned touch went out, or when a person did a LinkedIn task or a call
(the snapshot's `timed_by`); touches without them are left out.

Each day and hour with at least MIN_BUCKET touches is compared with the other
touches, adjusted for the channel (calls get no replies and keep their own
hours) and for the other of the two: a day against the other days at the same
channel and hour, an hour against the other hours at the same channel and day
(stats.adjusted_lifts, a log-linear model). Planners choose days and hours
together, so once one is learned the other follows it: a day given most of a
good hour's touches is not credited with the hour. All of them are judged
together (stats.judge). `best_days` and `best_hours` list only those credibly
better than the rest, ranked by that adjusted effect, not by the raw rate
(which the channel mix and the other dimension confound): by the adjusted lift
(not the lower end of its interval, which would favour the hour sent most);
planners read them in this order. With no credible winner the
list is empty and named in `no_preference`, and planners keep their default
days and hours. `day_rates` / `hour_rates` show every judged bucket in the
same order; `day_arms` / `hour_arms` count successes and trials per bucket
for exploration, `day_hour_arms` per day and hour together (the admin's heat
map).

`activation` records a check on the most recent HOLDOUT_SHARE of the touches:
the days and hours chosen from the older touches alone, and whether the recent
touches sent then did better than the others.

`optimal_sequence_gaps` holds the median days between touch N and N+1 of the
sequences that converted, before the conversion, where at least
MIN_GAP_SAMPLES of them had that step. `converting_touch_distribution` counts
the touches credited with a booking by touch number; `peak_converting_touch`
is the most frequent (null without any).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engines.json_types import JSONObject
from engines.services.learning.evidence import (
    CONVERTED,
    MIN_TOUCH_EVENTS,
    MIN_TOUCHES,
    OUTCOME_BOOKING,
    OUTCOME_RESPONSE,
    Evidence,
    require_events,
)
from engines.services.learning.registry import register
from engines.services.learning.stats import (
    HoldoutCheck,
    LiftEntry,
    adjusted_lifts,
    group,
    holdout_check,
    judge,
    rate,
)
from outreach.models import PatternType

MIN_GAP_SAMPLES = 10
MAX_GAP_DAYS = 60.0
DAY = 86_400.0
HOLDOUT_SHARE = 0.25
BUCKETS = {"day": (7, "day_index"), "hour": (24, "hour")}


@register(PatternType.WHEN)
def learn(evidence: Evidence, outcome: str = OUTCOME_RESPONSE) -> JSONObject:
    positive = evidence.t_positive(outcome)
    known = evidence.t_settled & (evidence.t_day >= 0) & (evidence.t_hour >= 0)
    touches, positives = int(known.sum()), int(positive[known].sum())
    event = "bookings" if outcome == OUTCOME_BOOKING else "bookings or replies"
    require_events(touches, positives, unit="touches", event=event, min_units=MIN_TOUCHES, min_events=MIN_TOUCH_EVENTS)
    data = _Touches(
        day=evidence.t_day[known].astype(np.int64),
        hour=evidence.t_hour[known].astype(np.int64),
        channel=evidence.t_channel[known].astype(np.int64) + 1,
        at=evidence.t_at[known],
        positive=positive[known],
    )
    choice = data.choose()
    distribution = _converting_touches(evidence)
    return {
        "best_days": choice.best["day"],
        "best_hours": choice.best["hour"],
        "day_rates": choice.rates["day"],
        "hour_rates": choice.rates["hour"],
        "day_arms": data.arms("day"),
        "hour_arms": data.arms("hour"),
        "day_hour_arms": data.joint_arms(),
        "no_preference": [f"best_{name}s" for name in BUCKETS if not choice.best[name]],
        "activation": data.holdout_check(),
        "optimal_sequence_gaps": _gaps(evidence),
        "converting_touch_distribution": {str(n): count for n, count in distribution.items()},
        "peak_converting_touch": max(distribution, key=lambda n: (distribution[n], -n)) if distribution else None,
        "base_rate": rate(data.base),
        "positives": positives,
        "outcome": outcome,
        "unit": "touches",
        "window_days": evidence.window_days,
        "sample_size": touches,
        "confidence": choice.confidence,
    }


@dataclass(frozen=True)
class _Choice:
    best: dict[str, list[JSONObject]]
    rates: dict[str, list[JSONObject]]
    confidence: float


@dataclass(frozen=True)
class _Touches:
    """The finished touches with a known local day and hour: their buckets, channel (stratum) and outcome."""

    day: np.ndarray
    hour: np.ndarray
    channel: np.ndarray
    at: np.ndarray
    positive: np.ndarray

    @property
    def base(self) -> float:
        return float(self.positive.mean())

    def subset(self, mask: np.ndarray) -> _Touches:
        return _Touches(self.day[mask], self.hour[mask], self.channel[mask], self.at[mask], self.positive[mask])

    def choose(self) -> _Choice:
        """Days and hours credibly better than the rest, judged together at the run's false discovery rate."""
        tested, families = {}, []
        for name, (size, _) in BUCKETS.items():
            groups = group(getattr(self, name), self.positive, size=size)
            tested[name] = (groups, groups.big_enough())
            # Each day is compared with the other days at the same channel and hour, each hour with the other
            # hours at the same channel and day: planners choose days and hours together, so either confounds
            # the other.
            other = self.hour if name == "day" else self.day
            every = adjusted_lifts(getattr(self, name), self.positive, [self.channel, other], size)
            families.append(every.subset(tested[name][1]))
        verdicts, confidence = judge(*families)
        best, rates = {}, {}
        for (name, (_, key)), verdict in zip(BUCKETS.items(), verdicts, strict=True):
            groups, indices = tested[name]
            smoothed = groups.smoothed(self.base)
            lifts = [verdict.entry(j) for j in range(len(indices))]
            entries: list[JSONObject] = [
                {key: int(i), "conversion_rate": rate(smoothed[i]), **lifts[j], "sample_size": int(groups.totals[i])}
                for j, i in enumerate(indices)
            ]
            order = sorted(
                range(len(entries)), key=lambda j: _effect_rank(lifts[j], int(indices[j]), bool(verdict.better[j]))
            )
            rates[name] = [entries[j] for j in order]
            best[name] = [entries[j] for j in order if verdict.better[j]]
        return _Choice(best, rates, confidence)

    def arms(self, name: str) -> list[JSONObject]:
        size, key = BUCKETS[name]
        groups = group(getattr(self, name), self.positive, size=size)
        return [
            {key: int(i), "successes": int(groups.positives[i]), "trials": int(groups.totals[i])}
            for i in np.flatnonzero(groups.totals)
        ]

    def joint_arms(self) -> list[dict[str, int]]:
        """Successes and trials per (day, hour) that has touches: the evidence behind both rankings, together."""
        groups = group(self.day * 24 + self.hour, self.positive, size=7 * 24)
        return [
            {"day_index": int(i // 24), "hour": int(i % 24), "successes": int(groups.positives[i]),
             "trials": int(groups.totals[i])}
            for i in np.flatnonzero(groups.totals)
        ]  # fmt: skip

    def holdout_check(self) -> HoldoutCheck:
        """Choose from the older touches, then see how the most recent ones sent at those times did."""
        cut = np.quantile(self.at, 1 - HOLDOUT_SHARE) if len(self.at) else 0.0
        recent = self.at > cut
        chosen = self.subset(~recent).choose().best
        held = self.subset(recent)
        following = np.ones(len(held.at), dtype=bool)
        for name, (_, key) in BUCKETS.items():
            if chosen[name]:
                following &= np.isin(getattr(held, name), [entry[key] for entry in chosen[name]])
        checked = any(chosen.values()) and bool(following.any()) and bool((~following).any())
        return holdout_check(held.positive, following, checked=checked)


def _effect_rank(lift: LiftEntry, bucket: int, credible: bool) -> tuple[bool, float, float, int]:
    """Sort key, best first: the buckets credibly better than the rest by their adjusted lift, then the others by
    the lower end of its interval (as stored); ties by the other, then the bucket.

    Among credible buckets the lift is the best guess of which is best. Their intervals' lower ends would rank
    the bucket sent most first: planners send more at a learned hour, its interval narrows, and a better hour
    sent less would never overtake it."""
    low = -(lift["interval"][0] or 0.0)
    high = -lift["lift"]
    return (not credible, *((high, low) if credible else (low, high)), bucket)


def _gaps(evidence: Evidence) -> dict[str, float]:
    """Median days from touch N to N+1 in converting sequences, up to the conversion."""
    lead, seq, touch, at = evidence.t_lead, evidence.t_seq, evidence.t_touch, evidence.t_at
    converted = evidence.lead_state[lead[:-1]] == CONVERTED
    step = (
        converted
        & (lead[1:] == lead[:-1])
        & (seq[1:] == seq[:-1])
        & (touch[:-1] >= 1)
        & (touch[1:] == touch[:-1] + 1)
        & (at[1:] <= evidence.lead_converted_at[lead[:-1]])
    )
    first = touch[:-1][step]
    days = (at[1:] - at[:-1])[step] / DAY
    gaps = {}
    for n in np.unique(first):
        of_n = days[first == n]
        if len(of_n) >= MIN_GAP_SAMPLES:
            gaps[f"touch_{n}_to_{n + 1}"] = round(min(max(float(np.median(of_n)), 0.1), MAX_GAP_DAYS), 1)
    return gaps


def _converting_touches(evidence: Evidence) -> dict[int, int]:
    numbers = evidence.t_touch[evidence.t_booked & (evidence.t_touch >= 1)]
    counts = np.bincount(numbers)
    return {int(n): int(counts[n]) for n in np.flatnonzero(counts)}
