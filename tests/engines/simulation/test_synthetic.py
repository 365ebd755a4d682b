from datetime import UTC, datetime, timedelta

import pytest
from django.db.models import Q

from engines.rules.geography import lead_local_time
from engines.services.scoring.lead_score import als_tier
from engines.simulation.synthetic import ICP, NULL, PLANTED, generate_client
from outreach.models import Activity, Lead, ScheduledTouch
from outreach.models.choices import SENT_ACTIONS

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 4, 6, 0, tzinfo=UTC)


def fingerprint(client):
    leads = list(client.leads.order_by("email").values_list("email", "title", "industry", "status", "als_score"))
    activities = list(
        Activity.objects.filter(client=client)
        .order_by("created_at", "action", "lead__email")
        .values_list("lead__email", "action", "created_at", "touch_number", "led_to_booking")
    )
    return leads, activities


def test_a_seed_gives_the_same_data_every_time():
    first = generate_client(n_leads=120, seed=4, now=NOW)
    again = generate_client(n_leads=120, seed=4, now=NOW)
    other = generate_client(n_leads=120, seed=5, now=NOW)

    assert fingerprint(first.client) == fingerprint(again.client)
    assert fingerprint(first.client) != fingerprint(other.client)


def test_the_counts_returned_are_the_rows_written():
    data = generate_client(n_leads=150, seed=1, now=NOW)

    assert data.client.icp == ICP
    assert data.leads == Lead.objects.filter(client=data.client).count() == 150
    assert data.activities == Activity.objects.filter(client=data.client).count()
    assert data.scheduled_touches == ScheduledTouch.objects.filter(client=data.client).count()


def test_leads_are_scored_by_the_scorer_and_touches_carry_the_tier():
    data = generate_client(n_leads=150, seed=2, now=NOW)

    leads = data.client.leads.all()
    assert not leads.filter(scored_at__isnull=True).exists()
    scores = dict(leads.values_list("pk", "als_score"))
    for lead_id, tier in ScheduledTouch.objects.filter(client=data.client).values_list("lead_id", "lead_tier"):
        assert tier == als_tier(scores[lead_id])
    assert set(leads.first().als_components) >= {"data_quality", "authority", "company_fit", "timing", "risk"}


def test_every_row_happened_in_the_window_and_before_now():
    data = generate_client(n_leads=200, seed=3, now=NOW, days=60)

    times = Activity.objects.filter(client=data.client).values_list("created_at", flat=True)
    assert min(times) > NOW - timedelta(days=60)
    assert max(times) <= NOW
    assert not ScheduledTouch.objects.filter(client=data.client, status="planned", scheduled_at__lte=NOW).exists()
    assert ScheduledTouch.objects.filter(client=data.client, status="planned").exists()


def test_sequences_play_out_consistently():
    data = generate_client(n_leads=300, seed=6, now=NOW)
    client = data.client

    for touch in ScheduledTouch.objects.filter(client=client, status="sent").select_related("activity"):
        activity = touch.activity
        assert (activity.channel, activity.touch_number, activity.sequence_id, activity.lead_id) == (
            touch.channel,
            touch.touch_number,
            touch.sequence_id,
            touch.lead_id,
        )
        assert activity.action in SENT_ACTIONS
    converted = client.leads.filter(status="converted")
    assert converted.exists()
    for lead in converted:
        booked = lead.activities.filter(led_to_booking=True).order_by("created_at").first()
        assert booked.created_at == lead.converted_at
        # Nothing is sent once the meeting is won; what was left of the plan is cancelled.
        assert not lead.scheduled_touches.filter(status="planned").exists()
        assert not lead.activities.filter(action__in=SENT_ACTIONS, created_at__gt=lead.converted_at).exists()
    cancelled_leads = set(
        ScheduledTouch.objects.filter(client=client, status="cancelled").values_list("lead_id", flat=True)
    )
    assert cancelled_leads <= set(client.leads.filter(status__in=["converted", "replied"]).values_list("pk", flat=True))


def test_plans_follow_the_planted_sequences_minus_unreachable_channels():
    data = generate_client(n_leads=200, seed=7, now=NOW)
    planned = {tuple(channels) for channels, _ in PLANTED.sequences}

    for lead in data.client.leads.prefetch_related("scheduled_touches"):
        touches = sorted(lead.scheduled_touches.all(), key=lambda t: t.touch_number)
        channels = [t.channel for t in touches]
        assert any(channels == [c for c in plan if _reachable(lead, c)] for plan in planned), channels
        assert [t.touch_number for t in touches] == list(range(1, len(touches) + 1))


def _reachable(lead, channel):
    if channel in ("sms", "voice"):
        return bool(lead.phone)
    if channel == "linkedin":
        return bool(lead.linkedin_url)
    return True


def test_snapshots_record_the_lead_s_local_day_and_hour():
    data = generate_client(n_leads=60, seed=8, now=NOW)

    for activity in Activity.objects.filter(client=data.client, action__in=SENT_ACTIONS).select_related("lead"):
        local = lead_local_time(activity.lead, activity.created_at, data.client)
        snapshot = activity.content_snapshot
        assert (snapshot["day_index"], snapshot["hour_of_day"]) == (local.weekday(), local.hour)
        assert 8 <= local.hour <= 17
        assert snapshot["sequence_id"] == str(activity.sequence_id)


def test_engagement_events_are_optional():
    with_events = generate_client(n_leads=80, seed=9, now=NOW)
    without = generate_client(n_leads=80, seed=9, now=NOW, engagement=False)

    assert Activity.objects.filter(client=with_events.client, action="email_opened").exists()
    assert not Activity.objects.filter(client=without.client, action__in=["email_opened", "email_delivered"]).exists()
    assert without.activities < with_events.activities


def test_engagement_does_not_change_who_converts():
    with_events = generate_client(n_leads=120, seed=10, now=NOW, batch_size=60)
    without = generate_client(n_leads=120, seed=10, now=NOW, batch_size=60, engagement=False)

    def outcomes(client):
        return list(client.leads.order_by("email").values_list("email", "status", "converted_at"))

    assert outcomes(with_events.client) == outcomes(without.client)


def test_the_null_mode_keeps_the_volumes_and_makes_outcomes_independent():
    planted = generate_client(n_leads=600, seed=8, now=NOW)
    null = generate_client(n_leads=600, seed=8, now=NOW, truth=NULL)

    def volumes(client):
        sent = Activity.objects.filter(client=client, action__in=SENT_ACTIONS).count()
        booked = client.leads.filter(status="converted").count()
        return sent, booked

    (planted_sent, planted_booked), (null_sent, null_booked) = volumes(planted.client), volumes(null.client)
    # The same leads and plans: only who books (and so stops early) differs.
    assert list(planted.client.leads.order_by("email").values_list("title", "industry")) == list(
        null.client.leads.order_by("email").values_list("title", "industry")
    )
    assert abs(null_sent - planted_sent) <= 0.05 * planted_sent
    assert 0.7 * planted_booked <= null_booked <= 1.3 * planted_booked

    # Independent of the lead: in the null mode leads fitting the whole profile book about as often as leads
    # fitting none of it (within about two and a half standard errors), while in the planted truth far more.
    def icp_gap(client):
        fits = Q(industry__in=ICP["industries"], employee_count__range=(5, 50), country="Australia")
        misses = ~Q(industry__in=ICP["industries"]) & ~Q(employee_count__range=(5, 50)) & ~Q(country="Australia")
        rates = []
        for leads in (client.leads.filter(fits), client.leads.filter(misses)):
            rates.append(leads.filter(status="converted").count() / leads.count())
        return rates[0] - rates[1]

    assert abs(icp_gap(null.client)) < 0.15 < icp_gap(planted.client)


def test_each_plan_records_the_strategy_it_was_drawn_from():
    data = generate_client(n_leads=150, seed=9, now=NOW)

    strategies = {">".join(plan) for plan, _ in PLANTED.sequences}
    rows = ScheduledTouch.objects.filter(client=data.client).values_list("sequence_id", "planned_sequence", "channel")
    by_sequence: dict = {}
    for sequence_id, strategy, channel in rows:
        assert strategy in strategies
        by_sequence.setdefault(sequence_id, (strategy, set()))[1].add(channel)
    # A plan holds the strategy's channels, less those the lead cannot be reached on.
    assert all(channels <= set(strategy.split(">")) for strategy, channels in by_sequence.values())
