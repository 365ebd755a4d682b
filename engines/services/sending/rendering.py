"""What a touch says: the client's template for its slot, with the lead's and client's data filled in.

Template text holds placeholders from a fixed set (PLACEHOLDERS), each with
an optional fallback after a bar: `Hi {first_name|there}`. A placeholder
whose field is empty and that has no fallback blocks the touch
(MissingField, reason "missing_field:<name>"), so no message ever says
"Hi None" or "Hi ,". `{{` and `}}` write a literal brace.

Which template: the client's active template for the touch's channel and
touch number; when that slot has none, the active template of the same
channel with the nearest lower touch number. A prospect never gets the same
text twice: a template whose text this lead has already been given (sent, or
handed to a person in an open task) is passed over for the next lower one,
and when every one is used the touch is blocked ("text_already_sent": write
a template for that step). None at all blocks the touch ("no_template").

LinkedIn templates: a subject is the connection note, and such a touch is a
connection request; without a subject the body is sent as a message. Call
templates: the body is the call script.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from engines.exceptions import MissingField, SendBlocked
from engines.rules.placeholders import EMPTY_MARKERS, PLACEHOLDER_TOKEN, PLACEHOLDERS, split_placeholder
from outreach.models import Activity, Client, Lead, ManualTask, MessageTemplate, ScheduledTouch, TaskStatus
from outreach.models.choices import SENT_ACTIONS


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

    def templates_for(self, touch: ScheduledTouch) -> list[MessageTemplate]:
        """The templates the touch may use, in order of preference: its slot's, then the lower ones of its
        channel, nearest first; SendBlocked("no_template") when there is none."""
        usable = [
            t for t in self._slots.get((touch.client_id, touch.channel), ()) if t.touch_number <= touch.touch_number
        ]
        if not usable:
            raise SendBlocked(
                "no_template",
                f"client {touch.client_id} has no active {touch.channel} template for touch {touch.touch_number} "
                "or any earlier one",
            )
        return usable


def texts_given(leads: Iterable[Lead]) -> defaultdict[int, set[str]]:
    """The texts each of these leads has already been given, by lead pk: sent (read only for leads with a
    send counted, touch_count), or in an open task for a person to send or say. Two queries for a batch."""
    leads = list(leads)
    given: defaultdict[int, set[str]] = defaultdict(set)
    sent_to = [lead.pk for lead in leads if lead.touch_count]
    sent = Activity.objects.filter(lead_id__in=sent_to, action__in=SENT_ACTIONS).order_by()
    tasks = ManualTask.objects.filter(lead_id__in=[lead.pk for lead in leads], status=TaskStatus.OPEN).order_by()
    rows = [
        *(sent.values_list("lead_id", "content_snapshot__body") if sent_to else ()),
        *tasks.values_list("lead_id", "message"),
    ]
    for lead_id, text in rows:
        if isinstance(text, str) and text:
            given[lead_id].add(text)
    return given


def render_touch(
    touch: ScheduledTouch,
    *,
    lead: Lead | None = None,
    templates: TemplateBook | None = None,
    given: Collection[str] | None = None,
) -> RenderedTouch:
    """What the touch says to its lead (the given fresh copy of the lead, else touch.lead), from `templates`
    (else the client's templates as they are now): the first of TemplateBook.templates_for whose text is not
    among the texts the lead was `given` already (else read for this lead). SendBlocked("text_already_sent")
    when each one's is."""
    candidates = (templates or TemplateBook([touch.client_id])).templates_for(touch)
    lead = lead or touch.lead
    given = texts_given([lead])[lead.pk] if given is None else given
    client = touch.client
    for template in candidates:
        body = render_text(template.body, lead, client)
        if body not in given:
            return RenderedTouch(subject=render_text(template.subject, lead, client), body=body, template=template)
    raise SendBlocked(
        "text_already_sent",
        f"lead {lead.pk} has already been given the text of every active {touch.channel} template up to touch "
        f"{touch.touch_number}: write a template for {touch.channel} touch {touch.touch_number}",
    )
