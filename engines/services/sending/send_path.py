"""The one send path of the four channel engines: gate, check, provider, record.

Everything that could make a send reach the wrong person, or go out and
then fail to be recorded, is refused here before any provider is called:
a lead of another client, a recipient that is not exactly one valid
address, text the database cannot store (NUL, lone surrogates), text over
the channel's limit. After the provider accepted, a failure to record
raises SentNotRecorded and logs the provider message id at ERROR, so the
send is never lost silently.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeAlias
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email

from engines.exceptions import InvalidTouch, SendBlocked, SentNotRecorded
from engines.json_types import JSONValue
from engines.rules.compliance import check_can_contact, check_contact_hours
from engines.rules.content import build_content_snapshot
from engines.rules.placeholders import subject_error
from engines.services.sending.recording import (
    SentTouch,
    check_owner,
    check_reachable,
    current_lead,
    record_touches,
    touch_context,
)
from outreach.models import Activity, Client, Lead, ScheduledTouch

logger = logging.getLogger(__name__)

# RFC 5322 2.1.1: a line is at most 998 octets without its CRLF; a subject header is "Subject: " + text.
EMAIL_LINE_LIMIT = 998
EMAIL_SUBJECT_LIMIT = EMAIL_LINE_LIMIT - len("Subject: ")
# Characters in a recipient that would make one address field reach several people or break the header.
_ADDRESS_SEPARATORS = frozenset(",;<>\r\n\t ")

# What a Prepared's `send` is handed: an email connection for an email, an SMS provider for a text, None for
# the configured one. Which one depends on the channel, known only at run time (the dispatcher hands each send
# the handle of its channel), so this stays `Any`; each channel's own `send` declares the type it takes.
ProviderHandle: TypeAlias = Any


@dataclass(frozen=True)
class Sent:
    """What a provider answered when it accepted a touch: its message id and details for the metadata."""

    message_id: str
    details: dict[str, JSONValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Outgoing:
    """One touch on its way: who, for whom, on which channel, as which step of which sequence."""

    lead: Lead
    client: Client
    channel: str
    now: datetime
    touch_number: int
    sequence_id: uuid.UUID | None
    touch: ScheduledTouch | None = None


def start(
    lead: Lead,
    client: Client,
    channel: str,
    *,
    now: datetime,
    touch_number: object = 1,
    sequence_id: object = None,
    touch: ScheduledTouch | None = None,
    gated: bool = True,
    check_hours: bool = False,
    lead_is_current: bool = False,
) -> Outgoing:
    """The gate: the lead is the client's, reachable on `channel` now (and inside contact hours when asked).

    A touch given sets the touch number and sequence. `gated=False` records
    what already happened (a call made) without the reachability gate; the
    lead must still be the client's. `lead_is_current` says the caller has
    just read the lead from the database, so it is not read again.
    """
    if touch is not None:
        touch_number, sequence_id = touch.touch_number, touch.sequence_id
        if touch.lead_id != lead.pk or touch.client_id != getattr(client, "pk", None):
            raise InvalidTouch(f"touch {touch.pk} is for lead {touch.lead_id} of client {touch.client_id}")
    if gated and lead_is_current:
        check_owner(lead, client)
        check_can_contact(lead, channel)
    elif gated:
        check_reachable(lead, channel, client)
    else:
        current_lead(lead, client)
    if check_hours:
        check_contact_hours(lead, channel, now, client)
    number, sequence_uuid = touch_context(touch_number, sequence_id)
    return Outgoing(lead, client, channel, now, number, sequence_uuid, touch)


def content_snapshot(
    outgoing: Outgoing, text: str | None, *, subject: str | None = None, timed_by: str = "send"
) -> dict[str, JSONValue]:
    """The standard content snapshot of what this touch says, at its time, as its step of its sequence."""
    return build_content_snapshot(
        text,
        outgoing.lead,
        subject=subject,
        touch_number=outgoing.touch_number,
        sequence_id=outgoing.sequence_id,
        channel=str(outgoing.channel),
        sent_at=outgoing.now,
        client=outgoing.client,
        timed_by=timed_by,
    )


def check_text(text: object, *, what: str, limit: int | None = None, required: bool = True) -> str:
    """`text` when the database can store it and it fits `limit` characters; InvalidTouch otherwise."""
    if text is None and not required:
        return ""
    if not isinstance(text, str):
        raise InvalidTouch(f"{what} must be text, got {type(text).__name__}")
    if required and not text.strip():
        raise InvalidTouch(f"{what} is empty")
    if "\x00" in text:
        raise InvalidTouch(f"{what} contains a NUL character, which the database cannot store; remove it")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidTouch(f"{what} contains a lone surrogate (broken Unicode); fix the text") from None
    if limit is not None and len(text) > limit:
        raise InvalidTouch(f"{what} is at most {limit} characters, this one has {len(text)}")
    return text


def check_email_text(subject: object, body: object) -> None:
    """RFC 5322 limits: a one-line subject that fits its header line, and body lines of at most 998 octets."""
    subject = check_text(subject, what="an email subject", limit=EMAIL_SUBJECT_LIMIT)
    if (error := subject_error(subject)) is not None:
        raise InvalidTouch(error)
    body = check_text(body, what="an email body")
    for number, line in enumerate(body.splitlines(), start=1):
        if len(line.encode("utf-8")) > EMAIL_LINE_LIMIT:
            raise InvalidTouch(f"line {number} of the email body is over {EMAIL_LINE_LIMIT} octets (RFC 5322)")


def email_address(value: object, *, reason: str) -> str:
    """`value` when it is exactly one valid email address; SendBlocked(reason) otherwise."""
    address = value.strip() if isinstance(value, str) else ""
    if not address or _ADDRESS_SEPARATORS.intersection(address) or address.count("@") != 1:
        raise SendBlocked(reason, f"{value!r} is not exactly one email address")
    try:
        validate_email(address)
    except ValidationError:
        raise SendBlocked(reason, f"{value!r} is not a valid email address") from None
    return address


def linkedin_profile(value: object) -> str:
    """`value` when it is one LinkedIn profile URL; SendBlocked("invalid_linkedin_url") otherwise."""
    url = value.strip() if isinstance(value, str) else ""
    host = (urlsplit(url).hostname or "").lower()
    try:
        URLValidator(schemes=["https", "http"])(url)
    except ValidationError:
        host = ""
    if not (host == "linkedin.com" or host.endswith(".linkedin.com")) or _ADDRESS_SEPARATORS.intersection(url):
        raise SendBlocked("invalid_linkedin_url", f"{value!r} is not one LinkedIn profile URL")
    return url


@dataclass(frozen=True)
class Prepared:
    """A touch checked and ready for its provider: what will be recorded, and the call that sends it.

    `send` takes the channel's provider handle (an email connection, an SMS
    provider; None means the configured one) so a dispatcher can send from
    its own threads' connections; it never touches the database. `message_id`:
    an email's own Message-ID (bare), recorded on its Activity.
    """

    outgoing: Outgoing
    action: str
    snapshot: dict[str, JSONValue]
    metadata: dict[str, JSONValue]
    send: Callable[[ProviderHandle], Sent]
    message_id: str = ""
    # The mailbox an email goes from (None: the client's sending_email), recorded on its Activity.
    mailbox_id: int | None = None


def deliver(prepared: Prepared, *, provider: ProviderHandle = None) -> Activity:
    """Call the provider, then record the Activity (and the touch as sent) in one transaction.

    A provider failure raises its ProviderError with nothing recorded. When
    the provider accepted and the record then fails, the provider message id
    is logged at ERROR and SentNotRecorded is raised: never send it again.
    """
    return record(prepared, prepared.send(provider))


def record(prepared: Prepared, sent: Sent) -> Activity:
    """Record one accepted send; SentNotRecorded (logged with the provider message id) when that fails."""
    try:
        return record_touches([sent_touch(prepared, sent)])[0]
    except Exception as exc:
        raise sent_not_recorded(prepared, sent, exc) from exc


def record_many(accepted: list[tuple[Prepared, Sent]]) -> list[Activity | SentNotRecorded]:
    """Record many accepted sends: one transaction for all, else (when that fails) one each. The leads in
    memory are not refreshed.

    Each result is the send's Activity or, when even its own record failed,
    the SentNotRecorded error (already logged) for the caller to settle.
    """
    try:
        return list(record_touches([sent_touch(prepared, sent) for prepared, sent in accepted], refresh=False))
    except Exception:
        logger.warning("recording %d sends together failed; recording them one by one", len(accepted), exc_info=True)
    results: list[Activity | SentNotRecorded] = []
    for prepared, sent in accepted:
        try:
            results.append(record(prepared, sent))
        except SentNotRecorded as exc:
            results.append(exc)
    return results


def sent_touch(prepared: Prepared, sent: Sent) -> SentTouch:
    outgoing = prepared.outgoing
    return SentTouch(
        lead=outgoing.lead,
        client=outgoing.client,
        action=prepared.action,
        channel=outgoing.channel,
        content_snapshot=prepared.snapshot,
        metadata={**prepared.metadata, **sent.details, "provider_message_id": sent.message_id},
        at=outgoing.now,
        touch_number=outgoing.touch_number,
        sequence_id=outgoing.sequence_id,
        provider_message_id=sent.message_id,
        message_id=prepared.message_id,
        touch=outgoing.touch,
        mailbox_id=prepared.mailbox_id,
    )


def sent_not_recorded(prepared: Prepared, sent: Sent, exc: Exception) -> SentNotRecorded:
    """The error for a send the provider accepted and we failed to record, logged at ERROR with its message id."""
    outgoing = prepared.outgoing
    touch_id = outgoing.touch.pk if outgoing.touch is not None else None
    logger.error(
        "sent, not recorded: %s to lead %s (client %s, touch %s) accepted with provider message id %r; "
        "recording it failed: %s",
        outgoing.channel,
        outgoing.lead.pk,
        outgoing.client.pk,
        touch_id,
        sent.message_id,
        exc,
    )
    return SentNotRecorded(
        f"{outgoing.channel} to lead {outgoing.lead.pk}: {exc}",
        provider_message_id=sent.message_id,
        channel=outgoing.channel,
        touch_id=touch_id,
    )
