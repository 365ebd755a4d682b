"""SMS providers: Twilio through its official client, and a recording provider for tests and demos.

settings.SMS_PROVIDER names the class. A provider's `send` returns a SentSms
or raises ProviderError (SmsNumberRefused when the provider says the number
cannot take our texts: opted out, invalid, a landline; the engine records
it on the lead).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import ClassVar, Protocol

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import HttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client as TwilioClient

from engines.exceptions import ProviderError
from engines.providers.errors import NumberFault, is_retryable_status, is_twilio_transient, twilio_number_fault

# Seconds to wait for Twilio; the client's own default is to wait forever.
TWILIO_TIMEOUT = 15


@dataclass(frozen=True)
class SentSms:
    message_id: str
    status: str = ""


class SmsNumberRefused(ProviderError):
    """The provider refused the text for what the number is (`fault`: opted out, invalid, a landline); never
    retry, whatever the text or the time."""

    def __init__(self, message: str, *, fault: NumberFault, code: str | int | None = None):
        super().__init__(message, retryable=False, code=code)
        self.fault = fault


class SmsOptedOut(SmsNumberRefused):
    """The recipient has opted out of SMS from this sender at the provider."""

    def __init__(self, message: str, *, code: str | int | None = None):
        super().__init__(message, fault=NumberFault.OPTED_OUT, code=code)


class SmsProvider(Protocol):
    def send(self, *, to: str, from_: str, body: str) -> SentSms: ...


def provider_error(exc: TwilioRestException) -> ProviderError:
    """The ProviderError for a Twilio API error: an error about the number refuses it for good
    (SmsNumberRefused); 429, 5xx and the delivery errors that clear by themselves may be retried; other 4xx
    may not."""
    status = exc.status
    description = f"Twilio refused the message (HTTP {status}, code {exc.code}): {exc.msg}"
    fault = twilio_number_fault(exc.code)
    if fault == NumberFault.OPTED_OUT:
        return SmsOptedOut(description, code=exc.code)
    if fault is not None:
        return SmsNumberRefused(description, fault=fault, code=exc.code)
    retryable = is_retryable_status(status) or is_twilio_transient(exc.code)
    return ProviderError(description, retryable=retryable, code=exc.code if exc.code is not None else status)


class TwilioSmsProvider:
    """Sends through the Twilio Messages API; credentials from settings unless given."""

    def __init__(
        self,
        account_sid: str | None = None,
        auth_token: str | None = None,
        *,
        http_client: HttpClient | None = None,
    ):
        account_sid = account_sid or settings.TWILIO_ACCOUNT_SID
        auth_token = auth_token or settings.TWILIO_AUTH_TOKEN
        if not (account_sid and auth_token):
            raise ImproperlyConfigured("TwilioSmsProvider needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN")
        self.client = TwilioClient(
            account_sid, auth_token, http_client=http_client or TwilioHttpClient(timeout=TWILIO_TIMEOUT)
        )

    def send(self, *, to: str, from_: str, body: str) -> SentSms:
        try:
            message = self.client.messages.create(to=to, from_=from_, body=body)
        except TwilioRestException as exc:
            raise provider_error(exc) from exc
        except requests.RequestException as exc:  # timeout, connection refused, DNS...
            raise ProviderError(f"Twilio did not answer: {exc}", retryable=True, code="network") from exc
        except TwilioException as exc:
            raise ProviderError(f"Twilio client error: {exc}", retryable=False, code="client") from exc
        return SentSms(message_id=message.sid or "", status=message.status or "")


class RecordingSmsProvider:
    """Sends nothing: keeps each message in `outbox` (like django.core.mail.outbox) for tests and demos."""

    outbox: ClassVar[list[dict[str, str]]] = []

    def send(self, *, to: str, from_: str, body: str) -> SentSms:
        message_id = f"SM{uuid.uuid4().hex}"
        self.outbox.append({"to": to, "from_": from_, "body": body, "message_id": message_id})
        return SentSms(message_id=message_id, status="queued")
