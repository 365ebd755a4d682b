"""The reply inbox's service (engines.services.outcomes.inbox): the reply text stored as text, the replies listed
newest first per client, waiting and searched, and each decision applied once through the journey and outcomes
services."""

from __future__ import annotations

import importlib
import uuid
from datetime import datetime, time, timedelta

import pytest
from django.apps import apps as django_apps
from django.utils import timezone

from engines.exceptions import JourneyError
from engines.rules.geography import lead_timezone
from engines.services.journey import actions
from engines.services.outcomes import events, inbox
from engines.services.outcomes.intent import read_reply
from engines.services.planning.allocator import allocate_lead
from outreach.models import Activity, Client, Enrollment, JourneyEvent, Lead, ScheduledTouch
from tests.factories import ActivityFactory, ClientFactory, LeadFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

QUOTED = (
    "Yes, tell me more about the audit.\n\n"
    "On Mon, 7 Dec 2026 at 09:00, Sam <sam@client.example.com> wrote:\n> Hi Pat, open to a chat?"
)


def enrolled_lead(client: Client | None = None, **fields) -> Lead:
    lead = LeadFactory.create(client=client or ClientFactory(), **fields)
    allocate_lead(lead)
    return Lead.objects.get(pk=lead.pk)


def a_reply(
    lead: Lead | None = None, text: str = QUOTED, *, at: datetime | None = None, subject: str = "Faster follow-up"
):
    """A reply recorded as the webhooks record one (events.record_read_reply), to an email we sent."""
    lead = lead or enrolled_lead()
    at = at or timezone.now()
    sent = ActivityFactory.create(
        lead=lead, content_snapshot={"subject": subject, "body": f"Hi {lead.first_name}, open to a chat?"},
        created_at=at - timedelta(days=1),
    )  # fmt: skip
    recorded = events.record_read_reply(
        lead, read_reply(text, at=at, channel="email"), channel="email", provider="postmark",
        event_id=f"reply-{uuid.uuid4()}", at=at, answers=sent, metadata={"text": text, "subject": f"Re: {subject}"},
    )  # fmt: skip
    return recorded.activity


def reloaded(reply: Activity) -> Activity:
    return inbox.replies().get(pk=reply.pk)


# --- the text, stored as text ------------------------------------------------------------------------


def test_a_reply_keeps_its_text_as_text():
    reply = a_reply(text="Sounds good, send pricing")
    assert Activity.objects.get(pk=reply.pk).reply_text == "Sounds good, send pricing"


def test_a_reply_asking_to_stop_keeps_its_text_on_the_opt_out():
    reply = a_reply(text="Please remove me from your list")
    stored = Activity.objects.get(pk=reply.pk)
    assert stored.action == "opted_out" and stored.reply_text == "Please remove me from your list"


def test_nul_and_lone_surrogates_are_cleaned_when_saved():
    lead = LeadFactory()
    recorded = events.record_outcome(
        lead, action="email_replied", channel="email", provider="p", event_id="nul-1", at=timezone.now(),
        reply_text="fine\x00 by me \ud800!",
    )  # fmt: skip
    saved = ActivityFactory(lead=lead, action="sms_replied", channel="sms", reply_text="a\x00b")
    assert Activity.objects.get(pk=recorded.activity.pk).reply_text == "fine by me \ufffd!"
    assert Activity.objects.get(pk=saved.pk).reply_text == "ab"


def test_a_tracking_event_on_the_fast_path_is_stored_with_an_empty_reply_text():
    sent = ActivityFactory(provider_message_id="msg-fast")
    assert events.record_message_event(
        message_id="msg-fast", channel="email", action="email_opened", provider="postmark", event_id="o1",
        at=timezone.now(), metadata={},
    )  # fmt: skip
    assert Activity.objects.get(in_reply_to=sent, action="email_opened").reply_text == ""


def test_the_migration_fills_the_text_of_replies_stored_before_it():
    migration = importlib.import_module("outreach.migrations.0015_activity_reply_text")
    lead = LeadFactory()
    old = ActivityFactory(lead=lead, action="email_replied", metadata={"text": "Call me next week", "intent": "later"})
    sms = ActivityFactory(lead=lead, action="sms_replied", channel="sms", metadata={"text": "yes"})
    stop = ActivityFactory(lead=lead, action="opted_out", metadata={"text": "remove me", "via": "reply"})
    kept = ActivityFactory(lead=lead, action="email_replied", metadata={"text": "old"}, reply_text="already")
    sent = ActivityFactory(lead=lead, action="email_sent", metadata={"text": "not a reply"})
    bare = ActivityFactory(lead=lead, action="linkedin_replied", channel="linkedin", metadata={})
    migration.BATCH = 2  # several pages
    migration.fill_reply_text(django_apps, None)
    texts = dict(Activity.objects.filter(lead=lead).values_list("pk", "reply_text"))
    assert texts[old.pk] == "Call me next week" and texts[sms.pk] == "yes" and texts[stop.pk] == "remove me"
    assert texts[kept.pk] == "already" and texts[sent.pk] == "" and texts[bare.pk] == ""


# --- listing ------------------------------------------------------------------------------------------


def test_replies_of_several_clients_newest_first_with_the_message_they_answered():
    now = timezone.now()
    first, second = ClientFactory(name="Harbour Dental"), ClientFactory(name="Rival Legal")
    old = a_reply(enrolled_lead(first), "Not now", at=now - timedelta(hours=3), subject="Old subject")
    new = a_reply(enrolled_lead(second), "Yes please", at=now - timedelta(hours=1), subject="New subject")
    middle = a_reply(enrolled_lead(first), "Who is this?", at=now - timedelta(hours=2))
    listed = list(inbox.replies())
    assert [reply.pk for reply in listed] == [new.pk, middle.pk, old.pk]
    view = inbox.describe(listed[0])
    assert view.new_text == "Yes please" and view.answered is not None
    assert view.answered.subject == "New subject" and "open to a chat?" in view.answered.body
    assert [reply.pk for reply in inbox.replies(Client.objects.filter(pk=first.pk))] == [middle.pk, old.pk]


def test_the_quoted_history_is_kept_apart():
    view = inbox.describe(reloaded(a_reply(text=QUOTED)))
    assert view.new_text == "Yes, tell me more about the audit."
    assert view.quoted_text.startswith("On Mon, 7 Dec 2026") and "> Hi Pat" in view.quoted_text
    assert inbox.split_reply("just this") == ("just this", "")


def test_waiting_replies_are_those_nobody_decided_whose_lead_still_replied():
    waiting, decided = a_reply(), a_reply()
    inbox.decide(decided, "interested", by=StaffUserFactory())
    assert [reply.pk for reply in inbox.replies(show="waiting")] == [waiting.pk]
    assert [reply.pk for reply in inbox.replies(show="decided")] == [decided.pk]
    assert inbox.describe(reloaded(waiting)).waiting and not inbox.describe(reloaded(decided)).waiting


def test_search_finds_a_reply_by_a_phrase_of_its_text():
    found = a_reply(text="Could you send the PRICING sheet for Sydney?")
    a_reply(text="Not interested, thanks")
    assert [reply.pk for reply in inbox.replies(query="pricing sheet")] == [found.pk]
    assert list(inbox.replies(query="pricing\x00 sheet"))  # a NUL typed in the box is dropped, not sent
    assert not inbox.replies(query="brochure").exists()


# --- the intent ---------------------------------------------------------------------------------------


def test_a_person_corrects_the_intent_and_the_reading_is_kept():
    reply = a_reply(text="Who is this?")
    user = StaffUserFactory(username="alex")
    assert inbox.set_intent(reply, "interested", by=user)
    metadata = Activity.objects.get(pk=reply.pk).metadata
    assert metadata["intent"] == "interested" and metadata["intent_read"] == "unknown"
    assert metadata["intent_set"]["by"] == "alex"
    assert not inbox.set_intent(reply, "interested", by=user)
    with pytest.raises(JourneyError):
        inbox.set_intent(reply, "maybe", by=user)


# --- decisions ----------------------------------------------------------------------------------------


def test_interested_is_recorded_with_who_and_when_and_changes_no_contact_state():
    reply = a_reply()
    user = StaffUserFactory(username="alex")
    decided = inbox.decide(reply, "interested", by=user, seen=0)
    assert decided.applied
    decision = Activity.objects.get(pk=reply.pk).metadata["decision"]
    assert decision["decision"] == "interested" and decision["by"] == "alex" and decision["by_id"] == user.pk
    assert decision["at"]
    assert Lead.objects.get(pk=reply.lead_id).status == "replied"


def test_a_double_submit_applies_once():
    reply = a_reply()
    user = StaffUserFactory()
    first = inbox.decide(reply, "meeting_booked", by=user, seen=0)
    again = inbox.decide(reply, "meeting_booked", by=user, seen=0)
    assert first.applied and not again.applied
    assert Activity.objects.filter(lead_id=reply.lead_id, action="meeting_booked").count() == 1
    assert len(Activity.objects.get(pk=reply.pk).metadata["decisions"]) == 1
    assert not inbox.decide(reply, "meeting_booked", by=user).applied  # the last decision, repeated


def test_a_decision_taken_meanwhile_refuses_a_stale_page():
    reply = a_reply()
    inbox.decide(reply, "interested", by=StaffUserFactory(username="sam"), seen=0)
    with pytest.raises(JourneyError) as refused:
        inbox.decide(reply, "unsubscribe", by=StaffUserFactory(), seen=0)
    assert refused.value.reason == "decided_meanwhile" and "sam" in str(refused.value)
    assert not Lead.objects.get(pk=reply.lead_id).is_unsubscribed
    assert inbox.decide(reply, "not_interested", by=StaffUserFactory(), seen=1).applied


def test_unsubscribe_unsubscribes_the_lead_and_cancels_its_planned_touches():
    lead = enrolled_lead()
    # A reply recorded without ending the sequence (imported late, say): its lead still has steps planned.
    reply = ActivityFactory(lead=lead, action="email_replied", reply_text="stop please")
    assert ScheduledTouch.objects.filter(lead=lead, status="planned").exists()
    inbox.decide(reply, "unsubscribe", by=StaffUserFactory(), seen=0)
    lead.refresh_from_db()
    assert lead.is_unsubscribed
    assert not ScheduledTouch.objects.filter(lead=lead, status="planned").exists()
    assert set(ScheduledTouch.objects.filter(lead=lead).values_list("reason", flat=True)) == {"unsubscribed"}
    assert Activity.objects.filter(lead=lead, action="opted_out", provider="inbox").count() == 1


def test_later_pauses_a_new_enrollment_until_the_date_and_it_resumes_then():
    reply = a_reply(text="Try me next quarter")
    lead = Lead.objects.get(pk=reply.lead_id)
    assert not Enrollment.objects.filter(lead=lead, state__in=("active", "paused")).exists()
    day = timezone.localdate() + timedelta(days=20)
    user = StaffUserFactory(username="alex")
    decided = inbox.decide(reply, "later", by=user, seen=0, until=day, note="asked for Q2")
    assert decided.applied
    paused = Enrollment.objects.get(lead=lead, state="paused")
    expected = datetime.combine(day, time.min, tzinfo=lead_timezone(lead, lead.client))
    assert paused.resume_at == expected
    assert not ScheduledTouch.objects.filter(enrollment=paused, status="planned").exists()
    assert set(JourneyEvent.objects.filter(lead=lead).values_list("action", "by_id")) == {
        ("reenrolled", user.pk), ("paused", user.pk)
    }  # fmt: skip
    assert Activity.objects.get(pk=reply.pk).metadata["decision"]["until"] == day.isoformat()
    assert actions.resume_due(now=expected + timedelta(minutes=1)) == 1
    assert Enrollment.objects.get(pk=paused.pk).state == "active"
    assert ScheduledTouch.objects.filter(enrollment=paused, status="planned").exists()


def test_later_pauses_an_active_enrollment():
    lead = enrolled_lead()
    reply = ActivityFactory(lead=lead, action="email_replied", reply_text="later")
    day = timezone.localdate() + timedelta(days=5)
    inbox.decide(reply, "later", by=None, until=day)
    assert Enrollment.objects.filter(lead=lead).count() == 1
    assert Enrollment.objects.get(lead=lead).state == "paused"


def test_later_needs_a_date_after_today_and_changes_nothing_without_one():
    reply = a_reply()
    for until in (None, timezone.localdate() - timedelta(days=1)):
        with pytest.raises(JourneyError):
            inbox.decide(reply, "later", by=None, seen=0, until=until)
    assert "decision" not in Activity.objects.get(pk=reply.pk).metadata
    assert not Enrollment.objects.filter(lead_id=reply.lead_id, state="paused").exists()


def test_a_refusal_of_the_journey_service_records_no_decision():
    reply = a_reply()
    Lead.objects.filter(pk=reply.lead_id).update(do_not_contact=True)
    with pytest.raises(JourneyError):
        inbox.decide(reply, "later", by=None, seen=0, until=timezone.localdate() + timedelta(days=3))
    assert "decision" not in Activity.objects.get(pk=reply.pk).metadata


def test_meeting_booked_converts_the_lead():
    reply = a_reply()
    inbox.decide(reply, "meeting_booked", by=StaffUserFactory(), seen=0)
    lead = Lead.objects.get(pk=reply.lead_id)
    assert lead.status == "converted" and lead.converted_at is not None


@pytest.mark.parametrize("decision", ["not_interested", "wrong_person"])
def test_not_interested_and_wrong_person_stop_an_open_enrollment(decision):
    lead = enrolled_lead()
    reply = ActivityFactory(lead=lead, action="sms_replied", channel="sms", reply_text="no")
    user = StaffUserFactory()
    inbox.decide(reply, decision, by=user, seen=0)
    assert Enrollment.objects.get(lead=lead).state == "stopped"
    assert JourneyEvent.objects.get(lead=lead, action="stopped").reason == decision


def test_not_interested_after_a_reply_closes_the_lead():
    reply = a_reply(text="No thanks")
    inbox.decide(reply, "not_interested", by=None, seen=0)
    assert Lead.objects.get(pk=reply.lead_id).status == "closed"
    assert Activity.objects.get(pk=reply.pk).metadata["decision"]["decision"] == "not_interested"


def test_an_unknown_decision_is_refused():
    with pytest.raises(JourneyError):
        inbox.decide(a_reply(), "maybe", by=None)
