"""The demo's closed loop, small: sends only through the dispatcher, answers only through the webhook views,
learning that finds the planted truth and raises the booking rate, a report with its charts."""

import dataclasses
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django_q.models import OrmQ, Task

from engines.rules.mailboxes import cap_on
from engines.services.deliverability.mailboxes import plan_of
from engines.services.sending import dispatcher
from engines.services.sending.dispatcher import dispatch_due_touches, preview_due_touches
from engines.simulation.loop import DemoConfig, LoopResult, run_loop
from engines.simulation.report import DemoReport, build_report, terminal_lines, write_html
from engines.simulation.responses import TRUTH
from outreach.models import Activity, Client, Enrollment, Lead, ManualTask, ScheduledTouch
from outreach.models.choices import SENT_ACTIONS
from tests.factories import ClientFactory, LeadFactory, MessageTemplateFactory, ScheduledTouchFactory

pytestmark = pytest.mark.django_db

SYDNEY = ZoneInfo("Australia/Sydney")
# Wednesday 4 March 2026, 10:30 in Sydney: inside contact hours.
NOW = datetime(2026, 3, 4, 10, 30, tzinfo=SYDNEY)


def due_email(client):
    MessageTemplateFactory(client=client, channel="email", touch_number=1, subject="Hi {first_name}")
    lead = LeadFactory(client=client)
    return ScheduledTouchFactory(lead=lead, client=client, scheduled_at=NOW - timedelta(hours=1))


def test_dispatch_limited_to_some_clients_leaves_the_others_touches_planned(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    mail.outbox = []
    ours, theirs = due_email(ClientFactory()), due_email(ClientFactory())

    preview = preview_due_touches(now=NOW, client_ids=[ours.client_id])
    assert [decision.touch.pk for decision in preview] == [ours.pk]

    counts = dispatch_due_touches(now=NOW, client_ids=[ours.client_id])

    assert counts["sent"] == 1
    assert [message.to for message in mail.outbox] == [[ours.lead.email]]
    assert ScheduledTouch.objects.get(pk=ours.pk).status == "sent"
    assert ScheduledTouch.objects.get(pk=theirs.pk).status == "planned"
    # Without the filter the run sends every client's due touches, as before.
    assert dispatch_due_touches(now=NOW)["sent"] == 1
    assert ScheduledTouch.objects.get(pk=theirs.pk).status == "sent"


# --- the closed loop, small --------------------------------------------------------------------------

# A truth far from the planner's defaults (Tue-Thu at 10:00, 14:00, 9:00), with strong lifts: a few hundred
# leads then show learning clearly. Exploration at 1.0: before learning every plan tries days and hours
# uniformly; after it, Thompson sampling on the learned arms follows the evidence.
TEST_TRUTH = dataclasses.replace(
    TRUTH,
    best_days=(0, 4),
    day_lift=(3.0, 0.6, 0.6, 0.6, 3.0, 0.3, 0.3),
    best_hour=16,
    hour_lift={16: 3.0, 15: 1.5},
    reply_base={"email": 0.12, "linkedin": 0.12, "sms": 0.12, "voice": 0.12},
    book_after_reply=0.8,
)
CONFIG = DemoConfig(
    clients=1,
    leads_per_cohort=200,
    weeks_before=3,
    weeks_after=2,
    seed=7,
    exploration_rate=1.0,
    truth=TEST_TRUTH,
    end=datetime(2026, 3, 2, 0, tzinfo=UTC),
)


# (outcome action, channel) -> the response-model event whose request recorded it (a booking: any channel).
KIND_OF_OUTCOME = {
    ("email_delivered", "email"): "delivered",
    ("email_opened", "email"): "opened",
    ("email_bounced", "email"): "bounced",
    ("email_deferred", "email"): "deferred",
    ("email_auto_replied", "email"): "auto_reply",
    ("email_replied", "email"): "reply",
    ("sms_replied", "sms"): "reply",
    ("opted_out", "sms"): "stop",
    ("opted_out", "email"): "unsubscribe",
    ("sms_delivered", "sms"): "sms_delivered",
    ("sms_undelivered", "sms"): "sms_undelivered",
}


@dataclass
class Run:
    result: LoopResult
    report: DemoReport
    html: Path
    delivered: list[int]
    outsider: ScheduledTouch


@pytest.fixture(scope="module")
def run(django_db_setup, django_db_blocker, tmp_path_factory):
    """One small demo, committed (tasks hand off on commit, as in production), deleted afterwards."""
    out = tmp_path_factory.mktemp("demo")
    delivered: list[int] = []
    real_deliver = dispatcher.deliver_batch

    def counting_deliver(touches, **kwargs):
        delivered.extend(touch.pk for touch in touches)
        return real_deliver(touches, **kwargs)

    with django_db_blocker.unblock(), pytest.MonkeyPatch.context() as patch:
        try:
            # Another client's touch, due all along: the demo must leave it alone.
            outsider = ScheduledTouchFactory(scheduled_at=CONFIG.end - timedelta(weeks=10))
            patch.setattr(dispatcher, "deliver_batch", counting_deliver)
            result = run_loop(CONFIG, out_dir=out)
            report = build_report(result, horizon_days=CONFIG.weeks_after * 7)
            html = write_html(report, out / "report.html")
            yield Run(result, report, html, delivered, outsider)
        finally:
            Client.objects.all().delete()
            OrmQ.objects.all().delete()
            Task.objects.all().delete()


def demo_activities(run: Run):
    return Activity.objects.filter(client__in=run.result.clients)


def test_every_touch_went_out_through_the_dispatcher(run):
    sent = demo_activities(run).filter(action__in=SENT_ACTIONS)
    assert sent.count() > 500
    touches = ScheduledTouch.objects.filter(activity__in=sent)
    assert touches.count() == sent.count()  # each sent activity is the record of one outbox row
    assert set(touches.values_list("pk", flat=True)) <= set(run.delivered)
    assert not touches.filter(claimed_at__isnull=True).exists()
    assert set(sent.values_list("channel", flat=True)) == {"email", "sms", "linkedin", "voice"}
    # LinkedIn messages and calls were sent by the simulated person closing the dispatcher's tasks.
    manual = sent.filter(channel__in=["linkedin", "voice"])
    done = ManualTask.objects.filter(status="done", scheduled_touch__activity__in=manual)
    assert done.count() == manual.count() == run.result.tasks_closed


def test_every_outcome_came_in_through_a_webhook_view(run):
    outcomes = demo_activities(run).exclude(action__in=SENT_ACTIONS)
    by_person = outcomes.filter(provider="person")
    assert set(by_person.values_list("action", flat=True)) <= {"linkedin_replied"}
    from_providers = outcomes.exclude(provider="person")
    assert not from_providers.filter(provider="").exists()
    # Only the one-click unsubscribe link has no provider event id to store.
    assert set(from_providers.filter(provider_event_id="").values_list("action", flat=True)) <= {"opted_out"}
    # One outcome row per request a webhook view answered, of the kind the request carried.
    recorded = Counter(
        "booking" if action == "meeting_booked" else KIND_OF_OUTCOME[action, channel]
        for action, channel in from_providers.values_list("action", "channel")
    )
    assert recorded == Counter(run.result.events)
    assert run.result.events["reply"] > 0 and run.result.events["booking"] > 0
    providers = set(from_providers.values_list("provider", flat=True))
    assert {"postmark", "twilio"} <= providers and len(providers) >= 3, providers


def test_the_dispatcher_left_other_clients_alone(run):
    outsider = ScheduledTouch.objects.get(pk=run.outsider.pk)
    assert outsider.status == "planned" and outsider.claimed_at is None
    assert run.outsider.pk not in run.delivered
    assert not Activity.objects.filter(lead_id=outsider.lead_id).exists()


def test_learning_found_the_planted_truth(run):
    [client] = run.report.clients
    found = {finding.what: finding for finding in client.findings}
    assert found["best days"].matches or found["best hour"].matches or found["first channel"].matches, found


def test_booking_rate_after_learning_beats_before(run):
    before, after = run.report.rates["before learning"], run.report.rates["after learning"]
    assert before.leads == after.leads == CONFIG.leads_per_cohort
    # 2 x 200 leads; the run repeats exactly (seeded leads, answers and exploration): 41% before, 47.5% after.
    assert after.value > before.value


def test_no_prospect_got_a_step_twice_and_finished_leads_show_finished(run):
    figures = run.report.journey
    assert figures.leads_given_a_step_twice == 0
    assert figures.leads_given_a_text_twice == 0
    assert figures.in_sequence_with_nothing_left == 0
    assert figures.status_disagrees_with_enrollments == 0
    assert 0 < figures.most_sends_to_one_lead <= 6  # the longest sequence
    # Every enrollment that ran its course is finished, its lead shown finished unless it answered later.
    leads = Lead.objects.filter(client__in=run.result.clients)
    finished = Enrollment.objects.filter(lead__in=leads, state="finished")
    assert finished.exists()
    statuses = set(leads.filter(enrollments__in=finished).values_list("status", flat=True))
    assert statuses <= {"finished", "replied", "converted"}
    assert not ScheduledTouch.objects.filter(enrollment__in=finished, status__in=("planned", "waiting")).exists()


def test_emails_went_from_the_clients_mailboxes_one_per_enrollment_within_each_days_cap(run):
    [client] = run.result.clients
    mailboxes = {mailbox.pk: mailbox for mailbox in client.mailboxes.all()}
    assert len(mailboxes) >= 2 and {m.state for m in mailboxes.values()} & {"warming", "active"}
    emails = demo_activities(run).filter(action="email_sent")
    assert emails.count() > 100 and not emails.filter(mailbox__isnull=True).exists()
    assert set(emails.values_list("mailbox_id", flat=True)) <= set(mailboxes)
    senders = emails.values_list("lead_id", "sequence_id", "mailbox_id").order_by().distinct()
    per_enrollment = Counter((lead, sequence) for lead, sequence, _ in senders)
    assert max(per_enrollment.values()) == 1  # every email of an enrollment from one mailbox
    zone = ZoneInfo(client.timezone)
    per_day = Counter(
        (mailbox_id, at.astimezone(zone).date()) for mailbox_id, at in emails.values_list("mailbox", "created_at")
    )
    for (mailbox_id, day), sent in per_day.items():
        assert sent <= cap_on(plan_of(mailboxes[mailbox_id]), day), (mailboxes[mailbox_id], day)
    # A reply was written to the mailbox its email came from, and found the email it answers.
    replies = demo_activities(run).filter(action="email_replied", in_reply_to__isnull=False)
    assert replies.exists() and not replies.filter(in_reply_to__mailbox__isnull=True).exists()
    lines = "\n".join(terminal_lines(run.report))
    html = run.html.read_text(encoding="utf-8")
    for mailbox in mailboxes.values():
        assert f"mailbox {mailbox.address}: " in lines and mailbox.address in html


def test_the_report_was_written_with_its_charts(run):
    text = run.html.read_text(encoding="utf-8")
    assert text.count("<svg") >= 3
    for chart_id in ('id="booking-rate"', 'id="truth-days"', 'id="truth-hours"'):
        assert chart_id in text
    assert "The response model (planted truth)" in text
    assert run.result.clients[0].name in text
