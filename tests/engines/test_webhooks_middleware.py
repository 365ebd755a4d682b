"""Provider callbacks skip the browser middleware; people's pages and the host check keep theirs."""

import pytest
from django.urls import reverse

from engines.services.unsubscribe import unsubscribe_token
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
