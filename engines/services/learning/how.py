"""HOW: which channel strategies convert, which channel to open with, which channels work per tier.

Unit: a sequence (sequence_id) that started in the window (its touch 1 was
sent there) and whose lead is finished; it converted when a booking was
credited to one of its touches.

Strategies are compared as they were planned: the allocator's choice
(ScheduledTouch.planned_sequence) or, for plans recorded without it, the
planned touches of the sequence in touch order whatever their status (a
sequence that converted at touch 2 still had its whole plan), or the channels
sent when no plan was stored. A plan is cut down when its lead cannot be
reached on some channel, so a lead that can only be emailed says nothing about
strategies for leads reachable everywhere: strategies are ranked on the
sequences of leads with an email address, a phone number and a LinkedIn
profile only, and each strategy is compared with the others within the same
planned tier and exploration flag (a Mantel-Haenszel ratio).

Strategies and first channels with at least MIN_BUCKET comparable runs are
judged together (stats.judge): `winning_sequences` (best smoothed rate first,
at most WINNING_SEQUENCES) and `best_first_channel` name only those credibly
better than the rest; otherwise they are empty / null and named in
`no_preference`, and planners keep their default sequence. `arms` counts
successes and trials of every strategy as planned, for exploration.
`activation` records whether the strategy chosen from the older sequences
alone did better on the most recent HOLDOUT_SHARE of them.

`channel_effectiveness_by_tier` is per touch: of the touches of a channel sent
to leads of a tier (the tier recorded when the sequence was planned), the
share credited with the booking, smoothed toward the share over all channels.
Touches of sequences planned without a tier are left out of it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypedDict

import numpy as np
from django.db.models import Case, CharField, F, IntegerField, Q, Value, When

from engines.db.columns import fetch_columns, uuid_bytes
from engines.json_types import JSONObject
from engines.services.learning.evidence import (
    CHANNELS,
    IN_FLIGHT,
    OUTCOME_BOOKING,
    Evidence,
    code_column,
    require_events,
)
from engines.services.learning.registry import register
from engines.services.learning.stats import (
    Groups,
    HoldoutCheck,
    Verdict,
    group,
    holdout_check,
    judge,
    rate,
    stratified_lifts,
)
from outreach.models import Lead, PatternType, ScheduledTouch, Tier

TIERS: tuple[str, ...] = tuple(Tier.values)
WINNING_SEQUENCES = 5
HOLDOUT_SHARE = 0.25
# A sequence is encoded as base-5 digits (channel index + 1), first touch lowest: 20 touches fit an int64.
_BASE = len(CHANNELS) + 1
MAX_TOUCHES = 20
PLAN_SEPARATOR = ">"


@dataclass(frozen=True)
class _Runs:
    """The comparable finished sequences: strategy code, first channel, stratum, start time, converted."""

    code: np.ndarray
    stratum: np.ndarray
    start: np.ndarray
    converted: np.ndarray

    @property
    def first(self) -> np.ndarray:
        return self.code % _BASE - 1

    def subset(self, mask: np.ndarray) -> _Runs:
        return _Runs(self.code[mask], self.stratum[mask], self.start[mask], self.converted[mask])


class SequenceArm(TypedDict):
    """A strategy as planned, with its conversions (successes) out of finished sequences (trials)."""

    sequence: list[str]
    successes: int
    trials: int


class ChannelRate(TypedDict):
    conversion_rate: float
    sample_size: int
    bookings: int


@register(PatternType.HOW)
def learn(evidence: Evidence) -> JSONObject:
    finished, converted, start = _sequences(evidence)
    units, conversions = int(finished.sum()), int(converted[finished].sum())
    require_events(units, conversions, unit="sequences", event="converting sequences")
    plans = _plans(evidence)
    comparable = finished & plans.full_reach & (plans.code > 0)
    runs = _Runs(plans.code[comparable], plans.stratum[comparable], start[comparable], converted[comparable])
    choice = _choose(runs)
    return {
        **choice,
        "arms": _arms(runs),
        "no_preference": [name for name in ("winning_sequences", "best_first_channel") if not choice[name]],
        "activation": _holdout_check(runs),
        "channel_effectiveness_by_tier": _by_tier(evidence, plans.tier),
        "evidence": {
            "comparable_sequences": int(comparable.sum()),
            "left_out_partial_reach": units - int(comparable.sum()),
        },
        "base_rate": rate(conversions / units),
        "conversions": conversions,
        "outcome": OUTCOME_BOOKING,
        "unit": "sequences",
        "window_days": evidence.window_days,
        "sample_size": units,
    }


def _sequences(evidence: Evidence) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per sequence: finished (started in the window, lead finished), converted, and the epoch of its first touch."""
    n_sequences = len(evidence.sequence_keys)
    with_sequence = evidence.t_seq >= 0
    seq_of_touch = evidence.t_seq[with_sequence]
    started = np.zeros(n_sequences, dtype=bool)
    started[evidence.t_seq[with_sequence & (evidence.t_touch == 1)]] = True
    lead_of_sequence = np.zeros(n_sequences, dtype=np.int64)
    lead_of_sequence[seq_of_touch] = evidence.t_lead[with_sequence]
    finished = started & (evidence.lead_state[lead_of_sequence] != IN_FLIGHT)
    converted = np.zeros(n_sequences, dtype=bool)
    converted[evidence.t_seq[with_sequence & evidence.t_booked]] = True
    start = np.full(n_sequences, np.inf)
    np.minimum.at(start, seq_of_touch, evidence.t_at[with_sequence])
    return finished, converted, start


def _choose(runs: _Runs) -> JSONObject:
    """Strategies and first channels credibly better than the rest, judged together; confidence of the run."""
    base = float(runs.converted.mean()) if len(runs.converted) else 0.0
    strategies = group(runs.code, runs.converted)
    tested = strategies.big_enough()
    strategy_index = np.full(len(runs.code), -1, dtype=np.int64)
    if len(runs.code):
        strategy_index = np.searchsorted(strategies.keys, runs.code)
    every = stratified_lifts(strategy_index, runs.converted, runs.stratum, len(strategies.keys))
    firsts = group(runs.first, runs.converted, size=len(CHANNELS))
    tested_first = firsts.big_enough()
    every_first = stratified_lifts(runs.first, runs.converted, runs.stratum, len(CHANNELS))
    (seq_verdict, first_verdict), confidence = judge(
        every.subset(tested),
        every_first.subset(tested_first),
    )
    sequence_rates = _entries(strategies, tested, seq_verdict, base, lambda key: {"sequence": _decode(key)})
    first_rates = _entries(firsts, tested_first, first_verdict, base, lambda key: {"channel": CHANNELS[key]})
    winners = [entry for entry, better in zip(sequence_rates, seq_verdict.better, strict=True) if better]
    credible_firsts = [entry for entry, better in zip(first_rates, first_verdict.better, strict=True) if better]
    best_first = max(credible_firsts, key=lambda entry: entry["conversion_rate"], default=None)
    return {
        "best_first_channel": best_first["channel"] if best_first else None,
        "winning_sequences": sorted(winners, key=lambda entry: -entry["conversion_rate"])[:WINNING_SEQUENCES],
        "sequence_rates": sorted(sequence_rates, key=lambda entry: -entry["conversion_rate"]),
        "first_channel_rates": {entry.pop("channel"): entry for entry in first_rates},
        "confidence": confidence,
    }


def _entries(
    groups: Groups, indices: np.ndarray, verdict: Verdict, base: float, label: Callable[[int], JSONObject]
) -> list[JSONObject]:
    smoothed = groups.smoothed(base)
    return [
        {
            **label(int(groups.keys[i])),
            "conversion_rate": rate(smoothed[i]),
            **verdict.entry(j),
            "sample_size": int(groups.totals[i]),
            "conversions": int(groups.positives[i]),
        }
        for j, i in enumerate(indices)
    ]


def _arms(runs: _Runs) -> list[SequenceArm]:
    strategies = group(runs.code, runs.converted)
    return [
        {"sequence": _decode(int(key)), "successes": int(positives), "trials": int(total)}
        for key, positives, total in zip(strategies.keys, strategies.positives, strategies.totals, strict=True)
    ]


def _holdout_check(runs: _Runs) -> HoldoutCheck:
    """The strategy the older sequences alone would have adopted (the top winner), on the most recent ones."""
    cut = np.quantile(runs.start, 1 - HOLDOUT_SHARE) if len(runs.start) else 0.0
    recent = runs.start > cut
    winners = _choose(runs.subset(~recent))["winning_sequences"]
    held = runs.subset(recent)
    following = np.zeros(len(held.code), dtype=bool)
    if winners:
        following = held.code == _encode_plan(winners[0]["sequence"])
    checked = bool(winners) and bool(following.any()) and bool((~following).any())
    return holdout_check(held.converted, following, checked=checked)


@dataclass(frozen=True)
class _Plans:
    """Per sequence: strategy code (0: none), planned tier (index in TIERS, -1 unknown), stratum, lead reach."""

    code: np.ndarray
    tier: np.ndarray
    stratum: np.ndarray
    full_reach: np.ndarray


def _plans(evidence: Evidence) -> _Plans:
    n_sequences = len(evidence.sequence_keys)
    plan = fetch_columns(
        ScheduledTouch.objects.filter(
            client=evidence.client,
            sequence_id__in=evidence.sent_in_window().filter(touch_number=1).values("sequence_id"),
        ),
        {
            "seq": "sequence_id",
            "touch": "touch_number",
            "channel": code_column("channel", CHANNELS),
            "tier": code_column("lead_tier", TIERS),
            # Every touch of a plan records the same strategy: read it once, from touch 1.
            "strategy": Case(
                When(touch_number=1, then=F("planned_sequence")), default=Value(""), output_field=CharField()
            ),
            "exploration": Case(
                When(is_exploration=True, then=Value(1)), default=Value(0), output_field=IntegerField()
            ),
        },
    )
    keys = uuid_bytes(plan["seq"])
    plan_seq = np.searchsorted(evidence.sequence_keys, keys)
    known = plan_seq < n_sequences
    known[known] = evidence.sequence_keys[plan_seq[known]] == keys[known]
    plan_seq = plan_seq[known]

    def per_sequence(name: str) -> np.ndarray:
        out = np.full(n_sequences, -1, dtype=np.int64)
        np.maximum.at(out, plan_seq, np.asarray(plan[name], dtype=np.int64)[known])
        return out

    tiers, exploration = per_sequence("tier"), np.maximum(per_sequence("exploration"), 0)
    code = _touch_codes(evidence, plan_seq, plan, known)
    chosen = _strategy_codes(np.asarray(plan["strategy"], dtype=object)[known], plan_seq, n_sequences)
    code = np.where(chosen > 0, chosen, code)
    return _Plans(code, tiers, (tiers + 1) * 2 + exploration, _full_reach(evidence))


def _touch_codes(
    evidence: Evidence, plan_seq: np.ndarray, plan: Mapping[str, Sequence[object]], known: np.ndarray
) -> np.ndarray:
    """Each sequence's planned touches in touch order, or its sent channels when no plan was stored."""
    n_sequences = len(evidence.sequence_keys)
    planned = np.zeros(n_sequences, dtype=bool)
    planned[plan_seq] = True
    sent = (evidence.t_seq >= 0) & ~planned[np.maximum(evidence.t_seq, 0)]
    seq = np.concatenate([plan_seq, evidence.t_seq[sent]])
    touch = np.concatenate([np.asarray(plan["touch"], dtype=np.int64)[known], evidence.t_touch[sent]])
    channel = np.concatenate([np.asarray(plan["channel"], dtype=np.int64)[known], evidence.t_channel[sent]])
    return _encode(seq, touch, channel, n_sequences)


def _strategy_codes(strategies: np.ndarray, plan_seq: np.ndarray, n_sequences: int) -> np.ndarray:
    """The allocator's recorded strategy per sequence ("linkedin>email>sms"), encoded; 0 when none was recorded."""
    code = np.zeros(n_sequences, dtype=np.int64)
    recorded = strategies != ""
    if not recorded.any():
        return code
    unique, inverse = np.unique(strategies[recorded], return_inverse=True)
    codes = np.array([_encode_plan(str(text).split(PLAN_SEPARATOR)) for text in unique], dtype=np.int64)
    np.maximum.at(code, plan_seq[recorded], codes[inverse])
    return code


def _full_reach(evidence: Evidence) -> np.ndarray:
    """Per sequence: its lead has an email address, a phone number and a LinkedIn profile (no channel dropped)."""
    missing = Q(email="") | Q(phone="") | Q(linkedin_url="")
    rows = fetch_columns(
        Lead.objects.filter(client=evidence.client, pk__in=evidence.sent_in_window().values("lead_id")),
        {"id": "id", "full": Case(When(missing, then=Value(0)), default=Value(1), output_field=IntegerField())},
    )
    full_ids = np.asarray(rows["id"], dtype=np.int64)[np.asarray(rows["full"], dtype=bool)]
    lead_full = np.isin(evidence.lead_ids, full_ids)
    full = np.zeros(len(evidence.sequence_keys), dtype=bool)
    with_sequence = evidence.t_seq >= 0
    full[evidence.t_seq[with_sequence]] = lead_full[evidence.t_lead[with_sequence]]
    return full


def _encode(seq: np.ndarray, touch: np.ndarray, channel: np.ndarray, n_sequences: int) -> np.ndarray:
    valid = channel >= 0
    seq, touch, channel = seq[valid], touch[valid], channel[valid]
    order = np.lexsort((touch, seq))
    seq, channel = seq[order], channel[order]
    starts = np.flatnonzero(np.r_[True, seq[1:] != seq[:-1]]) if len(seq) else np.array([], dtype=np.int64)
    position = np.arange(len(seq)) - np.repeat(starts, np.diff(np.r_[starts, len(seq)]))
    keep = position < MAX_TOUCHES
    codes = np.zeros(n_sequences, dtype=np.int64)
    np.add.at(codes, seq[keep], (channel[keep] + 1) * _BASE ** position[keep])
    return codes


def _encode_plan(channels: list[str]) -> int:
    known = [CHANNELS.index(channel) for channel in channels if channel in CHANNELS][:MAX_TOUCHES]
    return sum((index + 1) * _BASE**position for position, index in enumerate(known))


def _decode(code: int) -> list[str]:
    channels = []
    while code:
        code, digit = divmod(code, _BASE)
        channels.append(CHANNELS[digit - 1])
    return channels


def _by_tier(evidence: Evidence, tiers: np.ndarray) -> dict[str, dict[str, ChannelRate]]:
    with_tier = (evidence.t_seq >= 0) & evidence.t_finished
    with_tier[with_tier] = tiers[evidence.t_seq[with_tier]] >= 0
    channel = evidence.t_channel.astype(np.int64)
    valid = with_tier & (channel >= 0)
    if not valid.any():
        return {}
    cells = group(
        tiers[evidence.t_seq[valid]] * len(CHANNELS) + channel[valid],
        evidence.t_booked[valid],
        size=len(TIERS) * len(CHANNELS),
    )
    smoothed = cells.smoothed(cells.positives.sum() / cells.totals.sum())
    out: dict[str, dict[str, ChannelRate]] = {}
    for i in cells.big_enough():
        out.setdefault(TIERS[i // len(CHANNELS)], {})[CHANNELS[i % len(CHANNELS)]] = {
            "conversion_rate": rate(smoothed[i]),
            "sample_size": int(cells.totals[i]),
            "bookings": int(cells.positives[i]),
        }
    return out
