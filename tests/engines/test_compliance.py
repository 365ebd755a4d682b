from datetime import date, datetime, time
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from engines.exceptions import SendBlocked
from engines.rules.compliance import (
    DEFAULT_CONTACT_HOURS,
    ContactHours,
    channel_block_reason,
    check_can_contact,
    check_contact_hours,
    contact_hours,
    is_public_holiday,
    lead_country,
    reachable_channels,
    within_contact_hours,
)

SYDNEY = ZoneInfo("Australia/Sydney")
NEW_YORK = ZoneInfo("America/New_York")
AUCKLAND = ZoneInfo("Pacific/Auckland")


def lead(**fields):
    defaults = {
        "pk": 1,
        "do_not_contact": False,
        "is_unsubscribed": False,
        "has_bounced": False,
        "email": "pat@example.com",
        "phone": "+61412345678",
        "linkedin_url": "https://linkedin.com/in/pat",
        "email_opted_out": False,
        "sms_opted_out": False,
        "linkedin_opted_out": False,
        "voice_opted_out": False,
        "country": "Australia",
        "region": "",
        "timezone": "Australia/Sydney",
    }
    return SimpleNamespace(**{**defaults, **fields})


# --- who may be reached on which channel ----------------------------------------------------


@pytest.mark.parametrize(
    "fields, blocked",
    [
        ({}, {}),
        ({"do_not_contact": True}, dict.fromkeys(["email", "sms", "linkedin", "voice"], "do_not_contact")),
        ({"is_unsubscribed": True}, dict.fromkeys(["email", "sms", "linkedin", "voice"], "unsubscribed")),
        ({"has_bounced": True}, {"email": "bounced"}),  # a bounce stops email only
        ({"email": ""}, {"email": "no_email"}),
        ({"email": "not-an-address"}, {"email": "no_email"}),
        ({"sms_opted_out": True}, {"sms": "sms_opted_out"}),  # STOP stops SMS only
        ({"voice_opted_out": True}, {"voice": "voice_opted_out"}),
        ({"linkedin_opted_out": True}, {"linkedin": "linkedin_opted_out"}),
        ({"phone": ""}, {"sms": "no_phone", "voice": "no_phone"}),
        ({"phone": "12345"}, {"sms": "no_phone", "voice": "no_phone"}),
        ({"linkedin_url": " "}, {"linkedin": "no_linkedin"}),
    ],
)
def test_channel_block_reasons(fields, blocked):
    person = lead(**fields)
    for channel in ("email", "sms", "linkedin", "voice"):
        assert channel_block_reason(person, channel) == blocked.get(channel), channel
    assert reachable_channels(person) == [c for c in ("email", "sms", "linkedin", "voice") if c not in blocked]


def test_an_unknown_channel_is_blocked():
    assert channel_block_reason(lead(), "fax") == "unknown_channel"


def test_check_can_contact_raises_with_the_reason():
    check_can_contact(lead(), "email")
    with pytest.raises(SendBlocked) as raised:
        check_can_contact(lead(has_bounced=True), "email")
    assert raised.value.reason == "bounced"


# --- legal contact hours --------------------------------------------------------------------


@pytest.mark.parametrize(
    "local, allowed",
    [
        (datetime(2026, 3, 4, 8, 59, tzinfo=SYDNEY), False),  # Wednesday
        (datetime(2026, 3, 4, 9, 0, tzinfo=SYDNEY), True),
        (datetime(2026, 3, 4, 19, 59, tzinfo=SYDNEY), True),
        (datetime(2026, 3, 4, 20, 0, tzinfo=SYDNEY), False),
        (datetime(2026, 3, 7, 9, 0, tzinfo=SYDNEY), True),  # Saturday
        (datetime(2026, 3, 7, 16, 59, tzinfo=SYDNEY), True),
        (datetime(2026, 3, 7, 17, 0, tzinfo=SYDNEY), False),
        (datetime(2026, 3, 8, 12, 0, tzinfo=SYDNEY), False),  # Sunday
        (datetime(2026, 1, 26, 12, 0, tzinfo=SYDNEY), False),  # Australia Day
        (datetime(2026, 4, 3, 12, 0, tzinfo=SYDNEY), False),  # Good Friday
        (datetime(2026, 1, 27, 12, 0, tzinfo=SYDNEY), True),
    ],
)
def test_australian_hours(local, allowed):
    assert within_contact_hours(local, "Australia") is allowed


@pytest.mark.parametrize(
    "local, allowed",
    [
        (datetime(2026, 3, 4, 7, 59, tzinfo=NEW_YORK), False),
        (datetime(2026, 3, 4, 8, 0, tzinfo=NEW_YORK), True),
        (datetime(2026, 3, 4, 20, 59, tzinfo=NEW_YORK), True),
        (datetime(2026, 3, 4, 21, 0, tzinfo=NEW_YORK), False),
        (datetime(2026, 3, 8, 12, 0, tzinfo=NEW_YORK), True),  # Sunday
        (datetime(2026, 7, 4, 12, 0, tzinfo=NEW_YORK), True),  # the TCPA window has no holiday rule
    ],
)
def test_us_hours(local, allowed):
    assert within_contact_hours(local, "US") is allowed


def test_a_country_without_rules_gets_the_australian_window_and_its_own_holidays():
    assert contact_hours("New Zealand") == DEFAULT_CONTACT_HOURS["AU"]
    assert contact_hours(None) == DEFAULT_CONTACT_HOURS["AU"]
    assert within_contact_hours(datetime(2026, 3, 4, 10, 0, tzinfo=AUCKLAND), "New Zealand")
    assert not within_contact_hours(datetime(2026, 2, 6, 10, 0, tzinfo=AUCKLAND), "New Zealand")  # Waitangi Day
    assert within_contact_hours(datetime(2026, 1, 26, 10, 0, tzinfo=AUCKLAND), "New Zealand")  # not Australia Day


def test_contact_hours_are_configurable_per_country(settings):
    settings.CONTACT_HOURS = {"NZ": ContactHours(((time(10), time(16)),) * 5 + (None, None))}
    assert not within_contact_hours(datetime(2026, 3, 4, 9, 30, tzinfo=AUCKLAND), "NZ")
    assert within_contact_hours(datetime(2026, 3, 4, 15, 59, tzinfo=AUCKLAND), "NZ")
    assert not within_contact_hours(datetime(2026, 3, 7, 12, 0, tzinfo=AUCKLAND), "NZ")
    assert contact_hours("AU") == DEFAULT_CONTACT_HOURS["AU"]


def test_state_public_holidays_count_where_the_lead_is():
    victorian_labour_day = date(2026, 3, 9)
    assert is_public_holiday(victorian_labour_day, "Australia", "VIC")
    assert not is_public_holiday(victorian_labour_day, "Australia", "NSW")
    assert not is_public_holiday(victorian_labour_day, "Australia")
    assert is_public_holiday(date(2026, 1, 26), "AU", "XX")  # an unknown state still has national holidays
    assert not is_public_holiday(date(2026, 1, 26), "Narnia")


@pytest.mark.parametrize(
    "fields, client_country, code",
    [
        ({"country": "New Zealand", "phone": "+61412345678"}, "AU", "NZ"),
        ({"country": "", "phone": "+12125550123"}, "AU", "US"),
        ({"country": "", "phone": ""}, "GB", "GB"),
        ({"country": "Narnia", "phone": "bad"}, "AU", "AU"),
    ],
)
def test_lead_country(fields, client_country, code):
    assert lead_country(lead(**fields), SimpleNamespace(country=client_country)) == code


def test_check_contact_hours_uses_the_leads_clock_and_country():
    # 10:00 on a Wednesday in Sydney is 18:00 on Tuesday in New York, inside both windows.
    at = datetime(2026, 3, 4, 10, 0, tzinfo=SYDNEY)
    check_contact_hours(lead(), "sms", at)
    check_contact_hours(lead(country="US", timezone="America/New_York", phone="+12125550123"), "sms", at)
    # 14:00 in Sydney is 22:00 the evening before in New York: fine for the Sydney lead, not the New York one.
    check_contact_hours(lead(), "voice", datetime(2026, 3, 4, 14, 0, tzinfo=SYDNEY))
    late = datetime(2026, 3, 4, 14, 0, tzinfo=SYDNEY)
    with pytest.raises(SendBlocked) as raised:
        check_contact_hours(lead(country="US", timezone="America/New_York", phone="+12125550123"), "voice", late)
    assert raised.value.reason == "quiet_hours"


def test_email_and_linkedin_have_no_contact_hours():
    sunday_night = datetime(2026, 3, 8, 23, 0, tzinfo=SYDNEY)
    check_contact_hours(lead(), "email", sunday_night)
    check_contact_hours(lead(), "linkedin", sunday_night)
    with pytest.raises(SendBlocked):
        check_contact_hours(lead(), "sms", sunday_night)
