"""HOW: which ordered channel sequences convert, which channel to open with, which channels work per tier.

Unit: a sequence (sequence_id) that started in the window (its touch 1 was
sent there) and whose lead is finished; it converted when a booking was
credited to one of its touches. Its channels are the planned ones in touch
order (ScheduledTouch rows, whatever their status: a sequence that converted
at touch 2 still had its whole plan), or the channels sent when no plan was
stored. Rates are smoothed toward the client's sequence conversion rate;
sequences and first channels with fewer than MIN_BUCKET runs are not ranked,
and `winning_sequences` lists (best first, at most WINNING_SEQUENCES) only
those whose smoothed rate beats the client's.

`channel_effectiveness_by_tier` is per touch: of the touches of a channel sent
to leads of a tier (the tier recorded when the sequence was planned), the
share credited with the booking, smoothed toward the share over all channels.
Touches of sequences planned without a tier are left out of it.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np

from engines.services.detectors.common import (
    CHANNELS,
    IN_FLIGHT,
    MIN_BUCKET,
    OUTCOME_BOOKING,
    VALID_DAYS,
    WINDOW_DAYS,
    DetectionResult,
    Evidence,
    code_column,
    confidence,
    fetch_columns,
    rate,
    require_events,
    run_detector,
    smoothed_rate,
)
from outreach.models import Client, PatternType, ScheduledTouch, Tier

TIERS: tuple[str, ...] = tuple(Tier.values)
WINNING_SEQUENCES = 5
# A sequence is encoded as base-5 digits (channel index + 1), first touch lowest: 20 touches fit an int64.
_BASE = len(CHANNELS) + 1
MAX_TOUCHES = 20


def detect_how(
    client: Client,
    *,
    now: datetime | None = None,
    window_days: int = WINDOW_DAYS,
    valid_days: int = VALID_DAYS,
    evidence: Evidence | None = None,
) -> DetectionResult:
    """Learn and save the client's HOW pattern; nothing is saved without enough finished sequences and bookings."""
    return run_detector(
        PatternType.HOW, _learn, client, now=now, window_days=window_days, valid_days=valid_days, evidence=evidence
    )


def _learn(evidence: Evidence) -> dict:
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
    units, conversions = int(finished.sum()), int(converted[finished].sum())
    require_events(units, conversions, unit="sequences", event="converting sequences")

    codes, tiers = _plans(evidence)
    base = conversions / units
    finished_codes, finished_converted = codes[finished], converted[finished]
    return {
        "best_first_channel": _best_first_channel(finished_codes, finished_converted, base),
        "winning_sequences": _winning(finished_codes, finished_converted, base),
        "first_channel_rates": _first_channel_rates(finished_codes, finished_converted, base),
        "channel_effectiveness_by_tier": _by_tier(evidence, tiers),
        "base_rate": rate(base),
        "conversions": conversions,
        "outcome": OUTCOME_BOOKING,
        "unit": "sequences",
        "window_days": evidence.window_days,
        "sample_size": units,
        "confidence": confidence(conversions),
    }


def _plans(evidence: Evidence) -> tuple[np.ndarray, np.ndarray]:
    """Per sequence: its encoded channel sequence and its planned tier (index in TIERS, -1 unknown)."""
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
        },
    )
    keys = np.frombuffer(b"".join(u.bytes for u in plan["seq"]), dtype="S16")
    plan_seq = np.searchsorted(evidence.sequence_keys, keys)
    known = plan_seq < n_sequences
    known[known] = evidence.sequence_keys[plan_seq[known]] == keys[known]
    plan_seq = plan_seq[known]
    plan_touch = np.asarray(plan["touch"], dtype=np.int64)[known]
    plan_channel = np.asarray(plan["channel"], dtype=np.int64)[known]
    tiers = np.full(n_sequences, -1, dtype=np.int64)
    np.maximum.at(tiers, plan_seq, np.asarray(plan["tier"], dtype=np.int64)[known])

    planned = np.zeros(n_sequences, dtype=bool)
    planned[plan_seq] = True
    # Sequences sent without a stored plan: the channels of their sent touches.
    sent = (evidence.t_seq >= 0) & ~planned[np.maximum(evidence.t_seq, 0)]
    seq = np.concatenate([plan_seq, evidence.t_seq[sent]])
    touch = np.concatenate([plan_touch, evidence.t_touch[sent]])
    channel = np.concatenate([plan_channel, evidence.t_channel[sent]])
    return _encode(seq, touch, channel, n_sequences), tiers


def _encode(seq: np.ndarray, touch: np.ndarray, channel: np.ndarray, n_sequences: int) -> np.ndarray:
    order = np.lexsort((touch, seq))
    seq, channel = seq[order], channel[order]
    starts = np.flatnonzero(np.r_[True, seq[1:] != seq[:-1]]) if len(seq) else np.array([], dtype=np.int64)
    position = np.arange(len(seq)) - np.repeat(starts, np.diff(np.r_[starts, len(seq)]))
    keep = (position < MAX_TOUCHES) & (channel >= 0)
    codes = np.zeros(n_sequences, dtype=np.int64)
    np.add.at(codes, seq[keep], (channel[keep] + 1) * _BASE ** position[keep])
    return codes


def _decode(code: int) -> list[str]:
    channels = []
    while code:
        code, digit = divmod(code, _BASE)
        channels.append(CHANNELS[digit - 1])
    return channels


def _winning(codes: np.ndarray, converted: np.ndarray, base: float) -> list[dict]:
    unique, inverse = np.unique(codes, return_inverse=True)
    totals = np.bincount(inverse, minlength=len(unique))
    positives = np.bincount(inverse, weights=converted, minlength=len(unique))
    smoothed = smoothed_rate(positives, totals, base)
    # Only sequences that beat the client's rate win: with weak evidence the list is empty and planners keep
    # their default sequence.
    winners = np.flatnonzero((totals >= MIN_BUCKET) & (smoothed > base) & (unique > 0))
    ranked = sorted(winners, key=lambda i: -smoothed[i])
    return [
        {
            "sequence": _decode(int(unique[i])),
            "conversion_rate": rate(smoothed[i]),
            "lift": round(float(smoothed[i] / base), 3),
            "sample_size": int(totals[i]),
            "conversions": int(positives[i]),
        }
        for i in ranked[:WINNING_SEQUENCES]
    ]


def _first_channel_counts(codes: np.ndarray, converted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    first = codes % _BASE - 1
    valid = first >= 0
    totals = np.bincount(first[valid], minlength=len(CHANNELS))
    positives = np.bincount(first[valid], weights=converted[valid], minlength=len(CHANNELS))
    return totals, positives


def _first_channel_rates(codes: np.ndarray, converted: np.ndarray, base: float) -> dict[str, dict]:
    totals, positives = _first_channel_counts(codes, converted)
    smoothed = smoothed_rate(positives, totals, base)
    return {
        CHANNELS[i]: {
            "conversion_rate": rate(smoothed[i]),
            "lift": round(float(smoothed[i] / base), 3),
            "sample_size": int(totals[i]),
        }
        for i in np.flatnonzero(totals >= MIN_BUCKET)
    }


def _best_first_channel(codes: np.ndarray, converted: np.ndarray, base: float) -> str | None:
    """The opening channel with the best smoothed rate; null unless at least two were tried enough to compare."""
    totals, positives = _first_channel_counts(codes, converted)
    qualified = np.flatnonzero(totals >= MIN_BUCKET)
    if len(qualified) < 2:
        return None
    smoothed = smoothed_rate(positives, totals, base)
    return CHANNELS[int(qualified[np.argmax(smoothed[qualified])])]


def _by_tier(evidence: Evidence, tiers: np.ndarray) -> dict[str, dict]:
    with_tier = (evidence.t_seq >= 0) & evidence.t_finished
    with_tier[with_tier] = tiers[evidence.t_seq[with_tier]] >= 0
    if not with_tier.any():
        return {}
    tier = tiers[evidence.t_seq[with_tier]]
    channel = evidence.t_channel[with_tier].astype(np.int64)
    booked = evidence.t_booked[with_tier]
    valid = channel >= 0
    cell = tier[valid] * len(CHANNELS) + channel[valid]
    size = len(TIERS) * len(CHANNELS)
    totals = np.bincount(cell, minlength=size)
    positives = np.bincount(cell, weights=booked[valid], minlength=size)
    base = positives.sum() / totals.sum()
    smoothed = smoothed_rate(positives, totals, base)
    out: dict[str, dict] = {}
    for i in np.flatnonzero(totals >= MIN_BUCKET):
        out.setdefault(TIERS[i // len(CHANNELS)], {})[CHANNELS[i % len(CHANNELS)]] = {
            "conversion_rate": rate(smoothed[i]),
            "sample_size": int(totals[i]),
            "bookings": int(positives[i]),
        }
    return out
