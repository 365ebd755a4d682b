"""Where a lead is: country codes and the lead's own time zone.

Shared by the engines (snapshot local day/hour), the compliance gates (legal
contact hours) and the allocator (scheduling in local business hours).
"""

from __future__ import annotations

import functools
import logging
import zoneinfo
from datetime import datetime
from importlib import resources
from typing import TYPE_CHECKING

import phonenumbers
import pycountry
from phonenumbers import timezone as phone_timezones

if TYPE_CHECKING:  # outreach.models imports this module (through normalize)
    from outreach.models import Client, Lead

logger = logging.getLogger(__name__)

# Names people type that ISO does not list.
COUNTRY_ALIASES = {
    "uk": "GB",
    "england": "GB",
    "scotland": "GB",
    "wales": "GB",
    "usa": "US",
    "america": "US",
    "uae": "AE",
    "south korea": "KR",
    "russia": "RU",
}
# The zone most of a multi-zone country's business happens in; other
# multi-zone countries fall back to the client's zone.
PRIMARY_ZONES = {
    "AU": "Australia/Sydney",
    "US": "America/New_York",
    "CA": "America/Toronto",
    "NZ": "Pacific/Auckland",
    "GB": "Europe/London",
    "BR": "America/Sao_Paulo",
    "MX": "America/Mexico_City",
    "RU": "Europe/Moscow",
    "ID": "Asia/Jakarta",
    "ES": "Europe/Madrid",
    "PT": "Europe/Lisbon",
    "DE": "Europe/Berlin",
    "CN": "Asia/Shanghai",
    "MY": "Asia/Kuala_Lumpur",
    "AR": "America/Argentina/Buenos_Aires",
    "CL": "America/Santiago",
}
# Read once: available_timezones() walks the whole tz database on every call.
TIMEZONES: frozenset[str] = frozenset(zoneinfo.available_timezones())


@functools.lru_cache(maxsize=1)
def _zones_by_country() -> dict[str, list[str]]:
    """Country code -> its zones, from the IANA zone.tab the tzdata package ships."""
    table = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text(encoding="utf-8")
    zones: dict[str, list[str]] = {}
    for line in table.splitlines():
        if line and not line.startswith("#"):
            code, _coordinates, zone = line.split("\t")[:3]
            zones.setdefault(code, []).append(zone)
    return zones


@functools.lru_cache(maxsize=4096)
def country_code(country: str | None) -> str | None:
    """ISO 3166 alpha-2 code for an English country name or code ("Australia", "au", "AUS"); None if unknown."""
    if not country or not country.strip():
        return None
    key = " ".join(country.split()).lower()
    if key in COUNTRY_ALIASES:
        return COUNTRY_ALIASES[key]
    try:
        return pycountry.countries.lookup(key).alpha_2
    except LookupError:
        return None


@functools.lru_cache(maxsize=4096)
def parse_phone(phone: str | None) -> phonenumbers.PhoneNumber | None:
    """The parsed number when `phone` is a valid E.164 number, else None."""
    if not phone:
        return None
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


def e164(phone: str | None) -> str | None:
    number = parse_phone(phone)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) if number else None


@functools.lru_cache(maxsize=4096)
def _zone_from_phone(phone: str) -> str | None:
    number = parse_phone(phone)
    if number is None:
        return None
    zones = [z for z in phone_timezones.time_zones_for_number(number) if z in TIMEZONES]
    return zones[0] if len(zones) == 1 else None


def _zone_from_country(code: str | None) -> str | None:
    if code is None:
        return None
    if code in PRIMARY_ZONES:
        return PRIMARY_ZONES[code]
    zones = _zones_by_country().get(code, [])
    return zones[0] if len(zones) == 1 else None


def lead_timezone_name(lead: Lead, client: Client | None = None) -> str:
    """The lead's IANA zone: lead.timezone, else from the phone number, else the country, else the client's.

    A phone or country that spans several zones (a US mobile, "Australia")
    does not decide; the next source does.
    """
    own: str | None = getattr(lead, "timezone", None)
    if own and own in TIMEZONES:
        return own
    from_phone = _zone_from_phone(getattr(lead, "phone", None) or "")
    if from_phone:
        return from_phone
    from_country = _zone_from_country(country_code(getattr(lead, "country", None)))
    if from_country:
        return from_country
    client = client if client is not None else getattr(lead, "client", None)
    client_zone: str | None = getattr(client, "timezone", None)
    return client_zone if client_zone in TIMEZONES else "UTC"


def lead_timezone(lead: Lead, client: Client | None = None) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(lead_timezone_name(lead, client))


def lead_local_time(lead: Lead, at: datetime, client: Client | None = None) -> datetime:
    """`at` (aware) seen on the lead's wall clock."""
    return at.astimezone(lead_timezone(lead, client))
