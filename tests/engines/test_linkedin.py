from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from engines.exceptions import InvalidTouch, ProviderError, SendBlocked
from engines.providers.linkedin import RecordingLinkedInBackend
from engines.services.sending.linkedin import send_linkedin
from engines.services.sending.linkedin_messages import CONNECTION_NOTE_LIMIT
from outreach.models import Activity, Lead, ManualTask
from tests.factories import LeadFactory, ScheduledTouchFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 4, 10, 30, tzinfo=ZoneInfo("Australia/Sydney"))


@pytest.fixture
def recording(settings):
    """An automation backend stand-in chosen in settings, as a real one would be."""
    settings.LINKEDIN_BACKEND = "engines.providers.linkedin.RecordingLinkedInBackend"
    RecordingLinkedInBackend.outbox.clear()
    return RecordingLinkedInBackend.outbox


def assert_untouched(lead):
    lead = Lead.objects.get(pk=lead.pk)
    assert (lead.touch_count, lead.last_contacted_at, lead.status) == (0, None, "new")


def test_by_default_a_touch_becomes_an_open_task_and_nothing_is_recorded_as_sent():
    lead = LeadFactory(first_name="Raj", company_name="Kestrel Legal")
    message = "Hi Raj, congrats on the new Kestrel Legal office. Happy to share what worked for other firms."

    task = send_linkedin(lead, lead.client, message, touch_number=2, now=NOW)

    assert isinstance(task, ManualTask)
    task.refresh_from_db()
    assert (task.kind, task.status, task.message, task.subject, task.due_at) == ("linkedin", "open", message, "", NOW)
    assert (task.lead, task.client) == (lead, lead.client)
    # The history claims nothing until a person sends it (engines.services.sending.manual_tasks.complete_task).
    assert not Activity.objects.exists()
    assert_untouched(lead)


def test_a_connection_request_is_analysed_on_its_note(recording):
    lead = LeadFactory(first_name="Ana")
    note = "Ana, a mutual connection said you are scaling the team. Open to a quick chat?"

    activity = send_linkedin(
        lead, lead.client, "Thanks for connecting!", message_type="connection_request", connection_note=note, now=NOW
    )

    [sent] = recording
    assert (sent["message_type"], sent["connection_note"], sent["profile_url"]) == (
        "connection_request",
        note,
        lead.linkedin_url,
    )
    snapshot = activity.content_snapshot
    assert (snapshot["body"], snapshot["connection_note"]) == ("Thanks for connecting!", note)
    assert snapshot["pain_points_used"] == ["scaling"]
    assert snapshot["cta_used"] == "open to a quick chat"
    assert snapshot["has_first_name"] and snapshot["has_mutual_connection"]
    assert (snapshot["word_count"], snapshot["char_count"]) == (len(note.split()), len(note))
    assert activity.metadata["delivery"] == "sent"
    assert activity.provider_message_id == sent["message_id"]


def test_a_connection_note_of_exactly_300_characters_is_accepted(recording):
    lead = LeadFactory()
    send_linkedin(
        lead, lead.client, "", message_type="connection_request", connection_note="x" * CONNECTION_NOTE_LIMIT, now=NOW
    )
    assert len(recording) == 1


def test_a_longer_connection_note_is_refused_before_anything_is_sent(recording):
    lead = LeadFactory()

    with pytest.raises(InvalidTouch, match="300 characters"):
        send_linkedin(
            lead,
            lead.client,
            "",
            message_type="connection_request",
            connection_note="x" * (CONNECTION_NOTE_LIMIT + 1),
            now=NOW,
        )

    assert recording == []
    assert not Activity.objects.exists()
    assert_untouched(lead)


@pytest.mark.parametrize(
    "kwargs",
    [{"message_type": "poke"}, {"message": "  "}, {"message_type": "inmail", "message": ""}, {"touch_number": 0}],
)
def test_invalid_touches_are_refused_before_anything_is_sent(recording, kwargs):
    lead = LeadFactory()
    arguments = {"message": "Hello", **kwargs}
    message = arguments.pop("message")

    with pytest.raises(InvalidTouch):
        send_linkedin(lead, lead.client, message, now=NOW, **arguments)
    assert recording == []
    assert not Activity.objects.exists()


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"do_not_contact": True}, "do_not_contact"),
        ({"is_unsubscribed": True}, "unsubscribed"),
        ({"linkedin_opted_out": True}, "linkedin_opted_out"),
        ({"linkedin_url": ""}, "no_linkedin"),
    ],
)
def test_blocked_leads_get_no_linkedin_touch_and_no_record(recording, change, reason):
    lead = LeadFactory(**change)

    with pytest.raises(SendBlocked) as raised:
        send_linkedin(lead, lead.client, "Hello", message_type="connection_request", connection_note="Hi", now=NOW)

    assert raised.value.reason == reason
    assert recording == []
    assert not Activity.objects.exists()
    assert_untouched(lead)


def test_an_automation_backend_failure_records_nothing():
    class FailingBackend:
        def send(self, **touch):
            raise ProviderError("automation service answered HTTP 503", retryable=True, code=503)

    lead = LeadFactory()

    with pytest.raises(ProviderError) as raised:
        send_linkedin(lead, lead.client, "Hi there", now=NOW, backend=FailingBackend())

    assert raised.value.retryable
    assert not Activity.objects.exists()
    assert_untouched(lead)


def test_a_connection_request_for_a_person_keeps_its_note_on_the_task():
    lead = LeadFactory()

    task = send_linkedin(
        lead,
        lead.client,
        "Thanks for connecting!",
        message_type="connection_request",
        connection_note="Hi Pat",
        now=NOW,
    )

    assert (task.subject, task.message, task.kind) == ("Hi Pat", "Thanks for connecting!", "linkedin")
    assert not Activity.objects.exists()


def test_a_touch_for_a_person_waits_with_its_task():
    touch = ScheduledTouchFactory(channel="linkedin", status="sending", touch_number=2)

    task = send_linkedin(touch.lead, touch.client, "Hi there", now=NOW, touch=touch)

    touch.refresh_from_db()
    assert (touch.status, task.scheduled_touch_id) == ("waiting", touch.pk)
    assert not Activity.objects.exists()


def test_an_automation_backend_sends_at_once_and_the_touch_is_recorded_sent(recording):
    touch = ScheduledTouchFactory(channel="linkedin", status="sending", touch_number=2)

    activity = send_linkedin(touch.lead, touch.client, "Hi there", now=NOW, touch=touch)

    [sent] = recording
    touch.refresh_from_db()
    assert (touch.status, touch.activity_id) == ("sent", activity.pk)
    assert (activity.action, activity.provider_message_id, activity.touch_number) == (
        "linkedin_sent",
        sent["message_id"],
        2,
    )
    assert activity.metadata["delivery"] == "sent"
    assert not ManualTask.objects.exists()
