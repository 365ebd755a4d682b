"""Sending mailboxes: the warm-up ramp, rotation by what each has left, sticky enrollments, health pauses (per
mailbox and per domain) with their minimum counts, a person's pause / resume / retire, and what moves."""

import random
from collections import Counter
from datetime import date, datetime, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.db.models import RestrictedError
from django.utils import timezone

from engines.rules.mailboxes import Plan, Thresholds, cap_on, choose, health, window_start
from engines.services.deliverability import mailboxes
from engines.services.deliverability.mailboxes import (
    MailboxError,
    NoMailboxLeft,
    capacity_today,
    check_all_health,
    check_health,
    mailbox_for,
    pause,
    resume,
    retire,
    save_choices,
    sends_per_mailbox,
)
from engines.services.sending.windows import MAILBOX_DAILY_CAP, MAILBOX_PAUSED, DailyBudget
from outreach.models import Activity, Client, Enrollment, Mailbox, MailboxStateChange
from tests.factories import (
    ActivityFactory,
    EnrollmentFactory,
    LeadFactory,
    MailboxFactory,
    ScheduledTouchFactory,
    StaffUserFactory,
)

pytestmark = pytest.mark.django_db

SYDNEY = ZoneInfo("Australia/Sydney")
# Wednesday 4 March 2026, 10:30 in Sydney.
NOW = datetime(2026, 3, 4, 10, 30, tzinfo=SYDNEY)


def plan(state="warming", cap=40, start=10, increase=5, on=date(2026, 3, 1)):
    return Plan(state, cap, start, increase, on)


def sends(mailbox, count, *, at=NOW - timedelta(hours=1), sequence_id=None, lead=None):
    """`count` emails sent from the mailbox at `at` (each to a new lead unless one is given)."""
    return [
        ActivityFactory(
            lead=lead or LeadFactory(client=mailbox.client),
            client=mailbox.client,
            mailbox=mailbox,
            created_at=at,
            **({"sequence_id": sequence_id} if sequence_id else {}),
        )
        for _ in range(count)
    ]


def outcomes(sent, action):
    for activity in sent:
        ActivityFactory(lead=activity.lead, client=activity.client, action=action, in_reply_to=activity, created_at=NOW)


def email_touch(client, *, enrollment=None, at=NOW - timedelta(hours=1)):
    lead = enrollment.lead if enrollment else LeadFactory(client=client)
    enrollment = enrollment or EnrollmentFactory(lead=lead, client=client)
    return ScheduledTouchFactory(
        lead=lead, client=client, enrollment=enrollment, sequence_id=enrollment.sequence_id, scheduled_at=at
    )


# --- rules ----------------------------------------------------------------------------------------------------


def test_the_warm_up_ramps_day_by_day_to_the_cap_and_nothing_before_it_starts():
    ramp = [cap_on(plan(), date(2026, 2, 28) + timedelta(days=day)) for day in range(9)]
    assert ramp == [0, 10, 15, 20, 25, 30, 35, 40, 40]


@pytest.mark.parametrize(("state", "cap"), [("active", 40), ("paused", 0), ("retired", 0)])
def test_an_active_mailbox_sends_its_cap_and_a_paused_or_retired_one_nothing(state, cap):
    assert cap_on(plan(state), date(2026, 3, 1)) == cap


def test_rotation_is_proportional_to_what_each_mailbox_has_left_and_never_picks_a_full_one():
    rng = random.Random(23)
    capacities = [10, 30, 60, 0]
    draws = Counter(choose(capacities, rng) for _ in range(50_000))
    assert 3 not in draws
    for index, capacity in enumerate(capacities[:3]):
        assert draws[index] / 50_000 == pytest.approx(capacity / 100, abs=0.01)
    assert choose([0, 0], rng) is None


@pytest.mark.parametrize(
    ("sent", "bounces", "complaints", "reason"),
    [
        (99, 20, 0, ""),  # under the minimum for bounces: not judged
        (100, 5, 0, ""),  # 5% of 100 sends is not credibly above 3% (a 2% list shows it now and then)
        (100, 6, 0, "bounce_rate"),  # the lower end of its one-sided 95% interval is 3.1%
        (500, 20, 0, ""),  # 4% of 500: the interval still reaches down to 2.7%
        (500, 25, 0, "bounce_rate"),
        (299, 0, 1, ""),  # under the minimum for complaints
        (300, 0, 1, "complaint_rate"),
        (300, 10, 1, "complaint_rate"),  # complaints are named first
    ],
)
def test_the_health_verdict_needs_its_minimum_of_sends(sent, bounces, complaints, reason):
    verdict = health(sent, bounces, complaints)
    assert (verdict.healthy, verdict.reason) == (not reason, reason)
    assert verdict.bounce_rate == bounces / sent


def test_the_health_window_is_the_shorter_of_500_sends_and_7_days():
    assert window_start(NOW, None) == NOW - timedelta(days=7)
    assert window_start(NOW, NOW - timedelta(days=2)) == NOW - timedelta(days=2)
    assert window_start(NOW, NOW - timedelta(days=9)) == NOW - timedelta(days=7)


# --- the model --------------------------------------------------------------------------------------------------


def test_the_address_is_stored_lower_case_with_its_domain_and_once_per_client():
    mailbox = MailboxFactory(address=" Sam@Mail.Acme.Example ")
    assert (mailbox.address, mailbox.sending_domain) == ("sam@mail.acme.example", "mail.acme.example")
    MailboxFactory(address="sam@mail.acme.example")  # another client may use it
    with pytest.raises(IntegrityError), transaction.atomic():
        MailboxFactory(client=mailbox.client, address="SAM@mail.acme.example")
    with pytest.raises(IntegrityError), transaction.atomic():
        Mailbox.objects.filter(pk=mailbox.pk).update(address="Sam@mail.acme.example")


@pytest.mark.parametrize(
    "fields",
    [{"daily_cap": 0}, {"warmup_start": 0}, {"warmup_start": 51}, {"state": "sleeping"}, {"state_reason": "why"}],
)
def test_the_database_refuses_a_cap_or_warm_up_that_makes_no_sense(fields):
    mailbox = MailboxFactory(daily_cap=50)
    with pytest.raises(IntegrityError), transaction.atomic():
        Mailbox.objects.filter(pk=mailbox.pk).update(**fields)


def test_a_client_is_deleted_with_its_mailboxes_but_a_mailbox_in_use_is_not():
    mailbox = MailboxFactory()
    enrollment = EnrollmentFactory(lead=LeadFactory(client=mailbox.client), client=mailbox.client, mailbox=mailbox)
    with pytest.raises(RestrictedError), transaction.atomic():
        mailbox.delete()
    Client.objects.filter(pk=mailbox.client_id).delete()
    assert not Mailbox.objects.exists() and not Enrollment.objects.filter(pk=enrollment.pk).exists()


# --- capacity and choice ----------------------------------------------------------------------------------------


def test_a_warming_mailbox_sends_its_ramp_each_day_on_a_simulated_clock():
    mailbox = MailboxFactory(state="warming", daily_cap=30, warmup_start=10, warmup_increase=10,
                             warmup_started_on=date(2026, 3, 2))  # fmt: skip
    client = mailbox.client
    for day, cap in enumerate([10, 20, 30, 30]):
        now = datetime(2026, 3, 2, 9, tzinfo=SYDNEY) + timedelta(days=day)
        assert capacity_today([client], now)[mailbox.pk] == cap
        sends(mailbox, cap - 1, at=now)
        assert capacity_today([client], now)[mailbox.pk] == 1
        # Yesterday's sends are not today's: midnight is the client's.
        assert capacity_today([client], now + timedelta(days=1) - timedelta(hours=9))[mailbox.pk] == min(cap + 10, 30)


def test_an_email_being_sent_counts_against_its_mailbox_today():
    mailbox = MailboxFactory(daily_cap=5, warmup_start=5)
    enrollment = EnrollmentFactory(lead=LeadFactory(client=mailbox.client), client=mailbox.client, mailbox=mailbox)
    ScheduledTouchFactory(
        lead=enrollment.lead, client=mailbox.client, enrollment=enrollment, sequence_id=enrollment.sequence_id,
        status="sending", claimed_at=NOW - timedelta(minutes=1),
    )  # fmt: skip
    assert capacity_today([mailbox.client], NOW)[mailbox.pk] == 4


def test_capacity_for_a_batch_of_clients_is_three_queries(django_assert_num_queries):
    clients = [MailboxFactory().client for _ in range(3)]
    with django_assert_num_queries(3):
        capacity = capacity_today(clients, NOW)
    assert sorted(capacity.values()) == [50, 50, 50]


def test_an_enrollment_keeps_its_mailbox_and_a_new_one_is_given_one_and_keeps_it():
    first = MailboxFactory()
    second = MailboxFactory(client=first.client)
    capacity = capacity_today([first.client], NOW)
    rng = random.Random(1)
    sticky = EnrollmentFactory(lead=LeadFactory(client=first.client), client=first.client, mailbox=second)
    assert all(mailbox_for(sticky, capacity, rng) == second for _ in range(20))

    new = EnrollmentFactory(lead=LeadFactory(client=first.client), client=first.client)
    chosen = mailbox_for(new, capacity, rng)
    assert Enrollment.objects.get(pk=new.pk).mailbox is None  # chosen, saved with its batch's choices
    save_choices([new], capacity)
    assert Enrollment.objects.get(pk=new.pk).mailbox == chosen
    assert all(mailbox_for(new, capacity, rng) == chosen for _ in range(20))


def test_a_choice_saved_meanwhile_by_another_dispatcher_stands_and_is_the_one_used():
    first = MailboxFactory()
    second = MailboxFactory(client=first.client)
    capacity = capacity_today([first.client], NOW)
    ours, theirs = (EnrollmentFactory(lead=LeadFactory(client=first.client)) for _ in range(2))
    ours.mailbox, theirs.mailbox = first, first
    Enrollment.objects.filter(pk=ours.pk).update(mailbox=second)  # saved by another dispatcher meanwhile

    save_choices([ours, theirs], capacity)

    assert ours.mailbox == second and Enrollment.objects.get(pk=ours.pk).mailbox == second
    assert theirs.mailbox == first and Enrollment.objects.get(pk=theirs.pk).mailbox == first


def test_a_client_without_mailboxes_gets_none_and_one_whose_mailboxes_are_full_waits():
    bare = EnrollmentFactory()
    assert mailbox_for(bare, capacity_today([bare.client], NOW), random.Random(1)) is None

    mailbox = MailboxFactory(daily_cap=1, warmup_start=1)
    sends(mailbox, 1)
    waiting = EnrollmentFactory(lead=LeadFactory(client=mailbox.client), client=mailbox.client)
    with pytest.raises(NoMailboxLeft, match="waits for tomorrow"):
        mailbox_for(waiting, capacity_today([mailbox.client], NOW), random.Random(1))


def test_a_batch_spreads_new_enrollments_over_the_mailboxes_by_their_caps_then_waits():
    small = MailboxFactory(daily_cap=10, warmup_start=10)
    large = MailboxFactory(client=small.client, daily_cap=30, warmup_start=30)
    touches = [email_touch(small.client) for _ in range(41)]
    budget = DailyBudget(NOW, touches, random.Random(7))

    held = [budget.take(touch) for touch in touches]
    budget.save_choices()

    assert held[:40] == [""] * 40 and held[40] == MAILBOX_DAILY_CAP
    chosen = Counter(Enrollment.objects.filter(mailbox__isnull=False).values_list("mailbox_id", flat=True))
    assert chosen == {small.pk: 10, large.pk: 30}


def test_the_budget_reads_the_mailboxes_once_per_batch(django_assert_max_num_queries):
    mailbox = MailboxFactory()
    touches = [email_touch(mailbox.client) for _ in range(10)]
    for touch in touches:
        touch.client = mailbox.client
    with django_assert_max_num_queries(8):  # limits (2), companies (2), capacity (3), the batch's choices (1)
        budget = DailyBudget(NOW, touches, random.Random(1))
        assert [budget.take(touch) for touch in touches] == [""] * 10
        budget.save_choices()
    assert Enrollment.objects.filter(mailbox=mailbox).count() == 10


# --- health -----------------------------------------------------------------------------------------------------


def test_a_bounce_spike_pauses_the_mailbox_records_why_and_moves_only_the_enrollments_not_started_on_it():
    bad = MailboxFactory()
    good = MailboxFactory(client=bad.client)
    outcomes(sends(bad, 120)[:10], "email_bounced")
    fresh = EnrollmentFactory(lead=LeadFactory(client=bad.client), client=bad.client, mailbox=bad)
    fresh_touch = email_touch(bad.client, enrollment=fresh)
    started = EnrollmentFactory(lead=LeadFactory(client=bad.client), client=bad.client, mailbox=bad)
    sends(bad, 1, sequence_id=started.sequence_id, lead=started.lead)
    started_touch = email_touch(bad.client, enrollment=started)

    verdict = check_health(bad, NOW)

    assert (verdict.healthy, verdict.reason, verdict.sends) == (False, "bounce_rate", 121)
    bad.refresh_from_db()
    assert (bad.state, bad.state_reason, bad.state_changed_by) == ("paused", "bounce_rate", None)
    [change] = MailboxStateChange.objects.filter(mailbox=bad)
    assert (change.from_state, change.to_state, change.reason) == ("active", "paused", "bounce_rate")
    assert "121 sends" in change.note and "8.26% hard bounces" in change.note
    assert Enrollment.objects.get(pk=fresh.pk).mailbox == good
    assert Enrollment.objects.get(pk=started.pk).mailbox == bad
    # The started one waits while its mailbox is paused; the moved one goes from the other.
    touches = [ScheduledTouchFactory._meta.model.objects.select_related("enrollment").get(pk=t.pk)
               for t in (fresh_touch, started_touch)]  # fmt: skip
    for touch in touches:
        touch.client = bad.client
    budget = DailyBudget(NOW, touches, random.Random(1))
    assert [budget.take(touch) for touch in touches] == ["", MAILBOX_PAUSED]


def test_complaints_pause_once_enough_sends_make_the_rate_mean_something():
    mailbox = MailboxFactory()
    sent = sends(mailbox, 299)
    outcomes(sent[:1], "email_complained")
    assert check_health(mailbox, NOW).healthy
    sends(mailbox, 1)
    assert check_health(mailbox, NOW).reason == "complaint_rate"
    assert Mailbox.objects.get(pk=mailbox.pk).state_reason == "complaint_rate"


def test_few_sends_are_not_judged_however_many_bounced():
    mailbox = MailboxFactory()
    outcomes(sends(mailbox, 50)[:20], "email_bounced")
    assert check_health(mailbox, NOW).healthy
    assert Mailbox.objects.get(pk=mailbox.pk).state == "active"


def test_only_the_last_500_sends_count_when_they_are_fewer_than_a_week():
    mailbox = MailboxFactory()
    outcomes(sends(mailbox, 100, at=NOW - timedelta(days=3)), "email_bounced")
    sends(mailbox, 500, at=NOW - timedelta(days=1))
    verdict = check_health(mailbox, NOW)
    assert (verdict.healthy, verdict.sends) == (True, 500)


def test_a_resumed_mailbox_is_judged_only_on_what_it_sends_after():
    mailbox = MailboxFactory()
    outcomes(sends(mailbox, 100, at=NOW - timedelta(days=1))[:10], "email_bounced")
    check_health(mailbox, NOW - timedelta(hours=2))
    user = StaffUserFactory()

    resume(Mailbox.objects.get(pk=mailbox.pk), user, "list cleaned", now=NOW - timedelta(hours=1))

    mailbox.refresh_from_db()
    assert (mailbox.state, mailbox.state_reason, mailbox.state_changed_by) == ("active", "by_person", user)
    assert check_health(mailbox, NOW).healthy and mailbox.state == "active"
    assert list(mailbox.state_changes.values_list("to_state", "note")) == [
        ("active", "list cleaned"),
        ("paused", "100 sends: 10.00% hard bounces, 0.00% complaints"),
    ]


def test_a_domain_whose_rate_crosses_pauses_all_its_mailboxes():
    first = MailboxFactory(address="a@shared.example")
    second = MailboxFactory(client=first.client, address="b@shared.example")
    elsewhere = MailboxFactory(client=first.client, address="c@other.example")
    for mailbox in (first, second):  # 80 sends each: under the minimum alone, 160 (10% bounced) together
        outcomes(sends(mailbox, 80)[:8], "email_bounced")

    report = check_all_health(NOW)

    assert sorted((m.address, reason) for m, reason in report.paused) == [
        ("a@shared.example", "domain_bounce_rate"),
        ("b@shared.example", "domain_bounce_rate"),
    ]
    assert Mailbox.objects.get(pk=elsewhere.pk).state == "active"


def test_a_warming_mailbox_whose_ramp_reached_its_cap_becomes_active():
    ramped = MailboxFactory(state="warming", daily_cap=20, warmup_started_on=date(2026, 3, 1))
    ramping = MailboxFactory(state="warming", daily_cap=50, warmup_started_on=date(2026, 3, 1))
    report = check_all_health(NOW)
    assert [mailbox.pk for mailbox in report.warmed_up] == [ramped.pk]
    assert Mailbox.objects.get(pk=ramped.pk).state_reason == "warmed_up"
    assert Mailbox.objects.get(pk=ramping.pk).state == "warming"


def test_the_command_prints_what_it_paused():
    mailbox = MailboxFactory()
    outcomes(sends(mailbox, 100, at=timezone.now() - timedelta(hours=1))[:10], "email_bounced")
    out = StringIO()
    call_command("check_mailbox_health", stdout=out)
    assert f"paused {mailbox.address}" in out.getvalue() and "Hard-bounce rate too high" in out.getvalue()
    assert "1 mailbox checked: 1 paused, 0 warmed up." in out.getvalue()


# --- a person's actions -----------------------------------------------------------------------------------------


def test_a_person_pauses_resumes_and_retires_and_each_is_recorded():
    mailbox = MailboxFactory(state="warming", warmup_started_on=date(2026, 3, 3))
    user = StaffUserFactory()
    pause(mailbox, user, "client asked", now=NOW)
    with pytest.raises(MailboxError, match="is paused: it cannot be paused"):
        pause(mailbox, user, now=NOW)
    resume(mailbox, user, now=NOW)
    assert Mailbox.objects.get(pk=mailbox.pk).state == "warming"  # its ramp is not done
    retire(mailbox, user, "domain sold", now=NOW)
    with pytest.raises(MailboxError, match="cannot be resumed"):
        resume(mailbox, user, now=NOW)
    assert list(mailbox.state_changes.order_by("at", "pk").values_list("to_state", "by", "note")) == [
        ("paused", user.pk, "client asked"),
        ("warming", user.pk, ""),
        ("retired", user.pk, "domain sold"),
    ]


def test_retiring_moves_every_open_enrollment_even_started_ones_and_none_when_no_mailbox_is_left():
    old = MailboxFactory()
    new = MailboxFactory(client=old.client)
    started = EnrollmentFactory(lead=LeadFactory(client=old.client), client=old.client, mailbox=old)
    sends(old, 1, sequence_id=started.sequence_id, lead=started.lead)
    assert retire(old, None, now=NOW) == 1
    assert Enrollment.objects.get(pk=started.pk).mailbox == new
    assert retire(new, None, now=NOW) == 1
    assert Enrollment.objects.get(pk=started.pk).mailbox is None


def test_sends_per_mailbox_reports_each_mailbox_with_its_rates():
    mailbox = MailboxFactory(address="a@x.example")
    quiet = MailboxFactory(client=mailbox.client, address="b@x.example")
    outcomes(sends(mailbox, 4)[:1], "email_bounced")
    rows = sends_per_mailbox(mailbox.client, NOW - timedelta(days=1))
    assert [(m.pk, s.sends, s.hard_bounces, s.bounce_rate) for m, s in rows] == [
        (mailbox.pk, 4, 1, 0.25),
        (quiet.pk, 0, 0, None),
    ]


def test_an_account_is_read_with_its_secrets_from_the_environment(settings, monkeypatch):
    settings.OUTREACH_MAILBOX_ACCOUNTS = {
        "mg2": {"backend": "anymail.backends.mailgun.EmailBackend", "options": {"api_key_env": "MG2", "x": 1}}
    }
    with pytest.raises(MailboxError, match="set the environment variable MG2"):
        mailboxes.account_backend("mg2")
    monkeypatch.setenv("MG2", "key-2")
    assert mailboxes.account_backend("mg2") == ("anymail.backends.mailgun.EmailBackend", {"api_key": "key-2", "x": 1})
    with pytest.raises(MailboxError, match="no ESP account 'nope'"):
        mailboxes.account_backend("nope")


def test_thresholds_can_be_tightened():
    mailbox = MailboxFactory()
    outcomes(sends(mailbox, 20)[:2], "email_bounced")
    assert check_health(mailbox, NOW, Thresholds(min_sends_for_bounces=10)).reason == "bounce_rate"
    assert Activity.objects.filter(mailbox=mailbox).count() == 20


def test_a_list_that_bounces_two_percent_is_rarely_paused_by_chance_and_one_at_eight_percent_at_once():
    """Nightly checks over a demo's eight weeks: the verdict on a mailbox whose true hard-bounce rate is under the
    limit must not flip on noise, and one well over it must not wait for more sends."""
    rng = random.Random(11)

    def paused_share(rate: float, sends: int) -> float:
        verdicts = [health(sends, sum(rng.random() < rate for _ in range(sends)), 0) for _ in range(2000)]
        return sum(not verdict.healthy for verdict in verdicts) / len(verdicts)

    assert paused_share(0.02, 100) < 0.03 and paused_share(0.02, 300) < 0.005
    assert paused_share(0.08, 100) > 0.5 and paused_share(0.08, 300) > 0.95
