"""Every way a lead's contact stops says why with one StopReason, through one owner (journey.contact.stop_contact).

Each stop path is driven from where it starts (the provider's webhook, the unsubscribe link, the send, the call,
the admin): the touches it cancels carry a member of StopReason, the lead's flag is set, and the enrollment ends
in the state the reason says, or stays active when only some channels stopped. The last tests read the code:
no old spelling is left, and every call that cancels or ends passes a StopReason, never a string of its own.
"""

from __future__ import annotations

import ast
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.test import Client as Browser
from django.urls import reverse

from engines.exceptions import ProviderError
from engines.providers.sms import SmsOptedOut
from engines.rules.compliance import channel_block_reason
from engines.services.journey import actions, contact
from engines.services.journey.contact import STOPS, stop_contact
from engines.services.sending.sms import send_sms
from engines.services.sending.unsubscribe import unsubscribe_token
from engines.services.sending.voice import complete_call
from outreach.models import Enrollment, Lead, ManualTask, ScheduledTouch, StopReason
from outreach.models.choices import CHANNEL_OPT_OUTS
from tests.engines.webhook_support import (
    CAL_SECRET,
    TWILIO_TOKEN,
    WEBHOOK_SECRET,
    cal_booking,
    cal_post,
    postmark_tracking,
    twilio_post,
)
from tests.factories import ActivityFactory, EnrollmentFactory, LeadFactory, ScheduledTouchFactory

pytestmark = pytest.mark.django_db

# Wednesday 4 March 2026, 10:30 in Sydney: inside Australian contact hours.
NOW = datetime(2026, 3, 4, 10, 30, tzinfo=ZoneInfo("Australia/Sydney"))
CLIENT_PHONE = "+61291234567"  # ClientFactory's sending phone
LEAD_PHONE = "+61412345678"  # LeadFactory's phone
ALL = {"email", "sms", "linkedin", "voice"}


@pytest.fixture(autouse=True)
def providers(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.PUBLIC_BASE_URL = "https://outreach.example.com"
    settings.CAL_COM_WEBHOOK_SECRET = CAL_SECRET


@dataclass
class Journey:
    """A lead in its enrollment: an email (step 1) and a text (step 2) went out; steps 3 to 6 (email, SMS,
    LinkedIn, a call) are planned and step 7, a call, waits on a person's open task."""

    lead: Lead
    enrollment: Enrollment
    email: str  # the provider message ids of what went out
    sms: str

    def cancelled(self) -> dict[str, str]:
        """The channel and reason of each cancelled step."""
        rows = ScheduledTouch.objects.filter(lead=self.lead, status="cancelled").values_list("channel", "reason")
        by_channel: dict[str, set[str]] = {}
        for channel, reason in rows:
            by_channel.setdefault(channel, set()).add(reason)
        assert all(len(reasons) == 1 for reasons in by_channel.values()), by_channel
        return {channel: reasons.pop() for channel, reasons in by_channel.items()}

    def planned(self) -> set[str]:
        return set(
            ScheduledTouch.objects.filter(lead=self.lead, status__in=("planned", "waiting")).values_list(
                "channel", flat=True
            )
        )

    def ended(self) -> tuple[str, str]:
        enrollment = Enrollment.objects.get(pk=self.enrollment.pk)
        return enrollment.state, enrollment.end_reason

    def refresh(self) -> Lead:
        return Lead.objects.get(pk=self.lead.pk)


@pytest.fixture
def journey() -> Journey:
    lead = LeadFactory.create(status="in_sequence")
    enrollment = EnrollmentFactory.create(lead=lead, planned_sequence="email>sms>email>sms>linkedin>voice>voice")
    sent = {}
    for number, channel in enumerate(("email", "sms"), start=1):
        sent[channel] = f"{channel}-{uuid.uuid4().hex}"
        activity = ActivityFactory.create(
            lead=lead, action=f"{channel}_sent", channel=channel, touch_number=number,
            sequence_id=enrollment.sequence_id, provider_message_id=sent[channel], created_at=NOW - timedelta(days=3),
        )  # fmt: skip
        step(enrollment, number, channel, status="sent", activity=activity)
    for number, channel in enumerate(("email", "sms", "linkedin", "voice"), start=3):
        step(enrollment, number, channel)
    call = step(enrollment, 7, "voice", status="waiting")
    ManualTask.objects.create(client=lead.client, lead=lead, scheduled_touch=call, kind="call", message="Call script")
    return Journey(Lead.objects.get(pk=lead.pk), enrollment, sent["email"], sent["sms"])


def step(enrollment: Enrollment, number: int, channel: str, **fields: object) -> ScheduledTouch:
    return ScheduledTouchFactory.create(
        lead=enrollment.lead, enrollment=enrollment, sequence_id=enrollment.sequence_id, touch_number=number,
        channel=channel, scheduled_at=NOW + timedelta(days=number), **fields,
    )  # fmt: skip


# ----------------------------------------------------------------------------
# Each stop path, from where it starts
# ----------------------------------------------------------------------------


def unsubscribe_link(journey: Journey, http: Browser) -> None:
    path = reverse("unsubscribe", args=[unsubscribe_token(journey.lead)])
    assert http.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200


def spam_complaint(journey: Journey, http: Browser) -> None:
    payload = {"RecordType": "SpamComplaint", "ID": 77, "Type": "SpamComplaint", "TypeCode": 512,
               "MessageID": journey.email, "Email": journey.lead.email}  # fmt: skip
    assert postmark_tracking(http, payload).status_code == 200


def hard_bounce(journey: Journey, http: Browser) -> None:
    payload = {"RecordType": "Bounce", "ID": 4323, "Type": "HardBounce", "TypeCode": 1,
               "MessageID": journey.email, "Email": journey.lead.email}  # fmt: skip
    assert postmark_tracking(http, payload).status_code == 200


def sms_stop(journey: Journey, http: Browser) -> None:
    inbound = {"MessageSid": "SMstop", "From": LEAD_PHONE, "To": CLIENT_PHONE, "Body": "STOP"}
    assert twilio_post(http, "twilio-sms-inbound", inbound).status_code == 200


def twilio_21610_status(journey: Journey, http: Browser) -> None:
    status = {"MessageSid": journey.sms, "MessageStatus": "undelivered", "ErrorCode": "21610", "To": LEAD_PHONE}
    assert twilio_post(http, "twilio-sms-status", status).status_code == 204


class OptedOutNumber:
    def send(self, *, to: str, from_: str, body: str) -> None:
        raise SmsOptedOut("21610: attempt to send to unsubscribed recipient", code=21610)


def twilio_21610_at_send(journey: Journey, http: Browser) -> None:
    with pytest.raises(ProviderError):
        send_sms(journey.lead, journey.lead.client, "Hi", now=NOW, provider=OptedOutNumber())  # type: ignore[arg-type]


def call(outcome: str):
    def completed(journey: Journey, http: Browser) -> None:
        complete_call(journey.lead, journey.lead.client, outcome=outcome, now=NOW)

    completed.__name__ = f"call_{outcome}"
    return completed


def sms_reply(journey: Journey, http: Browser) -> None:
    inbound = {"MessageSid": "SMreply", "From": LEAD_PHONE, "To": CLIENT_PHONE, "Body": "Sure, call me Tuesday"}
    assert twilio_post(http, "twilio-sms-inbound", inbound).status_code == 200


def booking(journey: Journey, http: Browser) -> None:
    assert (
        cal_post(http, cal_booking(journey.lead.email, organizer=journey.lead.client.sending_email)).status_code == 200
    )


def admin_do_not_contact(journey: Journey, http: Browser, admin_client: Browser) -> None:
    changelist = reverse("admin:outreach_lead_changelist")
    admin_client.post(changelist, {"action": "mark_do_not_contact", "_selected_action": [journey.lead.pk]})


def person_stops(journey: Journey, http: Browser) -> None:
    actions.stop(journey.lead, reason="not a fit")


def status_closed(journey: Journey, http: Browser) -> None:
    journey.lead.status = "closed"
    journey.lead.save()


VOICE = {"voice"}
# What each path cancels, with which reason, the flag it sets and the state the enrollment is left in.
PATHS = [
    (unsubscribe_link, StopReason.UNSUBSCRIBED, ALL, "is_unsubscribed", "opted_out"),
    (spam_complaint, StopReason.COMPLAINED, ALL, "is_unsubscribed", "opted_out"),
    (hard_bounce, StopReason.BOUNCED, {"email"}, "has_bounced", "active"),
    (sms_stop, StopReason.SMS_OPTED_OUT, {"sms"}, "sms_opted_out", "active"),
    (twilio_21610_status, StopReason.SMS_OPTED_OUT, {"sms"}, "sms_opted_out", "active"),
    (twilio_21610_at_send, StopReason.SMS_OPTED_OUT, {"sms"}, "sms_opted_out", "active"),
    (call("wrong_number"), StopReason.PHONE_UNUSABLE, {"sms", "voice"}, "phone_unusable", "active"),
    (call("do_not_call"), StopReason.VOICE_OPTED_OUT, VOICE, "voice_opted_out", "active"),
    (call("meeting_booked"), StopReason.CONVERTED, ALL, "", "converted"),
    (sms_reply, StopReason.REPLIED, ALL, "", "replied"),
    (booking, StopReason.CONVERTED, ALL, "", "converted"),
    (admin_do_not_contact, StopReason.DO_NOT_CONTACT, ALL, "do_not_contact", "opted_out"),
    (person_stops, StopReason.STOPPED, ALL, "", "stopped"),
    (status_closed, StopReason.CLOSED, ALL, "", "stopped"),
]


@pytest.mark.parametrize(("path", "reason", "channels", "flag", "state"), PATHS, ids=[p[0].__name__ for p in PATHS])
def test_each_stop_path_cancels_with_its_stop_reason_and_ends_the_enrollment_as_it_says(
    journey, client, admin_client, path, reason, channels, flag, state
):
    if path is admin_do_not_contact:
        path(journey, client, admin_client)
    else:
        path(journey, client)

    assert journey.cancelled() == dict.fromkeys(channels, reason)
    assert all(value in StopReason.values for value in journey.cancelled().values())
    assert journey.planned() == ALL - channels
    assert not flag or getattr(journey.refresh(), flag)
    assert journey.ended() == ((state, "") if state == "active" else (state, reason))
    skipped = ManualTask.objects.get(lead=journey.lead)
    assert (skipped.status, skipped.outcome) == (("skipped", reason) if "voice" in channels else ("open", ""))


def test_a_channel_only_stop_keeps_the_enrollment_and_the_other_channels(journey):
    cancelled = stop_contact(journey.lead, StopReason.VOICE_OPTED_OUT)  # "don't call me"

    assert cancelled == 2
    assert journey.cancelled() == {"voice": StopReason.VOICE_OPTED_OUT}
    assert journey.planned() == {"email", "sms", "linkedin"}
    assert journey.ended() == ("active", "")
    lead = journey.refresh()
    assert lead.voice_opted_out and lead.status == "in_sequence"
    assert channel_block_reason(lead, "voice") == StopReason.VOICE_OPTED_OUT
    assert channel_block_reason(lead, "email") is None


def test_a_channel_only_stop_of_the_last_steps_finishes_the_enrollment(journey):
    for reason in (StopReason.EMAIL_OPTED_OUT, StopReason.LINKEDIN_OPTED_OUT, StopReason.PHONE_UNUSABLE):
        stop_contact(journey.lead, reason)

    assert journey.planned() == set()
    assert journey.ended() == ("finished", StopReason.FINISHED)
    assert journey.refresh().status == "finished"


def test_a_stop_that_stopped_already_cancels_nothing_more(journey):
    assert stop_contact(journey.lead, StopReason.DO_NOT_CONTACT) == 5
    assert stop_contact(journey.lead, StopReason.DO_NOT_CONTACT) == 0
    assert journey.ended() == ("opted_out", StopReason.DO_NOT_CONTACT)


@pytest.mark.parametrize("reason", [StopReason.PAUSED, StopReason.REPLANNED, StopReason.COLLEAGUE_REPLIED])
def test_a_reason_that_does_not_stop_a_lead_is_refused(journey, reason):
    with pytest.raises(ValueError):
        stop_contact(journey.lead, reason)
    assert journey.cancelled() == {}


# ----------------------------------------------------------------------------
# The one table, read by the send gate and the fast path as well
# ----------------------------------------------------------------------------


def test_every_stop_flag_is_a_lead_flag_the_send_gate_reads_as_the_same_reason():
    lead_fields = {field.name for field in Lead._meta.get_fields()}
    for reason, stop in STOPS.items():
        if not stop.flag:
            continue
        assert stop.flag in lead_fields
        lead = LeadFactory.build(**{stop.flag: True})
        blocked = {channel: channel_block_reason(lead, channel) for channel in stop.channels or ALL}
        # A complaint sets the unsubscribe flag: the gate reads it as an unsubscribe.
        expected = StopReason.UNSUBSCRIBED if reason == StopReason.COMPLAINED else reason
        assert blocked == dict.fromkeys(stop.channels or ALL, expected), reason


def test_each_channel_opt_out_is_spelled_as_the_leads_flag():
    assert {channel: STOPS[reason].flag for channel, reason in CHANNEL_OPT_OUTS.items()} == {
        channel: f"{channel}_opted_out" for channel in ALL
    }
    assert all(STOPS[reason].flag == reason for reason in CHANNEL_OPT_OUTS.values())


def test_every_reason_fits_where_it_is_stored():
    assert max(len(value) for value in StopReason.values) <= ManualTask._meta.get_field("outcome").max_length
    assert ManualTask._meta.get_field("outcome").max_length <= ScheduledTouch._meta.get_field("reason").max_length


# ----------------------------------------------------------------------------
# The code says every stop with StopReason
# ----------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[3]
# The functions that cancel touches or end an enrollment, and where each takes its reason (keyword, position).
TAKE_A_STOP_REASON = {
    "stop_contact": 1,
    "cancel_planned_touches": None,
    "cancel_touches": None,
    "end_open_enrollment": None,
    "pause_colleagues": None,
}
OLD_SPELLINGS = re.compile(
    r"""["']opted_out_(email|sms|linkedin|voice)["']|f["']opted_out_|["']lead_converted["']"""
    r"""|reason\s*=\s*["'](wrong_number|do_not_call)["']"""
)


def product_sources() -> list[Path]:
    files = [*(ROOT / "engines").rglob("*.py"), *(ROOT / "outreach").rglob("*.py")]
    return sorted(path for path in files if "migrations" not in path.parts)


def test_no_old_spelling_of_a_stop_is_left():
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in product_sources()
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if OLD_SPELLINGS.search(line)
    ]
    assert found == []


def test_the_functions_that_stop_take_a_stop_reason():
    """mypy (strict on engines/) then refuses a plain string wherever they are called."""
    from engines.services.journey import colleagues, enrollments
    from engines.services.planning import touch_writer

    functions = [contact.stop_contact, contact.cancel_planned_touches, touch_writer.cancel_touches,
                 enrollments.end_open_enrollment, colleagues.pause_colleagues]  # fmt: skip
    assert {function.__name__ for function in functions} == set(TAKE_A_STOP_REASON)
    assert {function.__name__: function.__annotations__["reason"] for function in functions} == dict.fromkeys(
        TAKE_A_STOP_REASON, "StopReason"
    )


def test_every_call_that_cancels_or_ends_passes_a_stop_reason_not_a_string():
    members = set(StopReason.names)
    wrong = []
    calls = 0
    for path in product_sources():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name not in TAKE_A_STOP_REASON:
                continue
            calls += 1
            position = TAKE_A_STOP_REASON[name]
            given = [keyword.value for keyword in node.keywords if keyword.arg == "reason"]
            if position is not None and len(node.args) > position:
                given.append(node.args[position])
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if len(given) != 1:
                wrong.append(f"{where}: no reason")
                continue
            (reason,) = given
            is_member = (
                isinstance(reason, ast.Attribute)
                and isinstance(reason.value, ast.Name)
                and reason.value.id == "StopReason"
                and reason.attr in members
            )
            # A name or a look-up (a parameter, STOPS' key, LEAD_STATUS_STOPS[...]) is typed StopReason: mypy checks it.
            if not (is_member or isinstance(reason, (ast.Name, ast.Subscript))):
                wrong.append(f"{where}: {ast.unparse(reason)}")
    assert calls > 20 and wrong == []
