"""Email threading: every email carries our own Message-ID, and a follow-up of an enrollment replies in the thread
of the enrollment's first email (In-Reply-To, References, "Re:" subject) unless its template starts a new one."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from engines.rules.email_threads import EarlierEmail, bare_message_id, new_message_id, reply_subject, thread_for
from engines.services.sending.dispatcher import dispatch_due_touches
from engines.services.sending.email import send_email
from engines.services.sending.outbox import deliver_touch
from outreach.models import Activity, Lead, ScheduledTouch
from tests.engines.providers.fakes import http_response
from tests.factories import (
    ActivityFactory,
    ClientFactory,
    EnrollmentFactory,
    LeadFactory,
    MessageTemplateFactory,
    ScheduledTouchFactory,
)

pytestmark = pytest.mark.django_db

# Wednesday 4 March 2026, 10:30 in Sydney: a working day, inside contact hours.
NOW = datetime(2026, 3, 4, 10, 30, tzinfo=ZoneInfo("Australia/Sydney"))
DAY = timedelta(days=1)


@pytest.fixture
def anymail_test_backend(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.PUBLIC_BASE_URL = "https://outreach.example.com"
    mail.outbox = []


def templates(client, *, steps=3, threads=None):
    """An email template per step 1..steps, each with its own subject and body; `threads` sets email_thread by
    step (the default is "reply")."""
    for number in range(1, steps + 1):
        MessageTemplateFactory(
            client=client,
            channel="email",
            touch_number=number,
            subject=f"Step {number} for {{first_name}}",
            body=f"Hi {{first_name}}, step {number} of a friendly note. Worth a chat?",
            email_thread=(threads or {}).get(number, "reply"),
        )


def enrolled(*, steps=3, threads=None, client=None, lead=None):
    """A lead enrolled in `steps` email steps, step n due n-1 days after NOW, with a template per step."""
    if client is None:
        client = ClientFactory(name="Blue Gum Physio", sending_email="hello@bluegum.example.com")
        templates(client, steps=steps, threads=threads)
    lead = lead or LeadFactory(client=client, first_name="Priya")
    sequence_id = uuid.uuid4()
    return [
        ScheduledTouchFactory(
            lead=lead,
            client=client,
            sequence_id=sequence_id,
            touch_number=number,
            scheduled_at=NOW + (number - 1) * DAY,
        )
        for number in range(1, steps + 1)
    ]


def headers(message):
    return message.extra_headers


def sent_activity(touch):
    return Activity.objects.get(pk=ScheduledTouch.objects.get(pk=touch.pk).activity_id)


def sent_before(touch, **activity_fields):
    """Record `touch` as sent already, with an Activity of these fields (as a send before this run would)."""
    activity = ActivityFactory(
        lead=touch.lead, sequence_id=touch.sequence_id, touch_number=touch.touch_number, **activity_fields
    )
    ScheduledTouch.objects.filter(pk=touch.pk).update(status="sent", activity=activity)
    Lead.objects.filter(pk=touch.lead_id).update(touch_count=1, status="in_sequence")


def dispatch_day(day):
    counts = dispatch_due_touches(now=NOW + day * DAY, threads=1)
    assert counts["sent"] >= 1, counts


# --- the rules --------------------------------------------------------------------------------------------------


def test_message_ids_are_made_on_the_sender_domain_and_stored_bare():
    made = new_message_id("Hello@BlueGum.example.com")
    assert made.endswith("@bluegum.example.com") and "<" not in made and ">" not in made
    assert new_message_id("hello@bücher.example").endswith("@xn--bcher-kva.example")
    assert new_message_id("a@x.example") != new_message_id("a@x.example")
    assert bare_message_id(" <abc@x.example> ") == bare_message_id("abc@x.example") == "abc@x.example"


@pytest.mark.parametrize(
    "subject, expected",
    [
        ("Quick question", "Re: Quick question"),
        ("Re: Quick question", "Re: Quick question"),
        ("RE: Quick question", "RE: Quick question"),
        ("re : Quick question", "re : Quick question"),
        ("Regarding your clinic", "Re: Regarding your clinic"),
    ],
)
def test_a_reply_subject_gets_one_re(subject, expected):
    assert reply_subject(subject) == expected


def test_the_chain_is_the_first_email_then_the_follow_ups_that_replied_in_its_thread():
    earlier = [
        EarlierEmail(1, "one@x", "Hello", "new"),
        EarlierEmail(2, "two@x", "Other", "new"),  # its own thread: not part of the first one's
        EarlierEmail(3, "three@x", "Re: Hello", "reply"),
    ]
    threaded = thread_for("Step 4", earlier, mode="reply")
    assert threaded.subject == "Re: Hello" and threaded.thread == "reply"
    assert threaded.headers == {"In-Reply-To": "<three@x>", "References": "<one@x> <three@x>"}
    assert thread_for("Step 4", earlier, mode="new").headers == {}
    assert thread_for("Step 1", [], mode="reply").subject == "Step 1"


# --- sending ----------------------------------------------------------------------------------------------------


def test_the_first_email_carries_our_message_id_and_starts_a_thread(anymail_test_backend):
    [touch] = enrolled(steps=1)

    dispatch_day(0)

    [message] = mail.outbox
    activity = sent_activity(touch)
    assert headers(message)["Message-ID"] == f"<{activity.message_id}>"
    assert activity.message_id.endswith("@bluegum.example.com")
    assert "In-Reply-To" not in headers(message) and "References" not in headers(message)
    assert message.subject == activity.content_snapshot["subject"] == "Step 1 for Priya"
    assert activity.content_snapshot["thread"] == "new"
    assert Activity.objects.get(message_id=activity.message_id) == activity  # found again by the id, as stored


def test_the_second_and_third_emails_reply_in_the_first_ones_thread(anymail_test_backend):
    first, second, third = enrolled()

    for day in range(3):
        dispatch_day(day)

    one, two, three = mail.outbox
    ids = [sent_activity(touch).message_id for touch in (first, second, third)]
    assert len(set(ids)) == 3 and all(ids)
    assert [headers(message)["Message-ID"] for message in (one, two, three)] == [f"<{id_}>" for id_ in ids]
    assert (headers(two)["In-Reply-To"], headers(three)["In-Reply-To"]) == (f"<{ids[0]}>", f"<{ids[1]}>")  # the parent
    assert headers(two)["References"] == f"<{ids[0]}>"
    assert headers(three)["References"] == f"<{ids[0]}> <{ids[1]}>"
    assert two.subject == three.subject == "Re: Step 1 for Priya"
    for touch, message in ((second, two), (third, three)):
        snapshot = sent_activity(touch).content_snapshot
        assert (snapshot["subject"], snapshot["thread"]) == (message.subject, "reply")
    # The body is still each step's own.
    assert two.body.startswith("Hi Priya, step 2") and three.body.startswith("Hi Priya, step 3")


def test_a_template_on_new_starts_a_new_thread_and_the_next_reply_skips_it(anymail_test_backend):
    first, second, third = enrolled(threads={2: "new"})

    for day in range(3):
        dispatch_day(day)

    _, two, three = mail.outbox
    assert "In-Reply-To" not in headers(two) and "References" not in headers(two)
    assert two.subject == "Step 2 for Priya"
    assert sent_activity(second).content_snapshot["thread"] == "new"
    first_id = sent_activity(first).message_id
    assert (headers(three)["In-Reply-To"], headers(three)["References"]) == (f"<{first_id}>", f"<{first_id}>")
    assert three.subject == "Re: Step 1 for Priya"


def test_a_first_subject_that_already_reads_re_gets_no_second_re(anymail_test_backend):
    client = ClientFactory()
    MessageTemplateFactory(client=client, touch_number=1, subject="Re: our chat, {first_name}")
    MessageTemplateFactory(client=client, touch_number=2, subject="ignored", body="A second note, {first_name}.")
    enrolled(steps=2, client=client)

    dispatch_day(0)
    dispatch_day(1)

    assert [message.subject for message in mail.outbox] == ["Re: our chat, Priya"] * 2
    assert "In-Reply-To" in headers(mail.outbox[1])


def test_another_enrollment_of_the_same_lead_starts_its_own_thread(anymail_test_backend):
    [first] = enrolled(steps=1)
    templates_client = first.client
    MessageTemplateFactory(client=templates_client, touch_number=2, subject="Back again, {first_name}")
    dispatch_day(0)  # its only step: the first enrollment finishes
    lead = Lead.objects.get(pk=first.lead_id)
    again = EnrollmentFactory(lead=lead, sequence_id=uuid.uuid4())
    touch = ScheduledTouchFactory(
        lead=lead, enrollment=again, sequence_id=again.sequence_id, touch_number=2, scheduled_at=NOW + DAY
    )

    dispatch_day(1)

    _, other = mail.outbox
    assert "In-Reply-To" not in headers(other) and other.subject == "Back again, Priya"
    assert sent_activity(touch).content_snapshot["thread"] == "new"


def test_earlier_emails_without_a_message_id_leave_a_follow_up_to_start_a_thread(anymail_test_backend):
    first, second = enrolled(steps=2)
    # Sent before Message-IDs were ours: nothing to thread on.
    sent_before(first, message_id="", content_snapshot={"subject": "Old"})

    dispatch_day(1)

    [message] = mail.outbox
    assert message.subject == "Step 2 for Priya" and "In-Reply-To" not in headers(message)
    assert headers(message)["Message-ID"] == f"<{sent_activity(second).message_id}>"


def test_the_single_touch_path_threads_too(anymail_test_backend):
    first, second = enrolled(steps=2)
    dispatch_day(0)
    ScheduledTouch.objects.filter(pk=second.pk).update(status="sending")
    second.refresh_from_db()

    with CaptureQueriesContext(connection) as queries:
        activity = deliver_touch(second, now=NOW + DAY)

    reply = mail.outbox[-1]
    assert headers(reply)["In-Reply-To"] == f"<{sent_activity(first).message_id}>"
    assert activity.content_snapshot["subject"] == reply.subject == "Re: Step 1 for Priya"
    assert len([q for q in queries.captured_queries if is_thread_read(q["sql"])]) == 1


def test_send_email_threads_by_its_sequence_and_may_start_a_new_one(anymail_test_backend):
    lead = LeadFactory(client=ClientFactory(sending_email="hi@sender.example.com"), first_name="Priya")
    sequence_id = uuid.uuid4()
    first = send_email(lead, lead.client, "Hello", "One", touch_number=1, sequence_id=sequence_id, now=NOW)
    reply = send_email(lead, lead.client, "Ignored", "Two", touch_number=2, sequence_id=sequence_id, now=NOW + DAY)
    fresh = send_email(
        lead, lead.client, "Fresh", "Three", touch_number=3, sequence_id=sequence_id, now=NOW + 2 * DAY, thread="new"
    )

    assert first.message_id.endswith("@sender.example.com")
    assert (reply.content_snapshot["subject"], reply.content_snapshot["thread"]) == ("Re: Hello", "reply")
    assert headers(mail.outbox[1])["In-Reply-To"] == f"<{first.message_id}>"
    assert (fresh.content_snapshot["subject"], fresh.content_snapshot["thread"]) == ("Fresh", "new")
    # Without a sequence an email has nothing to follow.
    alone = send_email(lead, lead.client, "Alone", "Four", touch_number=4, now=NOW + 3 * DAY)
    assert alone.content_snapshot["thread"] == "new" and alone.message_id


def test_through_a_real_esp_the_thread_headers_are_in_the_payload(postmark):
    first, second = enrolled(steps=2)
    postmark.responses += [
        http_response(200, {"ErrorCode": 0, "Message": "OK", "MessageID": f"pm-{n}", "To": first.lead.email})
        for n in (1, 2)
    ]

    dispatch_day(0)
    dispatch_day(1)

    one, two = (postmark.sent_json(index) for index in (0, 1))
    first_activity, second_activity = sent_activity(first), sent_activity(second)
    assert (first_activity.provider_message_id, second_activity.provider_message_id) == ("pm-1", "pm-2")
    one_headers = {h["Name"]: h["Value"] for h in one["Headers"]}
    two_headers = {h["Name"]: h["Value"] for h in two["Headers"]}
    assert one_headers["Message-ID"] == f"<{first_activity.message_id}>" and "In-Reply-To" not in one_headers
    assert two_headers["Message-ID"] == f"<{second_activity.message_id}>"
    assert two_headers["In-Reply-To"] == two_headers["References"] == f"<{first_activity.message_id}>"
    assert two["Subject"] == "Re: Step 1 for Priya"


# --- one read per batch -----------------------------------------------------------------------------------------


def is_thread_read(sql):
    """The read of earlier emails: a SELECT of activities that filters on their Message-ID."""
    return sql.lstrip().upper().startswith("SELECT") and '"outreach_activity"."message_id" =' in sql


def batch_queries(size, *, follow_up):
    """The queries of one dispatcher run sending `size` email touches of as many leads: their first step, or
    their second after a first sent with a Message-ID."""
    client = ClientFactory()
    templates(client, steps=2)
    for _ in range(size):
        first, second = enrolled(steps=2, client=client)
        if follow_up:
            sent_before(
                first, message_id=f"{uuid.uuid4()}@x.example", content_snapshot={"subject": "Step 1", "thread": "new"}
            )
        else:
            ScheduledTouch.objects.filter(pk=second.pk).delete()
    with CaptureQueriesContext(connection) as captured:
        counts = dispatch_due_touches(now=NOW + DAY, threads=1)
    assert counts["sent"] == size, counts
    return [query["sql"] for query in captured.captured_queries]


def test_the_dispatcher_reads_earlier_emails_once_per_batch(anymail_test_backend):
    first_one, first_four = batch_queries(1, follow_up=False), batch_queries(4, follow_up=False)
    follow_one, follow_four = batch_queries(1, follow_up=True), batch_queries(4, follow_up=True)

    assert [sum(map(is_thread_read, run)) for run in (first_one, first_four, follow_one, follow_four)] == [0, 0, 1, 1]
    # Threading adds nothing per touch: four follow-ups cost over one what four first emails cost over one.
    assert len(follow_four) - len(follow_one) == len(first_four) - len(first_one)
    assert all("In-Reply-To" in headers(message) for message in mail.outbox[-4:])
