import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from engines.db.columns import Epoch, fetch_columns, uuid_bytes
from engines.exceptions import InvalidPattern
from engines.rules.content import build_content_snapshot
from engines.services.learning import detect
from engines.services.learning.evidence import (
    CONVERTED,
    CTAS,
    FLAGS,
    IN_FLIGHT,
    LOST,
    OUTCOME_BOOKING,
    OUTCOME_RESPONSE,
    PAIN_POINTS,
    load_evidence,
)
from engines.services.learning.persistence import save_pattern
from engines.services.learning.stats import lift_interval, smoothed_rate
from outreach.models import Activity, ConversionPattern
from outreach.models.choices import ACTION_CHANNEL
from tests.engines.detectors.conftest import NOW
from tests.factories import ActivityFactory, ClientFactory, LeadFactory, ScheduledTouchFactory, who_patterns

pytestmark = pytest.mark.django_db

SENT = {"email": "email_sent", "sms": "sms_sent", "linkedin": "linkedin_sent", "voice": "voice_completed"}


def days_ago(days: float):
    return NOW - timedelta(days=days)


def touch(lead, days, *, channel="email", touch_number=1, sequence_id=None, body="Hi there", **fields):
    at = days_ago(days)
    sequence_id = sequence_id or uuid.uuid4()
    snapshot = build_content_snapshot(
        body, lead, touch_number=touch_number, sequence_id=sequence_id, channel=channel, sent_at=at
    )
    return ActivityFactory(
        lead=lead,
        action=SENT[channel],
        channel=channel,
        touch_number=touch_number,
        sequence_id=sequence_id,
        content_snapshot=snapshot,
        created_at=at,
        **fields,
    )


def outcome(lead, action, days, **fields):
    return ActivityFactory(
        lead=lead,
        action=action,
        channel=ACTION_CHANNEL.get(action, ""),
        touch_number=None,
        sequence_id=None,
        created_at=days_ago(days),
        **fields,
    )


def lead_state(evidence, lead):
    return evidence.lead_state[np.searchsorted(evidence.lead_ids, lead.pk)]


def touches_of(evidence, lead):
    return evidence.t_lead == np.searchsorted(evidence.lead_ids, lead.pk)


@pytest.mark.parametrize(
    "at",
    [NOW, NOW - timedelta(days=3, microseconds=1), NOW + timedelta(microseconds=999_999), NOW - timedelta(days=400)],
)
def test_times_are_read_as_the_exact_epoch_python_gives_and_sequences_as_their_uuid_bytes(at):
    sequence_id = uuid.uuid4()
    sent = touch(LeadFactory(), 0, sequence_id=sequence_id)
    Activity.objects.filter(pk=sent.pk).update(created_at=at)

    columns = fetch_columns(Activity.objects.filter(pk=sent.pk), {"at": Epoch("created_at"), "seq": "sequence_id"})

    assert columns["at"] == [at.timestamp()]
    # tobytes: the raw 16 bytes (tolist() drops a uuid's trailing NUL bytes, one uuid in 256)
    assert uuid_bytes(columns["seq"]).tobytes() == sequence_id.bytes


def test_a_booking_converts_the_lead_and_credits_the_last_touch_before_it():
    lead = LeadFactory()
    touch(lead, 40, touch_number=1)
    touch(lead, 35, touch_number=2)
    touch(lead, 30, touch_number=3)
    booking = outcome(lead, "meeting_booked", 33, led_to_booking=True)

    evidence = load_evidence(lead.client, now=NOW)

    assert lead_state(evidence, lead) == CONVERTED
    assert evidence.t_touch[evidence.t_booked].tolist() == [2]
    assert evidence.lead_converted_at[0] == booking.created_at.timestamp()


def test_a_touch_is_settled_by_its_age_whatever_became_of_its_lead():
    client = ClientFactory()
    answered = LeadFactory(client=client)  # booked two days ago: finished, its touch still recent
    touch(answered, 3, touch_number=1)
    outcome(answered, "meeting_booked", 2, led_to_booking=True)
    waiting = LeadFactory(client=client)  # its next step is still planned: in flight, its first touch old
    touch(waiting, 20, touch_number=1)
    ScheduledTouchFactory(lead=waiting, client=client, status="planned", scheduled_at=days_ago(-2))

    evidence = load_evidence(client, now=NOW)

    assert (lead_state(evidence, answered), lead_state(evidence, waiting)) == (CONVERTED, IN_FLIGHT)
    assert evidence.t_settled[touches_of(evidence, answered)].tolist() == [False]
    assert evidence.t_settled[touches_of(evidence, waiting)].tolist() == [True]
    # The finished-lead rule would keep the answered recent touch and drop the unanswered old one: a selection
    # on the outcome itself, which the touch-level detectors (WHEN, WHAT) no longer make.
    assert evidence.t_finished[touches_of(evidence, answered)].tolist() == [True]
    assert evidence.t_finished[touches_of(evidence, waiting)].tolist() == [False]


def test_a_touch_flagged_as_leading_to_the_booking_gets_the_credit():
    lead = LeadFactory()
    touch(lead, 40, channel="voice", touch_number=1, led_to_booking=True)
    touch(lead, 35, touch_number=2)
    outcome(lead, "meeting_booked", 34, led_to_booking=True)

    evidence = load_evidence(lead.client, now=NOW)

    assert lead_state(evidence, lead) == CONVERTED
    assert evidence.t_touch[evidence.t_booked].tolist() == [1]


def test_a_lead_marked_converted_counts_as_a_booking():
    lead = LeadFactory(converted_at=days_ago(20), status="converted")
    touch(lead, 30, touch_number=1)
    touch(lead, 25, touch_number=2)

    evidence = load_evidence(lead.client, now=NOW)

    assert lead_state(evidence, lead) == CONVERTED
    assert evidence.t_touch[evidence.t_booked].tolist() == [2]


def test_a_reply_is_credited_to_its_touch_and_is_not_a_conversion():
    lead = LeadFactory()
    touch(lead, 40, touch_number=1)
    touch(lead, 35, touch_number=2)
    outcome(lead, "email_replied", 39)

    evidence = load_evidence(lead.client, now=NOW)

    assert lead_state(evidence, lead) == LOST
    assert evidence.t_touch[evidence.t_replied].tolist() == [1]
    assert not evidence.t_booked.any()
    assert evidence.t_positive(OUTCOME_RESPONSE).sum() == 1
    assert evidence.t_positive(OUTCOME_BOOKING).sum() == 0


def test_an_outcome_before_the_first_touch_is_nobody_s_credit():
    lead = LeadFactory()
    outcome(lead, "meeting_booked", 50, led_to_booking=True)
    touch(lead, 40)

    evidence = load_evidence(lead.client, now=NOW)

    assert lead_state(evidence, lead) == LOST
    assert not evidence.t_booked.any()


def test_leads_still_in_flight_are_neither_conversions_nor_non_conversions():
    client = ClientFactory()
    planned = LeadFactory(client=client)
    touch(planned, 40)
    ScheduledTouchFactory(lead=planned, touch_number=2, status="planned", scheduled_at=NOW + timedelta(days=1))
    recent = LeadFactory(client=client)
    touch(recent, 3)
    finished = LeadFactory(client=client)
    touch(finished, 40)
    ScheduledTouchFactory(lead=finished, touch_number=2, status="cancelled", scheduled_at=days_ago(38))

    evidence = load_evidence(client, now=NOW, settle_days=10)

    assert lead_state(evidence, planned) == IN_FLIGHT
    assert lead_state(evidence, recent) == IN_FLIGHT
    assert lead_state(evidence, finished) == LOST
    assert evidence.lead_counts() == {"converted": 0, "not_converted": 1, "in_flight": 2}
    assert evidence.t_finished.tolist() == touches_of(evidence, finished).tolist()


def test_the_settling_period_is_configurable():
    lead = LeadFactory()
    touch(lead, 5)

    assert lead_state(load_evidence(lead.client, now=NOW, settle_days=10), lead) == IN_FLIGHT
    assert lead_state(load_evidence(lead.client, now=NOW, settle_days=3), lead) == LOST


def test_the_window_leaves_older_touches_and_outcomes_out():
    client = ClientFactory()
    old_only = LeadFactory(client=client)
    touch(old_only, 120)
    outcome(old_only, "meeting_booked", 118, led_to_booking=True)
    straddling = LeadFactory(client=client)
    touch(straddling, 100, touch_number=1)
    outcome(straddling, "meeting_booked", 95, led_to_booking=True)
    touch(straddling, 60, touch_number=2)

    evidence = load_evidence(client, now=NOW, window_days=90)

    assert evidence.lead_ids.tolist() == [straddling.pk]
    assert evidence.t_touch.tolist() == [2]
    assert lead_state(evidence, straddling) == LOST
    assert len(load_evidence(client, now=NOW, window_days=150).t_at) == 3


def test_other_clients_data_never_leaks_in():
    ours, theirs = LeadFactory(), LeadFactory()
    touch(ours, 40)
    touch(theirs, 40)
    touch(theirs, 39)
    outcome(theirs, "meeting_booked", 38, led_to_booking=True)
    ScheduledTouchFactory(lead=theirs, status="planned")

    evidence = load_evidence(ours.client, now=NOW)

    assert evidence.lead_ids.tolist() == [ours.pk]
    assert len(evidence.t_at) == 1
    assert lead_state(evidence, ours) == LOST


def test_activities_that_are_not_touches_are_ignored():
    lead = LeadFactory()
    touch(lead, 40)
    outcome(lead, "email_delivered", 40)
    outcome(lead, "email_opened", 39)

    evidence = load_evidence(lead.client, now=NOW)

    assert len(evidence.t_at) == 1
    assert not evidence.t_replied.any()


def test_content_columns_are_read_from_the_snapshot():
    lead = LeadFactory(company_name="Bondi Smiles", first_name="Olivia")
    touch(
        lead,
        40,
        body="Hi Olivia, I have been following Bondi Smiles. The budget never stretches far enough "
        "and it eats hours every week. We could run a free audit for you.",
    )
    touch(lead, 35, channel="sms", touch_number=2, body="Hi there")

    evidence = load_evidence(lead.client, now=NOW, content=True)

    assert evidence.t_cta.tolist() == [CTAS.index("free audit"), -1]
    assert evidence.t_pain.tolist() == [(1 << PAIN_POINTS.index("time")) | (1 << PAIN_POINTS.index("cost")), 0]
    expected_flags = (1 << FLAGS.index("has_company_mention")) | (1 << FLAGS.index("has_first_name"))
    assert evidence.t_flags.tolist() == [expected_flags, 0]
    assert evidence.t_words[1] == 2
    assert evidence.t_channel.tolist() == [0, 1]


def test_local_day_and_hour_come_from_the_snapshot():
    lead = LeadFactory(timezone="Australia/Perth")
    at = touch(lead, 40).created_at

    evidence = load_evidence(lead.client, now=NOW)

    local = at.astimezone(ZoneInfo("Australia/Perth"))
    assert (evidence.t_day[0], evidence.t_hour[0]) == (local.weekday(), local.hour)


def test_small_buckets_are_pulled_toward_the_base_rate_and_big_ones_keep_their_own():
    small, big = smoothed_rate([3, 3000], [3, 5000], base_rate=0.1)

    assert 0.1 < small < 0.5
    assert big == pytest.approx(0.6, abs=0.01)


def test_lift_interval_brackets_the_ratio_and_narrows_with_evidence():
    low, high = lift_interval([20, 2000], [100, 10000], [10, 1000], [100, 10000])

    assert (low < 2).all() and (high > 2).all()
    assert high[1] - low[1] < high[0] - low[0]
    assert low[1] > 1


def test_save_pattern_records_when_it_was_computed_and_how_long_it_holds():
    client = ClientFactory()

    pattern = save_pattern(client, "who", who_patterns(), now=NOW)
    shorter = save_pattern(client, "who", who_patterns(), now=NOW, valid_days=2)

    assert (pattern.computed_at, pattern.valid_until) == (NOW, NOW + timedelta(days=7))
    assert shorter.valid_until == NOW + timedelta(days=2)
    assert (pattern.sample_size, pattern.confidence) == (500, 0.8)


def test_save_pattern_refuses_a_malformed_pattern():
    client = ClientFactory()

    with pytest.raises(InvalidPattern):
        save_pattern(client, "who", who_patterns(recommended_weights={"company_fit": 0.9}), now=NOW)
    assert not ConversionPattern.objects.exists()


def test_a_detector_that_lacks_evidence_saves_nothing_and_says_why():
    client = ClientFactory()

    result = detect("who", client, now=NOW)

    assert not result.saved
    assert result.reason == "only 0 finished leads in the window (need 100)"
    assert not ConversionPattern.objects.exists()
