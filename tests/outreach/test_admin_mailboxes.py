"""The Mailbox admin: the list with today's cap and sends and the 7-day rates, pause / resume / retire with a
note, the history inline, the inline on the Client page, secrets never shown, staff scoping, and paused mailboxes
on the agency home."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from outreach.models import Mailbox
from tests.factories import ActivityFactory, ClientFactory, LeadFactory, MailboxFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:outreach_mailbox_changelist")
SECRET = "key-that-must-never-show"


@pytest.fixture(autouse=True)
def accounts(settings, monkeypatch):
    settings.OUTREACH_MAILBOX_ACCOUNTS = {
        "mg2": {"backend": "anymail.backends.mailgun.EmailBackend", "options": {"api_key_env": "MG2_KEY"}}
    }
    monkeypatch.setenv("MG2_KEY", SECRET)


def change_url(mailbox):
    return reverse("admin:outreach_mailbox_change", args=[mailbox.pk])


def test_the_list_shows_todays_cap_sends_and_the_weeks_rates(admin_client):
    mailbox = MailboxFactory(address="sam@bluegum.example", daily_cap=40, account="mg2")
    sent = [ActivityFactory(lead=LeadFactory(client=mailbox.client), client=mailbox.client, mailbox=mailbox)
            for _ in range(4)]  # fmt: skip
    ActivityFactory(lead=sent[0].lead, client=mailbox.client, action="email_bounced", in_reply_to=sent[0])

    page = admin_client.get(CHANGELIST).content.decode()

    assert "sam@bluegum.example" in page
    assert '<td class="field-cap_today">40</td>' in page and '<td class="field-sent_today">4</td>' in page
    assert "25.0% (1 of 4)" in page
    assert SECRET not in page and "MG2_KEY" not in page


def test_the_change_page_shows_the_account_by_name_and_the_history_never_a_secret(admin_client):
    mailbox = MailboxFactory(account="mg2")
    admin_client.post(
        CHANGELIST, {"action": "pause_mailboxes", "_selected_action": [mailbox.pk], "note": "client on holiday"}
    )

    page = admin_client.get(change_url(mailbox)).content.decode()

    assert "client on holiday" in page and "mg2" in page
    assert SECRET not in page and "MG2_KEY" not in page and "api_key" not in page


def test_the_actions_pause_resume_and_retire_with_the_note(admin_client, admin_user):
    mailbox = MailboxFactory()

    def act(action, note=""):
        return admin_client.post(
            CHANGELIST, {"action": action, "_selected_action": [mailbox.pk], "note": note}, follow=True
        )

    act("pause_mailboxes", "too many bounces last week")
    assert Mailbox.objects.get(pk=mailbox.pk).state == "paused"
    assert "is paused: it cannot be paused" in act("pause_mailboxes").content.decode()
    act("resume_mailboxes")
    assert Mailbox.objects.get(pk=mailbox.pk).state == "active"
    act("retire_mailboxes", "domain sold")
    mailbox.refresh_from_db()
    assert (mailbox.state, mailbox.state_changed_by) == ("retired", admin_user)
    assert list(mailbox.state_changes.order_by("at", "pk").values_list("to_state", "note", "by")) == [
        ("paused", "too many bounces last week", admin_user.pk),
        ("active", "", admin_user.pk),
        ("retired", "domain sold", admin_user.pk),
    ]


def test_a_mailbox_is_added_with_its_address_normalized_and_an_unknown_account_refused(admin_client):
    client = ClientFactory()
    form = {
        "client": client.pk, "address": "Sam@BlueGum.Example", "display_name": "Sam", "account": "mg2",
        "daily_cap": 40, "warmup_start": 5, "warmup_increase": 5, "warmup_started_on": "2026-03-01",
        "state_changes-TOTAL_FORMS": 0, "state_changes-INITIAL_FORMS": 0,
    }  # fmt: skip
    response = admin_client.post(reverse("admin:outreach_mailbox_add"), form)
    assert response.status_code == 302
    mailbox = Mailbox.objects.get()
    assert (mailbox.address, mailbox.sending_domain, mailbox.state) == (
        "sam@bluegum.example",
        "bluegum.example",
        "warming",
    )
    refused = admin_client.post(reverse("admin:outreach_mailbox_add"), {**form, "account": "nope"})
    assert refused.status_code == 200 and "nope is not one of the available choices" in refused.content.decode()


def test_the_client_page_lists_its_mailboxes(admin_client):
    mailbox = MailboxFactory(address="sam@bluegum.example", account="mg2")
    page = admin_client.get(reverse("admin:outreach_client_change", args=[mailbox.client_id])).content.decode()
    assert "sam@bluegum.example" in page and "Active (new mailbox)" in page
    assert SECRET not in page


def test_staff_see_only_their_clients_mailboxes(client):
    mine = MailboxFactory(address="mine@ours.example")
    theirs = MailboxFactory(address="theirs@else.example")
    client.force_login(StaffUserFactory(clients=[mine.client]))

    page = client.get(CHANGELIST).content.decode()

    assert "mine@ours.example" in page and "theirs@else.example" not in page
    assert client.get(change_url(theirs)).status_code == 404
    client.post(CHANGELIST, {"action": "pause_mailboxes", "_selected_action": [theirs.pk]})
    assert Mailbox.objects.get(pk=theirs.pk).state == "active"


def test_the_agency_home_lists_paused_mailboxes_with_why_and_a_link(admin_client):
    paused = MailboxFactory(
        address="sam@bluegum.example", state="paused", state_reason="bounce_rate", state_changed_at=timezone.now()
    )
    MailboxFactory(address="fine@bluegum.example")

    page = admin_client.get(reverse("admin:index")).content.decode()

    assert "Paused mailboxes" in page
    assert f'<a href="{change_url(paused)}">sam@bluegum.example</a>' in page
    assert "hard-bounce rate too high" in page and "fine@bluegum.example" not in page


def test_the_agency_home_has_no_paused_list_when_none_is_paused(admin_client):
    MailboxFactory(state_changed_at=timezone.now() - timedelta(days=1))
    assert "Paused mailboxes" not in admin_client.get(reverse("admin:index")).content.decode()
