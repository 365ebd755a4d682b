"""Twilio: SMS status callbacks, inbound SMS, call status callbacks, each signed with TWILIO_AUTH_TOKEN."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import wraps
from typing import Unpack

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from engines.exceptions import InvalidTouch, SendBlocked
from engines.json_types import JSONValue
from engines.rules.provider_input import whole_number
from engines.services.outcomes import attribution, calls, early_statuses, events
from engines.services.outcomes.intent import read_reply
from engines.services.outcomes.replies import SmsIntent, classify_sms
from engines.webhooks.cleaning import clean_form
from engines.webhooks.common import MAX_CALLBACK_BYTES, EventSource, logger, too_big
from outreach.models import ActivityAction, Channel, Client, Lead

TwilioView = Callable[[HttpRequest], HttpResponse]


class SmsEvent(EventSource):
    metadata: Mapping[str, JSONValue]


def twilio_signed(url_name: str) -> Callable[[TwilioView], TwilioView]:
    """Only requests Twilio signed (X-Twilio-Signature, TWILIO_AUTH_TOKEN) reach the view; others get 403.

    The signed URL is PUBLIC_BASE_URL + the view's own path, not the request's host: behind a proxy the
    host and scheme Django sees are not the ones Twilio called.
    """

    def decorator(view: TwilioView) -> TwilioView:
        @wraps(view)
        def checked(request: HttpRequest) -> HttpResponse:
            if refused := too_big(request, MAX_CALLBACK_BYTES):
                return refused
            token = settings.TWILIO_AUTH_TOKEN
            signature = request.headers.get("X-Twilio-Signature", "")
            url = settings.PUBLIC_BASE_URL + reverse(url_name)
            if request.META.get("QUERY_STRING"):
                url += "?" + request.META["QUERY_STRING"]
            if not token or not signature or not RequestValidator(token).validate(url, request.POST, signature):
                logger.warning("Twilio callback %s refused: %s", url_name, "no token" if not token else "bad signature")
                return HttpResponse("invalid signature", status=403)
            request.POST = clean_form(request.POST)  # after the check: Twilio signed what it sent
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
    error_code = request.POST.get("ErrorCode", "").strip()
    metadata = {"status": status[:30], "error_code": error_code[:10]}
    result = early_statuses.record_status(
        sid[:255], status=status.lower()[:30], error_code=error_code[:10], provider="twilio", at=timezone.now(),
        metadata=metadata,
    )  # fmt: skip
    if result == "parked":
        return HttpResponse("parked until the send is recorded", status=202)
    return HttpResponse(status=204)


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
    """An SMS from a lead: an opt-out, START/UNSTOP, HELP (answered), each by Twilio's Advanced Opt-Out
    OptOutType when it sends one or by the keyword the Body is, or else a reply read for its intent."""
    fields = _fields(request, "MessageSid", "From", "To")
    if isinstance(fields, HttpResponse):
        return fields
    sid, from_phone, to_phone = fields
    body = request.POST.get("Body", "")
    leads = attribution.phone_leads(from_phone, to_phone)
    opt_out_type = request.POST.get("OptOutType", "").strip()
    intent = classify_sms(body, opt_out_type)
    # With Advanced Opt-Out, Twilio answers the keyword itself with the Messaging Service's own HELP text.
    answer_help = intent == SmsIntent.HELP and not opt_out_type
    if not leads:
        logger.info("SMS %s from %s to %s matches no lead; not recorded", sid, from_phone, to_phone)
        client = Client.objects.filter(sending_phone=to_phone).first() if answer_help else None
        return _twiml(help_text(client) if client is not None else "")  # HELP is answered whoever asks
    lead, now = leads[0], timezone.now()
    common: SmsEvent = {"provider": "twilio", "event_id": sid, "at": now, "metadata": {"text": body[:1600]}}
    if intent == SmsIntent.OPT_OUT:
        answers = events.last_sent(lead, channel=Channel.SMS)
        events.record_opt_out(lead, channel=Channel.SMS, answers=answers, same_person=leads, **common)
    elif intent == SmsIntent.OPT_IN:
        events.record_opt_in(lead, channel=Channel.SMS, **common)
    elif intent == SmsIntent.HELP:
        events.record_outcome(lead, action=ActivityAction.SMS_HELP, channel=Channel.SMS, **common)
        return _twiml(help_text(lead.client) if answer_help else "")
    else:
        _record_sms_reply(lead, leads, body, sid=sid, **common)
    return _twiml()


def _record_sms_reply(lead: Lead, leads: list[Lead], body: str, *, sid: str, **common: Unpack[SmsEvent]) -> None:
    """A free-text SMS, read for its intent and applied as every channel's replies are (events.record_read_reply):
    "remove me from your list" unsubscribes the person from everything, "stop texting me" opts the number out
    of SMS, "interested, don't call" is a reply that stops calls."""
    reading = read_reply(body, at=common["at"], channel=Channel.SMS)
    answers = events.last_sent(lead, channel=Channel.SMS)
    events.record_read_reply(
        lead, reading, channel=Channel.SMS, answers=answers, provider_message_id=sid, same_person=leads, **common
    )


@twilio_signed("twilio-voice-status")
def twilio_voice_status(request: HttpRequest) -> HttpResponse:
    """A dialer's call-status callback: a final status records the call (voice.complete_call) once, a failed
    call as failed (calls.record_failed_call), flagging the number when Twilio's ErrorCode says it is invalid."""
    fields = _fields(request, "CallSid", "CallStatus", "From", "To")
    if isinstance(fields, HttpResponse):
        return fields
    sid, status, from_phone, to_phone = fields
    if status not in calls.FINAL_CALL_STATUSES:
        return HttpResponse(status=204)  # ringing, in-progress: the final status follows
    leads = attribution.phone_leads(to_phone, from_phone)
    if not leads:
        logger.warning("Twilio call %s to %s from %s matches no lead", sid, to_phone, from_phone)
        return HttpResponse("unknown call", status=404)
    duration = whole_number(request.POST.get("CallDuration") or "0")
    if duration is None:
        return HttpResponse("CallDuration must be whole seconds", status=400)
    try:
        calls.record_call_status(
            leads[0], provider="twilio", call_sid=sid, status=status, duration_seconds=duration,
            answered_by=request.POST.get("AnsweredBy", ""), error_code=request.POST.get("ErrorCode", "").strip()[:10],
        )  # fmt: skip
    except (SendBlocked, InvalidTouch) as exc:
        # Recording is not gated by opt-outs; what is left (a lead of another client, a closed task) is ours to log.
        logger.warning("Twilio call %s to lead %s not recorded: %s", sid, leads[0].pk, exc)
    return HttpResponse(status=204)
