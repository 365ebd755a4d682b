"""Sending-domain checks: SPF, DKIM and DMARC of each client's sending domain, looked up and judged.

`check_domain` looks the records up through a Resolver (settings.DNS_RESOLVER unless one is given), all names at
once, and judges them with engines.rules.dns_auth. A name the DNS does not answer for (timeout, SERVFAIL) makes
that record's verdict "could not look up" (AuthStatus.ERROR); nothing raises. `check_client` does that for a
client's domain and saves the result as a DomainCheck; `domains_to_warn_about` lists the clients whose domain
was never checked or whose last check did not pass (the start-up warning, outreach/checks.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import cast

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import OuterRef, QuerySet, Subquery

from engines.exceptions import EngineError
from engines.providers import load_provider
from engines.providers.dns import DnsLookupFailed, Resolver
from engines.rules.dns_auth import (
    AuthResult,
    dkim_name,
    dmarc_names,
    is_dmarc,
    is_domain_name,
    judge_dkim,
    judge_dmarc,
    judge_spf,
    lookup_failed,
    not_a_domain,
    sending_domain,
)
from outreach.models import CheckTrigger, Client, DomainCheck

# Names looked up at the same time: one domain's SPF, DMARC and every DKIM selector tried.
MAX_PARALLEL_LOOKUPS = 16

# What a lookup gave: the TXT records, or why there was no answer.
Answer = list[str] | DnsLookupFailed


class NoSendingDomain(EngineError):
    """The client has no sending email, so no domain to check: give it one first."""


@dataclass(frozen=True)
class DomainReport:
    """The three verdicts on one sending domain."""

    domain: str
    spf: AuthResult
    dkim: AuthResult
    dmarc: AuthResult

    @property
    def results(self) -> dict[str, AuthResult]:
        return {"SPF": self.spf, "DKIM": self.dkim, "DMARC": self.dmarc}

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.results.values())


def default_resolver() -> Resolver:
    return cast(Resolver, load_provider(settings.DNS_RESOLVER))


def check_domain(
    domain: str, *, dkim_selectors: Sequence[str], resolver: Resolver | None = None, guessed_selectors: bool = False
) -> DomainReport:
    """SPF, DKIM (at each of `dkim_selectors`, the first valid key wins) and DMARC of `domain`.

    `guessed_selectors`: the selectors are the usual ones, not the client's own, so a TXT record there that is
    not a DKIM key (a wildcard record) counts as nothing found rather than as a broken key.
    """
    domain = sending_domain(domain)  # lower case, IDNA, no trailing dot
    if not is_domain_name(domain):
        return DomainReport(domain, not_a_domain(domain), not_a_domain(domain), not_a_domain(domain))
    chosen = resolver if resolver is not None else default_resolver()
    selectors = list(dict.fromkeys(selector.strip() for selector in dkim_selectors if selector.strip()))
    own_dmarc, *parent_dmarc = dmarc_names(domain)
    answers = _look_up(chosen, [domain, own_dmarc, *(dkim_name(selector, domain) for selector in selectors)])
    return DomainReport(
        domain,
        spf=_judged(domain, answers[domain], lambda records: judge_spf(domain, records)),
        dkim=_dkim(domain, selectors, answers, selectors_given=not guessed_selectors),
        dmarc=_dmarc(domain, chosen, own_dmarc, answers[own_dmarc], parent_dmarc),
    )


def _look_up(resolver: Resolver, names: list[str]) -> dict[str, Answer]:
    """Each name's TXT records, looked up in parallel (a slow DNS then costs one timeout, not one per name)."""

    with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_LOOKUPS, len(names))) as pool:
        return dict(zip(names, pool.map(lambda name: _txt(resolver, name), names), strict=True))


def _txt(resolver: Resolver, name: str) -> Answer:
    try:
        return resolver.txt(name)
    except DnsLookupFailed as failed:
        return failed


def _judged(name: str, answer: Answer, judge: Callable[[list[str]], AuthResult]) -> AuthResult:
    if isinstance(answer, DnsLookupFailed):
        return lookup_failed(name, answer.reason)
    return judge(answer)


def _dkim(domain: str, selectors: list[str], answers: dict[str, Answer], *, selectors_given: bool) -> AuthResult:
    """The first valid key among the selectors that answered; a lookup that failed matters only when none did."""
    found: dict[str, list[str]] = {}
    failed: list[tuple[str, DnsLookupFailed]] = []
    for selector in selectors:
        answer = answers[dkim_name(selector, domain)]
        if isinstance(answer, DnsLookupFailed):
            failed.append((selector, answer))
        else:
            found[selector] = answer
    result = judge_dkim(domain, found, selectors_given=selectors_given)
    if failed and not result.passed:
        selector, error = failed[0]
        return lookup_failed(dkim_name(selector, domain), error.reason)
    return result


def _dmarc(domain: str, resolver: Resolver, own: str, answer: Answer, parents: list[str]) -> AuthResult:
    """The domain's own DMARC record, else its nearest parent's (a subdomain inherits its organization's)."""
    found_at = own
    for parent in parents:
        if isinstance(answer, DnsLookupFailed) or any(is_dmarc(record) for record in answer):
            break
        found = _txt(resolver, parent)
        if isinstance(found, DnsLookupFailed) or any(is_dmarc(record) for record in found):
            found_at, answer = parent, found
    return _judged(found_at, answer, lambda records: judge_dmarc(domain, records, found_at=found_at))


def client_domain(client: Client) -> str:
    """The domain of the client's sending email ("" when it has none)."""
    return sending_domain(client.sending_email) if client.sending_email.strip() else ""


def client_selectors(client: Client) -> list[str]:
    """The client's own DKIM selector, else the usual ones (settings.DEFAULT_DKIM_SELECTORS)."""
    return [client.dkim_selector] if client.dkim_selector.strip() else list(settings.DEFAULT_DKIM_SELECTORS)


def check_client(
    client: Client,
    *,
    trigger: CheckTrigger,
    by: AbstractBaseUser | None = None,
    resolver: Resolver | None = None,
) -> DomainCheck:
    """Check the client's sending domain now and save the result (raises NoSendingDomain without one)."""
    domain = client_domain(client)
    if not domain:
        raise NoSendingDomain(f"{client} has no sending email: give it one to check its domain.")
    report = check_domain(
        domain,
        dkim_selectors=client_selectors(client),
        resolver=resolver,
        guessed_selectors=not client.dkim_selector.strip(),
    )
    verdicts = {
        f"{prefix}_{part}": getattr(result, part)
        for prefix, result in (("spf", report.spf), ("dkim", report.dkim), ("dmarc", report.dmarc))
        for part in ("status", "record", "message")
    }
    return DomainCheck.objects.create(
        client=client, domain=report.domain, trigger=trigger, triggered_by_id=None if by is None else by.pk, **verdicts
    )


def latest_checks(clients: QuerySet[Client]) -> dict[int, DomainCheck]:
    """Each client's newest DomainCheck, by client id (clients never checked are left out). Two queries."""
    newest = DomainCheck.objects.filter(client=OuterRef("pk")).order_by("-checked_at", "-pk").values("pk")[:1]
    ids = clients.order_by().annotate(newest=Subquery(newest)).values_list("newest", flat=True)
    return {check.client_id: check for check in DomainCheck.objects.filter(pk__in=[pk for pk in ids if pk])}


@dataclass(frozen=True)
class DomainWarnings:
    """Clients sending from a domain never checked (with that domain), and the last checks that did not pass."""

    never_checked: list[tuple[Client, str]]
    failing: list[DomainCheck]


def domains_to_warn_about() -> DomainWarnings:
    sending = Client.objects.exclude(sending_email="")
    latest = latest_checks(sending)
    clients = list(sending.order_by("name", "pk"))
    never_checked, failing = [], []
    for client in clients:
        domain, check = client_domain(client), latest.get(client.pk)
        if check is None or check.domain != domain:
            never_checked.append((client, domain))
        elif not check.passed:
            failing.append(check)
    return DomainWarnings(never_checked, failing)
