"""What people type, in the one form the database stores: E.164 phones, ISO country codes, IANA zones.

Normalisation runs when a value is written (a model's clean(), so every admin
and form save; imports), so readers never parse a phone or a country again.
Each function returns the stored form of a non-blank value, or raises
ValidationError with a message a person can act on; blank stays blank.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

from engines.rules.geography import TIMEZONES, country_code

if TYPE_CHECKING:
    from outreach.models import Client, Lead

_TIMEZONES_BY_LOWER_NAME = {zone.lower(): zone for zone in TIMEZONES}
_validate_email = EmailValidator()


def is_timezone(name: str) -> bool:
    return name in TIMEZONES


def normalize_timezone(text: str) -> str:
    """The IANA name, in its own capitalisation ("australia/sydney" -> "Australia/Sydney")."""
    text = text.strip()
    if not text:
        return ""
    zone = _TIMEZONES_BY_LOWER_NAME.get(text.lower())
    if zone is None:
        raise ValidationError(f"Unknown time zone {text!r}: use an IANA name such as Australia/Sydney")
    return zone


def normalize_country(text: str) -> str:
    """ISO 3166 alpha-2 code of an English name or a code ("Australia", "aus", "UK" -> "AU", "AU", "GB")."""
    text = text.strip()
    if not text:
        return ""
    code = country_code(text)
    if code is None:
        raise ValidationError(f"Unknown country {text!r}: use its English name or ISO code, e.g. Australia or AU")
    return code


def normalize_phone(text: str, region: str | None = None) -> str:
    """E.164. A national number ("0412 345 678") is read in `region` (an ISO code), the lead's or client's country."""
    text = text.strip()
    if not text:
        return ""
    try:
        number = phonenumbers.parse(text, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError(
            f"{text!r} is not a phone number we can dial: give it in international form, e.g. +61 412 345 678"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(text: str) -> str:
    """The address with its domain lower-cased; the person's own spelling of the local part is kept.

    Uniqueness does not depend on it: the database compares whole addresses
    case-insensitively (lead_email_unique_per_client).
    """
    text = text.strip()
    if not text:
        return ""
    try:
        _validate_email(text)
    except ValidationError:
        raise ValidationError(f"{text!r} is not an email address") from None
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


def _apply(
    instance: Lead | Client,
    errors: dict[str, list[str]],
    field: str,
    normalize: Callable[..., str],
    *args: str | None,
) -> None:
    try:
        setattr(instance, field, normalize(getattr(instance, field) or "", *args))
    except ValidationError as exc:
        errors.setdefault(field, []).extend(exc.messages)


def normalize_lead(lead: Lead) -> dict[str, list[str]]:
    """Put the lead's email, country and phone in their stored form; return what could not be read, by field.

    A national phone number is read in the lead's country, else its client's.
    """
    errors: dict[str, list[str]] = {}
    _apply(lead, errors, "email", normalize_email)
    _apply(lead, errors, "country", normalize_country)
    client_country = lead.client.country if lead.client_id else None
    region = lead.country if "country" not in errors and lead.country else client_country
    _apply(lead, errors, "phone", normalize_phone, region)
    return errors


def normalize_client(client: Client) -> dict[str, list[str]]:
    """Put the client's sending email, country and sending phone in their stored form; errors by field."""
    errors: dict[str, list[str]] = {}
    _apply(client, errors, "sending_email", normalize_email)
    _apply(client, errors, "country", normalize_country)
    _apply(client, errors, "sending_phone", normalize_phone, None if "country" in errors else client.country)
    return errors
