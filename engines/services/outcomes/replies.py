"""Reading what a lead sent back: the carrier's SMS commands (opt-out words, START, HELP), auto-replies by their
headers, and an email as a whole; what a person's words mean is read by outcomes.intent.

Pure functions over text and headers, so the webhooks decide with one call and the rules are tested alone.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import StrEnum

from engines.services.outcomes.intent import Reading, ReplyIntent, read_reply
from outreach.models.choices import Channel


class SmsIntent(StrEnum):
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    REPLY = "reply"


# The carrier and CTIA keywords Twilio itself honours; a message that is only one of these (any case, with
# spaces or punctuation around or inside it, or said more than once) is the command, not a conversation.
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})
_WORD_INTENTS: dict[str, SmsIntent] = {
    **dict.fromkeys(OPT_OUT_WORDS, SmsIntent.OPT_OUT),
    **dict.fromkeys(OPT_IN_WORDS, SmsIntent.OPT_IN),
    **dict.fromkeys(HELP_WORDS, SmsIntent.HELP),
}
# Twilio Advanced Opt-Out sends OptOutType with an inbound message that matched one of the Messaging Service's
# keywords, its own language's included ("ALTO", "ARRET"): Twilio has acted on it already, whatever the Body.
OPT_OUT_TYPES: dict[str, SmsIntent] = {"STOP": SmsIntent.OPT_OUT, "START": SmsIntent.OPT_IN, "HELP": SmsIntent.HELP}

# Cyrillic and Greek capitals drawn as Latin ones, as the keywords' letters are written to slip past a filter
# ("sтop" with a Cyrillic te). Matched after upper-casing, so each lower-case look-alike maps through its capital.
_CONFUSABLES = str.maketrans(
    "АВЕЅІЈКМНОРСТХУҮԚԜΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",
    "ABESIJKMHOPCTXYYQWABEZHIKMNOPTYX",
)
_SEPARATORS_RE = re.compile(r"[\W_]+")
_LATIN_WORD_RE = re.compile(r"[A-Z]+")
_REPLY_PREFIX_RE = re.compile(r"^\s*(?:re|aw|sv|fwd?|tr|wg)\s*:", re.IGNORECASE)

# Out-of-office and other machine subjects (RFC 3834 senders should also set Auto-Submitted).
_AUTO_SUBJECT_RE = re.compile(
    r"\b(?:out\s+of\s+(?:the\s+)?office|automatic\s+reply|auto(?:matic)?[\s-]?reply|autoreply|auto[\s-]?response|"
    r"on\s+(?:annual\s+|parental\s+)?leave|on\s+vacation|on\s+holiday|away\s+from\s+(?:the\s+|my\s+)?office|"
    r"abwesenheitsnotiz|réponse\s+automatique|respuesta\s+automática)\b",
    re.IGNORECASE,
)


def _words(text: str) -> list[str]:
    """The message's words in upper case, compatibility forms folded (NFKC: full-width "ＳＴＯＰ", ligatures) and
    look-alike letters read as Latin; spaces, punctuation and invisible characters separate words."""
    folded = unicodedata.normalize("NFKC", text or "").upper().translate(_CONFUSABLES)
    return [word for word in _SEPARATORS_RE.split(folded) if word]


def keyword(text: str) -> str | None:
    """The keyword a message consists of (upper case), or None for anything else.

    The keyword alone ("stop."), spelt out ("S.T.O.P", "S T O P", "STOP ALL"), or said again ("STOP STOP",
    "stop, unsubscribe"): a person sending only the command, however written. A word that is no keyword, a
    digit or a letter of another script ("stop by tomorrow?", "stop 2") makes it a conversation.
    """
    words = _words(text)
    if not words or not all(_LATIN_WORD_RE.fullmatch(word) for word in words):
        return None
    joined = "".join(words)
    for word in _WORD_INTENTS:
        if len(joined) % len(word) == 0 and joined == word * (len(joined) // len(word)):
            return word
    first = _WORD_INTENTS.get(words[0])
    if first is not None and all(_WORD_INTENTS.get(word) == first for word in words):
        return words[0]
    return None


def classify_sms(body: str, opt_out_type: str = "") -> SmsIntent:
    """Which carrier command an inbound SMS is: Twilio's OptOutType when it sent one (OPT_OUT_TYPES), else an
    opt-out word, START/UNSTOP, HELP; anything else is a reply, whose meaning read_reply reads (a free-text
    stop request among them)."""
    typed = OPT_OUT_TYPES.get(opt_out_type.strip().upper())
    if typed is not None:
        return typed
    word = keyword(body)
    return SmsIntent.REPLY if word is None else _WORD_INTENTS[word]


def is_auto_reply(headers: Mapping[str, str] | Iterable[tuple[str, str]], subject: str = "") -> bool:
    """Whether an email was written by a machine: RFC 3834 and vendor headers, or an out-of-office subject."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    found = {name.strip().lower(): (value or "").strip().lower() for name, value in pairs}
    auto_submitted = found.get("auto-submitted", "no")
    if auto_submitted and auto_submitted != "no":
        return True
    if "x-autoreply" in found or "x-autorespond" in found:
        return True
    if found.get("x-autogenerated") == "reply" or found.get("precedence") in {"auto_reply", "bulk", "junk"}:
        return True
    return bool(subject) and _AUTO_SUBJECT_RE.search(subject) is not None


def read_email(
    headers: Mapping[str, str] | Iterable[tuple[str, str]], subject: str, text: str, *, at: datetime
) -> Reading:
    """What an inbound email means: an auto-reply by its headers or subject (never a stop request), else what
    its new text says (read_reply). A body that says nothing is read by its subject ("Unsubscribe"), unless the
    subject is ours answered ("Re: ..."): our own subject line is not the lead's words."""
    if is_auto_reply(headers, subject):
        return Reading(ReplyIntent.AUTO_REPLY)
    reading = read_reply(text, at=at, channel=Channel.EMAIL)
    if reading.intent != ReplyIntent.UNKNOWN or _REPLY_PREFIX_RE.match(subject):
        return reading
    return read_reply(subject, at=at, channel=Channel.EMAIL)
