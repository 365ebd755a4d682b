"""Email engine: send one email through anymail (whatever ESP EMAIL_BACKEND names) and record what was sent."""

from __future__ import annotations

import smtplib
from datetime import datetime
from email.utils import formataddr
from typing import Any

import requests
from anymail.exceptions import AnymailError, AnymailRecipientsRefused
from anymail.message import AnymailMessage
from django.utils import timezone

from engines.exceptions import InvalidTouch, ProviderError, SendBlocked
from engines.services.content import build_content_snapshot
from engines.services.touches import check_reachable, record_touch, touch_context
from engines.services.unsubscribe import list_unsubscribe_headers, unsubscribe_url
from outreach.models import Activity, Channel, Lead


def footer(client: Any, lead: Lead) -> str:
    """Who is writing and how to stop it: commercial email must carry both (Spam Act 2003, CAN-SPAM)."""
    sender = ", ".join(part for part in (client.name, " ".join(client.physical_address.split())) if part)
    return f"\n\n--\n{sender}\nTo stop receiving these emails: {unsubscribe_url(lead)}"


def email_provider_error(exc: AnymailError) -> ProviderError:
    """The ProviderError for an anymail failure: timeouts, 429 and 5xx may be retried; other 4xx may not."""
    status = exc.status_code
    reason = exc.args[0] if exc.args else type(exc).__name__
    esp = exc.esp_name or "the ESP"
    if isinstance(exc, AnymailRecipientsRefused):
        return ProviderError(f"{esp} refused the recipient: {reason}", retryable=False, code="recipients_refused")
    if status is None:
        # anymail raises network failures as subclasses of both its error and the requests one.
        network = isinstance(exc, (requests.Timeout, requests.ConnectionError))
        return ProviderError(f"{esp} send failed: {reason}", retryable=network, code="network" if network else None)
    retryable = status == 429 or status >= 500
    return ProviderError(f"{esp} answered HTTP {status}: {reason}", retryable=retryable, code=status)


def send_email(
    lead: Lead,
    client: Any,
    subject: str,
    body: str,
    *,
    template_id: Any = None,
    touch_number: int = 1,
    sequence_id: Any = None,
    now: datetime | None = None,
    connection: Any = None,
) -> Activity:
    """Send one email to the lead from the client's sending address and return the saved email_sent Activity.

    The message carries one-click List-Unsubscribe headers and a footer with
    the client's postal address and the same signed unsubscribe link.
    Raises SendBlocked (do-not-contact, unsubscribed, bounced, no address)
    or ProviderError, in both cases with nothing recorded.
    """
    now = now or timezone.now()
    check_reachable(lead, Channel.EMAIL)
    touch_number, sequence_uuid = touch_context(touch_number, sequence_id)
    if not isinstance(subject, str) or not subject.strip():
        raise InvalidTouch("an email needs a subject")
    if not isinstance(body, str) or not body.strip():
        raise InvalidTouch("an email needs a body")
    if not getattr(client, "sending_email", ""):
        raise SendBlocked("no_sender_email", f"client {client.pk} has no sending email address")

    snapshot = build_content_snapshot(
        body,
        lead,
        subject=subject,
        touch_number=touch_number,
        sequence_id=sequence_uuid,
        channel=Channel.EMAIL.value,
        sent_at=now,
        client=client,
    )
    snapshot["template_id"] = str(template_id) if template_id is not None else None
    ids = {"client_id": str(client.pk), "lead_id": str(lead.pk), "touch_number": str(touch_number)}
    if sequence_uuid is not None:
        ids["sequence_id"] = str(sequence_uuid)

    message = AnymailMessage(
        subject=subject,
        body=body + footer(client, lead),
        from_email=formataddr((client.name, client.sending_email)),
        to=[lead.email],
        headers=list_unsubscribe_headers(lead),
        # One tag: Postmark accepts no more (anymail raises); the ids ride in the metadata.
        tags=[f"client-{client.pk}"],
        metadata=ids,
        connection=connection,
    )
    try:
        message.send()
    except AnymailError as exc:
        raise email_provider_error(exc) from exc
    except smtplib.SMTPRecipientsRefused as exc:  # a plain SMTP backend instead of an ESP
        raise ProviderError(
            f"SMTP server refused the recipient: {exc}", retryable=False, code="recipients_refused"
        ) from exc
    except smtplib.SMTPResponseException as exc:
        raise ProviderError(
            f"SMTP server answered {exc.smtp_code}: {exc.smtp_error!r}",
            retryable=exc.smtp_code < 500,
            code=exc.smtp_code,
        ) from exc
    except OSError as exc:
        raise ProviderError(f"email backend failed: {exc}", retryable=True, code="network") from exc

    status = message.anymail_status
    message_id = "" if status.message_id is None else str(status.message_id)
    return record_touch(
        lead,
        client,
        action="email_sent",
        channel=Channel.EMAIL,
        content_snapshot=snapshot,
        metadata={
            "provider_message_id": message_id,
            "provider_status": sorted(status.status or ()),
            "touch_number": touch_number,
            "sequence_id": snapshot["sequence_id"],
            "template_id": snapshot["template_id"],
            "to": lead.email,
            "from": client.sending_email,
        },
        at=now,
        touch_number=touch_number,
        sequence_id=sequence_uuid,
        provider_message_id=message_id,
    )
