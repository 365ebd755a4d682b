"""Email engine: send one email through anymail (whatever ESP EMAIL_BACKEND names) and record what was sent.

An email whose enrollment has a mailbox (deliverability.mailboxes) goes from that mailbox's address, under its
display name, through its ESP account's backend; any other from the client's sending_email through the
connection it is given (the default backend)."""

from __future__ import annotations

import smtplib
import threading
import uuid
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from email.utils import formataddr

import requests
from anymail.exceptions import AnymailError, AnymailRecipientsRefused
from anymail.message import AnymailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone
from django.utils.module_loading import import_string

from engines.exceptions import ProviderError
from engines.json_types import JSONValue
from engines.providers.errors import is_retryable_status
from engines.rules.email_threads import EarlierEmail, Threading, new_message_id, thread_for
from engines.services.deliverability.mailboxes import MailboxError, account_backend
from engines.services.sending import send_path
from engines.services.sending.unsubscribe import list_unsubscribe_headers, unsubscribe_url
from outreach.models import Activity, ActivityAction, Channel, Client, EmailThread, Lead, Mailbox, ScheduledTouch

# The longest Message-ID the Activity stores.
MESSAGE_ID_LIMIT = Activity._meta.get_field("message_id").max_length or 255

# Each sending thread's connection to each ESP account of a mailbox, opened at its first email and kept for the
# thread's next ones (an ESP backend keeps its HTTP session), like the default connection a dispatcher thread has.
_account_connections = threading.local()
# Every account connection still open, whichever thread opened it: a dispatcher run closes them when its sending
# threads are done (close_account_connections).
_open_accounts: list[BaseEmailBackend] = []
_open_accounts_lock = threading.Lock()


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
    thread: str = EmailThread.REPLY,
) -> Activity:
    """Send one email to the lead from the client's sending address and return the saved email_sent Activity.

    It carries our own Message-ID, one-click List-Unsubscribe headers and a
    footer with the client's postal address and the same signed unsubscribe
    link; `touch` is marked sent with the Activity. A follow-up of a sequence
    (an earlier email of `sequence_id` was sent with our Message-ID) replies in
    its first email's thread unless `thread` is "new"
    (engines.rules.email_threads). Raises SendBlocked (do-not-contact,
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
    earlier: Sequence[EarlierEmail] = ()
    if outgoing.sequence_id is not None:
        earlier = sequence_emails([lead.pk], [outgoing.sequence_id]).get(outgoing.sequence_id, [])
    prepared = prepare_email(outgoing, subject, body, template_id=template_id, thread=thread, earlier=earlier)
    return send_path.deliver(prepared, provider=connection)


def earlier_emails(touches: Iterable[ScheduledTouch], leads: Mapping[int, Lead]) -> dict[uuid.UUID, list[EarlierEmail]]:
    """The emails the enrollments of these email touches sent with our Message-ID, by sequence id, in order of
    step: one query for a batch, none when no touch's lead (`leads`, as read, by pk) was sent anything yet."""
    followed = [
        touch
        for touch in touches
        if touch.channel == Channel.EMAIL and touch.lead_id in leads and leads[touch.lead_id].touch_count
    ]
    if not followed:
        return {}
    return sequence_emails({touch.lead_id for touch in followed}, {touch.sequence_id for touch in followed})


def sequence_emails(
    lead_ids: Collection[int], sequence_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[EarlierEmail]]:
    """The emails sent with our Message-ID to these leads in these sequences, by sequence id, in order of step.
    One query."""
    rows = (
        Activity.objects.filter(lead_id__in=lead_ids, sequence_id__in=sequence_ids, action=ActivityAction.EMAIL_SENT)
        .exclude(message_id="")
        .order_by("touch_number", "created_at")
        .values_list(
            "sequence_id", "touch_number", "message_id", "content_snapshot__subject", "content_snapshot__thread"
        )
    )
    found: defaultdict[uuid.UUID, list[EarlierEmail]] = defaultdict(list)
    for sequence_id, number, message_id, subject, thread in rows:
        if sequence_id is None:  # filtered out above; the column may hold none
            continue
        found[sequence_id].append(EarlierEmail(number or 0, message_id, _text(subject), _text(thread)))
    return dict(found)


def _text(value: object) -> str:
    """A snapshot's value read back as text ("" when it is missing or not text)."""
    return value if isinstance(value, str) else ""


def prepare_email(
    outgoing: send_path.Outgoing,
    subject: str,
    body: str,
    *,
    template_id: object,
    thread: str = EmailThread.REPLY,
    earlier: Sequence[EarlierEmail] = (),
) -> send_path.Prepared:
    """Check an email past the gate and build its message and snapshot; its `send` takes an email connection.

    `earlier`: the emails its enrollment sent (earlier_emails); those of an earlier step than this one decide,
    with the template's `thread`, whether it replies in the first one's thread (and so its subject)."""
    threaded = thread_for(
        subject, [email for email in earlier if email.touch_number < outgoing.touch_number], mode=thread
    )
    send_path.check_email_text(threaded.subject, body)
    to = send_path.email_address(outgoing.lead.email, reason="invalid_email")
    mailbox = sending_mailbox(outgoing)
    sender, from_header = sent_from(mailbox, outgoing.client)
    message_id = new_message_id(sender)
    # Recorded on the Activity after the send: a sender domain too long for the column is refused before it.
    send_path.check_text(message_id, what="the Message-ID", limit=MESSAGE_ID_LIMIT)
    snapshot = email_snapshot(outgoing, threaded.subject, body, template_id=template_id)
    snapshot["thread"] = threaded.thread
    message = email_message(outgoing, threaded, body, to=to, sender=from_header, message_id=message_id)
    account = mailbox.account if mailbox is not None else ""
    metadata: dict[str, JSONValue] = {
        "touch_number": outgoing.touch_number,
        "sequence_id": snapshot["sequence_id"],
        "template_id": snapshot["template_id"],
        "to": to,
        "from": sender,
    }
    return send_path.Prepared(
        outgoing,
        "email_sent",
        snapshot,
        metadata,
        send=lambda connection: send_message(message, account_connection(account) if account else connection),
        message_id=message_id,
        mailbox_id=None if mailbox is None else mailbox.pk,
    )


def sending_mailbox(outgoing: send_path.Outgoing) -> Mailbox | None:
    """The mailbox the email goes from: its enrollment's (None: the client's sending_email). The dispatcher's
    touches carry their enrollment and its mailbox as chosen, so this reads nothing for them."""
    touch = outgoing.touch
    if touch is None or touch.enrollment.mailbox_id is None:
        return None
    return touch.enrollment.mailbox


def sent_from(mailbox: Mailbox | None, client: Client) -> tuple[str, str]:
    """The address an email goes from and its From header: the mailbox's address and display name, else the
    client's sending_email, named by the client when the mailbox has no display name. SendBlocked
    ("no_sender_email") when the address is not one valid address."""
    address = mailbox.address if mailbox is not None else getattr(client, "sending_email", "")
    sender = send_path.email_address(address, reason="no_sender_email")
    # A line break in the name would be refused as a header injection, after the checks.
    name = mailbox.display_name if mailbox is not None and mailbox.display_name.strip() else client.name
    return sender, formataddr((" ".join(name.split()), sender))


def open_account(account: str) -> BaseEmailBackend:
    """A new, open connection to an ESP account of OUTREACH_MAILBOX_ACCOUNTS; a retryable ProviderError (nothing
    sent) when the account cannot be used, so it is tried again once fixed."""
    try:
        backend, options = account_backend(account)
    except MailboxError as error:
        raise ProviderError(str(error), retryable=True, code=error.reason) from error
    connection: BaseEmailBackend = import_string(backend)(**options)  # what mail.get_connection does
    connection.open()
    return connection


def account_connection(account: str) -> BaseEmailBackend:
    """This thread's connection to an ESP account of OUTREACH_MAILBOX_ACCOUNTS, opened at first use; a
    retryable ProviderError (nothing sent) when the account cannot be used, so it is tried again once fixed."""
    opened: dict[str, BaseEmailBackend] = _account_connections.__dict__.setdefault("opened", {})
    if account not in opened:
        connection = open_account(account)
        opened[account] = connection
        with _open_accounts_lock:
            _open_accounts.append(connection)
    return opened[account]


def close_account_connections() -> None:
    """Close every account connection opened so far, and forget this thread's: a dispatcher run calls it once its
    sending threads have ended (their own caches went with them)."""
    with _open_accounts_lock:
        closing = _open_accounts[:]
        _open_accounts.clear()
    _account_connections.__dict__.pop("opened", None)
    for connection in closing:
        connection.close()


def email_snapshot(
    outgoing: send_path.Outgoing, subject: str, body: str, *, template_id: object
) -> dict[str, JSONValue]:
    """The content snapshot of an email, with the template it was written from."""
    snapshot = send_path.content_snapshot(outgoing, body, subject=subject)
    snapshot["template_id"] = str(template_id) if template_id is not None else None
    return snapshot


def email_message(
    outgoing: send_path.Outgoing, threaded: Threading, body: str, *, to: str, sender: str, message_id: str
) -> AnymailMessage:
    """The message as the ESP gets it, from `sender` (a From header: name and address): footer, our Message-ID
    and the thread's headers, List-Unsubscribe headers, and the ids that find it again."""
    lead, client = outgoing.lead, outgoing.client
    unsubscribe = unsubscribe_url(lead)
    ids = {"client_id": str(client.pk), "lead_id": str(lead.pk), "touch_number": str(outgoing.touch_number)}
    if outgoing.sequence_id is not None:
        ids["sequence_id"] = str(outgoing.sequence_id)
    if outgoing.touch is not None:  # lets a reconciler find this send at the ESP by the touch it belongs to
        ids["touch_id"] = str(outgoing.touch.pk)
    return AnymailMessage(
        subject=threaded.subject,
        body=body + footer(client, unsubscribe),
        from_email=sender,
        to=[to],
        headers={"Message-ID": f"<{message_id}>", **threaded.headers, **list_unsubscribe_headers(unsubscribe)},
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
