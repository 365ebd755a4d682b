from types import SimpleNamespace

import pytest
from django.core import signing
from django.test import Client
from django.urls import reverse

from engines.services.sending.unsubscribe import (
    SALT,
    lead_id_from_token,
    list_unsubscribe_headers,
    unsubscribe_token,
    unsubscribe_url,
)
from tests.engines.webhook_support import outcome_rows, sequence
from tests.factories import LeadFactory


def test_a_token_reads_back_as_its_lead():
    assert lead_id_from_token(unsubscribe_token(SimpleNamespace(pk=42))) == 42


def test_each_lead_has_its_own_token():
    assert unsubscribe_token(SimpleNamespace(pk=1)) != unsubscribe_token(SimpleNamespace(pk=2))


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        signing.dumps(42),  # signed for no purpose in particular
        signing.dumps(42, salt="outreach.something-else"),
        signing.dumps("42", salt=SALT),  # not an id
        signing.dumps(True, salt=SALT),
    ],
)
def test_forged_or_foreign_tokens_are_refused(token):
    assert lead_id_from_token(token) is None


def test_an_altered_token_is_refused():
    token = unsubscribe_token(SimpleNamespace(pk=42))
    value, rest = token.split(":", 1)
    forged = signing.dumps(43, salt=SALT).split(":", 1)[0] + ":" + rest
    assert lead_id_from_token(forged) is None
    assert lead_id_from_token(token[:-1] + ("A" if token[-1] != "A" else "B")) is None


def test_a_token_signed_with_another_key_is_refused(settings):
    token = unsubscribe_token(SimpleNamespace(pk=42))
    settings.SECRET_KEY = "another-secret-key-entirely"
    assert lead_id_from_token(token) is None


def test_the_url_is_absolute_under_the_public_base(settings):
    settings.PUBLIC_BASE_URL = "https://outreach.example.com"
    url = unsubscribe_url(SimpleNamespace(pk=42))
    assert url.startswith("https://outreach.example.com/unsubscribe/") and url.endswith("/")
    assert lead_id_from_token(url.removeprefix("https://outreach.example.com/unsubscribe/").rstrip("/")) == 42


def test_one_click_headers(settings):
    settings.PUBLIC_BASE_URL = "https://outreach.example.com"
    headers = list_unsubscribe_headers(unsubscribe_url(SimpleNamespace(pk=42)))
    assert headers == {
        "List-Unsubscribe": f"<{unsubscribe_url(SimpleNamespace(pk=42))}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_an_unsaved_lead_has_no_link():
    with pytest.raises(ValueError):
        unsubscribe_token(SimpleNamespace(pk=None))


# --- The endpoint (RFC 8058 one-click) ---------------------------------------------------------------------------


def unsubscribe_path(lead) -> str:
    return reverse("unsubscribe", args=[unsubscribe_token(lead)])


@pytest.mark.django_db
def test_get_shows_a_confirmation_page_with_a_button_and_changes_nothing(client):
    seq = sequence()
    response = client.get(unsubscribe_path(seq.lead))
    assert response.status_code == 200
    page = response.content.decode()
    assert '<form method="post">' in page and 'name="List-Unsubscribe" value="One-Click"' in page
    assert "<button" in page and seq.lead.client.name in page
    assert not seq.refresh().is_unsubscribed
    assert outcome_rows(seq.lead) == [] and seq.statuses() == ["planned", "planned"]


@pytest.mark.django_db
def test_one_click_post_unsubscribes_without_login_or_csrf_and_answers_200():
    seq = sequence()
    browser = Client(enforce_csrf_checks=True)
    response = browser.post(unsubscribe_path(seq.lead), data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200  # not a redirect: RFC 8058 clients do not follow one
    assert seq.refresh().is_unsubscribed
    (row,) = outcome_rows(seq.lead)
    assert (row.action, row.channel, row.provider) == ("opted_out", "email", "unsubscribe_link")
    assert seq.statuses() == ["cancelled", "cancelled"]


@pytest.mark.django_db
def test_the_url_in_every_email_is_served(client, settings):
    settings.PUBLIC_BASE_URL = "https://outreach.example.com"
    seq = sequence()
    path = unsubscribe_url(seq.lead).removeprefix("https://outreach.example.com")
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert seq.refresh().is_unsubscribed


@pytest.mark.django_db
def test_unsubscribing_twice_stores_one_opt_out(client):
    seq = sequence()
    client.post(unsubscribe_path(seq.lead), data={"List-Unsubscribe": "One-Click"})
    assert client.post(unsubscribe_path(seq.lead), data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert len(outcome_rows(seq.lead)) == 1


@pytest.mark.django_db
def test_a_post_without_the_one_click_body_changes_nothing(client):
    seq = sequence()
    assert client.post(unsubscribe_path(seq.lead)).status_code == 400
    assert not seq.refresh().is_unsubscribed


@pytest.mark.django_db
@pytest.mark.parametrize("make_token", [lambda lead: "garbage", lambda lead: signing.dumps(lead.pk)])
def test_a_forged_token_changes_nothing_and_answers_400(client, make_token):
    seq = sequence()
    path = reverse("unsubscribe", args=[make_token(seq.lead)])
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 400
    assert client.get(path).status_code == 400
    assert not seq.refresh().is_unsubscribed and outcome_rows(seq.lead) == []


@pytest.mark.django_db
def test_a_tampered_token_changes_nothing(client):
    seq, other = sequence(), sequence()
    token = unsubscribe_token(seq.lead)
    forged = signing.dumps(other.lead.pk, salt=SALT).split(":", 1)[0] + ":" + token.split(":", 1)[1]
    response = client.post(reverse("unsubscribe", args=[forged]), data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 400
    assert not seq.refresh().is_unsubscribed and not other.refresh().is_unsubscribed


@pytest.mark.django_db
def test_a_token_unsubscribes_only_its_own_lead(client):
    seq, other = sequence(), sequence(lead=LeadFactory())
    client.post(unsubscribe_path(seq.lead), data={"List-Unsubscribe": "One-Click"})
    assert seq.refresh().is_unsubscribed
    assert not other.refresh().is_unsubscribed and other.statuses() == ["planned", "planned"]


@pytest.mark.django_db
def test_a_token_of_a_deleted_lead_answers_404(client):
    lead = LeadFactory()
    path = unsubscribe_path(lead)
    lead.delete()
    assert client.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 404
