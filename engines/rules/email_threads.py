"""Email threading: our own Message-IDs, and where a follow-up email of an enrollment goes.

Every email we send carries a Message-ID we make (`new_message_id`, on the
sender address's domain), stored bare: "id@domain", without the angle
brackets RFC 5322 puts around it in a header (`bare_message_id` reads either
form, so a reply's In-Reply-To or References is looked up the same way).

A follow-up (an email of an enrollment that already sent one with our
Message-ID) whose template says "reply" (EmailThread.REPLY, the default) goes
out in the thread of the enrollment's first such email: In-Reply-To names
that first email, References lists the emails of that thread in order (the
first, then each follow-up that replied in it), and the subject is the first
email's, as sent, with "Re: " before it (once: "Re: Re:" never). A template
on "new" starts a new thread with its own subject; so does the first email.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import make_msgid

from outreach.models.choices import EmailThread

# "Re:", "RE :", "re:" at the start: a subject that already reads as a reply.
_REPLY_PREFIX = re.compile(r"\s*re\s*:", re.IGNORECASE)


@dataclass(frozen=True)
class EarlierEmail:
    """An email the enrollment sent before, as recorded: its step, our Message-ID (bare), its subject as sent,
    and whether it replied in the thread ("reply") or started one ("new")."""

    touch_number: int
    message_id: str
    subject: str
    thread: str


@dataclass(frozen=True)
class Threading:
    """How an email goes out: its subject, the threading headers (none for a new thread), and "reply" or
    "new" (the content snapshot's `thread`)."""

    subject: str
    thread: str
    headers: dict[str, str] = field(default_factory=dict)


def bare_message_id(value: str) -> str:
    """A Message-ID as stored: without surrounding space and angle brackets ("<a@b>" and "a@b" read alike)."""
    value = value.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1].strip()
    return value


def new_message_id(sender: str) -> str:
    """A new Message-ID (bare) on the domain of `sender`, the address the email goes from.

    An internationalized domain is written in its ASCII (IDNA) form: a header is ASCII.
    """
    domain = sender.rpartition("@")[2].strip().lower()
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:  # not a name IDNA can write: keep it as it is (the address was checked already)
        pass
    return bare_message_id(make_msgid(domain=domain))


def reply_subject(subject: str) -> str:
    """`subject` as a reply's: "Re: " before it, unless it already starts with "Re:"."""
    return subject if _REPLY_PREFIX.match(subject) else f"Re: {subject}"


def thread_for(subject: str, earlier: Sequence[EarlierEmail], *, mode: str) -> Threading:
    """Where an email with this `subject` (its template's, rendered) goes, given the enrollment's `earlier`
    emails (those sent before it with a Message-ID and a subject, in order) and its template's `mode`."""
    usable = [email for email in earlier if email.message_id and email.subject]
    if mode != EmailThread.REPLY or not usable:
        return Threading(subject=subject, thread=EmailThread.NEW)
    first, *rest = usable
    chain = [first.message_id, *(email.message_id for email in rest if email.thread == EmailThread.REPLY)]
    # RFC 5322 3.6.4: In-Reply-To names the parent, the last email of the chain; References the chain up to it.
    headers = {"In-Reply-To": f"<{chain[-1]}>", "References": " ".join(f"<{id_}>" for id_ in chain)}
    return Threading(subject=reply_subject(first.subject), thread=EmailThread.REPLY, headers=headers)
