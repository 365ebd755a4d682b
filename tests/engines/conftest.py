import pytest
import requests

from tests.engines.providers.fakes import FakeEspHttp


@pytest.fixture
def postmark(settings, monkeypatch):
    """The real anymail Postmark backend, with only its HTTP call faked."""
    settings.EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
    settings.ANYMAIL = {"POSTMARK_SERVER_TOKEN": "test-server-token"}
    fake = FakeEspHttp()
    monkeypatch.setattr(requests.Session, "request", fake)
    return fake
