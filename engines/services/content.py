"""What a message says: vocabularies, feature extraction and the content snapshot.

Matching is on whole words and phrases (DESIGN.md, departure 1): case-
insensitive, Unicode-aware, an apostrophe belongs to its word ("won't" is not
"won") except a possessive ("Acme's" mentions "Acme"), and a plural "s"
is tolerated both ways ("pipelines" is "pipeline", "customer" is "customers").
Texts are split into words once; each vocabulary is an index of every
accepted spelling, compiled once at import.
"""
from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from typing import Any

from django.utils import timezone

from engines.services.geo import lead_local_time, lead_timezone_name

PAIN_POINT_KEYWORDS: dict[str, list[str]] = {
    "leads": ["leads", "pipeline", "prospects", "opportunities", "qualified", "mql", "sql", "inbound"],
    "revenue": ["revenue", "sales", "growth", "roi", "profit", "income", "deals", "closed", "won"],
    "time": ["time", "hours", "manual", "automate", "efficiency", "busy", "bandwidth", "overwhelmed", "tedious"],
    "scaling": ["scale", "scaling", "growth", "capacity", "bandwidth", "hire", "team", "expand", "growing"],
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
# Words a company's legal name carries that people leave out when they write it.
LEGAL_SUFFIXES = re.compile(
    r"(?:[\s,]+(?:pty\.?|ltd\.?|limited|inc\.?|incorporated|llc|l\.l\.c\.|corp\.?|corporation|co\.?|"
    r"company|gmbh|plc|ag|s\.a\.|bv|b\.v\.))+\s*$",
    re.IGNORECASE,
)

_APOSTROPHES = "'\u2019"
# A word: letters and digits (any script) with the apostrophes inside it, so "won't" is one word.
_TOKEN = re.compile(r"[\w'\u2019]+")


def _stem(word: str) -> str:
    """The singular form a vocabulary word is matched from."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _surface_forms(word: str) -> frozenset[str]:
    """Every spelling of `word` that counts as it: singular, plural, possessive."""
    word = word.casefold()
    stem = _stem(word)
    forms = {word, stem, stem + "s", stem + "es"}
    if len(stem) > 2 and stem.endswith("y") and stem[-2] not in "aeiou":
        forms.add(stem[:-1] + "ies")
    for form in list(forms):
        for apostrophe in _APOSTROPHES:
            forms.add(form + apostrophe + "s")
            if form.endswith("s"):
                forms.add(form + apostrophe)
    return frozenset(forms)


class _Text:
    """A text split once into casefolded words (with where each ends), shared by every matcher."""

    __slots__ = ("source", "words", "ends", "word_set")

    def __init__(self, text: str):
        self.source = text
        matches = list(_TOKEN.finditer(text.casefold()))
        self.words = [m.group() for m in matches]
        self.ends = [m.end() for m in matches]
        self.word_set = frozenset(self.words)


class _PhraseIndex:
    """Finds whole phrases of a fixed vocabulary in a _Text; each phrase carries a payload."""

    def __init__(self, phrases: list[tuple[str, Any]]):
        # first word's spelling -> [(spellings of the following words, trailing punctuation, payload)]
        self._by_first: dict[str, list[tuple[tuple[frozenset[str], ...], str, Any]]] = {}
        for phrase, payload in phrases:
            words = _TOKEN.findall(phrase)
            if not words:
                continue
            trailing = phrase[phrase.rfind(words[-1]) + len(words[-1]):].strip()
            rest = tuple(_surface_forms(w) for w in words[1:])
            for form in _surface_forms(words[0]):
                self._by_first.setdefault(form, []).append((rest, trailing, payload))

    def find(self, text: _Text) -> list[Any]:
        """Payloads of the phrases present, in the order they occur in the text."""
        found = []
        if self._by_first.keys().isdisjoint(text.word_set):
            return found
        words, ends, source = text.words, text.ends, text.source
        for i, word in enumerate(words):
            for rest, trailing, payload in self._by_first.get(word, ()):
                last = i + len(rest)
                if last >= len(words) or any(words[i + 1 + k] not in forms for k, forms in enumerate(rest)):
                    continue
                if trailing and not source.startswith(trailing, ends[last]):
                    continue
                found.append(payload)
        return found


_PAIN_INDEX = _PhraseIndex([(word, category) for category, words in PAIN_POINT_KEYWORDS.items() for word in words])
_CATEGORY_ORDER = {category: i for i, category in enumerate(PAIN_POINT_KEYWORDS)}
_CTA_INDEX = _PhraseIndex([(cta, cta) for cta in CTA_PATTERNS])
_CTA_ORDER = {cta: i for i, cta in enumerate(CTA_PATTERNS)}
_NEWS_INDEX = _PhraseIndex([(phrase, True) for phrase in RECENT_NEWS_PHRASES])
_MUTUAL_INDEX = _PhraseIndex([(word, True) for word in MUTUAL_CONNECTION_WORDS])


def _pain_points(text: _Text) -> list[str]:
    return sorted(set(_PAIN_INDEX.find(text)), key=_CATEGORY_ORDER.__getitem__)


def _cta(text: _Text) -> str | None:
    found = _CTA_INDEX.find(text)
    return min(found, key=_CTA_ORDER.__getitem__) if found else None


def extract_pain_points(text: str | None) -> list[str]:
    """Pain-point categories mentioned in `text`, in PAIN_POINT_KEYWORDS order, each once."""
    return _pain_points(_Text(text)) if text else []


def extract_cta(text: str | None) -> str | None:
    """The first call to action of CTA_PATTERNS (in list order) that `text` contains, or None."""
    return _cta(_Text(text)) if text else None


@functools.lru_cache(maxsize=8192)
def _name_index(phrase: str) -> _PhraseIndex:
    """A matcher for a lead's own name, company or industry; a company also matches without "Pty Ltd", "Inc"..."""
    variants = {phrase, LEGAL_SUFFIXES.sub("", phrase).strip(" ,")}
    return _PhraseIndex([(variant, True) for variant in variants if variant])


def _mentions(text: _Text, phrase: Any) -> bool:
    if not isinstance(phrase, str) or not phrase.strip():
        return False
    return bool(_name_index(phrase.strip()).find(text))


def _personalization(text: _Text, lead: Any) -> dict[str, bool]:
    return {
        "has_company_mention": _mentions(text, getattr(lead, "company_name", None)),
        "has_first_name": _mentions(text, getattr(lead, "first_name", None)),
        "has_recent_news": bool(_NEWS_INDEX.find(text)),
        "has_mutual_connection": bool(_MUTUAL_INDEX.find(text)),
        "has_industry_specific": _mentions(text, getattr(lead, "industry", None)),
    }


def detect_personalization(text: str | None, lead: Any) -> dict[str, bool]:
    """The five personalization flags; `lead` is any object with first_name, company_name, industry (each may be None)."""
    if not text:
        return dict.fromkeys(PERSONALIZATION_FLAGS, False)
    return _personalization(_Text(text), lead)


def word_count(text: str | None) -> int:
    return len(text.split()) if text else 0


def timing_fields(lead: Any, at: datetime | None = None, client: Any = None) -> dict[str, Any]:
    """When a touch happened: UTC instant with offset, and the lead's local day and hour."""
    at = (at or timezone.now()).astimezone(UTC)
    local = lead_local_time(lead, at, client)
    return {
        "sent_at": at.isoformat(),
        "local_time": local.isoformat(),
        "timezone": lead_timezone_name(lead, client),
        "day_of_week": local.strftime("%A"),
        "day_index": local.weekday(),
        "hour_of_day": local.hour,
    }


def build_content_snapshot(
    body: str | None,
    lead: Any,
    subject: str | None = None,
    touch_number: int = 1,
    sequence_id: Any = None,
    channel: str = "email",
    *,
    sent_at: datetime | None = None,
    client: Any = None,
) -> dict[str, Any]:
    """The standard record of what a touch said, stored in Activity.content_snapshot."""
    body = body or ""
    text = _Text(body)
    snapshot: dict[str, Any] = {
        "body": body,
        "channel": channel,
        "word_count": word_count(body),
        "char_count": len(body),
        "pain_points_used": _pain_points(text),
        "cta_used": _cta(text),
        **_personalization(text, lead),
        "touch_number": touch_number,
        "sequence_id": str(sequence_id) if sequence_id is not None else None,
        **timing_fields(lead, sent_at, client),
    }
    if subject is not None:
        snapshot["subject"] = subject
        snapshot["subject_word_count"] = word_count(subject)
    return snapshot
