"""The dnspython resolver: each TXT record as one string, "no such record" as an empty list, and a DNS that does
not answer as DnsLookupFailed. dnspython's query is replaced here; no test touches the network."""

from __future__ import annotations

import socket

import dns.exception
import dns.message
import dns.name
import dns.rdata
import dns.resolver
import pytest

from engines.providers.dns import DnsLookupFailed, DnsPythonResolver


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a test used the network")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def answering(monkeypatch, answer=(), error=None):
    """Make dnspython's resolve return `answer` (or raise `error`); returns the calls it got."""
    calls = []

    def resolve(self, qname, rdtype, **kwargs):
        calls.append((qname, rdtype, kwargs, self.lifetime))
        if error is not None:
            raise error
        return list(answer)

    monkeypatch.setattr(dns.resolver.Resolver, "resolve", resolve)
    return calls


def txt(text: str) -> dns.rdata.Rdata:
    return dns.rdata.from_text("IN", "TXT", text)


def test_each_record_is_one_string_its_pieces_joined(monkeypatch):
    # A 2048-bit DKIM key does not fit one 255-byte string: it is published as several, read as one.
    calls = answering(monkeypatch, [txt('"v=DKIM1; k=rsa; " "p=MIIBIjAN"'), txt('"google-site-verification=x"')])
    resolver = DnsPythonResolver(timeout=3, nameservers=["192.0.2.53"])

    assert resolver.txt("google._domainkey.acme.com") == ["v=DKIM1; k=rsa; p=MIIBIjAN", "google-site-verification=x"]
    ((name, rdtype, options, lifetime),) = calls
    assert (name, rdtype, options["search"], lifetime) == ("google._domainkey.acme.com", "TXT", False, 3.0)


def test_the_timeout_comes_from_settings(settings):
    settings.DNS_TIMEOUT = 7
    assert DnsPythonResolver(nameservers=["192.0.2.53"]).timeout == 7.0


@pytest.mark.parametrize(
    "error", [dns.resolver.NXDOMAIN(), dns.resolver.NoAnswer()], ids=["no-such-name", "no-txt-record"]
)
def test_no_such_record_is_an_empty_list(monkeypatch, error):
    answering(monkeypatch, error=error)
    assert DnsPythonResolver(nameservers=["192.0.2.53"]).txt("_dmarc.acme.com") == []


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (dns.resolver.LifetimeTimeout(timeout=5.0, errors={}), "no answer within 5 seconds"),
        (dns.exception.Timeout(), "no answer within 5 seconds"),
        (
            dns.resolver.NoNameservers(request=dns.message.make_query("acme.com", "TXT"), errors=[]),
            "the DNS servers failed to answer (SERVFAIL or refused)",
        ),
        (dns.name.LabelTooLong(), "A DNS label is > 63 octets long."),
    ],
    ids=["lifetime", "timeout", "servfail", "other"],
)
def test_a_dns_that_does_not_answer_raises_lookup_failed(monkeypatch, error, reason):
    answering(monkeypatch, error=error)
    with pytest.raises(DnsLookupFailed) as raised:
        DnsPythonResolver(timeout=5, nameservers=["192.0.2.53"]).txt("acme.com")
    assert (raised.value.name, raised.value.reason, raised.value.retryable) == ("acme.com", reason, True)


def test_a_machine_without_dns_servers_fails_at_the_lookup_not_at_start(monkeypatch):
    def unconfigured(self, *args, **kwargs):
        raise dns.resolver.NoResolverConfiguration("no nameservers")

    monkeypatch.setattr(dns.resolver.Resolver, "__init__", unconfigured)
    resolver = DnsPythonResolver()
    with pytest.raises(DnsLookupFailed, match="could not look up acme.com: no DNS server configured"):
        resolver.txt("acme.com")
