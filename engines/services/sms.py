"""SMS engine: send one text through the configured provider and record what was sent."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from engines.exceptions import InvalidTouch, SendBlocked
from engines.providers import load_provider
from engines.providers.sms import SmsOptedOut, SmsProvider
from engines.services.compliance import check_contact_hours
from engines.services.content import build_content_snapshot
from engines.services.geo import e164
from engines.services.touches import check_reachable, record_touch, touch_context
from outreach.models import Activity, Channel, Lead

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
    client: Any,
    message: str,
    *,
    touch_number: int = 1,
    sequence_id: Any = None,
    now: datetime | None = None,
    provider: SmsProvider | None = None,
) -> Activity:
    """Send `message` to the lead's phone and return the saved sms_sent Activity.

    Raises SendBlocked (opted out, no valid phone, outside the legal contact
    hours of the lead's country in the lead's local time) or ProviderError,
    in both cases with nothing recorded. A provider opt-out (Twilio 21610)
    also marks the lead as opted out of SMS.
    """
    now = now or timezone.now()
    check_reachable(lead, Channel.SMS)
    check_contact_hours(lead, Channel.SMS, now, client)
    touch_number, sequence_uuid = touch_context(touch_number, sequence_id)
    if not isinstance(message, str) or not message.strip():
        raise InvalidTouch("an SMS needs a message")
    if len(message) > MAX_SMS_CHARS:
        raise InvalidTouch(f"an SMS is at most {MAX_SMS_CHARS} characters, this one has {len(message)}")
    sender = e164(getattr(client, "sending_phone", None))
    if sender is None:
        raise SendBlocked("no_sender_phone", f"client {client.pk} has no valid sending phone number")

    snapshot = build_content_snapshot(
        message,
        lead,
        touch_number=touch_number,
        sequence_id=sequence_uuid,
        channel=Channel.SMS.value,
        sent_at=now,
        client=client,
    )
    snapshot["segment_count"] = sms_segment_count(message)
    snapshot["encoding"] = sms_encoding(message)

    provider = provider or load_provider(settings.SMS_PROVIDER)
    try:
        sent = provider.send(to=e164(lead.phone), from_=sender, body=message)
    except SmsOptedOut:
        Lead.objects.filter(pk=lead.pk).update(sms_opted_out=True)
        lead.sms_opted_out = True
        raise

    return record_touch(
        lead,
        client,
        action="sms_sent",
        channel=Channel.SMS,
        content_snapshot=snapshot,
        metadata={
            "provider_message_id": sent.message_id,
            "provider_status": sent.status,
            "touch_number": touch_number,
            "sequence_id": snapshot["sequence_id"],
            "to": e164(lead.phone),
            "from": sender,
        },
        at=now,
        touch_number=touch_number,
        sequence_id=sequence_uuid,
        provider_message_id=sent.message_id,
    )
