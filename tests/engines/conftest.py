import pytest
import requests
from django.core import mail

from engines.providers.sms import RecordingSmsProvider
from tests.engines.providers.fakes import FakeEspHttp


@pytest.fixture
def test_providers(settings):
    """Anymail's test backend for email and the recording SMS provider, both empty: nothing leaves the machine."""
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.SMS_PROVIDER = "engines.providers.sms.RecordingSmsProvider"
    mail.outbox = []
    RecordingSmsProvider.outbox.clear()


@pytest.fixture
def postmark(settings, monkeypatch):
    """The real anymail Postmark backend, with only its HTTP call faked."""
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "test-server-token"}
    fake = FakeEspHttp()
    monkeypatch.setattr(requests.Session, "request", fake)
    return fake
