"""The evidence every detector reads: who was touched, how each lead ended, as numpy columns.

Outcomes. A *conversion* is a booked meeting: a `meeting_booked` activity
(not cancelled since), any activity flagged `led_to_booking` (a call that
booked the meeting), or a lead's `converted_at`, at or after the lead's first
touch in the window. A *reply* (`email_replied`, `sms_replied`,
`linkedin_replied`) is the secondary signal. Each outcome is credited to the
touch that earned it: the touch flagged `led_to_booking` when there is one,
else the lead's last touch sent at or before the outcome.

A booking flags every touch of its sequence sent before it
(outcomes.events.credit_sequence: the sequence gets the credit). Only the
last flagged touch of each sequence is the one that earned the booking (the
touch the booking answered, or the call that booked): it alone is credited,
and the earlier ones count as touches that were not answered. Crediting them
all would make every touch of a converting sequence a booking, whatever its
day, hour or text, and drown the touch-level effects (WHEN, WHAT) in the
sequence's outcome.

Lead states. A lead is *converted* once it booked; it is a *non-conversion*
only once its sequence is over: no touch still planned or sending, and its
last touch at least `settle_days` old (time for a late answer). Every other
lead is *in flight* and counts as neither: its touches are left out of every
rate.

Window. The evidence is the touches sent in the last `window_days` before
`now` and the outcomes of that period; older data is ignored.

Everything is read with a handful of queries into numpy columns
(`engines.db.columns.fetch_columns`) and computed with numpy; nothing loops
over model instances.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt
from django.db.models import Case, Exists, F, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.db.models.expressions import Combinable
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast, Coalesce
from django.utils import timezone

from engines.db.columns import NULL_UUID, Epoch, fetch_columns, uuid_bytes
from engines.exceptions import NotEnoughEvidence
from engines.rules.content import CTA_PATTERNS, PAIN_POINT_KEYWORDS, PERSONALIZATION_FLAGS
from outreach.models import Activity, ActivityAction, Channel, Client, Lead, ScheduledTouch
from outreach.models.choices import REPLY_ACTIONS, SENT_ACTIONS, TouchStatus

WINDOW_DAYS = 90
SETTLE_DAYS = 10

CHANNELS: tuple[str, ...] = tuple(Channel.values)
PAIN_POINTS: tuple[str, ...] = tuple(PAIN_POINT_KEYWORDS)
CTAS: tuple[str, ...] = tuple(CTA_PATTERNS)
FLAGS: tuple[str, ...] = PERSONALIZATION_FLAGS

CONVERTED, LOST, IN_FLIGHT = 1, 0, -1
OUTCOME_BOOKING = "booking"
OUTCOME_RESPONSE = "booking_or_reply"
# Below this many positive outcomes, or this many finished units, a detector saves nothing. Rankings of
# touches (days, hours, words) split the evidence many ways: they need more of it. (25 answered touches: when
# every touch of a converting sequence was counted as a booking, 50 "positives" held about that many.) What
# a pattern names is guarded by the false discovery control, not by these minimums: a pattern saved early
# with nothing credible still gives exploration its arms.
MIN_EVENTS = 20
MIN_UNITS = 100
MIN_TOUCH_EVENTS = 25
MIN_TOUCHES = 500
_PENDING = (TouchStatus.PLANNED, TouchStatus.SENDING)


@dataclass
class Evidence:
    """The window's touches and outcomes for one client, as numpy columns.

    Leads are the cohort: every lead touched in the window, sorted by id
    (`lead_ids`), with their state (CONVERTED, LOST, IN_FLIGHT). Touches are
    sorted by lead then time; `t_lead` indexes the lead columns and `t_seq`
    the sorted `sequence_keys` (16-byte UUIDs; -1 when the touch had none).
    Content columns (`t_words`, `t_cta`, `t_pain`, `t_flags`) are present when
    loaded with content=True: CTA index in CTAS (-1 none), and bit masks over
    PAIN_POINTS and FLAGS.
    """

    client: Client
    now: datetime
    since: datetime
    window_days: int
    settle_days: int
    lead_ids: np.ndarray
    lead_state: np.ndarray
    lead_converted_at: np.ndarray
    t_lead: np.ndarray
    t_at: np.ndarray
    t_channel: np.ndarray
    t_touch: np.ndarray
    t_seq: np.ndarray
    t_day: np.ndarray
    t_hour: np.ndarray
    t_booked: np.ndarray
    t_replied: np.ndarray
    sequence_keys: np.ndarray
    t_words: np.ndarray | None = None
    t_cta: np.ndarray | None = None
    t_pain: np.ndarray | None = None
    t_flags: np.ndarray | None = None

    @property
    def has_content(self) -> bool:
        return self.t_words is not None

    @functools.cached_property
    def lead_first_at(self) -> np.ndarray:
        """Epoch of each lead's first touch in the window."""
        first = np.full(len(self.lead_ids), np.inf)
        np.minimum.at(first, self.t_lead, self.t_at)
        return first

    @functools.cached_property
    def t_settled(self) -> np.ndarray:
        """Touches at least `settle_days` old: every answer they will earn is in.

        Touch-level detectors judge these, whatever became of the lead since. Keeping only the touches of
        finished leads would select on the outcome: a recent touch's lead is finished when it answered and still
        in flight when it did not, so recent hours, days and texts would look better than they are.
        """
        settled: np.ndarray = self.t_at <= (self.now - timedelta(days=self.settle_days)).timestamp()
        return settled

    @functools.cached_property
    def t_finished(self) -> np.ndarray:
        """Touches whose lead's outcome is known (converted or finished without converting)."""
        finished: np.ndarray = self.lead_state[self.t_lead] != IN_FLIGHT
        return finished

    def t_positive(self, outcome: str) -> np.ndarray:
        """Touches credited with a booking, or (OUTCOME_RESPONSE) with a booking or a reply."""
        if outcome == OUTCOME_BOOKING:
            return self.t_booked
        if outcome == OUTCOME_RESPONSE:
            either: np.ndarray = self.t_booked | self.t_replied
            return either
        raise ValueError(f"unknown outcome {outcome!r}; expected {OUTCOME_BOOKING!r} or {OUTCOME_RESPONSE!r}")

    def lead_counts(self) -> dict[str, int]:
        return {
            "converted": int(np.count_nonzero(self.lead_state == CONVERTED)),
            "not_converted": int(np.count_nonzero(self.lead_state == LOST)),
            "in_flight": int(np.count_nonzero(self.lead_state == IN_FLIGHT)),
        }

    def sent_in_window(self) -> QuerySet[Activity]:
        """The window's sent touches, as a queryset other queries can filter on (a subquery, never a list)."""
        return sent_touches(self.client, self.since, self.now)


def require(condition: bool, reason: str) -> None:
    if not condition:
        raise NotEnoughEvidence(reason)


def require_events(
    units: int, events: int, *, unit: str, event: str, min_units: int = MIN_UNITS, min_events: int = MIN_EVENTS
) -> None:
    require(units >= min_units, f"only {units} finished {unit} in the window (need {min_units})")
    require(events >= min_events, f"only {events} {event} in the window (need {min_events})")


def sent_touches(client: Client, since: datetime, now: datetime) -> QuerySet[Activity]:
    return Activity.objects.filter(client=client, action__in=SENT_ACTIONS, created_at__gte=since, created_at__lte=now)


def _snapshot_int(key: str) -> Coalesce:
    return Coalesce(Cast(KeyTextTransform(key, "content_snapshot"), IntegerField()), Value(-1))


def code_column(field_name: str, values: tuple[str, ...]) -> Case:
    """An integer column: the index of the field's value in `values`, -1 for anything else."""
    return Case(
        *[When(**{field_name: value}, then=Value(i)) for i, value in enumerate(values)],
        default=Value(-1),
        output_field=IntegerField(),
    )


def _bit_mask(conditions: list[Q]) -> Combinable:
    """An integer column whose bit i is set when conditions[i] holds."""
    terms: list[Combinable] = [
        Case(When(condition, then=Value(1 << i)), default=Value(0), output_field=IntegerField())
        for i, condition in enumerate(conditions)
    ]
    return functools.reduce(lambda a, b: a + b, terms)


def _touch_columns(content: bool) -> dict[str, object]:
    columns: dict[str, object] = {
        "lead": "lead_id",
        "at": Epoch("created_at"),
        "channel": code_column("channel", CHANNELS),
        "touch": Coalesce(F("touch_number"), Value(0)),
        "seq": "sequence_id",
        "flagged": "led_to_booking",
        "day": _snapshot_int("day_index"),
        "hour": _snapshot_int("hour_of_day"),
    }
    if content:
        columns |= {
            "words": _snapshot_int("word_count"),
            "cta": code_column("content_snapshot__cta_used", CTAS),
            # The list is matched as JSON text ('"leads"' with its quotes) so it works on every database.
            "pain": _bit_mask([Q(pain_text_annotation__contains=f'"{name}"') for name in PAIN_POINTS]),
            "flags": _bit_mask([Q(**{f"content_snapshot__{flag}": True}) for flag in FLAGS]),
        }
    return columns


def load_evidence(
    client: Client,
    *,
    now: datetime | None = None,
    window_days: int = WINDOW_DAYS,
    settle_days: int = SETTLE_DAYS,
    content: bool = False,
) -> Evidence:
    """Read the window's touches and outcomes of `client` and label every lead and touch (see the module doc)."""
    now = now or timezone.now()
    since = now - timedelta(days=window_days)
    queryset = sent_touches(client, since, now)
    if content:
        queryset = queryset.annotate(pain_text_annotation=KeyTextTransform("pain_points_used", "content_snapshot"))
    raw = fetch_columns(queryset, _touch_columns(content))

    lead_of_touch = np.asarray(raw["lead"], dtype=np.int64)
    at = np.asarray(raw["at"], dtype=np.float64)
    order = np.lexsort((at, lead_of_touch))
    lead_ids, t_lead = np.unique(lead_of_touch[order], return_inverse=True)
    sequence_keys, t_seq = np.unique(uuid_bytes(raw["seq"])[order], return_inverse=True)
    t_seq = t_seq.astype(np.int32)
    if len(sequence_keys) and sequence_keys[0] == NULL_UUID:
        sequence_keys = sequence_keys[1:]
        t_seq -= 1

    def column(name: str, dtype: npt.DTypeLike) -> np.ndarray:
        return np.asarray(raw.pop(name), dtype=dtype)[order]

    evidence = Evidence(
        client=client,
        now=now,
        since=since,
        window_days=window_days,
        settle_days=settle_days,
        lead_ids=lead_ids,
        lead_state=np.full(len(lead_ids), IN_FLIGHT, dtype=np.int8),
        lead_converted_at=np.full(len(lead_ids), np.nan),
        t_lead=t_lead.astype(np.int32),
        t_at=at[order],
        t_channel=column("channel", np.int8),
        t_touch=column("touch", np.int16),
        t_seq=t_seq,
        t_day=column("day", np.int8),
        t_hour=column("hour", np.int8),
        t_booked=np.zeros(len(at), dtype=bool),
        t_replied=np.zeros(len(at), dtype=bool),
        sequence_keys=sequence_keys,
    )
    if content:
        evidence.t_words = column("words", np.int32)
        evidence.t_cta = column("cta", np.int8)
        evidence.t_pain = column("pain", np.int32)
        evidence.t_flags = column("flags", np.int32)
    _label(evidence, flagged=column("flagged", bool))
    return evidence


def _outcomes(client: Client, since: datetime, now: datetime) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every outcome of the period: (lead id, epoch, is a booking), leads marked converted included."""
    # A meeting cancelled since (outcomes.bookings.cancel_meeting) earned nothing: its booking is left out, as
    # its credit on the touches and the lead's converted_at already are.
    cancelled = Activity.objects.filter(in_reply_to=OuterRef("pk"), action=ActivityAction.MEETING_CANCELLED)
    outcomes = fetch_columns(
        Activity.objects.filter(client=client, created_at__gte=since, created_at__lte=now)
        # Flagged sent touches are read with the touches (_label keeps the one that earned the booking).
        .filter(
            Q(action=ActivityAction.MEETING_BOOKED)
            | (Q(led_to_booking=True) & ~Q(action__in=SENT_ACTIONS))
            | Q(action__in=REPLY_ACTIONS)
        )
        .exclude(Exists(cancelled)),
        {
            "lead": "lead_id",
            "at": Epoch("created_at"),
            "booking": Case(
                When(Q(action=ActivityAction.MEETING_BOOKED) | Q(led_to_booking=True), then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            ),
        },
    )
    marked = fetch_columns(
        Lead.objects.filter(client=client, converted_at__gte=since, converted_at__lte=now),
        {"lead": "id", "at": Epoch("converted_at")},
    )
    o_lead = np.asarray(outcomes["lead"] + marked["lead"], dtype=np.int64)
    o_at = np.asarray(outcomes["at"] + marked["at"], dtype=np.float64)
    o_booking = np.concatenate([np.asarray(outcomes["booking"], dtype=bool), np.ones(len(marked["lead"]), bool)])
    return o_lead, o_at, o_booking


def last_of_sequence(flagged: np.ndarray, t_lead: np.ndarray, t_seq: np.ndarray) -> np.ndarray:
    """The flagged touches that are the last flagged one of their lead's sequence (touches sorted by lead, then
    time; a touch without a sequence is its own)."""
    index = np.flatnonzero(flagged)
    # One key per (lead, sequence); a touch without a sequence (-1) gets a key of its own.
    key = np.where(t_seq[index] >= 0, t_seq[index].astype(np.int64), -1 - index.astype(np.int64))
    key = t_lead[index].astype(np.int64) * (int(t_seq.max(initial=0)) + 2 + len(t_seq)) + key
    _, last_in_reverse = np.unique(key[::-1], return_index=True)
    last = np.zeros(len(flagged), dtype=bool)
    last[index[len(index) - 1 - last_in_reverse]] = True
    return last


def _label(evidence: Evidence, *, flagged: np.ndarray) -> None:
    """Credit outcomes to touches and settle each lead's state."""
    o_lead, o_at, o_booking = _outcomes(evidence.client, evidence.since, evidence.now)
    n_leads = len(evidence.lead_ids)
    t_lead, t_at = evidence.t_lead, evidence.t_at
    # A flagged touch is itself a booking activity (see the module doc): the last flagged one of each sequence.
    flagged = last_of_sequence(flagged, t_lead, evidence.t_seq)
    o_lead = np.concatenate([o_lead, evidence.lead_ids[t_lead[flagged]]])
    o_at = np.concatenate([o_at, t_at[flagged]])
    o_booking = np.concatenate([o_booking, np.ones(int(flagged.sum()), dtype=bool)])
    # The touch an outcome is credited to: the lead's last touch at or before it.
    o_index = np.searchsorted(evidence.lead_ids, o_lead)
    in_cohort = o_index < n_leads
    in_cohort[in_cohort] = evidence.lead_ids[o_index[in_cohort]] == o_lead[in_cohort]
    o_index, o_at, o_booking = o_index[in_cohort], o_at[in_cohort], o_booking[in_cohort]
    origin = evidence.since.timestamp()
    touch_keys = (t_lead.astype(np.int64) << 34) + np.floor(t_at - origin).astype(np.int64)
    outcome_keys = (o_index.astype(np.int64) << 34) + np.floor(o_at - origin).astype(np.int64)
    credited = np.searchsorted(touch_keys, outcome_keys, side="right") - 1
    valid = credited >= 0
    valid[valid] = t_lead[credited[valid]] == o_index[valid]

    booked = np.zeros(len(t_at), dtype=bool)
    booked[credited[valid & o_booking]] = True
    lead_has_flag = np.zeros(n_leads, dtype=bool)
    lead_has_flag[t_lead[flagged]] = True
    evidence.t_booked = flagged | (booked & ~lead_has_flag[t_lead])
    evidence.t_replied[credited[valid & ~o_booking]] = True

    converted_at = np.full(n_leads, np.inf)
    bookings = valid & o_booking
    np.minimum.at(converted_at, o_index[bookings], o_at[bookings])
    _settle(evidence, converted_at)


def _settle(evidence: Evidence, converted_at: np.ndarray) -> None:
    """Each lead's state: converted, finished without converting, or in flight (see the module doc)."""
    converted = np.isfinite(converted_at)
    last_touch = np.full(len(evidence.lead_ids), -np.inf)
    np.maximum.at(last_touch, evidence.t_lead, evidence.t_at)
    pending_ids = np.asarray(
        ScheduledTouch.objects.filter(client=evidence.client, status__in=_PENDING)
        .values_list("lead_id", flat=True)
        .distinct(),
        dtype=np.int64,
    )
    pending = np.isin(evidence.lead_ids, pending_ids)
    settled = last_touch <= (evidence.now - timedelta(days=evidence.settle_days)).timestamp()
    state = np.where(converted, CONVERTED, np.where(~pending & settled, LOST, IN_FLIGHT)).astype(np.int8)
    evidence.lead_state = state
    evidence.lead_converted_at = np.where(converted, converted_at, np.nan)
