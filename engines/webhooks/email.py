"""Email: anymail's tracking and inbound signals, and its webhook URLs behind a guard.

Every anymail request runs in one transaction: a malformed event anywhere in
a batch answers 400 and writes nothing; a request whose every event names a
message we never sent answers 404; a replay answers 200.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Unpack

from anymail.exceptions import AnymailError
from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailInboundEvent, AnymailTrackingEvent, EventType, RejectReason, inbound, tracking
from anymail.utils import parse_address_list
from django.conf import settings
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import URLPattern, URLResolver
from django.utils import timezone
from django.views import View

from engines.json_types import JSONObject, JSONValue
from engines.rules.provider_input import TooDeep
from engines.services.outcomes import attribution, events
from engines.services.outcomes.intent import ReplyIntent
from engines.services.outcomes.replies import read_email
from engines.webhooks.cleaning import (
    body_checked,
    clean_anymail_event,
    clean_json_body,
    forget_body,
    vouch_for_body,
)
from engines.webhooks.common import (
    MAX_CALLBACK_BYTES,
    MAX_INBOUND_BYTES,
    EventSource,
    MalformedEvent,
    logger,
    pending_writes,
    too_big,
    write_or_queue,
)
from outreach.models import Activity, ActivityAction, Channel, StopReason

ViewFunction = Callable[..., HttpResponseBase]


class MessageEvent(EventSource):
    """The arguments of events.record_message_event but its action."""

    message_id: str
    channel: str
    metadata: Mapping[str, JSONValue]


def _guard_anymail(view: ViewFunction, *, limit: int) -> ViewFunction:
    """Wrap an anymail webhook view: size limit; every event parsed and validated before any is written, a
    batch written in one transaction; 4xx instead of 500 on bad input."""

    run = _dispatched_directly(view)

    @wraps(view)
    def guarded(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
        if refused := too_big(request, limit):
            return refused
        if limit > settings.DATA_UPLOAD_MAX_MEMORY_SIZE and request.method == "POST":
            # Read the body ourselves so Django's smaller form limit does not refuse an inbound email.
            request._body = request.read()
        queue: list[Callable[[], str]] = []
        try:
            vouched = vouch_for_body(clean_json_body(request))
            try:
                response = _parse(run, queue, request, *args, **kwargs)
            finally:
                forget_body(vouched)
            results = _write(queue)
        except SuspiciousOperation:
            raise  # anymail's failed basic auth or wrong webhook: Django answers 400 and logs it
        except RecursionError:  # anymail's own json.loads, on JSON nested thousands deep
            logger.warning("webhook %s refused: nested too deep to parse", request.path)
            return HttpResponse("malformed event: TooDeep", status=400)
        except (MalformedEvent, AnymailError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            # A traceback when the cause may be ours rather than the body's.
            unexpected = not isinstance(exc, (MalformedEvent, AnymailError, json.JSONDecodeError, TooDeep))
            logger.warning("webhook %s refused: %s: %s", request.path, type(exc).__name__, exc, exc_info=unexpected)
            return HttpResponse(f"malformed event: {type(exc).__name__}", status=400)
        if results and all(result == "unknown" for result in results):
            return HttpResponse("unknown message", status=404)
        return response

    guarded.csrf_exempt = True  # type: ignore[attr-defined]  # what csrf_exempt sets, without its call layer
    return guarded


def _dispatched_directly(view: ViewFunction) -> ViewFunction:
    """anymail's class-based view, run as as_view() runs it but without the method_decorator wrappers
    (csrf_exempt, login_not_required) anymail's dispatch builds on every call: they only flag the view for
    middleware, and the guard carries the same flags. A tenth of a tracking event's Python time. A view class
    whose dispatch is its own (not anymail's pass-through) is left as it is."""
    view_class: type[View] | None = getattr(view, "view_class", None)
    if view_class is None or view_class.dispatch.__qualname__ != "AnymailCoreWebhookView.dispatch":
        return view
    initkwargs = view.view_initkwargs  # type: ignore[attr-defined]

    def run(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
        instance = view_class(**initkwargs)
        instance.setup(request, *args, **kwargs)
        return View.dispatch(instance, request, *args, **kwargs)

    return run


def _parse(
    view: ViewFunction, queue: list[Callable[[], str]], request: HttpRequest, *args: object, **kwargs: object
) -> HttpResponseBase:
    """Run anymail's view: it parses every event and sends our receivers, which validate and queue; no write."""
    token = pending_writes.set(queue)
    try:
        return view(request, *args, **kwargs)
    finally:
        pending_writes.reset(token)


def _write(queue: list[Callable[[], str]]) -> list[str]:
    """Run the request's writes: a batch in one transaction (all or nothing), a single event in its own
    statements (a delivery or an open is one INSERT, with no BEGIN and COMMIT round trips around it)."""
    if len(queue) <= 1:
        return [write() for write in queue]
    with transaction.atomic():
        return [write() for write in queue]


def anymail_urlpatterns() -> tuple[list[URLPattern | URLResolver], str]:
    """anymail's webhook URLs (same paths and names, namespace "anymail"), each wrapped by the guard above."""
    from anymail import urls

    patterns: list[URLPattern | URLResolver] = []
    for pattern in urls.urlpatterns:
        if isinstance(pattern, URLPattern):
            limit = MAX_INBOUND_BYTES if "inbound" in (pattern.name or "") else MAX_CALLBACK_BYTES
            guarded = _guard_anymail(pattern.callback, limit=limit)
            pattern = URLPattern(pattern.pattern, guarded, pattern.default_args, pattern.name)
        patterns.append(pattern)
    return patterns, "anymail"


ENGAGEMENT_ACTIONS = {
    EventType.DELIVERED: ActivityAction.EMAIL_DELIVERED,
    EventType.OPENED: ActivityAction.EMAIL_OPENED,
    EventType.CLICKED: ActivityAction.EMAIL_CLICKED,
    EventType.DEFERRED: ActivityAction.EMAIL_DEFERRED,
    EventType.AUTORESPONDED: ActivityAction.EMAIL_AUTO_REPLIED,
}
HANDLED_EVENTS = frozenset({*ENGAGEMENT_ACTIONS, EventType.BOUNCED, EventType.COMPLAINED, EventType.UNSUBSCRIBED})
# A rejection (the ESP sent nothing) whose reason is a fact about the address is stored as that fact: a bad or
# bounced address (Postmark's BadEmailAddress, SendGrid's dropped "Invalid" / "Bounced Address") as a hard
# bounce, an address the lead unsubscribed at the ESP (SendGrid's "Unsubscribed Address") as an unsubscribe, a
# past complaint (Mailgun's 607) as a complaint. Expired, policy blocks and "other" say nothing of the address.
REJECTED_AS: dict[str, str] = {
    RejectReason.INVALID: EventType.BOUNCED,
    RejectReason.BOUNCED: EventType.BOUNCED,
    RejectReason.UNSUBSCRIBED: EventType.UNSUBSCRIBED,
    RejectReason.SPAM: EventType.COMPLAINED,
}
SOFT_BOUNCE_TYPES = frozenset({"SoftBounce", "Transient", "DnsError"})  # Postmark's `Type`, SES's `bounceType`


def provider_name(esp_name: str) -> str:
    return (esp_name or "esp").lower().replace(" ", "_")[:20]


def _esp_event(event: AnymailTrackingEvent) -> JSONObject:
    return event.esp_event if isinstance(event.esp_event, dict) else {}


def outcome_kind(event: AnymailTrackingEvent) -> str:
    """The event type we store a tracking event as: anymail's, but for a rejection that says the address is
    unusable (REJECTED_AS; Postmark's `Inactive`: it deactivated the address and refuses every later email)."""
    if event.event_type != EventType.REJECTED:
        return str(event.event_type)
    if event.reject_reason == RejectReason.BLOCKED and _esp_event(event).get("Inactive") is True:
        return str(EventType.BOUNCED)
    return REJECTED_AS.get(str(event.reject_reason), str(EventType.REJECTED))


def is_soft_bounce(event: AnymailTrackingEvent) -> bool:
    """A temporary failure anymail reports as `bounced`: later mail may still arrive. Resend's `blocked`
    (suppressed: Resend will never send to the address) is not one."""
    esp = _esp_event(event)
    nested = esp.get("data")
    data = nested if isinstance(nested, dict) else esp  # Resend nests it in `data`
    found = data.get("bounce")
    bounce = found if isinstance(found, dict) else {}
    if esp.get("Type") in SOFT_BOUNCE_TYPES or bounce.get("bounceType") in SOFT_BOUNCE_TYPES:
        return True
    if bounce.get("type") in SOFT_BOUNCE_TYPES:  # Resend's `data.bounce.type`, as SES's bounceType
        return True
    if esp.get("event") == "bounce" and esp.get("type") == "blocked":  # SendGrid's block: refused for now
        return True
    return str(event.mta_response or "").strip()[:1] == "4"  # SMTP 4xx is temporary


# What an outcome needs of the touch it answers: compiling all of Lead's columns cost more than the query.
ANSWERED_FIELDS = ("lead__id", "lead__client_id", "client_id", "channel", "sequence_id", "touch_number")


def _sent_email(message_id: str) -> Activity | None:
    return (
        Activity.objects.select_related("lead")
        .only(*ANSWERED_FIELDS, "provider_message_id")
        .filter(provider_message_id=message_id, action=ActivityAction.EMAIL_SENT)
        .order_by("created_at")
        .first()
    )


def _tracking_metadata(event: AnymailTrackingEvent) -> dict[str, str]:
    data = {
        "event_type": event.event_type,
        "recipient": event.recipient,
        "reject_reason": event.reject_reason,
        "description": event.description,
        "mta_response": event.mta_response,
        "click_url": event.click_url,
        "user_agent": event.user_agent,
        "timestamp": event.timestamp.isoformat() if event.timestamp else None,
    }
    return {key: str(value)[:1000] for key, value in data.items() if value}


@receiver(tracking, dispatch_uid="engines.webhooks.on_tracking")
def on_tracking(sender: object, event: AnymailTrackingEvent, esp_name: str, **kwargs: object) -> None:
    """One normalized anymail tracking event -> one outcome service call."""
    provider = provider_name(esp_name)
    if not body_checked():  # a form, or JSON whose escapes anymail decodes itself: clean what it parsed
        clean_anymail_event(event)
    check_tracking_event(event, provider=provider)
    write_or_queue(lambda: record_tracking_event(event, provider=provider))


def _unknown(provider: str, kind: str, message_id: str) -> str:
    logger.warning("%s %s event for unknown message %s", provider, kind, message_id)
    return "unknown"


def check_tracking_event(event: AnymailTrackingEvent, *, provider: str) -> None:
    """Refuse (MalformedEvent) an event we would store but cannot place: no message id."""
    if _handled(event) and not event.message_id:
        raise MalformedEvent(f"{provider} {event.event_type} event without a message id")


def _handled(event: AnymailTrackingEvent) -> bool:
    return outcome_kind(event) in HANDLED_EVENTS


def record_tracking_event(event: AnymailTrackingEvent, *, provider: str) -> str:
    """Store one tracking event; what became of it: recorded, replayed, ignored or unknown (message not ours)."""
    kind = outcome_kind(event)
    if kind not in HANDLED_EVENTS:
        logger.info("%s event %s for message %s ignored", provider, event.event_type, event.message_id)
        return "ignored"
    message_id = str(event.message_id)
    at = event.timestamp or timezone.now()
    event_id = str(event.event_id or "") or events.event_key(message_id, event.event_type, event.timestamp)
    common: EventSource = {"provider": provider, "event_id": event_id, "at": at}
    metadata = _tracking_metadata(event)
    if kind in (EventType.COMPLAINED, EventType.UNSUBSCRIBED):
        return _record_unsubscribing(kind, message_id, metadata=metadata, **common)
    # The bulk of the traffic: one statement finds the message and stores the event (a hard bounce, in the
    # transaction that also marks the address bounced and cancels the email touches).
    fast: MessageEvent = {"message_id": message_id, "channel": Channel.EMAIL, "metadata": metadata, **common}
    if kind in ENGAGEMENT_ACTIONS:
        stored = events.record_message_event(action=ENGAGEMENT_ACTIONS[kind], **fast)
    elif event.event_type == EventType.BOUNCED and is_soft_bounce(event):  # a deferral: later mail may arrive
        soft: MessageEvent = {**fast, "metadata": {**metadata, "soft_bounce": True}}
        stored = events.record_message_event(action=ActivityAction.EMAIL_DEFERRED, **soft)
    else:  # a hard bounce (Resend's suppression too), or a rejection because the address is unusable
        stored = events.record_message_event(
            action=ActivityAction.EMAIL_BOUNCED, stop=StopReason.BOUNCED, **fast,
        )  # fmt: skip
    return _unknown(provider, kind, message_id) if stored is None else ("recorded" if stored else "replayed")


def _record_unsubscribing(
    kind: str, message_id: str, *, metadata: Mapping[str, JSONValue], **common: Unpack[EventSource]
) -> str:
    """A spam complaint or an ESP-side unsubscribe: the lead is unsubscribed from everything."""
    provider = common["provider"]
    sent = _sent_email(message_id)
    if sent is None:
        return _unknown(provider, kind, message_id)
    if kind == EventType.COMPLAINED:
        recorded = events.record_complaint(sent, metadata=metadata, **common)
    else:
        recorded = events.record_opt_out(sent.lead, channel=Channel.EMAIL, answers=sent, metadata=metadata, **common)
    return "recorded" if recorded.created else "replayed"


def message_ids(*headers: str | None) -> list[str]:
    """The message ids in In-Reply-To / References headers, each also without brackets and by its local part
    (ESPs store their own id, which is often the local part of the Message-ID they set)."""
    found: list[str] = []
    for header in headers:
        for raw in (header or "").replace(",", " ").split():
            bare = raw.strip().strip("<>")
            for candidate in (raw.strip(), bare, f"<{bare}>", bare.split("@", 1)[0]):
                if candidate and candidate not in found:
                    found.append(candidate)
    return found


def _recipients(message: AnymailInboundMessage) -> list[str]:
    """Every address the email was delivered to (lower case): they name the client it belongs to."""
    values = [value for header in ("To", "Cc", "Delivered-To") for value in message.get_all(header, [])]
    if getattr(message, "envelope_recipient", None):
        values.append(message.envelope_recipient)
    found: list[str] = []
    # One value at a time: Postmark's empty CcFull becomes an empty Cc header, which anymail refuses as an
    # address, and a garbled Cc must not hide the To that names the client.
    for value in values:
        try:
            found += [address.addr_spec.lower() for address in parse_address_list(value) if address.addr_spec]
        except AnymailError:
            continue
    return found


@receiver(inbound, dispatch_uid="engines.webhooks.on_inbound")
def on_inbound(sender: object, event: AnymailInboundEvent, esp_name: str, **kwargs: object) -> None:
    provider = provider_name(esp_name)
    clean_anymail_event(event)
    check_inbound_email(event, provider=provider)
    write_or_queue(lambda: record_inbound_email(event, provider=provider))


def check_inbound_email(event: AnymailInboundEvent, *, provider: str) -> None:
    """Refuse (MalformedEvent) an inbound email without a sender: nobody to attribute it to."""
    message = event.message
    if message is None or message.from_email is None or not message.from_email.addr_spec:
        raise MalformedEvent(f"{provider} inbound message without a sender")


def record_inbound_email(event: AnymailInboundEvent, *, provider: str) -> str:
    """A reply (with its intent), an auto-reply or a request to stop, linked to the lead and the email it
    answers. Only an explicit request to stop unsubscribes; a refused channel stops that channel only, and the
    reply is recorded with it."""
    message = event.message
    sender = message.from_email.addr_spec.lower()
    header_id = (message.get("Message-ID") or "").strip()
    ids = message_ids(message.get("In-Reply-To"), message.get("References"))
    recipients = _recipients(message)
    lead, answers = attribution.email_reply(sender, recipients, ids)
    if lead is None:
        logger.info(
            "%s inbound email from %s to %s matches no lead of the client; ignored", provider, sender, recipients
        )
        return "ignored"
    subject = message.subject or ""
    text = message.stripped_text or message.text or ""
    at = event.timestamp or timezone.now()
    event_id = str(event.event_id or "") or header_id or events.event_key(sender, subject, message.get("Date"), text)
    metadata = {"from": sender, "subject": subject[:300], "text": text[:5000], "message_id": header_id}
    reading = read_email(message.items(), subject, text, at=at)
    common: EventSource = {"provider": provider, "event_id": event_id, "at": at}
    if reading.intent == ReplyIntent.AUTO_REPLY:
        if answers is None:  # a machine answering nothing we sent
            return "ignored"
        action = ActivityAction.EMAIL_AUTO_REPLIED
        recorded = events.record_delivery(answers, action=action, metadata=metadata, **common)
        return "recorded" if recorded.created else "replayed"
    recorded = events.record_read_reply(
        lead, reading, channel=Channel.EMAIL, answers=answers, metadata=metadata, provider_message_id=header_id,
        **common,
    )  # fmt: skip
    return "recorded" if recorded.created else "replayed"
