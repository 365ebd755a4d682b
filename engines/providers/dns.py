"""DNS lookups: the TXT records of a name, through dnspython, behind a one-method interface.

settings.DNS_RESOLVER names the class (tests point it at an in-memory zone). A resolver's `txt(name)` returns
the name's TXT records, each as one string (the quoted pieces of a long record joined, as SPF and DKIM read
them), an empty list when the name or its TXT records do not exist, and raises DnsLookupFailed when the DNS
did not answer (timeout, SERVFAIL): "no record" and "could not look" are never confused.
"""

from __future__ import annotations

from typing import Protocol

import dns.exception
import dns.rdtypes.txtbase
import dns.resolver
from django.conf import settings

from engines.exceptions import ProviderError


class DnsLookupFailed(ProviderError):
    """The DNS gave no answer for a name (timeout, SERVFAIL, no server reachable); asking again later may work."""

    def __init__(self, name: str, reason: str):
        self.name = name
        self.reason = reason
        super().__init__(f"could not look up {name}: {reason}", retryable=True)


class Resolver(Protocol):
    def txt(self, name: str) -> list[str]: ...


class DnsPythonResolver:
    """The system's DNS servers (/etc/resolv.conf), through dnspython, waiting at most `timeout` seconds per name
    (settings.DNS_TIMEOUT unless given), retries included."""

    def __init__(self, *, timeout: float | None = None, nameservers: list[str] | None = None):
        self.timeout = float(settings.DNS_TIMEOUT if timeout is None else timeout)
        self._resolver: dns.resolver.Resolver | None = None
        self._unusable = ""
        try:
            resolver = dns.resolver.Resolver(configure=nameservers is None)
        except dns.exception.DNSException as exc:  # no /etc/resolv.conf: said at the first lookup, not at start
            self._unusable = f"no DNS server configured ({exc})"
            return
        if nameservers is not None:
            resolver.nameservers = nameservers
        resolver.lifetime = self.timeout
        self._resolver = resolver

    def txt(self, name: str) -> list[str]:
        if self._resolver is None:
            raise DnsLookupFailed(name, self._unusable)
        try:
            answer = self._resolver.resolve(name, "TXT", search=False, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return []
        except dns.resolver.NoAnswer:  # raise_on_no_answer=False: only from an answer that is not for our name
            return []
        except dns.exception.Timeout:
            raise DnsLookupFailed(name, f"no answer within {self.timeout:g} seconds") from None
        except dns.resolver.NoNameservers:
            raise DnsLookupFailed(name, "the DNS servers failed to answer (SERVFAIL or refused)") from None
        except dns.exception.DNSException as exc:
            raise DnsLookupFailed(name, str(exc) or type(exc).__name__) from None
        return [
            b"".join(record.strings).decode("utf-8", errors="replace")
            for record in answer
            if isinstance(record, dns.rdtypes.txtbase.TXTBase)
        ]
