"""Times about a lead are shown on the lead's clock, with the zone's abbreviation, UTC on hover, the zone named.

The ScheduledTouch and Activity lists and pages, the Lead list and page (its sequence, activities and journey),
the Enrollment and Journey event pages; the lists sort by the stored time and run the same queries for 2 rows
as for 20, whatever zone each lead is in.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from engines.rules.geography import lead_timezone_name
from outreach.admin import local_time as lt
from outreach.models import Activity, ClientMembership, Enrollment, JourneyEvent, Lead, ScheduledTouch
from tests.factories import (
    ActivityFactory,
    ClientFactory,
    EnrollmentFactory,
    LeadFactory,
    ScheduledTouchFactory,
    StaffUserFactory,
)

pytestmark = pytest.mark.django_db

LATE_UTC = datetime(2026, 1, 15, 23, 0, tzinfo=UTC)  # a Thursday, 23:00 UTC
SYDNEY = 'datetime="2026-01-15T23:00:00+00:00" title="2026-01-15 23:00 UTC">Fri 16 Jan 2026 10:00 AEDT</time>'
NEW_YORK = 'title="2026-01-15 23:00 UTC">Thu 15 Jan 2026 18:00 EST</time>'


def sydney_lead(**kwargs):
    return LeadFactory(timezone="Australia/Sydney", **kwargs)


def new_york_lead(**kwargs):
    return LeadFactory(timezone="America/New_York", phone="", country="United States", **kwargs)


def zoneless_lead(**kwargs):
    """No zone, phone or country of its own: the client's zone decides (Australia/Perth)."""
    return LeadFactory(client=ClientFactory(timezone="Australia/Perth"), timezone="", phone="", country="", **kwargs)


def _page(http, url: str) -> str:
    response = http.get(url)
    assert response.status_code == 200
    return response.content.decode()


# --- The format ---------------------------------------------------------------------------------------------


def test_a_time_renders_on_the_lead_s_clock_with_utc_on_hover():
    zone = zoneinfo.ZoneInfo("Australia/Sydney")
    rendered = str(lt.local_time(datetime(2026, 1, 15, 23, 0, tzinfo=UTC), zone))
    assert ">Fri 16 Jan 2026 10:00 AEDT</time>" in rendered and 'title="2026-01-15 23:00 UTC"' in rendered
    assert lt.zone_note(zone, datetime(2026, 1, 15, 23, 0, tzinfo=UTC)) == "Australia/Sydney (UTC+11:00 now)"
    assert lt.local_time(None, zone) == lt.EMPTY


def test_a_lead_without_a_zone_falls_back_as_the_send_path_does():
    lead = zoneless_lead()
    assert lt.lead_zone(lead, lead.client).key == lead_timezone_name(lead, lead.client) == "Australia/Perth"
    by_country = LeadFactory(timezone="", phone="", country="United Kingdom")
    assert lt.lead_zone(by_country, by_country.client).key == lead_timezone_name(by_country) == "Europe/London"


# --- Scheduled touches -----------------------------------------------------------------------------------------


def test_touch_list_shows_a_sydney_lead_s_late_utc_touch_the_next_morning_in_aedt(admin_client):
    ScheduledTouchFactory(lead=sydney_lead(), scheduled_at=LATE_UTC)
    page = _page(admin_client, reverse("admin:outreach_scheduledtouch_changelist"))
    assert f'<time class="lead-time" {SYDNEY}' in page
    assert "lead&#x27;s local time" in page or "lead's local time" in page  # the column says which clock


def test_touch_list_shows_a_new_york_lead_in_est_and_in_summer_edt(admin_client):
    lead = new_york_lead()
    ScheduledTouchFactory(lead=lead, scheduled_at=LATE_UTC)
    ScheduledTouchFactory(lead=lead, scheduled_at=datetime(2026, 7, 1, 23, 0, tzinfo=UTC), touch_number=2)
    page = _page(admin_client, reverse("admin:outreach_scheduledtouch_changelist"))
    assert NEW_YORK in page
    assert 'title="2026-07-01 23:00 UTC">Wed 01 Jul 2026 19:00 EDT</time>' in page


def test_touch_list_falls_back_to_the_client_s_zone_for_a_lead_without_one(admin_client):
    ScheduledTouchFactory(lead=zoneless_lead(), scheduled_at=LATE_UTC)
    page = _page(admin_client, reverse("admin:outreach_scheduledtouch_changelist"))
    assert 'title="2026-01-15 23:00 UTC">Fri 16 Jan 2026 07:00 AWST</time>' in page


def test_touch_page_shows_its_time_on_the_lead_s_clock_and_names_the_zone(admin_client):
    touch = ScheduledTouchFactory(lead=sydney_lead(), scheduled_at=LATE_UTC)
    page = _page(admin_client, reverse("admin:outreach_scheduledtouch_change", args=[touch.pk]))
    assert SYDNEY in page
    assert "local time, Australia/Sydney (UTC+1" in page
    assert "2026-01-15 23:00 UTC" in page


# --- Activities ------------------------------------------------------------------------------------------------


def test_activity_list_and_page_show_the_lead_s_local_time(admin_client):
    sydney = ActivityFactory(lead=sydney_lead(), created_at=LATE_UTC)
    ActivityFactory(lead=new_york_lead(), created_at=LATE_UTC)
    page = _page(admin_client, reverse("admin:outreach_activity_changelist"))
    assert SYDNEY in page and NEW_YORK in page
    detail = _page(admin_client, reverse("admin:outreach_activity_change", args=[sydney.pk]))
    assert SYDNEY in detail
    assert "Australia/Sydney (UTC+1" in detail


# --- The lead's list and page ----------------------------------------------------------------------------------


def test_lead_list_shows_last_contacted_and_next_touch_on_the_lead_s_clock(admin_client):
    lead = new_york_lead(last_contacted_at=LATE_UTC)
    ScheduledTouchFactory(lead=lead, scheduled_at=datetime(2026, 1, 20, 14, 0, tzinfo=UTC))
    page = _page(admin_client, reverse("admin:outreach_lead_changelist"))
    assert NEW_YORK in page
    assert 'title="2026-01-20 14:00 UTC">Tue 20 Jan 2026 09:00 EST</time>' in page


def test_lead_page_names_the_zone_and_shows_its_sequence_activities_and_journey_in_it(admin_client):
    lead = sydney_lead(last_contacted_at=LATE_UTC)
    touch = ScheduledTouchFactory(lead=lead, scheduled_at=LATE_UTC)
    Enrollment.objects.filter(pk=touch.enrollment_id).update(started_at=datetime(2026, 1, 14, 22, 0, tzinfo=UTC))
    sent = ActivityFactory(lead=lead, created_at=datetime(2026, 1, 15, 23, 1, tzinfo=UTC))
    ScheduledTouch.objects.filter(pk=touch.pk).update(activity=sent, status="sent")
    JourneyEvent.objects.create(
        client=lead.client, lead=lead, action="paused", reason="asked", at=datetime(2026, 1, 16, 1, 0, tzinfo=UTC)
    )
    page = _page(admin_client, reverse("admin:outreach_lead_change", args=[lead.pk]))
    assert "Times on this page are the lead&#x27;s local time, Australia/Sydney (UTC+1" in page
    assert page.count(SYDNEY) >= 3  # last contacted, the sequence inline, the journey step's scheduled time
    assert 'title="2026-01-15 23:01 UTC">Fri 16 Jan 2026 10:01 AEDT</time>' in page  # activity inline, step sent
    assert 'title="2026-01-14 22:00 UTC">Thu 15 Jan 2026 09:00 AEDT</time>' in page  # enrollment started
    assert 'title="2026-01-16 01:00 UTC">Fri 16 Jan 2026 12:00 AEDT</time>' in page  # journey event
    assert ">2026-01-15 23:00<" not in page and "Jan. 15, 2026, 11 p.m." not in page  # no bare UTC left


def test_enrollment_and_journey_event_pages_use_the_lead_s_zone(admin_client):
    lead = new_york_lead()
    touch = ScheduledTouchFactory(lead=lead, scheduled_at=LATE_UTC)
    Enrollment.objects.filter(pk=touch.enrollment_id).update(started_at=LATE_UTC)
    event = JourneyEvent.objects.create(client=lead.client, lead=lead, action="paused", at=LATE_UTC)
    enrollment_page = _page(admin_client, reverse("admin:outreach_enrollment_change", args=[touch.enrollment_id]))
    assert enrollment_page.count(NEW_YORK) >= 2  # started, the step's scheduled time
    assert "America/New_York (UTC-05:00 now)" in enrollment_page or "America/New_York (UTC-04:00 now)" in (
        enrollment_page
    )
    assert NEW_YORK in _page(admin_client, reverse("admin:outreach_enrollment_changelist"))
    assert NEW_YORK in _page(admin_client, reverse("admin:outreach_journeyevent_changelist"))
    assert NEW_YORK in _page(admin_client, reverse("admin:outreach_journeyevent_change", args=[event.pk]))


# --- Sorting by the local-time columns still sorts by the stored time ------------------------------------------


def _sorted_ids(http, url: str, column: str) -> tuple[list[int], list[int]]:
    index = http.get(url).context["cl"].list_display.index(column)
    ascending = http.get(f"{url}?o={index}").context["cl"].result_list
    descending = http.get(f"{url}?o=-{index}").context["cl"].result_list
    return [row.pk for row in ascending], [row.pk for row in descending]


def test_sorting_by_the_touch_time_column(admin_client):
    # Sydney's 10:00 the next day is the latest instant though its wall clock reads earliest: sorted by UTC.
    early = ScheduledTouchFactory(lead=new_york_lead(), scheduled_at=LATE_UTC - timedelta(hours=2))
    late = ScheduledTouchFactory(lead=sydney_lead(), scheduled_at=LATE_UTC)
    middle = ScheduledTouchFactory(lead=zoneless_lead(), scheduled_at=LATE_UTC - timedelta(hours=1))
    up, down = _sorted_ids(admin_client, reverse("admin:outreach_scheduledtouch_changelist"), "scheduled")
    assert up == [early.pk, middle.pk, late.pk]
    assert down == [late.pk, middle.pk, early.pk]


def test_sorting_by_the_activity_time_column(admin_client):
    first = ActivityFactory(lead=sydney_lead(), created_at=LATE_UTC - timedelta(days=1))
    second = ActivityFactory(lead=new_york_lead(), created_at=LATE_UTC)
    up, down = _sorted_ids(admin_client, reverse("admin:outreach_activity_changelist"), "created")
    assert up == [first.pk, second.pk]
    assert down == [second.pk, first.pk]


def test_sorting_by_last_contacted_and_next_touch(admin_client):
    a = sydney_lead(last_contacted_at=LATE_UTC)
    b = new_york_lead(last_contacted_at=LATE_UTC - timedelta(hours=3))
    ScheduledTouchFactory(lead=a, scheduled_at=LATE_UTC + timedelta(days=2))
    ScheduledTouchFactory(lead=b, scheduled_at=LATE_UTC + timedelta(days=1))
    url = reverse("admin:outreach_lead_changelist")
    up, down = _sorted_ids(admin_client, url, "last_contacted")
    assert up == [b.pk, a.pk] and down == [a.pk, b.pk]
    up, _ = _sorted_ids(admin_client, url, "next_touch")
    assert up == [b.pk, a.pk]


# --- Query counts: 2 rows or 20, leads of many zones and none ----------------------------------------------------

LEADS: tuple[Callable[..., Lead], ...] = (sydney_lead, new_york_lead, zoneless_lead)


def _queries(http, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = http.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


def _add_touch(n: int) -> None:
    lead = LEADS[n % len(LEADS)](last_contacted_at=LATE_UTC)
    touch = ScheduledTouchFactory.create(lead=lead, scheduled_at=LATE_UTC + timedelta(hours=n))
    ActivityFactory(lead=lead, created_at=LATE_UTC - timedelta(hours=n))
    JourneyEvent.objects.create(client=lead.client, lead=lead, enrollment=touch.enrollment, action="paused")


@pytest.mark.parametrize("model", ["scheduledtouch", "activity", "lead", "enrollment", "journeyevent"])
@pytest.mark.parametrize("as_staff", [False, True], ids=["superuser", "staff"])
def test_lists_run_the_same_queries_for_2_rows_as_for_20(admin_client, client, model, as_staff):
    http, user = admin_client, None
    if as_staff:
        user = StaffUserFactory()
        client.force_login(user)
        http = client

    def add(count: int, start: int) -> None:
        for n in range(start, start + count):
            _add_touch(n)
        if user is not None:
            for client_id in set(Lead.objects.values_list("client_id", flat=True)):
                ClientMembership.objects.get_or_create(user=user, client_id=client_id)

    url = reverse(f"admin:outreach_{model}_changelist")
    add(2, 0)
    http.get(url)  # warm caches (content types, sessions)
    with_2 = _queries(http, url)
    add(18, 2)
    with_20 = _queries(http, url)
    assert with_20 == with_2, f"{url}: {with_2} queries with 2 rows, {with_20} with 20"
    assert model == "lead" or _page(http, url).count('class="lead-time"') >= 20


def test_the_lead_page_runs_the_same_queries_for_2_touches_as_for_20(admin_client):
    lead = zoneless_lead()  # its zone needs its client: read once, not per row

    def add(count: int) -> None:
        for _ in range(count):
            number = lead.scheduled_touches.count() + 1
            sent = ActivityFactory(lead=lead, touch_number=number)
            ScheduledTouchFactory(lead=lead, touch_number=number, activity=sent, status="sent")
            EnrollmentFactory(lead=lead, state="finished", ended_at=LATE_UTC)
            JourneyEvent.objects.create(client=lead.client, lead=lead, action="paused")

    url = reverse("admin:outreach_lead_change", args=[lead.pk])
    add(2)
    admin_client.get(url)
    with_2 = _queries(admin_client, url)
    add(18)
    with_20 = _queries(admin_client, url)
    assert with_20 == with_2
    assert Activity.objects.filter(lead=lead).count() == 20
