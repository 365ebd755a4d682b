from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import requests

from engines.exceptions import InvalidTouch, ProviderError, SendBlocked
from engines.providers.sms import RecordingSmsProvider, TwilioSmsProvider
from engines.services.sending.sms import GSM7_EXTENSION, send_sms, sms_encoding, sms_segment_count
from outreach.models import Activity, Lead
from tests.engines.providers.fakes import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioHttp, twilio_error, twilio_message
from tests.factories import ClientFactory, LeadFactory, ScheduledTouchFactory

pytestmark = pytest.mark.django_db

SYDNEY = ZoneInfo("Australia/Sydney")
NEW_YORK = ZoneInfo("America/New_York")
# Wednesday 4 March 2026, 10:30 in Sydney: inside Australian contact hours.
NOW = datetime(2026, 3, 4, 10, 30, tzinfo=SYDNEY)


@pytest.fixture
def twilio():
    """A real TwilioSmsProvider whose HTTP layer is fake."""
    http = FakeTwilioHttp()
    return http, TwilioSmsProvider(ACCOUNT_SID, AUTH_TOKEN, http_client=http)


def assert_untouched(lead, *, sms_opted_out=False):
    lead = Lead.objects.get(pk=lead.pk)
    assert (lead.touch_count, lead.last_contacted_at, lead.status) == (0, None, "new")
    assert lead.sms_opted_out is sms_opted_out


# --- segments -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, segments",
    [
        ("", 0),
        ("a", 1),
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 306, 2),
        ("a" * 307, 3),
        ("é" * 160, 1),  # é is in the GSM-7 alphabet
        ("€" * 80, 1),  # the euro sign is an extension character: two septets
        ("€" * 81, 2),
        ("a" * 159 + "€", 2),
        ("a" * 151 + "€" + "a" * 151, 2),  # 304 septets: the escape pair ends the first part exactly
        ("a" * 152 + "€" + "a" * 152, 3),  # 306 septets, but the pair is never split across two parts
        ("ж" * 70, 1),  # Cyrillic: UCS-2
        ("ж" * 71, 2),
        ("ж" * 134, 2),
        ("ж" * 135, 3),
        ("a" * 69 + "ç", 1),  # ç is not GSM-7: the whole message switches to UCS-2
        ("a" * 70 + "ç", 2),
        ("😀" * 35, 1),  # an emoji is two UTF-16 code units
        ("😀" * 36, 2),
        ("a" * 66 + "😀" + "a" * 66, 3),  # 134 code units, but the emoji is never split across two parts
    ],
)
def test_segment_count(text, segments):
    assert sms_segment_count(text) == segments


@pytest.mark.parametrize("char", sorted(GSM7_EXTENSION))
def test_every_extension_character_takes_two_septets(char):
    assert sms_segment_count(char * 80) == 1
    assert sms_segment_count(char * 80 + "a") == 2


def test_encoding():
    assert sms_encoding("Hi {Jo}, 50€ off!") == "GSM-7"
    assert sms_encoding("Hi Zoë 😀") == "UCS-2"


# --- sending --------------------------------------------------------------------------------


def test_sends_through_twilio_and_records_the_touch(twilio):
    http, provider = twilio
    http.responses.append(twilio_message(sid="SM" + "1" * 32))
    lead = LeadFactory(first_name="Mei", company_name="Northwind", phone="+61 412 345 678")
    message = "Hi Mei, quick call this week about Northwind's pipeline? Reply STOP to opt out"

    activity = send_sms(lead, lead.client, message, touch_number=3, now=NOW, provider=provider)

    [request] = http.requests
    assert request["method"] == "POST"
    assert request["url"] == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request["data"] == {"To": "+61412345678", "From": lead.client.sending_phone, "Body": message}
    assert request["auth"] == (ACCOUNT_SID, AUTH_TOKEN)

    activity.refresh_from_db()
    assert (activity.action, activity.channel, activity.touch_number) == ("sms_sent", "sms", 3)
    assert activity.provider_message_id == "SM" + "1" * 32
    assert activity.metadata["provider_message_id"] == activity.provider_message_id
    snapshot = activity.content_snapshot
    assert snapshot["body"] == message
    assert snapshot["char_count"] == len(message)
    assert (snapshot["segment_count"], snapshot["encoding"]) == (1, "GSM-7")
    assert snapshot["cta_used"] == "quick call"
    assert snapshot["pain_points_used"] == ["leads"]
    assert snapshot["has_first_name"] and snapshot["has_company_mention"]
    assert (snapshot["day_of_week"], snapshot["hour_of_day"]) == ("Wednesday", 10)

    lead.refresh_from_db()
    assert (lead.touch_count, lead.status, lead.last_contacted_at) == (1, "in_sequence", NOW)


def test_the_provider_comes_from_settings(settings):
    settings.SMS_PROVIDER = "engines.providers.sms.RecordingSmsProvider"
    RecordingSmsProvider.outbox.clear()
    lead = LeadFactory()

    activity = send_sms(lead, lead.client, "Hello 😀", now=NOW)

    [sent] = RecordingSmsProvider.outbox
    assert sent["to"] == lead.phone and sent["body"] == "Hello 😀"
    assert activity.provider_message_id == sent["message_id"]
    assert activity.content_snapshot["encoding"] == "UCS-2"


@pytest.mark.parametrize(
    "fault, retryable",
    [
        (requests.exceptions.ReadTimeout("read timed out"), True),
        (twilio_error(429, 20429, "Too Many Requests"), True),
        (twilio_error(500, 20500, "Internal Server Error"), True),
        (twilio_error(503, 20503, "Service Unavailable"), True),
        (twilio_error(400, 21211, "Invalid 'To' Phone Number"), False),
    ],
    ids=["timeout", "429", "500", "503", "400"],
)
def test_provider_faults_record_nothing_and_leave_the_lead_untouched(twilio, fault, retryable):
    http, provider = twilio
    http.responses.append(fault)
    lead = LeadFactory()

    with pytest.raises(ProviderError) as raised:
        send_sms(lead, lead.client, "Hello", now=NOW, provider=provider)

    assert raised.value.retryable is retryable
    assert len(http.requests) == 1
    assert not Activity.objects.exists()
    assert_untouched(lead)


def test_a_recipient_who_texted_stop_is_marked_opted_out(twilio):
    http, provider = twilio
    http.responses.append(twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"))
    lead = LeadFactory()

    with pytest.raises(ProviderError) as raised:
        send_sms(lead, lead.client, "Hello", now=NOW, provider=provider)

    assert (raised.value.retryable, raised.value.code) == (False, 21610)
    assert not Activity.objects.exists()
    assert_untouched(lead, sms_opted_out=True)
    assert lead.sms_opted_out  # the caller's copy too

    stale = Lead.objects.get(pk=lead.pk)
    with pytest.raises(SendBlocked) as blocked:
        send_sms(stale, lead.client, "Hello again", now=NOW, provider=provider)
    assert blocked.value.reason == "sms_opted_out"
    assert len(http.requests) == 1


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"do_not_contact": True}, "do_not_contact"),
        ({"is_unsubscribed": True}, "unsubscribed"),
        ({"sms_opted_out": True}, "sms_opted_out"),
        ({"phone": ""}, "no_phone"),
        ({"phone": "0412 345 678"}, "no_phone"),  # not E.164: no country to dial
        ({"phone": "+6112"}, "no_phone"),
    ],
)
def test_blocked_leads_get_no_sms_and_no_record(twilio, change, reason):
    http, provider = twilio
    lead = LeadFactory(**change)

    with pytest.raises(SendBlocked) as raised:
        send_sms(lead, lead.client, "Hello", now=NOW, provider=provider)

    assert raised.value.reason == reason
    assert http.requests == []
    assert not Activity.objects.exists()
    assert_untouched(lead, sms_opted_out=change.get("sms_opted_out", False))


AU_LEAD = {"country": "Australia", "timezone": "Australia/Sydney", "phone": "+61412345678"}
US_LEAD = {"country": "United States", "timezone": "America/New_York", "phone": "+12125550123"}


@pytest.mark.parametrize(
    "lead_fields, local, allowed",
    [
        (AU_LEAD, datetime(2026, 3, 4, 9, 0, tzinfo=SYDNEY), True),  # Wednesday
        (AU_LEAD, datetime(2026, 3, 4, 8, 59, tzinfo=SYDNEY), False),
        (AU_LEAD, datetime(2026, 3, 4, 19, 59, tzinfo=SYDNEY), True),
        (AU_LEAD, datetime(2026, 3, 4, 20, 0, tzinfo=SYDNEY), False),
        (AU_LEAD, datetime(2026, 3, 7, 16, 59, tzinfo=SYDNEY), True),  # Saturday
        (AU_LEAD, datetime(2026, 3, 7, 17, 0, tzinfo=SYDNEY), False),
        (AU_LEAD, datetime(2026, 3, 8, 12, 0, tzinfo=SYDNEY), False),  # Sunday
        (AU_LEAD, datetime(2026, 1, 26, 12, 0, tzinfo=SYDNEY), False),  # Australia Day, a Monday
        (AU_LEAD, datetime(2026, 12, 25, 12, 0, tzinfo=SYDNEY), False),  # Christmas
        (US_LEAD, datetime(2026, 3, 4, 8, 0, tzinfo=NEW_YORK), True),
        (US_LEAD, datetime(2026, 3, 4, 7, 59, tzinfo=NEW_YORK), False),
        (US_LEAD, datetime(2026, 3, 4, 20, 59, tzinfo=NEW_YORK), True),
        (US_LEAD, datetime(2026, 3, 4, 21, 0, tzinfo=NEW_YORK), False),
        (US_LEAD, datetime(2026, 3, 8, 12, 0, tzinfo=NEW_YORK), True),  # Sunday is allowed in the US
    ],
)
def test_sms_only_inside_legal_contact_hours_in_the_leads_local_time(twilio, lead_fields, local, allowed):
    http, provider = twilio
    # The client is in Sydney: what counts is the lead's clock, not the client's.
    lead = LeadFactory(client=ClientFactory(timezone="Australia/Sydney"), **lead_fields)

    if allowed:
        send_sms(lead, lead.client, "Hello", now=local, provider=provider)
        assert len(http.requests) == 1
        return
    with pytest.raises(SendBlocked) as raised:
        send_sms(lead, lead.client, "Hello", now=local, provider=provider)
    assert raised.value.reason == "quiet_hours"
    assert http.requests == []
    assert not Activity.objects.exists()
    assert_untouched(lead)


@pytest.mark.parametrize("message", ["", "   ", "x" * 1601])
def test_an_empty_or_overlong_message_is_refused_before_sending(twilio, message):
    http, provider = twilio
    lead = LeadFactory()

    with pytest.raises(InvalidTouch):
        send_sms(lead, lead.client, message, now=NOW, provider=provider)
    assert http.requests == []


def test_a_client_without_a_sending_number_sends_nothing(twilio):
    http, provider = twilio
    lead = LeadFactory(client=ClientFactory(sending_phone=""))

    with pytest.raises(SendBlocked) as raised:
        send_sms(lead, lead.client, "Hello", now=NOW, provider=provider)
    assert raised.value.reason == "no_sender_phone"
    assert http.requests == []


def test_touch_count_is_incremented_in_the_database(twilio):
    http, provider = twilio
    lead = LeadFactory()
    first_copy, second_copy = Lead.objects.get(pk=lead.pk), Lead.objects.get(pk=lead.pk)

    send_sms(first_copy, lead.client, "One", touch_number=1, now=NOW, provider=provider)
    send_sms(second_copy, lead.client, "Two", touch_number=2, now=NOW, provider=provider)

    assert Lead.objects.get(pk=lead.pk).touch_count == 2
    assert Activity.objects.filter(lead=lead, action="sms_sent").count() == 2


def test_a_stop_reported_by_twilio_cancels_the_leads_other_sms_touches(twilio):
    http, provider = twilio
    http.responses.append(twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"))
    lead = LeadFactory()
    sms_touch = ScheduledTouchFactory(lead=lead, channel="sms", touch_number=3)
    email_touch = ScheduledTouchFactory(lead=lead, channel="email", touch_number=4)

    with pytest.raises(ProviderError):
        send_sms(lead, lead.client, "Hello", now=NOW, provider=provider)

    sms_touch.refresh_from_db()
    email_touch.refresh_from_db()
    assert (sms_touch.status, sms_touch.reason) == ("cancelled", "sms_opted_out")
    assert email_touch.status == "planned"


def test_an_sms_goes_only_to_a_usable_phone(twilio):
    http, provider = twilio
    lead = LeadFactory(phone_unusable=True)

    with pytest.raises(SendBlocked) as raised:
        send_sms(lead, lead.client, "Hello", now=NOW, provider=provider)

    assert raised.value.reason == "phone_unusable"
    assert http.requests == []
