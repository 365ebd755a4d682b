from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from engines.rules.geography import (
    country_code,
    e164,
    lead_local_time,
    lead_timezone,
    lead_timezone_name,
    parse_phone,
)
from tests.factories import ClientFactory, LeadFactory


def person(**fields):
    return SimpleNamespace(**{"timezone": "", "phone": "", "country": "", **fields})


@pytest.mark.parametrize(
    "name, code",
    [
        ("Australia", "AU"),
        ("australia", "AU"),
        ("AU", "AU"),
        ("AUS", "AU"),
        ("  United   States ", "US"),
        ("USA", "US"),
        ("UK", "GB"),
        ("England", "GB"),
        ("New Zealand", "NZ"),
        ("Narnia", None),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_country_code(name, code):
    assert country_code(name) == code


@pytest.mark.parametrize(
    "phone, normalized",
    [
        ("+61 412 345 678", "+61412345678"),
        ("+61412345678", "+61412345678"),
        ("+1 (212) 555-0123", "+12125550123"),
        ("0412 345 678", None),  # no country code: which country?
        ("+6112", None),
        ("call me", None),
        ("", None),
        (None, None),
    ],
)
def test_phone_numbers_are_valid_e164_or_nothing(phone, normalized):
    assert e164(phone) == normalized
    assert (parse_phone(phone) is not None) is (normalized is not None)


@pytest.mark.parametrize(
    "fields, zone",
    [
        ({"timezone": "Australia/Perth", "phone": "+61298765432", "country": "US"}, "Australia/Perth"),
        ({"timezone": "Mars/Olympus", "phone": "+61298765432"}, "Australia/Sydney"),  # unknown zone ignored
        ({"phone": "+61298765432"}, "Australia/Sydney"),  # a Sydney landline
        ({"phone": "+12125550123"}, "America/New_York"),  # a Manhattan number
        ({"phone": "+61412345678", "country": "New Zealand"}, "Pacific/Auckland"),  # mobiles span zones
        ({"country": "Australia"}, "Australia/Sydney"),
        ({"country": "Japan"}, "Asia/Tokyo"),  # a one-zone country
        ({"country": "United States"}, "America/New_York"),
    ],
)
def test_the_leads_zone_comes_from_its_zone_then_phone_then_country(fields, zone):
    assert lead_timezone_name(person(**fields)) == zone


def test_otherwise_the_clients_zone_then_utc():
    client = SimpleNamespace(timezone="Australia/Brisbane")
    assert lead_timezone_name(person(country="Narnia"), client) == "Australia/Brisbane"
    assert lead_timezone_name(person(client=client)) == "Australia/Brisbane"
    assert lead_timezone_name(person()) == "UTC"
    assert lead_timezone_name(SimpleNamespace()) == "UTC"


@pytest.mark.django_db
def test_a_saved_lead_without_a_zone_uses_its_clients():
    lead = LeadFactory(timezone="", phone="", country="", client=ClientFactory(timezone="Australia/Adelaide"))
    assert lead_timezone(lead).key == "Australia/Adelaide"


@pytest.mark.parametrize(
    "fields, local",
    [
        ({"timezone": "Australia/Sydney"}, "2026-01-15T11:00:00+11:00"),
        ({"timezone": "Australia/Perth"}, "2026-01-15T08:00:00+08:00"),
        ({"phone": "+12125550123"}, "2026-01-14T19:00:00-05:00"),
    ],
)
def test_local_time_in_sydney_perth_and_new_york_at_one_instant(fields, local):
    at = datetime(2026, 1, 15, 0, 0, tzinfo=UTC)
    assert lead_local_time(person(**fields), at).isoformat() == local
