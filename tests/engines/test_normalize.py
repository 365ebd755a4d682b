import pytest
from django.core.exceptions import ValidationError

from engines.rules.normalization import (
    is_timezone,
    normalize_country,
    normalize_email,
    normalize_phone,
    normalize_timezone,
)


@pytest.mark.parametrize(
    "text, region, stored",
    [
        ("+61 412 345 678", None, "+61412345678"),
        ("0412 345 678", "AU", "+61412345678"),
        ("0412 345 678", "au", "+61412345678"),
        ("(02) 9123 4567", "AU", "+61291234567"),
        ("+1 (212) 555-0143", "AU", "+12125550143"),
        ("", "AU", ""),
    ],
)
def test_phone_is_stored_as_e164(text, region, stored):
    assert normalize_phone(text, region) == stored


@pytest.mark.parametrize("text, region", [("0412 345 678", None), ("12", "AU"), ("not a number", "AU"), ("+999", None)])
def test_a_phone_that_cannot_be_dialled_is_refused(text, region):
    with pytest.raises(ValidationError, match="is not a phone number we can dial"):
        normalize_phone(text, region)


@pytest.mark.parametrize(
    "text, code", [("Australia", "AU"), ("au", "AU"), ("AUS", "AU"), ("UK", "GB"), ("united states", "US"), ("", "")]
)
def test_country_is_stored_as_its_iso_code(text, code):
    assert normalize_country(text) == code


def test_an_unknown_country_is_refused():
    with pytest.raises(ValidationError, match="Unknown country 'Atlantis'"):
        normalize_country("Atlantis")


def test_time_zones_are_iana_names_in_their_own_case():
    assert normalize_timezone("australia/sydney") == "Australia/Sydney"
    assert is_timezone("Australia/Sydney") and not is_timezone("Mars/Base") and not is_timezone("australia/sydney")
    with pytest.raises(ValidationError, match="Unknown time zone 'Mars/Base'"):
        normalize_timezone("Mars/Base")


def test_email_keeps_the_local_part_and_lowers_the_domain():
    assert normalize_email(" Pat.Lee@Example.COM ") == "Pat.Lee@example.com"
    with pytest.raises(ValidationError, match="is not an email address"):
        normalize_email("pat@")
