"""The agency home (outreach.admin.home): the admin index opens with each of the user's clients and its figures
for the last 7 days, links each figure to the change list it counts, runs the same number of queries whatever the
number of clients, and keeps Django's app list below. "View site" leads to it, and the favicon is served."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from outreach.admin.home import agency_home
from tests.factories import ActivityFactory, ClientFactory, LeadFactory, ManualTaskFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

INDEX = reverse("admin:index")


def week_of(client, *, emails=3):
    """A week of one client: `emails` emails and one touch on each other channel sent, two replies, two meetings
    booked of which one was cancelled since, a bounce, a complaint, two open tasks (and a done one), two leads
    still "replied" whose replies (older than 7 days) wait for a person, one decided (and a converted lead); plus a
    send and a reply older than 7 days, which do not count in the week."""
    lead = LeadFactory(client=client)
    for _ in range(emails):
        ActivityFactory(lead=lead, action="email_sent", channel="email")
    for action, channel in (("sms_sent", "sms"), ("linkedin_sent", "linkedin"), ("voice_completed", "voice")):
        ActivityFactory(lead=lead, action=action, channel=channel)
    ActivityFactory(lead=lead, action="email_replied", channel="email")
    ActivityFactory(lead=lead, action="sms_replied", channel="sms")
    ActivityFactory(lead=lead, action="meeting_booked", channel="")
    cancelled = ActivityFactory(lead=lead, action="meeting_booked", channel="")
    ActivityFactory(lead=lead, action="meeting_cancelled", channel="", in_reply_to=cancelled)
    ActivityFactory(lead=lead, action="email_bounced", channel="email")
    ActivityFactory(lead=lead, action="email_complained", channel="email")
    ActivityFactory(lead=lead, action="email_opened", channel="email")  # counted nowhere
    old = timezone.now() - timedelta(days=8)
    ActivityFactory(lead=lead, action="email_sent", channel="email", created_at=old)
    ActivityFactory(lead=lead, action="email_replied", channel="email", created_at=old)
    ManualTaskFactory(lead=lead)
    ManualTaskFactory(lead=lead, due_at=old)  # open tasks count whatever their date
    ManualTaskFactory(lead=lead, status="done", closed_at=timezone.now())
    for _ in range(2):
        waiting = LeadFactory(client=client, status="replied")
        ActivityFactory(lead=waiting, action="email_replied", channel="email", created_at=old)
    decided = LeadFactory(client=client, status="replied")
    ActivityFactory(lead=decided, action="sms_replied", channel="sms", created_at=old,
                    metadata={"decision": {"decision": "interested"}})  # fmt: skip
    LeadFactory(client=client, status="converted")


def figures(response):
    """{client name: {figure key: text}} as the page's context holds them."""
    return {row.name: {f.key: f.text for f in row.figures} for row in response.context["agency_home"].rows}


EXPECTED = {
    "sends": "6",
    "replies": "2",
    "meetings": "1",
    "bounce_rate": "33.3%",
    "complaint_rate": "33.3%",
    "open_tasks": "2",
    "replies_waiting": "2",
}


@pytest.fixture
def clients():
    harbour, rival = ClientFactory(name="Harbour Dental"), ClientFactory(name="Rival Legal")
    week_of(harbour)
    week_of(rival, emails=8)
    return harbour, rival


def test_a_superuser_sees_every_client_with_its_figures(admin_client, clients):
    response = admin_client.get(INDEX)
    assert response.status_code == 200
    assert figures(response) == {
        "Harbour Dental": EXPECTED,
        "Rival Legal": {**EXPECTED, "sends": "11", "bounce_rate": "12.5%", "complaint_rate": "12.5%"},
    }
    html = response.content.decode()
    assert "All clients" in html
    assert 'data-figure="bounce_rate" title="1 bounced of 3 emails sent"><a href=' in html


def test_a_member_sees_only_their_clients(client, clients):
    harbour, _ = clients
    client.force_login(StaffUserFactory(clients=[harbour]))
    response = client.get(INDEX)
    assert figures(response) == {"Harbour Dental": EXPECTED}
    html = response.content.decode()
    assert "Your clients" in html
    assert "Rival Legal" not in html


def test_the_page_says_the_period_and_the_time_zone(admin_client, clients):
    html = admin_client.get(INDEX).content.decode()
    assert "Last 7 days: since" in html
    assert "dates and times are in UTC" in html


def links_of(response, name):
    html = response.content.decode()
    row = re.search(rf'<tr data-client="\d+">\s*<th scope="row"><a href="([^"]+)">{name}</a>(.*?)</tr>', html, re.S)
    assert row, f"no row for {name}"
    cells = re.findall(r'data-figure="(\w+)"[^>]*><a href="([^"]+)">', row.group(2))
    return row.group(1), {key: unescape(url) for key, url in cells}


def test_each_figure_links_to_the_change_list_it_counts(admin_client, clients):
    harbour, _ = clients
    response = admin_client.get(INDEX)
    client_url, links = links_of(response, "Harbour Dental")
    assert client_url == reverse("admin:outreach_client_change", args=[harbour.pk])
    assert admin_client.get(client_url).status_code == 200
    # The meetings list also shows the booking cancelled since (its title says so); every other list is the count.
    listed = {**EXPECTED, "bounce_rate": "1", "complaint_rate": "1", "meetings": "2"}
    assert set(links) == set(listed)
    # Replies waiting link to the inbox's Waiting tab of that client.
    inbox = admin_client.get(links.pop("replies_waiting"))
    assert [row.reply.client_id for row in inbox.context["rows"]] == [harbour.pk] * 2
    del listed["replies_waiting"]
    for key, url in links.items():
        page = admin_client.get(url)
        assert page.status_code == 200, (key, url)
        assert "?e=1" not in page.get("Location", ""), (key, url)
        rows = page.context["cl"].result_list
        assert str(len(rows)) == listed[key], (key, url)
        assert {row.client_id for row in rows} == {harbour.pk}, (key, url)


def test_figures_of_a_list_the_user_may_not_view_are_not_links(client, clients):
    harbour, _ = clients
    client.force_login(StaffUserFactory(clients=[harbour], permissions=["view_client", "view_manualtask"]))
    _, links = links_of(client.get(INDEX), "Harbour Dental")
    assert set(links) == {"open_tasks"}


def test_without_clients_a_member_reads_why_and_the_app_list_stays(client):
    client.force_login(StaffUserFactory())
    response = client.get(INDEX)
    html = response.content.decode()
    assert response.context["agency_home"].rows == ()
    assert "You are not a member of any client yet" in html
    assert 'id="agency-home-table"' not in html
    assert 'id="content-main"' in html  # Django's index, below


def test_without_clients_a_superuser_is_offered_to_add_one(admin_client):
    html = admin_client.get(INDEX).content.decode()
    assert "No clients yet." in html
    assert reverse("admin:outreach_client_add") in html


def test_the_app_list_stays_below_the_clients(admin_client, clients):
    html = admin_client.get(INDEX).content.decode()
    assert html.index('id="agency-home"') < html.index('id="content-main"')
    assert reverse("admin:outreach_lead_changelist") in html[html.index('id="content-main"') :]


def test_a_client_without_activity_shows_zeros_and_no_rate(admin_client):
    ClientFactory(name="Quiet Co")
    assert figures(admin_client.get(INDEX)) == {
        "Quiet Co": {**dict.fromkeys(EXPECTED, "0"), "bounce_rate": "—", "complaint_rate": "—"}
    }


def index_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(INDEX).status_code == 200
    return len(queries.captured_queries)


@pytest.mark.parametrize("superuser", [True, False], ids=["superuser", "member"])
def test_the_number_of_queries_does_not_grow_with_the_clients(client, superuser):
    user = StaffUserFactory(is_superuser=superuser)
    client.force_login(user)
    counts = []
    for more in (2, 10):
        for _ in range(more):
            week_of(new := ClientFactory())
            user.client_memberships.create(client=new)
        client.get(INDEX)  # warm caches (content types, sessions) before counting
        counts.append(index_queries(client))
    print(f"admin index queries with 2 and 12 clients: {counts}")
    assert counts[0] == counts[1], counts
    assert len(client.get(INDEX).context["agency_home"].rows) == 12


def test_the_home_itself_runs_five_queries(rf, admin_user, clients, django_assert_num_queries):
    request = rf.get(INDEX)
    request.user = admin_user
    with django_assert_num_queries(5):
        home = agency_home(request, admin.site)
    assert len(home.rows) == 2


def test_view_site_leads_to_the_agency_home(admin_client, clients):
    html = admin_client.get(reverse("admin:outreach_lead_changelist")).content.decode()
    view_site = re.search(r'<a href="([^"]+)">View site</a>', html)
    assert view_site, "no View site link"
    assert view_site.group(1) == INDEX
    response = admin_client.get(view_site.group(1))
    assert response.status_code == 200
    assert 'id="agency-home-table"' in response.content.decode()


def test_the_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/svg+xml"
    assert b"<svg" in response.content
