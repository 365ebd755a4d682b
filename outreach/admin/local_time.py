"""Times about a lead on the lead's own clock, as the back office shows them.

The zone is the send path's (engines.rules.geography.lead_timezone_name: the lead's own zone, else its phone's,
else its country's, else its client's, else UTC). A time is rendered as
`<time datetime="ISO-UTC" title="YYYY-MM-DD HH:MM UTC">Thu 15 Jan 2026 10:30 AEDT</time>`: the lead's wall clock
with the zone's abbreviation, the UTC instant on hover. It is the format of the task page
(outreach.admin.tasks.local_time); tests/outreach/test_local_times.py keeps the two the same.

`lead_time_column` makes a change-list column (or a read-only field) of a model that has a lead and a client (or
of Lead itself): it sorts by the stored field and reads the lead and client from the row, so the admin must
select_related them (one query for the page, not one per row).
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.contrib import admin
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from engines.rules.geography import lead_timezone_name
from outreach.models import Client, Lead

EMPTY = "—"
# Said on list pages, where each row has its own lead (and zone).
LIST_NOTE = "lead's local time"


def lead_zone(lead: Lead, client: Client | None = None) -> zoneinfo.ZoneInfo:
    """The zone the send path uses for `lead`; pass its client when it is loaded, so none is fetched."""
    return zoneinfo.ZoneInfo(lead_timezone_name(lead, client))


def local_time(at: datetime | None, zone: zoneinfo.ZoneInfo) -> SafeString | str:
    """`at` on the lead's wall clock, with the zone's abbreviation; the UTC instant on hover (title)."""
    if at is None:
        return EMPTY
    utc, local = at.astimezone(UTC), at.astimezone(zone)
    return format_html(
        '<time class="lead-time" datetime="{}" title="{} UTC">{}</time>',
        utc.isoformat(),
        utc.strftime("%Y-%m-%d %H:%M"),
        local.strftime("%a %d %b %Y %H:%M %Z"),
    )


def zone_note(zone: zoneinfo.ZoneInfo, now: datetime | None = None) -> str:
    """The zone's name and its offset from UTC now, e.g. "Australia/Sydney (UTC+11:00 now)"."""
    offset = (now or timezone.now()).astimezone(zone).strftime("%z")
    return f"{zone.key} (UTC{offset[:3]}:{offset[3:]} now)"


def page_note(zone: zoneinfo.ZoneInfo, now: datetime | None = None) -> str:
    """What a page about one lead says of its times."""
    return f"Times on this page are the lead's local time, {zone_note(zone, now)}; hover over a time for UTC."


def with_zone_note(at: datetime | None, zone: zoneinfo.ZoneInfo) -> SafeString | str:
    """A read-only field of a detail page: the local time, then which zone it is in."""
    if at is None:
        return EMPTY
    return format_html(
        '{} <span class="lead-zone-note">(the lead\'s local time, {}; hover for UTC)</span>',
        local_time(at, zone),
        zone_note(zone),
    )


def lead_time_column(
    field: str, description: str, *, lead: str | None = "lead", detail: bool = False
) -> Callable[[Any, Any], SafeString | str]:
    """An admin display method showing `field` of a row in its lead's local time, sorted by `field`.

    `lead` names the row's lead (None: the row is the lead) and the row's `client` is its client; both must be
    loaded with the row (select_related). `detail` adds which zone it is, for a change page's read-only field.
    """

    def column(model_admin: Any, obj: Any) -> SafeString | str:
        at = getattr(obj, field, None)
        if at is None:
            return str(model_admin.get_empty_value_display())  # as the admin shows any other empty value
        person: Lead = obj if lead is None else getattr(obj, lead)
        zone = lead_zone(person, obj.client)
        return with_zone_note(at, zone) if detail else local_time(at, zone)

    column.__name__ = f"{field}_local"
    return admin.display(description=description, ordering=field)(column)
