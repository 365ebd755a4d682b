"""System checks of the outreach app: start-up warnings about what stops mail from arriving.

`sending_domains` (outreach.W001, outreach.W002) warns, when DEBUG is off, about clients whose sending domain
was never checked for SPF, DKIM and DMARC, or whose last check did not pass: Gmail and Yahoo reject or junk
bulk mail from such domains. `mailbox_accounts` (outreach.W003) warns about mailboxes whose ESP account is not
configured or misses a secret in the environment: their emails would fail when they are sent. They read the
database, so they are tagged `database`: Django runs them in `migrate` and in `check --database default`, not
in every command. A database without the tables yet (before `migrate`) or one that cannot be reached gives no
warning: `migrate` must still be able to create them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from django.apps import AppConfig
from django.conf import settings
from django.core import checks
from django.db import DatabaseError, transaction

from engines.services.deliverability.domains import domains_to_warn_about
from engines.services.deliverability.mailboxes import mailboxes_that_cannot_send

T = TypeVar("T")

# Clients named in one warning; the rest are counted.
NAMED = 10
HOW_TO_CHECK = (
    "Run `python manage.py check_domains`, or the action 'Check sending domains (SPF, DKIM, DMARC)' on the "
    "admin's client list."
)


@checks.register(checks.Tags.database)
def sending_domains(
    app_configs: Sequence[AppConfig] | None = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    found = _read_in_production(databases, domains_to_warn_about)
    if found is None:
        return []
    warnings: list[checks.CheckMessage] = []
    if found.never_checked:
        names = [f"{client} ({domain})" for client, domain in found.never_checked]
        warnings.append(
            checks.Warning(
                f"{_count(names, 'client sends', 'clients send')} from a domain never checked for SPF, DKIM and "
                f"DMARC: {_listed(names)}.",
                hint=HOW_TO_CHECK + " Gmail and Yahoo reject or junk bulk mail from domains without them.",
                id="outreach.W001",
            )
        )
    if found.failing:
        names = [f"{check.client} ({check.domain}: {', '.join(check.failed_records())})" for check in found.failing]
        warnings.append(
            checks.Warning(
                f"The last sending-domain check of {_count(names, 'client', 'clients')} did not pass: "
                f"{_listed(names)}.",
                hint="The client's admin page says what to fix in the DNS. " + HOW_TO_CHECK,
                id="outreach.W002",
            )
        )
    return warnings


@checks.register(checks.Tags.database)
def mailbox_accounts(
    app_configs: Sequence[AppConfig] | None = None, databases: Sequence[str] | None = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    found = _read_in_production(databases, mailboxes_that_cannot_send)
    if not found:
        return []
    names = [f"{address} ({problem})" for address, problem in found]
    return [
        checks.Warning(
            f"{_count(names, 'mailbox', 'mailboxes')} cannot send: {_listed(names)}.",
            hint="Set the variables in the environment of the web server and the qcluster workers, or give the "
            "mailbox another account on its admin page. Until then its emails are retried, and fail after five "
            "attempts.",
            id="outreach.W003",
        )
    ]


def _read_in_production(databases: Sequence[str] | None, read: Callable[[], T]) -> T | None:
    """What `read` finds, when DEBUG is off and the default database is checked; None otherwise, or when the
    database cannot answer (not migrated yet, or not reachable: `migrate` and other checks say so)."""
    if settings.DEBUG or not databases or "default" not in databases:
        return None
    try:
        with transaction.atomic():  # a savepoint when called inside a transaction: a failed query spoils nothing
            return read()
    except DatabaseError:
        return None


def _count(names: list[str], one: str, many: str) -> str:
    return f"1 {one}" if len(names) == 1 else f"{len(names)} {many}"


def _listed(names: list[str]) -> str:
    more = len(names) - NAMED
    return ", ".join(names[:NAMED]) + (f" and {more} more" if more > 0 else "")
