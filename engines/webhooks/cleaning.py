"""Provider input cleaned at the door (engines.rules.provider_input): one choke point per provider family.

anymail: a JSON body is cleaned before anymail parses it (it builds an inbound email's MIME headers from the
JSON and refuses a lone surrogate there), then every parsed event and inbound message is cleaned again in
the receivers, for ESPs that post forms or raw MIME. Twilio: the signed form, once its signature is checked.
Cal.com: the JSON, parsed here.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from anymail.inbound import AnymailInboundMessage
from anymail.signals import AnymailEvent
from django.http import HttpRequest, QueryDict

from engines.json_types import JSONValue
from engines.rules.provider_input import clean, clean_text

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


def clean_json_body(request: HttpRequest) -> None:
    """Replace a JSON body that carries NUL or lone surrogates, or a line break in an email header field (an
    email's Subject with CR/LF made anymail refuse it, so a reply asking to stop was lost on every retry), by
    its cleaned equivalent, for anymail to parse: the line breaks of a header are folded into spaces, as RFC
    5322 unfolds a header. Raises as json.loads does (ValueError, RecursionError) and TooDeep past MAX_DEPTH."""
    if request.content_type != "application/json":
        return
    unstorable = _ESCAPED_UNSTORABLE.search(request.body) is not None
    if not unstorable and _ESCAPED_LINE_BREAK.search(request.body) is None:
        return
    parsed = json.loads(request.body)
    cleaned = _unfold_headers(clean(parsed) if unstorable else parsed)
    if unstorable or cleaned != parsed:
        request._body = json.dumps(cleaned).encode()


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
