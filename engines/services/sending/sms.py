"""SMS engine: send one text through the configured provider and record what was sent."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import cast

from django.conf import settings
from django.utils import timezone

from engines.exceptions import SendBlocked
from engines.json_types import JSONValue
from engines.providers import load_provider
from engines.providers.sms import SmsNumberRefused, SmsProvider
from engines.rules.geography import e164
from engines.services.journey.contact import NUMBER_FAULT_STOPS, STOPS, stop_contact
from engines.services.sending import send_path
from outreach.models import Activity, Channel, Client, Lead, ScheduledTouch, StopReason

# GSM 03.38: the basic set costs one septet a character, the extension set two (escape + character).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
GSM7 = GSM7_BASIC | GSM7_EXTENSION
# (single message, each part of a concatenated one): a part loses room to its concatenation header.
GSM7_LIMITS = (160, 153)
UCS2_LIMITS = (70, 67)
# Twilio refuses longer bodies.
MAX_SMS_CHARS = 1600


def sms_encoding(text: str) -> str:
    """ "GSM-7" when every character is in the GSM 03.38 alphabet, else "UCS-2"."""
    return "GSM-7" if GSM7.issuperset(text) else "UCS-2"


def sms_segment_count(text: str | None) -> int:
    """How many SMS segments `text` is billed and delivered as.

    GSM-7: 160 septets in one message, else 153 per part; an extension
    character (such as the euro sign) takes two. Any other character makes
    the whole message UCS-2: 70 UTF-16 code units, else 67 per part (an emoji
    outside the Basic Multilingual Plane takes two). A character is never
    split across two parts.
    """
    if not text:
        return 0
    if GSM7.issuperset(text):
        units = [2 if char in GSM7_EXTENSION else 1 for char in text]
        single, part = GSM7_LIMITS
    else:
        units = [2 if ord(char) > 0xFFFF else 1 for char in text]
        single, part = UCS2_LIMITS
    if sum(units) <= single:
        return 1
    segments, used = 1, 0
    for size in units:
        if used + size > part:
            segments, used = segments + 1, 0
        used += size
    return segments


def send_sms(
    lead: Lead,
    client: Client,
    message: str,
    *,
    touch_number: int = 1,
    sequence_id: uuid.UUID | str | None = None,
    now: datetime | None = None,
    provider: SmsProvider | None = None,
    touch: ScheduledTouch | None = None,
) -> Activity:
    """Send `message` to the lead's phone and return the saved sms_sent Activity.

    Raises SendBlocked (opted out, no valid or a wrong number, outside the
    legal contact hours of the lead's country in the lead's local time, a
    lead of another client), InvalidTouch (empty, over 1,600 characters,
    text the database cannot store) or ProviderError, all with nothing
    recorded; SentNotRecorded when the provider accepted and the record
    failed. A provider's refusal of the number (Twilio 21610 opted out,
    21211 invalid, 21614 not a mobile) also flags the lead and cancels its
    other touches of the channels the number cannot take. With `touch`, the touch is
    marked sent with the Activity.
    """
    outgoing = send_path.start(
        lead,
        client,
        Channel.SMS,
        now=now or timezone.now(),
        touch_number=touch_number,
        sequence_id=sequence_id,
        touch=touch,
        check_hours=True,
    )
    prepared = prepare_sms(outgoing, message)
    try:
        return send_path.deliver(prepared, provider=provider)
    except SmsNumberRefused as refused:
        record_number_refused(lead, refused)
        raise


def prepare_sms(outgoing: send_path.Outgoing, message: str) -> send_path.Prepared:
    """Check a text past the gate and build its snapshot; its `send` takes an SMS provider (None: the
    configured one) and raises SmsNumberRefused when the provider refuses the number."""
    send_path.check_text(message, what="an SMS message", limit=MAX_SMS_CHARS)
    lead, client = outgoing.lead, outgoing.client
    to = e164(lead.phone)
    sender = e164(getattr(client, "sending_phone", None))
    if sender is None:
        raise SendBlocked("no_sender_phone", f"client {client.pk} has no valid sending phone number")
    if to is None:  # the gate already refused it; kept so the type is a str below
        raise SendBlocked("no_phone", f"lead {lead.pk} has no valid phone number")
    snapshot = sms_snapshot(outgoing, message)
    metadata: dict[str, JSONValue] = {
        "touch_number": outgoing.touch_number,
        "sequence_id": snapshot["sequence_id"],
        "to": to,
        "from": sender,
    }

    def send(provider: SmsProvider | None) -> send_path.Sent:
        chosen = provider or cast(SmsProvider, load_provider(settings.SMS_PROVIDER))
        sent = chosen.send(to=to, from_=sender, body=message)
        return send_path.Sent(sent.message_id, {"provider_status": sent.status})

    return send_path.Prepared(outgoing, "sms_sent", snapshot, metadata, send=send)


def record_number_refused(lead: Lead, refused: SmsNumberRefused) -> StopReason:
    """The provider refused a text for what the number is: the lead gets the flag of the stop that says
    (NUMBER_FAULT_STOPS: opted out of SMS, phone unusable, no texts) and its other touches of the channels
    concerned are cancelled (journey.contact.stop_contact). The stop, which the touch is blocked with."""
    reason = NUMBER_FAULT_STOPS[refused.fault]
    stop_contact(lead, reason)
    setattr(lead, STOPS[reason].flag, True)
    return reason


def sms_snapshot(outgoing: send_path.Outgoing, message: str) -> dict[str, JSONValue]:
    """The content snapshot of a text, with how it is billed (segments, encoding)."""
    snapshot = send_path.content_snapshot(outgoing, message)
    snapshot["segment_count"] = sms_segment_count(message)
    snapshot["encoding"] = sms_encoding(message)
    return snapshot
