from types import SimpleNamespace

import pytest
from django.core import signing

from engines.services.unsubscribe import (
    SALT,
    lead_id_from_token,
    list_unsubscribe_headers,
    unsubscribe_token,
    unsubscribe_url,
)


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
    headers = list_unsubscribe_headers(SimpleNamespace(pk=42))
    assert headers == {
        "List-Unsubscribe": f"<{unsubscribe_url(SimpleNamespace(pk=42))}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_an_unsaved_lead_has_no_link():
    with pytest.raises(ValueError):
        unsubscribe_token(SimpleNamespace(pk=None))
