import pytest
import requests
from django.core.exceptions import ImproperlyConfigured

from engines.exceptions import ProviderError
from engines.providers import load_provider
from engines.providers.sms import RecordingSmsProvider, SentSms, SmsOptedOut, TwilioSmsProvider
from tests.engines.providers.fakes import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioHttp, twilio_error, twilio_message


def provider_with(*responses):
    http = FakeTwilioHttp(responses)
    return http, TwilioSmsProvider(ACCOUNT_SID, AUTH_TOKEN, http_client=http)


def test_twilio_send_returns_the_message_sid_and_status():
    http, provider = provider_with(twilio_message(sid="SM" + "9" * 32, status="accepted"))

    sent = provider.send(to="+61412345678", from_="+61291234567", body="Hello")

    assert sent == SentSms(message_id="SM" + "9" * 32, status="accepted")
    assert http.requests[0]["data"] == {"To": "+61412345678", "From": "+61291234567", "Body": "Hello"}


@pytest.mark.parametrize(
    "fault, retryable, code",
    [
        (requests.exceptions.ConnectTimeout("connect timed out"), True, "network"),
        (requests.exceptions.ConnectionError("connection reset"), True, "network"),
        (twilio_error(429, 20429), True, 20429),
        (twilio_error(500, 20500), True, 20500),
        (twilio_error(502, 20502), True, 20502),
        (twilio_error(400, 21211), False, 21211),
        (twilio_error(401, 20003), False, 20003),
        (twilio_error(404, 20404), False, 20404),
    ],
)
def test_twilio_failures_become_provider_errors(fault, retryable, code):
    _, provider = provider_with(fault)

    with pytest.raises(ProviderError) as raised:
        provider.send(to="+61412345678", from_="+61291234567", body="Hello")

    assert (raised.value.retryable, raised.value.code) == (retryable, code)
    assert not isinstance(raised.value, SmsOptedOut)


def test_an_opted_out_recipient_is_its_own_error():
    _, provider = provider_with(twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"))

    with pytest.raises(SmsOptedOut) as raised:
        provider.send(to="+61412345678", from_="+61291234567", body="Hello")

    assert (raised.value.retryable, raised.value.code) == (False, 21610)


def test_twilio_needs_credentials(settings):
    settings.TWILIO_ACCOUNT_SID = ""
    settings.TWILIO_AUTH_TOKEN = ""
    with pytest.raises(ImproperlyConfigured):
        TwilioSmsProvider()


def test_twilio_reads_credentials_from_settings(settings):
    settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
    settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
    http = FakeTwilioHttp()
    TwilioSmsProvider(http_client=http).send(to="+61412345678", from_="+61291234567", body="Hi")
    assert http.requests[0]["auth"] == (ACCOUNT_SID, AUTH_TOKEN)


def test_the_recording_provider_keeps_what_it_was_given():
    RecordingSmsProvider.outbox.clear()
    sent = load_provider("engines.providers.sms.RecordingSmsProvider").send(to="+1", from_="+2", body="Hi")
    assert RecordingSmsProvider.outbox == [{"to": "+1", "from_": "+2", "body": "Hi", "message_id": sent.message_id}]
    assert sent.message_id.startswith("SM")


def test_an_unknown_provider_path_is_a_configuration_error():
    with pytest.raises(ImproperlyConfigured, match="engines.providers.sms.Pigeon"):
        load_provider("engines.providers.sms.Pigeon")
