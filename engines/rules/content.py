"""What a message says: vocabularies, feature extraction and the content snapshot.

Matching is on whole words and phrases (DESIGN.md, departure 1): case-
insensitive, Unicode-aware, an apostrophe belongs to its word ("won't" is not
"won") except a possessive ("Acme's" mentions "Acme"), and a plural "s"
is tolerated both ways ("pipelines" is "pipeline", "customer" is "customers").

Speed (benchmarks/bench_content.py): a text is split into words once, and
each vocabulary is an index of every accepted spelling compiled at import,
so a vocabulary is matched with one set operation instead of a scan per
keyword. ASCII text, the common case, is split with a byte translation table
instead of a regular expression.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable, Hashable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Generic, Protocol, TypeVar
from zoneinfo import ZoneInfo

from django.utils import timezone

from engines.json_types import JSONValue
from engines.rules.geography import lead_timezone_name

if TYPE_CHECKING:
    from outreach.models import Client, Lead

# Each keyword belongs to one category ("growth" is scaling, "bandwidth" is time), and the words of a call to
# action are not pain points ("book a time" is no complaint about time): see _pain_points.
PAIN_POINT_KEYWORDS: dict[str, list[str]] = {
    "leads": ["leads", "pipeline", "prospects", "opportunities", "qualified", "mql", "sql", "inbound"],
    "revenue": ["revenue", "sales", "roi", "profit", "income", "deals", "closed", "won"],
    "time": ["time", "hours", "manual", "automate", "efficiency", "busy", "bandwidth", "overwhelmed", "tedious"],
    "scaling": ["scale", "scaling", "growth", "capacity", "hire", "team", "expand", "growing"],
    "competition": ["competitors", "competition", "market share", "behind", "catching up", "losing", "threat"],
    "cost": ["cost", "expensive", "budget", "waste", "spending", "save", "afford", "price", "investment"],
    "quality": ["quality", "results", "performance", "outcomes", "better", "improve", "consistent"],
    "clients": ["clients", "customers", "retention", "churn", "satisfaction", "referrals", "testimonials"],
}

CTA_PATTERNS: list[str] = [
    "open to a quick chat",
    "worth 15 minutes",
    "worth a conversation",
    "free audit",
    "free analysis",
    "quick call",
    "schedule a call",
    "book a time",
    "interested in learning",
    "happy to share",
    "let me know",
    "thoughts?",
    "make sense to connect",
    "grab 15 minutes",
    "coffee chat",
]

RECENT_NEWS_PHRASES = ["noticed", "saw", "congrats", "congratulations", "just saw", "read about"]
MUTUAL_CONNECTION_WORDS = ["mutual", "connection", "referred", "introduced"]
PERSONALIZATION_FLAGS = (
    "has_company_mention",
    "has_first_name",
    "has_recent_news",
    "has_mutual_connection",
    "has_industry_specific",
)
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

# Words a company's legal name carries that people leave out when they write it.
LEGAL_SUFFIXES = re.compile(
    r"(?:[\s,]+(?:pty\.?|ltd\.?|limited|inc\.?|incorporated|llc|l\.l\.c\.|corp\.?|corporation|co\.?|"
    r"company|gmbh|plc|ag|s\.a\.|bv|b\.v\.))+\s*$",
    re.IGNORECASE,
)
# A company name that is nothing but these once its suffix is gone ("The Co") is not worth matching.
_TOO_COMMON = frozenset({"the", "a", "an", "and", "of"})


# --- Splitting a text into words -------------------------------------------------------------

# Punctuation that ends a clause: a phrase never runs across it ("...to book. A time" is not "book a time").
_BREAKS = ".,;:!?"
_BREAK = "."
# A word (letters and digits of any script, with the apostrophes inside it: "won't", "acme's"), or a break.
_TOKEN = re.compile(r"\w+(?:'\w+)*|[.,;:!?]")
# Typographic punctuation mapped to ASCII first, so most texts take the fast path below.
_TYPOGRAPHY = (
    ("\u2019", "'"),
    ("\u2018", "'"),
    ("\u02bc", "'"),
    ("\u201c", '"'),
    ("\u201d", '"'),
    ("\u2014", " "),
    ("\u2013", " "),
    ("\u2026", "."),
    ("\xa0", " "),
)
# Fast path: split UTF-8 bytes with a translation table. Every byte that cannot be part of a word
# becomes a space and every clause break a full stop; bytes of non-ASCII characters stay, which is
# right as long as each of those characters is a letter or digit.
_WORD_BYTES = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_'") | frozenset(range(128, 256))
_BYTE_TABLE = bytes(b if b in _WORD_BYTES else ord(_BREAK) if chr(b) in _BREAKS else ord(" ") for b in range(256))
_NON_ASCII_NON_WORD = re.compile(r"[^\w\x00-\x7f]")


def _normalize(text: str) -> str:
    """Lower-case, one Unicode form, ASCII punctuation: the form texts and vocabularies are compared in."""
    if text.isascii():
        return text.lower()
    text = text.casefold()
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    for typographic, plain in _TYPOGRAPHY:
        text = text.replace(typographic, plain)
    return text


def _split_slowly(normalized: str) -> list[str]:
    """The words of a normalized text and a full stop for each clause break, by regular expression."""
    return [_BREAK if token in _BREAKS else token for token in _TOKEN.findall(normalized)]


def _split(normalized: str) -> list[str]:
    """What _split_slowly returns, faster for texts without odd characters (almost all of them)."""
    if normalized.isascii() or not _NON_ASCII_NON_WORD.search(normalized):
        spaced = normalized.encode().translate(_BYTE_TABLE).decode().replace(_BREAK, " . ")
        # An apostrophe at the edge of a word is a quote mark or a plural possessive ("clients'"):
        # rare enough to leave to the regular expression.
        if "'" not in spaced or not (
            " '" in spaced or "' " in spaced or "''" in spaced or spaced[0] == "'" or spaced[-1] == "'"
        ):
            return spaced.split()
    return _split_slowly(normalized)


def _phrase_words(phrase: str) -> list[str]:
    """A vocabulary phrase or a name split as texts are, without the punctuation at its ends."""
    words = _split(_normalize(phrase))
    while words and words[-1] == _BREAK:
        words.pop()
    while words and words[0] == _BREAK:
        words.pop(0)
    return words


class _Text:
    """A text split once into normalized words, shared by every matcher."""

    __slots__ = ("source", "words", "word_set")

    def __init__(self, text: str):
        self.source = _normalize(text)
        self.words = _split(self.source)
        self.word_set = frozenset(self.words)

    def without(self, positions: set[int]) -> _Text:
        """The same text with the words at `positions` replaced by clause breaks (no phrase runs across them)."""
        masked = object.__new__(_Text)
        masked.words = [_BREAK if i in positions else word for i, word in enumerate(self.words)]
        masked.source = " ".join(masked.words)
        masked.word_set = frozenset(masked.words)
        return masked


@functools.lru_cache(maxsize=256)
def _parse(text: str) -> _Text:
    """Callers often run several extractors on one body: split it once."""
    return _Text(text)


# --- Vocabularies --------------------------------------------------------------------------


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("sses", "xes", "zes", "ches", "shes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "is", "us")):
        return word[:-1]
    return word


def _plural(word: str) -> str:
    if len(word) > 2 and word.endswith("y") and word[-2] not in "aeiou":
        return word[:-1] + "ies"
    if word.endswith("is") and len(word) > 3:
        return word[:-2] + "es"
    if word.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    return word + "s"


def _inflections(word: str) -> frozenset[str]:
    """Every spelling that counts as `word`: singular, plural, and the possessive of each."""
    singular = _singular(word)
    forms = {word, singular, _plural(singular)}
    return frozenset(forms | {form + "'s" for form in forms})


def _exact(word: str) -> frozenset[str]:
    """A name's spellings: itself and its possessive ("Acme's")."""
    return frozenset({word, word + "'s"})


def _indices(words: list[str], word: str) -> Iterable[int]:
    """Every position of `word` in `words`."""
    start = 0
    while True:
        try:
            start = words.index(word, start) + 1
        except ValueError:
            return
        yield start - 1


Payload = TypeVar("Payload", bound=Hashable)


class _Vocabulary(Generic[Payload]):
    """Whole-word and whole-phrase matcher for a fixed list of phrases, each carrying a payload.

    One-word phrases are found with a single set intersection against the
    text's words; longer phrases are checked at the positions of their first
    word only. Only the last word of a phrase is inflected ("free audits",
    not "frees audit"). A trailing punctuation mark in a phrase ("thoughts?")
    must follow it in the text.
    """

    def __init__(self, entries: Iterable[tuple[str, Payload]], *, inflect: bool, keep_punctuation: bool):
        variants = _inflections if inflect else _exact
        self._single: dict[str, set[Payload]] = {}
        self._multi: dict[str, list[tuple[tuple[frozenset[str], ...], re.Pattern[str] | None, Payload]]] = {}
        for phrase, payload in entries:
            normalized = _normalize(phrase)
            words = _phrase_words(phrase)
            if not words:
                continue
            last = variants(words[-1])
            trailing = normalized[normalized.rfind(words[-1]) + len(words[-1]) :].strip() if keep_punctuation else ""
            if trailing:
                # Punctuation is not a word: check the whole phrase on the text itself.
                head = "".join(re.escape(word) + r"\W+" for word in words[:-1])
                alternatives = "|".join(re.escape(form) for form in sorted(last, key=len, reverse=True))
                check = re.compile(rf"(?<!\w)(?<!\w'){head}(?:{alternatives})\s*{re.escape(trailing)}")
                rest = tuple(frozenset({word}) for word in words[1:-1]) + ((last,) if len(words) > 1 else ())
                for form in last if len(words) == 1 else (words[0],):
                    self._multi.setdefault(form, []).append((rest, check, payload))
            elif len(words) == 1:
                for form in last:
                    self._single.setdefault(form, set()).add(payload)
            else:
                rest = tuple(frozenset({word}) for word in words[1:-1]) + (last,)
                self._multi.setdefault(words[0], []).append((rest, None, payload))
        self._single_keys = frozenset(self._single)
        self._multi_keys = frozenset(self._multi)

    def _phrases(self, text: _Text) -> Iterable[Payload]:
        words = text.words
        for first in self._multi_keys.intersection(text.word_set):
            for rest, check, payload in self._multi[first]:
                if check is not None:
                    if check.search(text.source):
                        yield payload
                    continue
                start = 0
                while True:
                    try:
                        i = words.index(first, start)
                    except ValueError:
                        break
                    start = i + 1
                    if i + len(rest) < len(words) and all(words[i + 1 + k] in forms for k, forms in enumerate(rest)):
                        yield payload
                        break

    def spellings(self) -> frozenset[str]:
        """Every word spelling any phrase of the vocabulary is made of."""
        words = set(self._single_keys) | set(self._multi_keys)
        for entries in self._multi.values():
            for rest, _, _ in entries:
                words.update(*rest)
        return frozenset(words)

    def positions(self, text: _Text) -> set[int]:
        """Positions of the words of every phrase present (a punctuated phrase's words wherever they occur)."""
        words = text.words
        covered = set()
        if not self._single_keys.isdisjoint(text.word_set):
            covered = {i for i, word in enumerate(words) if word in self._single_keys}
        for first in self._multi_keys.intersection(text.word_set):
            for rest, check, _ in self._multi[first]:
                if check is not None and not check.search(text.source):
                    continue
                for i in _indices(words, first):
                    if i + len(rest) < len(words) and all(words[i + 1 + k] in forms for k, forms in enumerate(rest)):
                        covered.update(range(i, i + 1 + len(rest)))
        return covered

    def found(self, text: _Text) -> set[Payload]:
        """Payloads of every phrase present."""
        found: set[Payload] = set()
        for form in self._single_keys.intersection(text.word_set):
            found |= self._single[form]
        if self._multi_keys:
            found.update(self._phrases(text))
        return found

    def any(self, text: _Text) -> bool:
        if not self._single_keys.isdisjoint(text.word_set):
            return True
        return next(iter(self._phrases(text)), None) is not None


_PAINS = _Vocabulary(
    ((word, category) for category, words in PAIN_POINT_KEYWORDS.items() for word in words),
    inflect=True,
    keep_punctuation=True,
)
_CATEGORY_ORDER = {category: i for i, category in enumerate(PAIN_POINT_KEYWORDS)}
_CTAS = _Vocabulary(((cta, i) for i, cta in enumerate(CTA_PATTERNS)), inflect=True, keep_punctuation=True)
_NEWS = _Vocabulary(((phrase, True) for phrase in RECENT_NEWS_PHRASES), inflect=True, keep_punctuation=True)
# The calls to action sharing a word with a pain keyword ("book a time"): only they can lend a text a pain point.
_PAIN_LIKE_CTAS = _Vocabulary(
    (
        (cta, i)
        for i, cta in enumerate(CTA_PATTERNS)
        if not _Vocabulary([(cta, i)], inflect=True, keep_punctuation=True).spellings().isdisjoint(_PAINS.spellings())
    ),
    inflect=True,
    keep_punctuation=True,
)
_MUTUAL = _Vocabulary(((word, True) for word in MUTUAL_CONNECTION_WORDS), inflect=True, keep_punctuation=True)


@functools.lru_cache(maxsize=8192)
def _name_vocabulary(name: str) -> _Vocabulary[bool]:
    """A matcher for a lead's own name or company; a company also matches without "Pty Ltd", "Inc"..."""
    variants = {name}
    short = LEGAL_SUFFIXES.sub("", name).strip(" ,&")
    if short and not set(_phrase_words(short)) <= _TOO_COMMON | {_BREAK}:
        variants.add(short)
    return _Vocabulary(((variant, True) for variant in variants), inflect=False, keep_punctuation=False)


@functools.lru_cache(maxsize=1024)
def _industry_vocabulary(industry: str) -> _Vocabulary[bool]:
    """Industries are nouns people pluralise ("Dentists" for "Dentist")."""
    return _Vocabulary([(industry, True)], inflect=True, keep_punctuation=False)


def _mentions(text: _Text, value: object, vocabulary: Callable[[str], _Vocabulary[bool]]) -> bool:
    if not isinstance(value, str) or not value.strip():
        return False
    return vocabulary(value.strip()).any(text)


def _pain_points(text: _Text) -> list[str]:
    found = _PAINS.found(text)
    if found:
        covered = _PAIN_LIKE_CTAS.positions(text)
        if covered:
            found = _PAINS.found(text.without(covered))
    return sorted(found, key=_CATEGORY_ORDER.__getitem__)


def _cta(text: _Text) -> str | None:
    found = _CTAS.found(text)
    return CTA_PATTERNS[min(found)] if found else None


class PersonalizedLead(Protocol):
    """What personalization reads of a lead: a Lead, or any object with these (None or missing when unknown)."""

    @property
    def first_name(self) -> str | None: ...

    @property
    def company_name(self) -> str | None: ...

    @property
    def industry(self) -> str | None: ...


def _personalization(text: _Text, lead: PersonalizedLead) -> dict[str, bool]:
    return {
        "has_company_mention": _mentions(text, getattr(lead, "company_name", None), _name_vocabulary),
        "has_first_name": _mentions(text, getattr(lead, "first_name", None), _name_vocabulary),
        "has_recent_news": _NEWS.any(text),
        "has_mutual_connection": _MUTUAL.any(text),
        "has_industry_specific": _mentions(text, getattr(lead, "industry", None), _industry_vocabulary),
    }


def extract_pain_points(text: str | None) -> list[str]:
    """Pain-point categories mentioned in `text`, in PAIN_POINT_KEYWORDS order, each once."""
    return _pain_points(_parse(text)) if isinstance(text, str) and text else []


def extract_cta(text: str | None) -> str | None:
    """The first call to action of CTA_PATTERNS (in list order) that `text` contains, or None."""
    return _cta(_parse(text)) if isinstance(text, str) and text else None


def detect_personalization(text: str | None, lead: PersonalizedLead) -> dict[str, bool]:
    """The five personalization flags.

    `lead` is any object with first_name, company_name and industry, each of which may be None or missing.
    """
    if not isinstance(text, str) or not text:
        return dict.fromkeys(PERSONALIZATION_FLAGS, False)
    return _personalization(_parse(text), lead)


def word_count(text: str | None) -> int:
    return len(text.split()) if isinstance(text, str) else 0


# --- The snapshot ---------------------------------------------------------------------------


def timing_fields(lead: Lead, at: datetime | None = None, client: Client | None = None) -> dict[str, JSONValue]:
    """When a touch happened: the UTC instant with its offset, and the lead's local day and hour."""
    if at is not None and at.utcoffset() is None:
        raise ValueError(f"a touch time must be time-zone aware, got {at!r}")
    at = (at or timezone.now()).astimezone(UTC)
    zone = lead_timezone_name(lead, client)
    local = at.astimezone(ZoneInfo(zone))
    return {
        "sent_at": at.isoformat(),
        "local_time": local.isoformat(),
        "timezone": zone,
        "day_of_week": DAY_NAMES[local.weekday()],
        "day_index": local.weekday(),
        "hour_of_day": local.hour,
    }


def build_content_snapshot(
    body: str | None,
    lead: Lead,
    subject: str | None = None,
    touch_number: int = 1,
    sequence_id: object = None,
    channel: str = "email",
    *,
    sent_at: datetime | None = None,
    client: Client | None = None,
    timed_by: str = "send",
) -> dict[str, JSONValue]:
    """The standard record of what a touch said, stored in Activity.content_snapshot.

    `timed_by` says what its local day and hour are the time of: "send", when a planned touch went out, or
    "person", when a person did it (a LinkedIn task, a call) and closed its task.
    """
    body = body if isinstance(body, str) else ""
    text = _Text(body)
    snapshot: dict[str, JSONValue] = {
        "body": body,
        "channel": channel,
        "word_count": len(body.split()),
        "char_count": len(body),
        "pain_points_used": _pain_points(text),
        "cta_used": _cta(text),
        **_personalization(text, lead),
        "touch_number": touch_number,
        "sequence_id": str(sequence_id) if sequence_id is not None else None,
        **timing_fields(lead, sent_at, client),
        "timed_by": timed_by,
    }
    if subject is not None:
        snapshot["subject"] = subject
        snapshot["subject_word_count"] = word_count(subject)
    return snapshot
