"""Provider input cleaned at the door (engines.rules.provider_input): one choke point per provider family.

anymail: a JSON body is cleaned before anymail parses it (it builds an inbound email's MIME headers from the
JSON and refuses a lone surrogate there), then every parsed event and inbound message is cleaned again in
the receivers, for ESPs that post forms or raw MIME; a tracking event parsed from a JSON body the door found
clean is not walked twice (body_checked). Twilio: the signed form, once its signature is checked. Cal.com:
the JSON, parsed here.
"""

from __future__ import annotations

import json
import re
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailEvent
from django.http import HttpRequest, QueryDict

from engines.json_types import JSONValue
from engines.rules.provider_input import MAX_DEPTH, TooDeep, clean, clean_text

if TYPE_CHECKING:
    from django.http.request import _ImmutableQueryDict

# A JSON escape that decodes to NUL or to half a surrogate pair: the only ways valid UTF-8 JSON carries them
# (a raw NUL in a string is invalid JSON, and a surrogate's UTF-8 bytes fail to decode: both answer 400).
# A pair escaped on purpose, or an escaped backslash before "u", also matches: parsed and cleaned for nothing.
_ESCAPED_UNSTORABLE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


# A line break escaped in a JSON string: in a header field it makes anymail refuse the whole email.
_ESCAPED_LINE_BREAK = re.compile(rb"\\[rn]|\\u000[aAdD]")
# The fields an ESP's JSON gives an inbound email's headers in (Postmark's "Subject", "FromName"..., Resend's
# "subject", "from"...; compared in lower case), and the list of other headers ({"Name": ..., "Value": ...}).
_HEADER_FIELDS = frozenset({"subject", "from", "fromname", "to", "cc", "bcc", "replyto", "reply_to", "date"})
_HEADER_LISTS = frozenset({"headers"})
# A JSON string (its escapes included) and a bracket: the nesting of a JSON text is read from its brackets
# once its strings are taken out.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(rb"[\[\]{}]")
_BODY_CHECKED: ContextVar[bool] = ContextVar("outreach_webhook_body_checked", default=False)


def clean_json_body(request: HttpRequest) -> bool:
    """Replace a JSON body that carries NUL or lone surrogates, or a line break in an email header field (an
    email's Subject with CR/LF made anymail refuse it, so a reply asking to stop was lost on every retry), by
    its cleaned equivalent, for anymail to parse: the line breaks of a header are folded into spaces, as RFC
    5322 unfolds a header. Raises as json.loads does (ValueError, RecursionError) and TooDeep past MAX_DEPTH.

    True when the body is JSON with no such escape anywhere (a JSON text inside one of its strings included,
    as Amazon SES sends its message): whatever anymail reads from it alone is storable already, so a tracking
    event parsed from it needs no second cleaning (body_checked)."""
    if request.content_type != "application/json":
        return False
    body = request.body
    if _ESCAPED_UNSTORABLE.search(body) is not None:
        request._body = json.dumps(_unfold_headers(clean(json.loads(body)))).encode()
        return False  # an escape in a JSON text inside a string is decoded by anymail later: clean its events
    # As many opening brackets as levels allowed cannot nest deeper (every payload a provider documents).
    if body.count(b"{") + body.count(b"[") > MAX_DEPTH and _nesting(body) > MAX_DEPTH:
        raise TooDeep(f"provider input nested deeper than {MAX_DEPTH} levels")
    if _ESCAPED_LINE_BREAK.search(body) is not None:
        parsed = json.loads(body)
        unfolded = _unfold_headers(parsed)
        if unfolded != parsed:
            request._body = json.dumps(unfolded).encode()
    return True


def _nesting(body: bytes) -> int:
    """How deep the JSON text's objects and arrays nest, read from its brackets outside its strings."""
    depth = deepest = 0
    for bracket in _JSON_BRACKET.findall(_JSON_STRING.sub(b"", body)):
        if bracket in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def vouch_for_body(checked: bool) -> Token[bool]:
    """Mark the webhook request being answered as having its body checked clean (clean_json_body's answer),
    until `forget_body(token)`: a plain context variable, set and reset around the view by its guard."""
    return _BODY_CHECKED.set(checked)


def forget_body(token: Token[bool]) -> None:
    _BODY_CHECKED.reset(token)


def body_checked() -> bool:
    """Whether the request being answered had its JSON body checked clean at the door (vouch_for_body)."""
    return _BODY_CHECKED.get()


def _unfold_headers(value: JSONValue) -> JSONValue:
    """`value` with the line breaks in its email header fields (at any depth) replaced by spaces."""
    if isinstance(value, list):
        return [_unfold_headers(item) for item in value]
    if not isinstance(value, dict):
        return value
    unfolded: dict[str, JSONValue] = {}
    for key, item in value.items():
        name = key.lower()
        if name in _HEADER_FIELDS and isinstance(item, str):
            unfolded[key] = _unfold(item)
        elif name in _HEADER_LISTS and isinstance(item, list):
            unfolded[key] = [_unfold_header(header) for header in item]
        else:
            unfolded[key] = _unfold_headers(item)
    return unfolded


def _unfold_header(header: JSONValue) -> JSONValue:
    if isinstance(header, dict) and isinstance(header.get("Value"), str):
        return {**header, "Value": _unfold(str(header["Value"]))}
    return header


def _unfold(text: str) -> str:
    return " ".join(text.splitlines()) if "\r" in text or "\n" in text else text


def clean_anymail_event(event: AnymailEvent) -> None:
    """Clean in place what anymail parsed: every attribute of the event (the ESP's own event, description,
    MTA response, metadata, ids) and, for an inbound email, its headers, text parts and the ESP's fields."""
    for name, value in list(vars(event).items()):
        setattr(event, name, clean(value))
    message = getattr(event, "message", None)
    if isinstance(message, AnymailInboundMessage):
        _clean_message(message)


def _clean_message(message: AnymailInboundMessage) -> None:
    for part in message.walk():
        headers = [(name, str(value)) for name, value in part.items()]
        if any(clean_text(name) != name or clean_text(value) != value for name, value in headers):
            for name in dict.fromkeys(name for name, _ in headers):
                del part[name]  # all of that name: put back below in their order
            for name, value in headers:
                part[clean_text(name)] = clean_text(value)
        if part.get_content_maintype() == "text" and not part.is_multipart() and not part.is_attachment():
            text = part.get_content_text()
            if clean_text(text) != text:
                del part["Content-Transfer-Encoding"]  # the cleaned text replaces the encoded payload
                part.set_payload(clean_text(text), charset="utf-8")
    for name, value in list(vars(message).items()):  # anymail's own fields: stripped_text, envelope_sender...
        if not name.startswith("_") and isinstance(value, str):
            setattr(message, name, clean_text(value))


def clean_form(form: _ImmutableQueryDict) -> _ImmutableQueryDict:
    """The form with its names and values cleaned (the same form when already clean)."""
    pairs = [(name, value) for name, values in form.lists() for value in values]
    if all(clean_text(name) == name and clean_text(value) == value for name, value in pairs):
        return form
    return QueryDict(urlencode([(clean_text(name), clean_text(value)) for name, value in pairs]))
