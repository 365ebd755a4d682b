"""Provider callbacks: anymail's tracking and inbound signals, Twilio, Cal.com, and the unsubscribe link.

Each one checks who is calling, parses the request into one normalized
event and hands it to one service in engines.services.outcomes. A replay
answers 200 so the provider stops retrying; a malformed body (bad JSON,
missing fields, unknown message id, oversized) answers 4xx with a log line
and writes nothing; a forged signature answers 403 (anymail's basic auth: 400).

Bookings: Cal.com sends every booking to one URL signed with
CAL_COM_WEBHOOK_SECRET. The client is the one whose sending email is the
organizer's email; when no client matches the organizer, an attendee email
that belongs to exactly one lead across all clients still finds it.
"""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import json
import logging
import operator
from collections.abc import Callable
from datetime import UTC
from functools import reduce, wraps
from typing import Any

from anymail.exceptions import AnymailError
from anymail.signals import AnymailInboundEvent, AnymailTrackingEvent, EventType, RejectReason, inbound, tracking
from anymail.utils import parse_address_list
from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import URLPattern, URLResolver, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from engines.exceptions import InvalidTouch, SendBlocked
from engines.services import outcomes
from engines.services.inbound import EmailIntent, SmsIntent, classify_email, classify_sms
from engines.services.unsubscribe import lead_id_from_token
from outreach.models import Activity, ActivityAction, Channel, Client, Lead

logger = logging.getLogger(__name__)

# Tracking batches (SendGrid posts at most 768 kB) and callbacks are small; an inbound email may carry attachments.
MAX_CALLBACK_BYTES = 1_000_000
MAX_INBOUND_BYTES = 30_000_000


class MalformedEvent(Exception):
    """A webhook event that lacks what we need (message id, sender...): answered 400, nothing written."""


# What the receivers made of each event of the current anymail request ("recorded", "replayed", "ignored",
# "unknown"): a request whose every event names a message we never sent answers 404.
_event_results: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("event_results", default=None)


def _note(result: str) -> None:
    results = _event_results.get()
    if results is not None:
        results.append(result)


def _content_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _too_big(request: HttpRequest, limit: int) -> HttpResponse | None:
    if _content_length(request) > limit:
        logger.warning("webhook %s refused: body of %s bytes over %s", request.path, _content_length(request), limit)
        return HttpResponse("payload too large", status=413)
    return None


def _guard_anymail(view: Callable, *, limit: int) -> Callable:
    """Wrap an anymail webhook view: size limit, one transaction per request, 4xx instead of 500 on bad input."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if refused := _too_big(request, limit):
            return refused
        if limit > settings.DATA_UPLOAD_MAX_MEMORY_SIZE and request.method == "POST":
            # Read the body ourselves so Django's smaller form limit does not refuse an inbound email.
            request._body = request.read()
        results: list[str] = []
        token = _event_results.set(results)
        try:
            with transaction.atomic():
                response = view(request, *args, **kwargs)
        except SuspiciousOperation:
            raise  # anymail's failed basic auth or wrong webhook: Django answers 400 and logs it
        except (MalformedEvent, AnymailError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
            # A traceback when the cause may be ours rather than the body's.
            unexpected = not isinstance(exc, (MalformedEvent, AnymailError, json.JSONDecodeError))
            logger.warning("webhook %s refused: %s: %s", request.path, type(exc).__name__, exc, exc_info=unexpected)
            return HttpResponse(f"malformed event: {type(exc).__name__}", status=400)
        finally:
            _event_results.reset(token)
        if results and all(result == "unknown" for result in results):
            return HttpResponse("unknown message", status=404)
        return response

    return csrf_exempt(guarded)


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


# --- Email tracking -------------------------------------------------------------------------------------------

ENGAGEMENT_ACTIONS = {
    EventType.DELIVERED: ActivityAction.EMAIL_DELIVERED,
    EventType.OPENED: ActivityAction.EMAIL_OPENED,
    EventType.CLICKED: ActivityAction.EMAIL_CLICKED,
    EventType.DEFERRED: ActivityAction.EMAIL_DEFERRED,
    EventType.AUTORESPONDED: ActivityAction.EMAIL_AUTO_REPLIED,
}
SOFT_BOUNCE_TYPES = frozenset({"SoftBounce", "Transient", "DnsError"})  # Postmark's `Type`, SES's `bounceType`


def provider_name(esp_name: str) -> str:
    return (esp_name or "esp").lower().replace(" ", "_")[:20]


def is_soft_bounce(event: AnymailTrackingEvent) -> bool:
    """A temporary failure anymail reports as `bounced`: later mail may still arrive."""
    esp: dict[str, Any] = event.esp_event if isinstance(event.esp_event, dict) else {}
    bounce: dict[str, Any] = esp["bounce"] if isinstance(esp.get("bounce"), dict) else {}
    if esp.get("Type") in SOFT_BOUNCE_TYPES or bounce.get("bounceType") in SOFT_BOUNCE_TYPES:
        return True
    if event.reject_reason == RejectReason.BLOCKED:  # SendGrid's "blocked": the receiving server refused for now
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


def _tracking_metadata(event: AnymailTrackingEvent) -> dict[str, Any]:
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
def on_tracking(sender: Any, event: AnymailTrackingEvent, esp_name: str, **kwargs: Any) -> None:
    """One normalized anymail tracking event -> one outcome service call."""
    _note(record_tracking_event(event, provider=provider_name(esp_name)))


def _unknown(provider: str, kind: str, message_id: str) -> str:
    logger.warning("%s %s event for unknown message %s", provider, kind, message_id)
    return "unknown"


def record_tracking_event(event: AnymailTrackingEvent, *, provider: str) -> str:
    """Store one tracking event; what became of it: recorded, replayed, ignored or unknown (message not ours)."""
    kind = event.event_type
    hard_reject = kind == EventType.REJECTED and event.reject_reason in (RejectReason.INVALID, RejectReason.BOUNCED)
    handled = set(ENGAGEMENT_ACTIONS) | {EventType.BOUNCED, EventType.COMPLAINED, EventType.UNSUBSCRIBED}
    if kind not in handled and not hard_reject:
        logger.info("%s event %s for message %s ignored", provider, kind, event.message_id)
        return "ignored"
    if not event.message_id:
        raise MalformedEvent(f"{provider} {kind} event without a message id")
    message_id = str(event.message_id)
    at = event.timestamp or timezone.now()
    event_id = str(event.event_id or "") or outcomes.event_key(message_id, kind, event.timestamp)
    common: dict[str, Any] = {"provider": provider, "event_id": event_id, "at": at}
    metadata = _tracking_metadata(event)
    if kind in ENGAGEMENT_ACTIONS:  # most of the traffic: one statement finds the message and stores the event
        stored = outcomes.record_message_event(
            message_id=message_id, channel=Channel.EMAIL, action=ENGAGEMENT_ACTIONS[kind], metadata=metadata, **common
        )
        return _unknown(provider, kind, message_id) if stored is None else ("recorded" if stored else "replayed")
    sent = _sent_email(message_id)
    if sent is None:
        return _unknown(provider, kind, message_id)
    if kind == EventType.COMPLAINED:
        recorded = outcomes.record_complaint(sent, metadata=metadata, **common)
    elif kind == EventType.UNSUBSCRIBED:
        recorded = outcomes.record_opt_out(sent.lead, channel=Channel.EMAIL, answers=sent, metadata=metadata, **common)
    else:
        hard = hard_reject or not is_soft_bounce(event)
        recorded = outcomes.record_bounce(sent, hard=hard, metadata=metadata, **common)
    return "recorded" if recorded.created else "replayed"


# --- Email replies --------------------------------------------------------------------------------------------


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


def _answered_email(ids: list[str], sender: str, recipients: list[str]) -> tuple[Lead | None, Activity | None]:
    """The email a reply answers (by its message ids), else the sender's lead within the client written to."""
    if ids:
        sent = (
            Activity.objects.select_related("lead")
            .filter(provider_message_id__in=ids, action=ActivityAction.EMAIL_SENT)
            .order_by("-created_at")
            .first()
        )
        if sent is not None:
            return sent.lead, sent
    leads = Lead.objects.filter(email__iexact=sender).order_by("-last_contacted_at", "-pk")
    clients = Client.objects.annotate(address=Lower("sending_email")).filter(address__in=recipients)
    candidates = list(leads.filter(client__in=clients)[:1]) if recipients else []
    if not candidates:
        candidates = list(leads[:2])
        if len(candidates) > 1:
            logger.warning("reply from %s matches leads of several clients and names none of them", sender)
            return None, None
    if not candidates:
        return None, None
    return candidates[0], outcomes.last_sent(candidates[0], channel=Channel.EMAIL)


def _recipients(message: Any) -> list[str]:
    values = [value for header in ("To", "Cc", "Delivered-To") for value in message.get_all(header, [])]
    if getattr(message, "envelope_recipient", None):
        values.append(message.envelope_recipient)
    try:
        return [address.addr_spec.lower() for address in parse_address_list(values) if address.addr_spec]
    except AnymailError:  # a garbled Cc does not make the reply less of a reply
        return []


@receiver(inbound, dispatch_uid="engines.webhooks.on_inbound")
def on_inbound(sender: Any, event: AnymailInboundEvent, esp_name: str, **kwargs: Any) -> None:
    _note(record_inbound_email(event, provider=provider_name(esp_name)))


def record_inbound_email(event: AnymailInboundEvent, *, provider: str) -> str:
    """A reply, an auto-reply or a request to stop, linked to the lead and the email it answers."""
    message = event.message
    if message is None or message.from_email is None or not message.from_email.addr_spec:
        raise MalformedEvent(f"{provider} inbound message without a sender")
    sender = message.from_email.addr_spec.lower()
    header_id = (message.get("Message-ID") or "").strip()
    ids = message_ids(message.get("In-Reply-To"), message.get("References"))
    lead, answers = _answered_email(ids, sender, _recipients(message))
    if lead is None:
        logger.info("%s inbound email from %s matches no lead; ignored", provider, sender)
        return "ignored"
    subject = message.subject or ""
    text = message.stripped_text or message.text or ""
    at = event.timestamp or timezone.now()
    event_id = str(event.event_id or "") or header_id or outcomes.event_key(sender, subject, message.get("Date"), text)
    metadata = {"from": sender, "subject": subject[:300], "text": text[:5000], "message_id": header_id}
    intent = classify_email(message.items(), subject, text)
    common: dict[str, Any] = {"provider": provider, "event_id": event_id, "at": at}
    if intent == EmailIntent.AUTO_REPLY:
        if answers is None:  # a machine answering nothing we sent
            return "ignored"
        action = ActivityAction.EMAIL_AUTO_REPLIED
        recorded = outcomes.record_delivery(answers, action=action, metadata=metadata, **common)
        return "recorded" if recorded.created else "replayed"
    common["answers"] = answers
    if intent == EmailIntent.STOP:
        recorded = outcomes.record_opt_out(lead, channel=Channel.EMAIL, metadata={**metadata, "via": "reply"}, **common)
    else:
        recorded = outcomes.record_reply(
            lead, channel=Channel.EMAIL, metadata=metadata, provider_message_id=header_id, **common
        )
    return "recorded" if recorded.created else "replayed"


# --- Unsubscribe link (RFC 8058) ------------------------------------------------------------------------------


@csrf_exempt  # mail clients POST without a CSRF token (RFC 8058); the signed token is the authority
@login_not_required
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET: a confirmation page with a button, changing nothing. POST List-Unsubscribe=One-Click: unsubscribe."""
    lead_id = lead_id_from_token(token)
    if lead_id is None:
        logger.warning("unsubscribe with a forged or altered token refused")
        return render(request, "engines/unsubscribe_invalid.html", status=400)
    lead = Lead.objects.select_related("client").filter(pk=lead_id).first()
    if lead is None:
        return render(request, "engines/unsubscribe_invalid.html", status=404)
    context = {"client": lead.client, "one_click": "One-Click"}
    if request.method == "GET":
        return render(request, "engines/unsubscribe_confirm.html", context)
    if request.POST.get("List-Unsubscribe") != "One-Click":
        return HttpResponse("POST List-Unsubscribe=One-Click to unsubscribe", status=400)
    outcomes.unsubscribe_lead(lead, source="unsubscribe_link")
    return render(request, "engines/unsubscribe_done.html", context)


# --- Twilio ---------------------------------------------------------------------------------------------------


def twilio_signed(url_name: str) -> Callable[[Callable], Callable]:
    """Only requests Twilio signed (X-Twilio-Signature, TWILIO_AUTH_TOKEN) reach the view; others get 403.

    The signed URL is PUBLIC_BASE_URL + the view's own path, not the request's host: behind a proxy the
    host and scheme Django sees are not the ones Twilio called.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def checked(request: HttpRequest) -> HttpResponse:
            if refused := _too_big(request, MAX_CALLBACK_BYTES):
                return refused
            token = settings.TWILIO_AUTH_TOKEN
            signature = request.headers.get("X-Twilio-Signature", "")
            url = settings.PUBLIC_BASE_URL + reverse(url_name)
            if request.META.get("QUERY_STRING"):
                url += "?" + request.META["QUERY_STRING"]
            if not token or not signature or not RequestValidator(token).validate(url, request.POST, signature):
                logger.warning("Twilio callback %s refused: %s", url_name, "no token" if not token else "bad signature")
                return HttpResponse("invalid signature", status=403)
            return view(request)

        return csrf_exempt(login_not_required(require_POST(checked)))

    return decorator


def _fields(request: HttpRequest, *names: str) -> list[str] | HttpResponse:
    values = [request.POST.get(name, "").strip() for name in names]
    missing = [name for name, value in zip(names, values, strict=True) if not value]
    if missing:
        logger.warning("webhook %s refused: missing %s", request.path, ", ".join(missing))
        return HttpResponse(f"missing {', '.join(missing)}", status=400)
    return values


@twilio_signed("twilio-sms-status")
def twilio_sms_status(request: HttpRequest) -> HttpResponse:
    fields = _fields(request, "MessageSid", "MessageStatus")
    if isinstance(fields, HttpResponse):
        return fields
    sid, status = fields
    sent = (
        Activity.objects.select_related("lead")
        .filter(provider_message_id=sid, action=ActivityAction.SMS_SENT)
        .order_by("created_at")
        .first()
    )
    if sent is None:
        logger.warning("Twilio status %s for unknown message %s", status, sid)
        return HttpResponse("unknown message", status=404)
    error_code = request.POST.get("ErrorCode", "").strip()
    metadata = {"status": status[:30], "error_code": error_code[:10]}
    outcomes.record_sms_status(
        sent, status=status.lower(), error_code=error_code, provider="twilio", at=timezone.now(), metadata=metadata
    )
    return HttpResponse(status=204)


def _leads_by_phone(lead_phone: str, client_phone: str) -> list[Lead]:
    """The leads with this phone at the client whose sending number it is, the last one contacted first."""
    return list(
        Lead.objects.select_related("client")
        .filter(phone=lead_phone, client__sending_phone=client_phone)
        .order_by("-last_contacted_at", "-pk")
    )


def _twiml(text: str = "") -> HttpResponse:
    response = MessagingResponse()
    if text:
        response.message(text)
    return HttpResponse(str(response), content_type="application/xml")


def help_text(client: Client) -> str:
    contact = client.sending_email or client.sending_phone
    return f"{client.name}: reply STOP to opt out of these messages. Questions: {contact}."[:320]


@twilio_signed("twilio-sms-inbound")
def twilio_sms_inbound(request: HttpRequest) -> HttpResponse:
    """An SMS from a lead: an opt-out word or stop request, START/UNSTOP, HELP (answered), or a reply."""
    fields = _fields(request, "MessageSid", "From", "To")
    if isinstance(fields, HttpResponse):
        return fields
    sid, from_phone, to_phone = fields
    body = request.POST.get("Body", "")
    leads = _leads_by_phone(from_phone, to_phone)
    intent = classify_sms(body)
    if not leads:
        logger.info("SMS %s from %s to %s matches no lead; not recorded", sid, from_phone, to_phone)
        client = Client.objects.filter(sending_phone=to_phone).first() if intent == SmsIntent.HELP else None
        return _twiml(help_text(client) if client is not None else "")  # HELP is answered whoever asks
    lead, now = leads[0], timezone.now()
    common: dict[str, Any] = {"provider": "twilio", "event_id": sid, "at": now, "metadata": {"text": body[:1600]}}
    if intent == SmsIntent.OPT_OUT:
        answers = outcomes.last_sent(lead, channel=Channel.SMS)
        outcomes.record_opt_out(lead, channel=Channel.SMS, answers=answers, same_person=leads, **common)
    elif intent == SmsIntent.OPT_IN:
        outcomes.record_opt_in(lead, channel=Channel.SMS, **common)
    elif intent == SmsIntent.HELP:
        outcomes.record_outcome(lead, action=ActivityAction.SMS_HELP, channel=Channel.SMS, **common)
        return _twiml(help_text(lead.client))
    else:
        answers = outcomes.last_sent(lead, channel=Channel.SMS)
        outcomes.record_reply(lead, channel=Channel.SMS, answers=answers, provider_message_id=sid, **common)
    return _twiml()


@twilio_signed("twilio-voice-status")
def twilio_voice_status(request: HttpRequest) -> HttpResponse:
    """A dialer's call-status callback: a final status records the call (voice.complete_call) once."""
    fields = _fields(request, "CallSid", "CallStatus", "From", "To")
    if isinstance(fields, HttpResponse):
        return fields
    sid, status, from_phone, to_phone = fields
    if status not in outcomes.CALL_STATUS_OUTCOMES:
        return HttpResponse(status=204)  # ringing, in-progress: the final status follows
    leads = _leads_by_phone(to_phone, from_phone)
    if not leads:
        logger.warning("Twilio call %s to %s from %s matches no lead", sid, to_phone, from_phone)
        return HttpResponse("unknown call", status=404)
    try:
        duration = max(0, int(request.POST.get("CallDuration") or 0))
    except ValueError:
        return HttpResponse("CallDuration must be whole seconds", status=400)
    try:
        outcomes.record_call(
            leads[0], provider="twilio", call_sid=sid, status=status, duration_seconds=duration,
            answered_by=request.POST.get("AnsweredBy", ""),
        )  # fmt: skip
    except (SendBlocked, InvalidTouch) as exc:
        # Recording is not gated by opt-outs; what is left (a lead of another client, a closed task) is ours to log.
        logger.warning("Twilio call %s to lead %s not recorded: %s", sid, leads[0].pk, exc)
    return HttpResponse(status=204)


# --- Bookings (Cal.com) ---------------------------------------------------------------------------------------


def _cal_signature_ok(request: HttpRequest) -> bool:
    secret = getattr(settings, "CAL_COM_WEBHOOK_SECRET", "")
    if not secret:
        logger.error("booking webhook refused: CAL_COM_WEBHOOK_SECRET is not set")
        return False
    expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    given = request.headers.get("X-Cal-Signature-256", "").strip().lower().removeprefix("sha256=")
    return hmac.compare_digest(expected, given)


def booking_lead(attendee_emails: list[str], organizer_email: str) -> Lead | None:
    """The lead who booked: an attendee at the organizer's client, else an attendee who is one lead anywhere."""
    leads = Lead.objects.filter(reduce(operator.or_, (Q(email__iexact=email) for email in attendee_emails)))
    if organizer_email:
        at_client = list(leads.filter(client__sending_email__iexact=organizer_email)[:1])
        if at_client:
            return at_client[0]
    anywhere = list(leads[:2])
    return anywhere[0] if len(anywhere) == 1 else None


@csrf_exempt
@login_not_required
@require_POST
def booking_webhook(request: HttpRequest) -> HttpResponse:
    """Cal.com BOOKING_CREATED, signed with HMAC-SHA256 of the raw body: the attendee's lead is converted."""
    if refused := _too_big(request, MAX_CALLBACK_BYTES):
        return refused
    if not _cal_signature_ok(request):
        logger.warning("booking webhook refused: missing or wrong X-Cal-Signature-256")
        return HttpResponse("invalid signature", status=403)
    try:
        data = json.loads(request.body)
        trigger, payload = data["triggerEvent"], data["payload"]
        uid = str(payload["uid"])
        attendees = [str(a["email"]).strip() for a in payload["attendees"] if a.get("email")]
        organizer = str((payload.get("organizer") or {}).get("email") or "").strip()
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        logger.warning("booking webhook refused: malformed body (%s: %s)", type(exc).__name__, exc)
        return HttpResponse("malformed body", status=400)
    if trigger != "BOOKING_CREATED":
        return JsonResponse({"status": "ignored", "trigger": str(trigger)[:50]})
    lead = booking_lead(attendees, organizer) if attendees else None
    if lead is None:
        logger.warning("booking %s: no single lead for attendees %s (organizer %s)", uid, attendees, organizer)
        return HttpResponse("no lead for the attendees", status=404)
    at = parse_datetime(str(payload.get("createdAt") or data.get("createdAt") or "")) or timezone.now()
    if timezone.is_naive(at):
        at = timezone.make_aware(at, UTC)
    meta = {"uid": uid, "title": str(payload.get("title", ""))[:200], "start": str(payload.get("startTime", ""))}
    activity = outcomes.record_booking(lead, source="calcom", event_id=f"booking_created:{uid}", at=at, metadata=meta)
    return JsonResponse({"status": "recorded", "activity": str(activity.pk)})
