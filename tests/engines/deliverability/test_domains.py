"""Sending-domain checks through a fake resolver: pass, missing, malformed, a DNS that does not answer, the
DMARC record of a parent domain, and what is saved and warned about."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.utils import timezone

from engines.services.deliverability.domains import (
    NoSendingDomain,
    check_client,
    check_domain,
    domains_to_warn_about,
    latest_checks,
)
from outreach.models import AuthStatus, CheckTrigger, Client, DomainCheck
from tests.engines.providers.fake_dns import RSA_1024, RSA_2048, FakeResolver
from tests.factories import ClientFactory, DomainCheckFactory, StaffUserFactory

PASS, WARN, FAIL, ERROR = AuthStatus.PASS, AuthStatus.WARN, AuthStatus.FAIL, AuthStatus.ERROR
SELECTORS = ["default", "google", "s1", "pm"]
ACME = {
    "acme.com": ["v=spf1 include:_spf.google.com ~all", "MS=ms123"],
    "google._domainkey.acme.com": [f"v=DKIM1; k=rsa; p={RSA_2048}"],
    "_dmarc.acme.com": ["v=DMARC1; p=none; rua=mailto:dmarc@acme.com"],
}


def test_a_domain_set_up_as_gmail_asks_passes():
    resolver = FakeResolver(ACME, failing=())

    report = check_domain("acme.com", dkim_selectors=SELECTORS, resolver=resolver, guessed_selectors=True)

    assert report.passed
    assert (report.spf.status, report.dkim.status, report.dmarc.status) == (PASS, PASS, PASS)
    assert report.spf.record == "v=spf1 include:_spf.google.com ~all"
    assert report.dkim.record == f"v=DKIM1; k=rsa; p={RSA_2048}"
    assert "google._domainkey.acme.com" in report.dkim.message
    assert sorted(resolver.asked) == sorted(
        ["acme.com", "_dmarc.acme.com", *(f"{s}._domainkey.acme.com" for s in SELECTORS)]
    )


def test_a_domain_with_nothing_published_fails_all_three():
    report = check_domain("acme.com", dkim_selectors=SELECTORS, resolver=FakeResolver({}, failing=()))

    assert not report.passed
    assert [result.status for result in report.results.values()] == [FAIL, FAIL, FAIL]
    assert "No SPF record at acme.com" in report.spf.message
    assert "No DKIM key found for acme.com at the selectors tried (default, google, s1, pm)" in report.dkim.message
    assert "No DMARC record at _dmarc.acme.com" in report.dmarc.message


def test_malformed_records_fail_with_what_to_fix():
    zone = {
        "acme.com": ["v=spf1 include:_spf.google.com +all"],
        "pm._domainkey.acme.com": ["v=DKIM1; k=rsa; p="],
        "_dmarc.acme.com": ["v=DMARC1; rua=mailto:dmarc@acme.com"],
    }
    report = check_domain("acme.com", dkim_selectors=["pm"], resolver=FakeResolver(zone, failing=()))

    assert [result.status for result in report.results.values()] == [FAIL, FAIL, FAIL]
    assert "Replace `+all` with `~all`" in report.spf.message
    assert "revoked" in report.dkim.message
    assert "it has no `p=` policy" in report.dmarc.message


def test_a_dns_that_does_not_answer_is_could_not_look_up_never_an_exception():
    resolver = FakeResolver(ACME, failing=["acme.com", "_dmarc.acme.com"])

    report = check_domain("acme.com", dkim_selectors=["google"], resolver=resolver)

    assert (report.spf.status, report.dkim.status, report.dmarc.status) == (ERROR, PASS, ERROR)
    assert not report.passed
    assert report.spf.message.startswith("Could not look up acme.com (no answer within 5 seconds)")
    assert report.dmarc.message.startswith("Could not look up _dmarc.acme.com")


def test_dkim_is_could_not_look_up_only_when_no_selector_that_answered_holds_a_key():
    failing = ["s1._domainkey.acme.com"]
    found = check_domain("acme.com", dkim_selectors=SELECTORS, resolver=FakeResolver(ACME, failing=failing))
    assert found.dkim.status == PASS

    zone = {**ACME, "google._domainkey.acme.com": []}
    unknown = check_domain("acme.com", dkim_selectors=SELECTORS, resolver=FakeResolver(zone, failing=failing))
    assert unknown.dkim.status == ERROR
    assert unknown.dkim.message.startswith("Could not look up s1._domainkey.acme.com")


def test_a_subdomain_without_dmarc_of_its_own_takes_its_organizations():
    zone = {
        "mail.acme.com": ["v=spf1 include:mailgun.org ~all"],
        "k1._domainkey.mail.acme.com": [f"k=rsa; p={RSA_1024}"],
        "_dmarc.acme.com": ["v=DMARC1; p=reject; sp=quarantine"],
    }
    resolver = FakeResolver(zone, failing=())

    report = check_domain("Mail.Acme.com.", dkim_selectors=["k1"], resolver=resolver)

    assert report.domain == "mail.acme.com" and report.passed
    assert report.dmarc.message == (
        "DMARC record found at _dmarc.acme.com, which covers mail.acme.com, policy quarantine."
    )
    assert [name for name in resolver.asked if name.startswith("_dmarc.")] == [
        "_dmarc.mail.acme.com",
        "_dmarc.acme.com",
    ]


def test_the_parents_are_asked_only_when_the_domain_has_no_dmarc_record():
    resolver = FakeResolver({"_dmarc.mail.acme.com": ["v=DMARC1; p=none"]}, failing=())
    assert check_domain("mail.acme.com", dkim_selectors=["google"], resolver=resolver).dmarc.status == PASS
    assert "_dmarc.acme.com" not in resolver.asked


def test_not_a_domain_is_a_failure_without_any_lookup():
    resolver = FakeResolver(ACME, failing=())
    report = check_domain("not a domain", dkim_selectors=["google"], resolver=resolver)
    assert [result.status for result in report.results.values()] == [FAIL, FAIL, FAIL]
    assert "is not a domain name" in report.spf.message
    assert resolver.asked == []


def test_the_names_are_looked_up_at_the_same_time():
    # Each lookup waits for all of them: looked up one after another, the first would wait for ever.
    names = 2 + len(SELECTORS)
    everyone = threading.Barrier(names, timeout=10)

    class Waiting(FakeResolver):
        def txt(self, name: str) -> list[str]:
            everyone.wait()
            return super().txt(name)

    assert check_domain("acme.com", dkim_selectors=SELECTORS, resolver=Waiting(ACME, failing=())).passed


def test_the_resolver_comes_from_settings(settings):
    settings.DNS_RESOLVER = "tests.engines.providers.fake_dns.FakeResolver"
    assert check_domain("good.example", dkim_selectors=["google"]).passed
    assert check_domain("slow.example", dkim_selectors=["google"]).spf.status == ERROR


@pytest.mark.django_db
def test_a_clients_check_is_saved_with_who_started_it(settings):
    settings.DNS_RESOLVER = "tests.engines.providers.fake_dns.FakeResolver"
    settings.DEFAULT_DKIM_SELECTORS = ["default", "google"]
    client = ClientFactory(sending_email="sam@Good.Example")
    user = StaffUserFactory()

    check = check_client(client, trigger=CheckTrigger.ADMIN, by=user)

    check.refresh_from_db()
    assert (check.client, check.domain, check.trigger, check.triggered_by) == (client, "good.example", "admin", user)
    assert check.passed and check.failed_records() == []
    assert check.spf_record == "v=spf1 include:_spf.google.com ~all"
    assert check.dkim_message == "DKIM key found at google._domainkey.good.example."


@pytest.mark.django_db
def test_a_clients_own_selector_is_the_only_one_tried():
    resolver = FakeResolver(failing=())
    client = ClientFactory(sending_email="sam@bad.example", dkim_selector="pm")

    check = check_client(client, trigger=CheckTrigger.COMMAND, resolver=resolver)

    assert [name for name in resolver.asked if "_domainkey" in name] == ["pm._domainkey.bad.example"]
    assert check.failed_records() == ["SPF", "DKIM", "DMARC"]
    assert check.statuses() == {"SPF": "fail", "DKIM": "fail", "DMARC": "fail"}
    assert "2 SPF records at bad.example" in check.spf_message


@pytest.mark.django_db
def test_a_client_without_a_sending_email_cannot_be_checked():
    with pytest.raises(NoSendingDomain, match="has no sending email"):
        check_client(ClientFactory(sending_email=""), trigger=CheckTrigger.COMMAND, resolver=FakeResolver())
    assert not DomainCheck.objects.exists()


@pytest.mark.django_db
def test_the_newest_check_of_each_client_counts():
    client, other, never = ClientFactory(), ClientFactory(), ClientFactory()
    old = timezone.now() - timedelta(days=3)
    DomainCheckFactory(client=client, checked_at=old, spf_status="fail")
    newest = DomainCheckFactory(client=client)
    DomainCheckFactory(client=client, checked_at=old - timedelta(days=1))
    others = DomainCheckFactory(client=other, dkim_status="error")

    latest = latest_checks(Client.objects.all())

    assert latest == {client.pk: newest, other.pk: others}
    assert never.pk not in latest


@pytest.mark.django_db
def test_the_domains_to_warn_about():
    passing = DomainCheckFactory(client=ClientFactory(name="Passing")).client
    failing = DomainCheckFactory(client=ClientFactory(name="Failing"), dmarc_status="fail", dkim_status="error")
    never = ClientFactory(name="Never", sending_email="sam@never.example")
    moved = ClientFactory(name="Moved", sending_email="sam@new.example")
    DomainCheckFactory(client=moved, domain="old.example")
    warned = ClientFactory(name="Warned")
    DomainCheckFactory(client=warned, spf_status="warn")
    ClientFactory(name="Silent", sending_email="")

    found = domains_to_warn_about()

    assert found.never_checked == [(moved, "new.example"), (never, "never.example")]
    assert found.failing == [failing]
    assert failing.failed_records() == ["DKIM", "DMARC"]
    assert passing not in [client for client, _ in found.never_checked]


def test_a_warning_still_passes():
    zone = {**ACME, "acme.com": ["v=spf1 include:_spf.google.com ?all"]}
    report = check_domain("acme.com", dkim_selectors=["google"], resolver=FakeResolver(zone, failing=()))
    assert report.spf.status == WARN and report.passed
