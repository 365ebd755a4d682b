"""The reply inbox in the admin (/admin/outreach/inbox/): the list, a reply's page, its forms, who sees which
replies and who may decide."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone

from engines.rules.geography import lead_timezone
from outreach.models import Activity, Enrollment, Lead
from tests.engines.test_inbox import a_reply, enrolled_lead
from tests.factories import ActivityFactory, ClientFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

LIST = reverse("admin:outreach_inbox")
HOURS = timedelta(hours=1)


def reply_url(reply):
    return reverse("admin:outreach_inbox_reply", args=[reply.pk])


def messages_of(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def decide(http, reply, decision, seen=0, **extra):
    return http.post(reply_url(reply), {"decision": decision, "seen": seen, **extra}, follow=True)


@pytest.fixture
def world():
    mine, theirs = ClientFactory(name="Harbour Dental"), ClientFactory(name="Rival Legal")
    now = timezone.now()
    return {
        "mine": mine,
        "theirs": theirs,
        "my_reply": a_reply(enrolled_lead(mine, first_name="Mia"), "Yes, send the pricing", at=now - HOURS * 2),
        "their_reply": a_reply(
            enrolled_lead(theirs, first_name="Theo"), "Secret rival answer", at=now - timedelta(hours=1),
            subject="Rival subject",
        ),
    }  # fmt: skip


@pytest.fixture
def staff(client, world):
    user = StaffUserFactory(username="alex", clients=[world["mine"]])
    client.force_login(user)
    client.user = user
    return client


def test_the_inbox_lists_the_replies_of_every_client_newest_first_with_the_message_answered(admin_client, world):
    response = admin_client.get(LIST)
    assert response.status_code == 200
    page = response.content.decode()
    assert page.index("Secret rival answer") < page.index("Yes, send the pricing")
    assert "Rival subject" in page and "Faster follow-up" in page
    assert page.count('class="inbox-waiting"') == 2


def test_the_app_list_links_to_the_inbox(staff):
    page = staff.get(reverse("admin:index")).content.decode()
    assert f'href="{LIST}"' in page and "Reply inbox" in page


def test_a_member_sees_only_the_replies_of_their_clients(staff, world):
    page = staff.get(LIST).content.decode()
    assert "Yes, send the pricing" in page and "Secret rival answer" not in page
    assert "Rival Legal" not in page  # not even in the client filter
    assert staff.get(reply_url(world["their_reply"])).status_code == 404
    assert staff.get(LIST, {"client": world["theirs"].pk}).content.decode().count("inbox-row") == 0


def test_a_member_cannot_decide_about_another_clients_reply_by_its_url(staff, world):
    response = staff.post(reply_url(world["their_reply"]), {"decision": "meeting_booked", "seen": 0})
    assert response.status_code == 404
    assert Lead.objects.get(pk=world["their_reply"].lead_id).status == "replied"
    assert "decision" not in Activity.objects.get(pk=world["their_reply"].pk).metadata


def test_a_reply_page_shows_the_reply_the_quoted_history_and_the_message_answered(staff, world):
    reply = a_reply(enrolled_lead(world["mine"]), "Sounds good\n\nOn Mon, Sam wrote:\n> Hi, open to a chat?")
    page = staff.get(reply_url(reply)).content.decode()
    assert 'id="reply-text">Sounds good</div>' in page
    assert '<details class="inbox-quoted" id="reply-quoted">' in page and "&gt; Hi, open to a chat?" in page
    assert "Subject: Faster follow-up" in page
    assert 'value="interested"' in page and 'value="meeting_booked"' in page


def test_interested_is_recorded_with_who_decided(staff, world):
    response = decide(staff, world["my_reply"], "interested")
    assert response.status_code == 200 and any(m.startswith("Interested") for m in messages_of(response))
    decision = Activity.objects.get(pk=world["my_reply"].pk).metadata["decision"]
    assert decision["decision"] == "interested" and decision["by"] == "alex"
    assert "inbox-row" not in staff.get(LIST, {"show": "waiting"}).content.decode()


def test_a_double_submit_applies_once(staff, world):
    decide(staff, world["my_reply"], "meeting_booked")
    again = decide(staff, world["my_reply"], "meeting_booked")
    assert any("already recorded" in message for message in messages_of(again))
    assert Activity.objects.filter(lead_id=world["my_reply"].lead_id, action="meeting_booked").count() == 1
    assert Lead.objects.get(pk=world["my_reply"].lead_id).status == "converted"


def test_a_stale_page_changes_nothing(staff, world):
    decide(staff, world["my_reply"], "interested")
    response = decide(staff, world["my_reply"], "unsubscribe", seen=0)
    assert any("decided meanwhile" in message for message in messages_of(response))
    assert not Lead.objects.get(pk=world["my_reply"].lead_id).is_unsubscribed


def test_later_pauses_until_the_date_given(staff, world):
    day = timezone.localdate() + timedelta(days=14)
    response = decide(staff, world["my_reply"], "later", until=day.isoformat(), note="after the audit")
    assert any(message.startswith("Later: paused until") for message in messages_of(response))
    paused = Enrollment.objects.get(lead_id=world["my_reply"].lead_id, state="paused")
    lead = Lead.objects.select_related("client").get(pk=world["my_reply"].lead_id)
    local = paused.resume_at.astimezone(lead_timezone(lead, lead.client))
    assert (local.date(), local.hour) == (day, 0)  # midnight of that day on the lead's clock


def test_later_without_a_date_changes_nothing(staff, world):
    response = decide(staff, world["my_reply"], "later", until="")
    assert any("Give the date" in message for message in messages_of(response))
    assert "decision" not in Activity.objects.get(pk=world["my_reply"].pk).metadata


def test_unsubscribe_from_the_inbox(staff, world):
    decide(staff, world["my_reply"], "unsubscribe")
    assert Lead.objects.get(pk=world["my_reply"].lead_id).is_unsubscribed


def test_the_intent_is_edited_and_stored(staff, world):
    response = staff.post(reply_url(world["my_reply"]), {"intent": "later"}, follow=True)
    assert "Intent saved." in messages_of(response)
    metadata = Activity.objects.get(pk=world["my_reply"].pk).metadata
    assert metadata["intent"] == "later" and metadata["intent_read"] == "interested"
    assert 'id="reply-intent">later</span>' in response.content.decode()


def test_the_search_box_finds_a_reply_by_a_phrase_of_its_text(admin_client, world):
    page = admin_client.get(LIST, {"q": "SEND THE pricing"}).content.decode()
    assert "Yes, send the pricing" in page and "Secret rival answer" not in page
    assert "No replies containing" in admin_client.get(LIST, {"q": "brochure"}).content.decode()


def test_nul_in_a_reply_or_in_the_search_does_not_fail(admin_client, world):
    lead = Lead.objects.get(pk=world["my_reply"].lead_id)
    reply = ActivityFactory(lead=lead, action="email_replied", reply_text="null\x00 here \ud800 and there")
    assert admin_client.get(LIST).status_code == 200
    page = admin_client.get(reply_url(reply)).content.decode()
    assert "null here \ufffd and there" in page
    assert admin_client.get(LIST, {"q": "null\x00 here"}).status_code == 200
    assert "null here" in admin_client.get(LIST, {"q": "null\x00 here"}).content.decode()


def test_the_list_is_paginated(admin_client, world):
    lead = Lead.objects.get(pk=world["my_reply"].lead_id)
    for number in range(30):
        ActivityFactory(lead=lead, action="email_replied", reply_text=f"reply number {number}")
    first = admin_client.get(LIST).content.decode()
    assert first.count('class="inbox-row"') == 25 and "Page 1 of 2" in first and "Older" in first
    assert admin_client.get(LIST, {"p": 2}).content.decode().count('class="inbox-row"') == 7


def test_viewing_needs_the_activity_view_permission_and_deciding_the_lead_change_permission(client, world):
    viewer = StaffUserFactory(clients=[world["mine"]], permissions=["view_activity", "view_lead"])
    client.force_login(viewer)
    assert client.get(LIST).status_code == 200
    assert 'value="interested"' not in client.get(reply_url(world["my_reply"])).content.decode()
    assert client.post(reply_url(world["my_reply"]), {"decision": "interested", "seen": 0}).status_code == 403
    client.force_login(StaffUserFactory(clients=[world["mine"]], permissions=["view_lead"]))
    assert client.get(LIST).status_code == 403
