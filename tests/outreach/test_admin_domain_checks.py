"""The sending-domain checks in the back office: the action on the client list, the last check on a client's page,
its DKIM selector, and the history of checks (scoped to the user's clients). The DNS is the in-memory zone of
tests/engines/providers/fake_dns.py."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from outreach.admin.client import MAX_DOMAIN_CHECKS_PER_ACTION
from outreach.models import DomainCheck
from tests.factories import ClientFactory, DomainCheckFactory, StaffUserFactory
from tests.outreach.test_admin_client import _form

pytestmark = pytest.mark.django_db
CLIENTS = reverse("admin:outreach_client_changelist")
CHECKS = reverse("admin:outreach_domaincheck_changelist")


@pytest.fixture(autouse=True)
def fake_dns(settings):
    settings.DNS_RESOLVER = "tests.engines.providers.fake_dns.FakeResolver"
    settings.DEFAULT_DKIM_SELECTORS = ["default", "google", "pm"]


def check_sending_domains(browser, clients):
    response = browser.post(
        CLIENTS, {"action": "check_sending_domains", "_selected_action": [c.pk for c in clients]}, follow=True
    )
    assert response.status_code == 200
    return [(message.level_tag, message.message) for message in get_messages(response.wsgi_request)]


def test_the_action_checks_each_client_and_says_what_to_fix(admin_client, admin_user):
    good = ClientFactory(name="Good Co", sending_email="sam@good.example")
    bad = ClientFactory(name="Bad Co", sending_email="sam@bad.example")
    silent = ClientFactory(name="Silent Co", sending_email="")

    shown = check_sending_domains(admin_client, [good, bad, silent])

    assert [level for level, _ in shown] == ["error", "success", "warning"]
    assert shown[1][1] == "Good Co (good.example): SPF pass, DKIM pass, DMARC pass."
    assert shown[0][1].startswith("Bad Co (bad.example): SPF fail, DKIM fail, DMARC fail. SPF: 2 SPF records")
    assert "DKIM: The DKIM key at pm._domainkey.bad.example is revoked" in shown[0][1]
    assert "DMARC: No DMARC record at _dmarc.bad.example" in shown[0][1]
    assert shown[2][1] == "Silent Co: no sending email, nothing to check."
    saved = {check.client: check for check in DomainCheck.objects.all()}
    assert set(saved) == {good, bad}
    assert {(check.trigger, check.triggered_by) for check in saved.values()} == {("admin", admin_user)}


def test_the_action_is_named_for_what_it_checks(admin_client):
    ClientFactory()
    page = admin_client.get(CLIENTS).content.decode()
    assert '<option value="check_sending_domains">Check sending domains (SPF, DKIM, DMARC)</option>' in page


def test_the_action_refuses_more_clients_than_it_can_wait_for(admin_client):
    clients = ClientFactory.create_batch(MAX_DOMAIN_CHECKS_PER_ACTION + 1)
    shown = check_sending_domains(admin_client, clients)
    assert shown == [
        (
            "error",
            f"Select at most {MAX_DOMAIN_CHECKS_PER_ACTION} clients: each check waits on the DNS. "
            "`python manage.py check_domains` checks them all.",
        )
    ]
    assert not DomainCheck.objects.exists()


def test_a_clients_page_shows_its_last_check(admin_client):
    client = ClientFactory(name="Bad Co", sending_email="sam@bad.example")
    change = reverse("admin:outreach_client_change", args=[client.pk])
    assert "Never checked: use the action" in admin_client.get(change).content.decode()
    DomainCheckFactory(client=client, domain="bad.example")  # an older check, that passed
    check_sending_domains(admin_client, [client])

    page = admin_client.get(change).content.decode()

    assert "bad.example on " in page and "Admin action by admin" in page
    assert page.count("<span class='outreach-state invalid'>Fail</span>") == 3
    assert "v=spf1 include:spf.protection.outlook.com -all" in page
    assert "The DKIM key at pm._domainkey.bad.example is revoked (empty `p=`)" in page


def test_a_check_of_an_old_sending_address_says_so(admin_client):
    client = ClientFactory(sending_email="sam@new.example")
    DomainCheckFactory(client=client, domain="old.example")
    page = admin_client.get(reverse("admin:outreach_client_change", args=[client.pk])).content.decode()
    assert "old.example on " in page and "(another domain: the sending email changed since)" in page


def test_the_dkim_selector_is_edited_on_the_clients_page_and_only_the_selector_is_taken(admin_client):
    client = ClientFactory()
    change = reverse("admin:outreach_client_change", args=[client.pk])

    refused = admin_client.post(change, _form(client, dkim_selector="s1._domainkey.acme.com"))

    assert refused.status_code == 200
    assert "give only the part before ._domainkey" in str(refused.context["adminform"].form.errors)
    assert admin_client.post(change, _form(client, dkim_selector="s1")).status_code == 302
    client.refresh_from_db()
    assert client.dkim_selector == "s1"
    assert check_sending_domains(admin_client, [client])
    assert DomainCheck.objects.get().dkim_message.startswith("No DKIM key found for ")
    assert "at the selectors tried (s1)" in DomainCheck.objects.get().dkim_message


def test_staff_see_and_check_only_their_clients_domains(client):
    mine = ClientFactory(name="Mine Co", sending_email="sam@good.example")
    theirs = ClientFactory(name="Theirs Co", sending_email="sam@bad.example")
    DomainCheckFactory(client=theirs, domain="bad.example")
    client.force_login(StaffUserFactory(clients=[mine]))

    shown = check_sending_domains(client, [mine, theirs])

    assert shown == [("success", "Mine Co (good.example): SPF pass, DKIM pass, DMARC pass.")]
    history = client.get(CHECKS)
    assert history.status_code == 200
    assert [check.client for check in history.context["cl"].result_list] == [mine]


def test_the_history_of_checks_is_read_only(admin_client):
    check = DomainCheckFactory(spf_record="v=spf1 include:_spf.google.com ~all")
    page = admin_client.get(CHECKS).content.decode()
    assert check.domain in page and "v=spf1 include:_spf.google.com ~all" in page
    assert admin_client.get(reverse("admin:outreach_domaincheck_add")).status_code == 403
    detail = admin_client.get(reverse("admin:outreach_domaincheck_change", args=[check.pk]))
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
