"""What a touch says: the client's template for its slot, with the lead's and client's data filled in.

Template text holds placeholders from a fixed set (PLACEHOLDERS), each with
an optional fallback after a bar: `Hi {first_name|there}`. A placeholder
whose field is empty and that has no fallback blocks the touch
(MissingField, reason "missing_field:<name>"), so no message ever says
"Hi None" or "Hi ,". `{{` and `}}` write a literal brace.

Which template: the client's active template for the touch's channel and
touch number; when that slot has none, the active template of the same
channel with the nearest lower touch number; none at all blocks the touch
("no_template").

LinkedIn templates: a subject is the connection note, and such a touch is a
connection request; without a subject the body is sent as a message. Call
templates: the body is the call script.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from engines.exceptions import MissingField, SendBlocked
from engines.rules.placeholders import EMPTY_MARKERS, PLACEHOLDER_TOKEN, PLACEHOLDERS, split_placeholder
from outreach.models import Client, Lead, MessageTemplate, ScheduledTouch


@dataclass(frozen=True)
class RenderedTouch:
    subject: str
    body: str
    template: MessageTemplate


def _value(name: str, lead: Lead, client: Client) -> str:
    raw = PLACEHOLDERS[name].value(lead, client)
    # A line break or tab from imported data would reshape the message (or break an email header).
    # Separators an import left at the ends (",Pat;") would read as "Hi ,Pat;,".
    value = " ".join(str(raw or "").split()).strip(" ,;:")
    # Punctuation alone ("-" or ".") is no data either.
    if value.lower() in EMPTY_MARKERS or not any(char.isalnum() for char in value):
        return ""
    return value


def render_text(text: str, lead: Lead, client: Client) -> str:
    """`text` with every placeholder filled; MissingField when one has no data and no fallback.

    An unknown placeholder (in a template saved before validation existed)
    blocks too, rather than going out as literal braces.
    """

    def fill(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return match.group(0)[0]
        name, fallback = split_placeholder(match.group(1))
        if name not in PLACEHOLDERS:
            raise SendBlocked(f"unknown_placeholder:{name}"[:120], f"the template uses unknown {{{name}}}")
        value = _value(name, lead, client)
        if value:
            return value
        if fallback:
            return fallback
        raise MissingField(name)

    return PLACEHOLDER_TOKEN.sub(fill, text or "")


class TemplateBook:
    """The active templates of some clients, read in one query: a dispatcher's batch renders from one book."""

    def __init__(self, client_ids: Iterable[int]):
        self._slots: dict[tuple[int, str], list[MessageTemplate]] = {}
        active = MessageTemplate.objects.filter(client_id__in=set(client_ids), active=True).order_by("-touch_number")
        for template in active:
            self._slots.setdefault((template.client_id, template.channel), []).append(template)

    def template_for(self, touch: ScheduledTouch) -> MessageTemplate:
        """The template for the touch's slot, else the nearest lower one of its channel; SendBlocked if none."""
        for template in self._slots.get((touch.client_id, touch.channel), ()):
            if template.touch_number <= touch.touch_number:
                return template
        raise SendBlocked(
            "no_template",
            f"client {touch.client_id} has no active {touch.channel} template for touch {touch.touch_number} "
            "or any earlier one",
        )


def render_touch(
    touch: ScheduledTouch, *, lead: Lead | None = None, templates: TemplateBook | None = None
) -> RenderedTouch:
    """What the touch says to its lead (the given fresh copy of the lead, else touch.lead), from `templates`
    (else the client's templates as they are now)."""
    template = (templates or TemplateBook([touch.client_id])).template_for(touch)
    lead = lead or touch.lead
    client = touch.client
    return RenderedTouch(
        subject=render_text(template.subject, lead, client),
        body=render_text(template.body, lead, client),
        template=template,
    )
