"""What a provider sends, made storable: no NUL, no lone surrogate, no nesting deeper than we ever read.

PostgreSQL refuses NUL (U+0000) in text and jsonb, and neither database can encode a lone surrogate
(U+D800..U+DFFF, which JSON's \\ud800 escape or a MIME header's undecodable bytes produce) as UTF-8: either
one in a bounce's MTA text or a reply's body made the write fail on every retry, so the bounce or the
STOP it carried was never recorded. NUL is dropped (it carries nothing a person wrote); a lone surrogate
becomes U+FFFD, as a decoder replaces any byte it cannot read.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import TypeVar

from django.utils.dateparse import parse_datetime

# Deeper than any provider's documented payload (Postmark and Cal.com: 4 levels), shallow enough that walking
# it never comes near Python's recursion limit.
MAX_DEPTH = 32
# Python ints parse up to 4300 digits and would overflow any column long before: whole seconds of a call or
# a count fit in 9 digits.
MAX_DIGITS = 9

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

T = TypeVar("T")


class TooDeep(ValueError):
    """Provider input nested deeper than MAX_DEPTH: refused (400) rather than walked."""


def _replacement(match: re.Match[str]) -> str:
    return "" if match.group() == "\x00" else "\ufffd"


def is_storable(text: str) -> bool:
    """Whether both databases can store `text` as it is: no NUL, no lone surrogate."""
    return _UNSTORABLE.search(text) is None


def clean_text(text: str) -> str:
    """`text` without NUL and with each lone surrogate replaced by U+FFFD (the same object when already clean)."""
    if _UNSTORABLE.search(text) is None:
        return text
    return _UNSTORABLE.sub(_replacement, text)


def clean(value: T, *, depth: int = 0) -> T:
    """`value` with every string in it (dict keys too) cleaned, through dicts, lists and tuples (rebuilt as
    plain ones); TooDeep past MAX_DEPTH levels. Anything else (numbers, None, datetimes) is returned as it is."""
    if isinstance(value, str):
        return clean_text(value)  # type: ignore[return-value]  # a str subclass comes back as str
    if isinstance(value, (dict, list, tuple)):
        if depth >= MAX_DEPTH:
            raise TooDeep(f"provider input nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            return {clean(key, depth=depth + 1): clean(item, depth=depth + 1) for key, item in value.items()}  # type: ignore[return-value]
        items = [clean(item, depth=depth + 1) for item in value]
        return items if isinstance(value, list) else tuple(items)  # type: ignore[return-value]
    return value


def whole_number(text: str, *, max_digits: int = MAX_DIGITS) -> int | None:
    """A count in ASCII digits (surrounding spaces allowed), at most `max_digits` long; None otherwise (a sign,
    an exponent, other scripts' digits, or more digits than any column holds)."""
    text = text.strip()
    if not text or len(text) > max_digits or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def parse_moment(value: object) -> datetime | None:
    """An ISO 8601 date and time, None for anything else: a non-string, a malformed one or an impossible one
    (month 13). Naive when the text gives no offset."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    try:
        return parse_datetime(value)
    except ValueError:  # well-formed but impossible: 2026-13-45
        return None
