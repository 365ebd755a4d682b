"""Provider callbacks skip the browser middleware; people's pages and the host check keep theirs."""

import pytest
from django.http import HttpResponse
from django.urls import get_resolver, path, reverse

from engines.services.sending.unsubscribe import unsubscribe_token
from engines.webhooks import middleware
from tests.engines.test_webhooks_email import delivery
from tests.engines.webhook_support import WEBHOOK_SECRET, basic_auth, post_json, postmark_tracking, sequence

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": WEBHOOK_SECRET}


def test_a_tracking_callback_is_answered_without_the_browser_middleware(client):
    seq = sequence()
    response = postmark_tracking(client, delivery(seq.sent.provider_message_id))
    assert response.status_code == 200
    assert "X-Frame-Options" not in response.headers  # XFrameOptionsMiddleware did not run
    assert response.resolver_match.url_name == "postmark_tracking_webhook"


def test_the_unsubscribe_page_keeps_the_browser_middleware(client):
    seq = sequence()
    response = client.get(reverse("unsubscribe", args=[unsubscribe_token(seq.lead)]))
    assert response.status_code == 200
    assert response.headers["X-Frame-Options"] == "DENY"


def test_a_callback_to_a_host_not_allowed_is_refused(client):
    seq = sequence()
    url = reverse("anymail:postmark_tracking_webhook")
    payload = delivery(seq.sent.provider_message_id)
    response = post_json(client, url, payload, HTTP_HOST="evil.example.com", **basic_auth())
    assert response.status_code == 400
    assert seq.lead.activities.count() == 1  # only the email sent


def test_an_unknown_callback_path_answers_404(client):
    assert client.post("/webhooks/nothing-here/", data=b"{}", content_type="application/json").status_code == 404
    assert client.post("/anymail/nothing/tracking/", data=b"{}", content_type="application/json").status_code == 404


def callback_here(request):
    return HttpResponse("from the test URLconf")


# This module is also a URL configuration (ROOT_URLCONF below): one callback path of its own.
urlpatterns = [path("webhooks/booking/", callback_here)]


def test_a_resolved_callback_path_follows_a_changed_url_configuration(client, settings):
    assert client.post(reverse("booking-webhook"), data=b"{}", content_type="application/json").status_code != 200
    settings.ROOT_URLCONF = __name__
    response = client.post("/webhooks/booking/", data=b"{}", content_type="application/json")
    assert response.status_code == 200 and response.content == b"from the test URLconf"


def test_the_resolved_paths_kept_are_bounded(monkeypatch):
    monkeypatch.setattr(middleware, "MAX_RESOLVED", 2)
    paths = ["/webhooks/booking/", "/webhooks/twilio/sms/status/", "/webhooks/twilio/sms/inbound/"]
    matches = [middleware.resolve_callback(each) for each in paths]
    assert [match.url_name for match in matches] == ["booking-webhook", "twilio-sms-status", "twilio-sms-inbound"]
    assert middleware.resolve_callback(paths[2]) is matches[2]  # kept
    assert len(middleware._resolved[get_resolver()]) <= 2
