"""Send gates: who may be contacted, on which channel, and when.

Every send and every plan goes through these, so a do-not-contact lead is
never contacted and SMS and calls stay inside the legal hours of the lead's
own country, in the lead's local time.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING

import holidays
import phonenumbers
from django.conf import settings

from engines.exceptions import SendBlocked
from engines.rules.geography import country_code, lead_local_time, parse_phone
from outreach.models.choices import CHANNEL_OPT_OUTS, Channel, StopReason

if TYPE_CHECKING:
    from outreach.models import Client, Lead

# Channels whose contact hours are regulated (telemarketing and SMS rules).
TIMED_CHANNELS = frozenset({Channel.SMS, Channel.VOICE})
# Channel.values builds a new list on every access: too slow for a check run once per lead in bulk planning.
_CHANNEL_ORDER = tuple(Channel.values)


@dataclass(frozen=True)
class ContactHours:
    """Allowed local hours per weekday (Monday=0): (start, end) with end exclusive, or None for no contact."""

    by_weekday: tuple[tuple[time, time] | None, ...]
    skip_public_holidays: bool = True

    def window(self, weekday: int) -> tuple[time, time] | None:
        return self.by_weekday[weekday]


def _hours(start: int, end: int) -> tuple[time, time]:
    return time(start), time(end)


# Australia: Spam Act / Do Not Call Register industry standard. United States: TCPA 8am-9pm local.
DEFAULT_CONTACT_HOURS: dict[str, ContactHours] = {
    "AU": ContactHours((_hours(9, 20),) * 5 + (_hours(9, 17), None), skip_public_holidays=True),
    "US": ContactHours((_hours(8, 21),) * 7, skip_public_holidays=False),
}
# Countries without rules of their own get the stricter Australian window.
FALLBACK_COUNTRY = "AU"


def contact_hours(country: str | None) -> ContactHours:
    """The contact hours for a country (name or ISO code); settings.CONTACT_HOURS may override per country."""
    overrides: dict[str, ContactHours] = getattr(settings, "CONTACT_HOURS", {})
    rules = {**DEFAULT_CONTACT_HOURS, **overrides}
    return rules.get(country_code(country) or FALLBACK_COUNTRY, rules[FALLBACK_COUNTRY])


@functools.lru_cache(maxsize=256)
def _holiday_calendar(code: str, subdivision: str | None, year: int) -> holidays.HolidayBase | dict[date, str]:
    try:
        return holidays.country_holidays(code, subdiv=subdivision or None, years=year)
    except (NotImplementedError, KeyError):
        try:  # an unknown subdivision still has the national holidays
            return holidays.country_holidays(code, years=year)
        except (NotImplementedError, KeyError):
            return {}


def is_public_holiday(day: date, country: str | None, region: str | None = None) -> bool:
    code = country_code(country)
    if code is None:
        return False
    return day in _holiday_calendar(code, (region or "").upper() or None, day.year)


def within_contact_hours(local: datetime, country: str | None, region: str | None = None) -> bool:
    """Whether `local` (the lead's wall-clock time) is inside the legal contact hours of `country`."""
    rules = contact_hours(country)
    window = rules.window(local.weekday())
    if window is None:
        return False
    if rules.skip_public_holidays and is_public_holiday(local.date(), country or FALLBACK_COUNTRY, region):
        return False
    start, end = window
    return start <= local.time().replace(tzinfo=None) < end


def lead_country(lead: Lead, client: Client | None = None) -> str | None:
    """The lead's country code: its own field, else its phone's region, else the client's country."""
    code = country_code(getattr(lead, "country", None))
    if code:
        return code
    number = parse_phone(getattr(lead, "phone", None))
    if number is not None:
        region = phonenumbers.region_code_for_number(number)
        if region and region != "ZZ":
            return region
    client = client if client is not None else getattr(lead, "client", None)
    return country_code(getattr(client, "country", None))


def check_contact_hours(lead: Lead, channel: str, at: datetime, client: Client | None = None) -> None:
    """Raise SendBlocked("quiet_hours") when `channel` may not reach the lead at `at` (aware UTC)."""
    if channel not in TIMED_CHANNELS:
        return
    local = lead_local_time(lead, at, client)
    if not within_contact_hours(local, lead_country(lead, client), getattr(lead, "region", None)):
        raise SendBlocked(
            "quiet_hours",
            f"{channel} to lead {getattr(lead, 'pk', '?')} at {local:%a %H:%M} local is outside legal contact hours",
        )


def channel_block_reason(lead: Lead, channel: str) -> str | None:
    """Why `channel` cannot reach the lead at all (a code), or None when it can: a StopReason when the lead's
    contact stopped (its flag), else what the lead lacks ("no_email", "no_phone", ...)."""
    if getattr(lead, "do_not_contact", False):
        return StopReason.DO_NOT_CONTACT
    if getattr(lead, "is_unsubscribed", False):
        return StopReason.UNSUBSCRIBED
    opt_out = CHANNEL_OPT_OUTS.get(channel)
    if opt_out is not None and getattr(lead, opt_out, False):  # the lead's flag is named as its reason
        return opt_out
    if channel == Channel.EMAIL:
        if not (getattr(lead, "email", "") or "").strip() or "@" not in lead.email:
            return "no_email"
        if getattr(lead, "has_bounced", False):
            return StopReason.BOUNCED
    elif channel in (Channel.SMS, Channel.VOICE):
        if parse_phone(getattr(lead, "phone", None)) is None:
            return "no_phone"
        if getattr(lead, "phone_unusable", False):
            return StopReason.PHONE_UNUSABLE
        if channel == Channel.SMS and getattr(lead, "sms_unsupported", False):
            return StopReason.SMS_UNSUPPORTED
    elif channel == Channel.LINKEDIN:
        if not (getattr(lead, "linkedin_url", "") or "").strip():
            return "no_linkedin"
    else:
        return "unknown_channel"
    return None


def check_can_contact(lead: Lead, channel: str) -> None:
    """Raise SendBlocked with the reason when `channel` cannot reach the lead."""
    reason = channel_block_reason(lead, channel)
    if reason is not None:
        raise SendBlocked(reason, f"cannot use {channel} for lead {getattr(lead, 'pk', '?')}: {reason}")


def reachable_channels(lead: Lead) -> list[str]:
    """The channels that may reach the lead, in Channel order."""
    return [channel for channel in _CHANNEL_ORDER if channel_block_reason(lead, channel) is None]
