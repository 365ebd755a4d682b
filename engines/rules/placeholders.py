"""The placeholder grammar of message templates: which fields a template may name, and how.

Template text holds placeholders from a fixed set (PLACEHOLDERS), each with
an optional fallback after a bar: `Hi {first_name|there}`. `{{` and `}}`
write a literal brace. MessageTemplate.clean() refuses text that breaks these
rules (text_errors); engines.services.sending.rendering fills them in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from outreach.models import Client, Lead


@dataclass(frozen=True)
class Placeholder:
    description: str
    value: Callable[[Lead, Client], str]


def _lead_field(name: str) -> Callable[[Lead, Client], str]:
    return lambda lead, client: getattr(lead, name, "")


def _client_field(name: str) -> Callable[[Lead, Client], str]:
    return lambda lead, client: getattr(client, name, "")


def _full_name(lead: Lead, client: Client) -> str:
    return f"{lead.first_name or ''} {lead.last_name or ''}"


PLACEHOLDERS: dict[str, Placeholder] = {
    "first_name": Placeholder("The lead's first name", _lead_field("first_name")),
    "last_name": Placeholder("The lead's last name", _lead_field("last_name")),
    "full_name": Placeholder("The lead's first and last name", _full_name),
    "company_name": Placeholder("The lead's company", _lead_field("company_name")),
    "title": Placeholder("The lead's job title", _lead_field("title")),
    "industry": Placeholder("The lead's industry", _lead_field("industry")),
    "country": Placeholder("The lead's country, as imported", _lead_field("country")),
    "sender_name": Placeholder(
        "The person who signs for the client (Client.sender_name)", _client_field("sender_name")
    ),
    "client_name": Placeholder("The client's business name", _client_field("name")),
}

# Values an import leaves behind when a field was really empty; sending them reads as "Hi None".
EMPTY_MARKERS = frozenset({"none", "null", "nil", "nan", "n/a", "na", "-", "--", "undefined"})

# `{{`, `}}`, or one `{...}` without braces inside it.
PLACEHOLDER_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


def split_placeholder(inner: str) -> tuple[str, str | None]:
    """The name and fallback (None when there is no bar) of what sits between the braces."""
    name, bar, fallback = inner.partition("|")
    return name.strip(), (fallback.strip() if bar else None)


def text_errors(text: str) -> list[str]:
    """What is wrong with the placeholders of one template text (empty when nothing is)."""
    errors: list[str] = []
    for match in PLACEHOLDER_TOKEN.finditer(text or ""):
        if match.group(1) is None:
            continue
        name, fallback = split_placeholder(match.group(1))
        if name not in PLACEHOLDERS:
            known = ", ".join(f"{{{known}}}" for known in PLACEHOLDERS)
            errors.append(f"unknown placeholder {{{name}}}: use one of {known}")
        elif fallback == "":
            errors.append(f"{{{name}|}} has an empty fallback: write {{{name}|something}} or {{{name}}}")
    leftover = PLACEHOLDER_TOKEN.sub("", text or "")
    if "{" in leftover or "}" in leftover:
        errors.append("a brace is not closed: a placeholder is {first_name}; write {{ or }} for a literal brace")
    return errors


# What a one-line header cannot carry: every control character but the tab (line breaks, vertical tab, form
# feed, the separators U+001C..U+001E that str.splitlines() breaks at, DEL, C1) and Unicode's line and
# paragraph separators. An email library folds or refuses them only when the message is built, mid-send.
_NOT_IN_A_SUBJECT = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")


def subject_error(subject: str) -> str | None:
    """Why `subject` cannot be an email's Subject line (None when it can)."""
    found = _NOT_IN_A_SUBJECT.search(subject or "")
    if found is None:
        return None
    return f"a subject is one line of text; it contains the control character U+{ord(found.group()):04X}: remove it"


def template_errors(subject: str, body: str) -> list[str]:
    """Every problem with a template's placeholders, each naming its part (subject or body)."""
    return [f"subject: {error}" for error in text_errors(subject)] + [f"body: {error}" for error in text_errors(body)]
