"""Email engine: send one email through anymail (whatever ESP EMAIL_BACKEND names) and record what was sent."""

from __future__ import annotations

import smtplib
import uuid
from datetime import datetime
from email.utils import formataddr

import requests
from anymail.exceptions import AnymailError, AnymailRecipientsRefused
from anymail.message import AnymailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

from engines.exceptions import ProviderError
from engines.json_types import JSONValue
from engines.providers.errors import is_retryable_status
from engines.services.sending import send_path
from engines.services.sending.unsubscribe import list_unsubscribe_headers, unsubscribe_url
from outreach.models import Activity, Channel, Client, Lead, ScheduledTouch


def footer(client: Client, unsubscribe: str) -> str:
    """Who is writing and how to stop it (the lead's unsubscribe URL): commercial email must carry both
    (Spam Act 2003, CAN-SPAM)."""
    sender = ", ".join(part for part in (client.name, " ".join(client.physical_address.split())) if part)
    return f"\n\n--\n{sender}\nTo stop receiving these emails: {unsubscribe}"


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
    return ProviderError(f"{esp} answered HTTP {status}: {reason}", retryable=is_retryable_status(status), code=status)


def send_email(
    lead: Lead,
    client: Client,
    subject: str,
    body: str,
    *,
    template_id: object = None,
    touch_number: int = 1,
    sequence_id: uuid.UUID | str | None = None,
    now: datetime | None = None,
    connection: BaseEmailBackend | None = None,
    touch: ScheduledTouch | None = None,
) -> Activity:
    """Send one email to the lead from the client's sending address and return the saved email_sent Activity.

    It carries one-click List-Unsubscribe headers and a footer with the
    client's postal address and the same signed unsubscribe link; `touch` is
    marked sent with the Activity. Raises SendBlocked (do-not-contact,
    unsubscribed, bounced, not one valid address, a lead of another client),
    InvalidTouch (text the database or RFC 5322 refuses) or ProviderError,
    with nothing sent or recorded; SentNotRecorded when the ESP accepted and
    the record failed.
    """
    outgoing = send_path.start(
        lead,
        client,
        Channel.EMAIL,
        now=now or timezone.now(),
        touch_number=touch_number,
        sequence_id=sequence_id,
        touch=touch,
    )
    prepared = prepare_email(outgoing, subject, body, template_id=template_id)
    return send_path.deliver(prepared, provider=connection)


def prepare_email(outgoing: send_path.Outgoing, subject: str, body: str, *, template_id: object) -> send_path.Prepared:
    """Check an email past the gate and build its message and snapshot; its `send` takes an email connection."""
    send_path.check_email_text(subject, body)
    to = send_path.email_address(outgoing.lead.email, reason="invalid_email")
    sender = send_path.email_address(getattr(outgoing.client, "sending_email", ""), reason="no_sender_email")
    snapshot = email_snapshot(outgoing, subject, body, template_id=template_id)
    message = email_message(outgoing, subject, body, to=to, sender=sender)
    metadata: dict[str, JSONValue] = {
        "touch_number": outgoing.touch_number,
        "sequence_id": snapshot["sequence_id"],
        "template_id": snapshot["template_id"],
        "to": to,
        "from": sender,
    }
    return send_path.Prepared(
        outgoing, "email_sent", snapshot, metadata, send=lambda connection: send_message(message, connection)
    )


def email_snapshot(
    outgoing: send_path.Outgoing, subject: str, body: str, *, template_id: object
) -> dict[str, JSONValue]:
    """The content snapshot of an email, with the template it was written from."""
    snapshot = send_path.content_snapshot(outgoing, body, subject=subject)
    snapshot["template_id"] = str(template_id) if template_id is not None else None
    return snapshot


def email_message(outgoing: send_path.Outgoing, subject: str, body: str, *, to: str, sender: str) -> AnymailMessage:
    """The message as the ESP gets it: footer, List-Unsubscribe headers, and the ids that find it again."""
    lead, client = outgoing.lead, outgoing.client
    unsubscribe = unsubscribe_url(lead)
    ids = {"client_id": str(client.pk), "lead_id": str(lead.pk), "touch_number": str(outgoing.touch_number)}
    if outgoing.sequence_id is not None:
        ids["sequence_id"] = str(outgoing.sequence_id)
    if outgoing.touch is not None:  # lets a reconciler find this send at the ESP by the touch it belongs to
        ids["touch_id"] = str(outgoing.touch.pk)
    return AnymailMessage(
        subject=subject,
        body=body + footer(client, unsubscribe),
        # A line break in the client's name would be refused as a header injection, after the checks.
        from_email=formataddr((" ".join(client.name.split()), sender)),
        to=[to],
        headers=list_unsubscribe_headers(unsubscribe),
        # One tag: Postmark accepts no more (anymail raises); the ids ride in the metadata.
        tags=[f"client-{client.pk}"],
        metadata=ids,
    )


def send_message(message: AnymailMessage, connection: BaseEmailBackend | None = None) -> send_path.Sent:
    """Hand the message to the email backend (`connection`, else the configured one); a ProviderError
    (retryable or not) when it fails."""
    message.connection = connection
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
    status = getattr(message, "anymail_status", None)
    message_id = "" if status is None or status.message_id is None else str(status.message_id)
    return send_path.Sent(message_id, {"provider_status": sorted(status.status or ()) if status else []})
