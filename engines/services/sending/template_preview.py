"""A saved template as one lead would read it, and a test email of it to a person of the agency.

The preview fills a template through the send path's own rendering
(`rendering.render_text`), so it says exactly what a send would: the text
when every placeholder has data or a fallback, else the reason the send is
blocked ("missing_field:<name>"). It also reports each placeholder it met:
filled with the lead's data, its fallback used (the field is empty), or
missing (empty, no fallback: the send is blocked); an email is checked as the
send path checks it (a one-line subject that fits its header, body lines of
at most 998 octets).

A test email goes to the person who asks for it, never to the lead, from
where the client's emails go: its first active mailbox (else its first
warming one), through that mailbox's ESP account, or, for a client without
either, its sending_email through the configured email backend. It is
marked as a test (subject "[TEST] ...", header X-Outreach-Test) and is
never a touch: no Activity, no ScheduledTouch change, no lead counters. It
carries no unsubscribe link of the lead's (a click would unsubscribe the
lead) and no lead id in its ESP metadata.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum

from anymail.message import AnymailMessage
from django.core.exceptions import ImproperlyConfigured
from django.core.mail.backends.base import BaseEmailBackend
from django.db.models import QuerySet

from engines.exceptions import InvalidTouch, MissingField, ProviderError, SendBlocked
from engines.rules.placeholders import PLACEHOLDER_TOKEN, PLACEHOLDERS, split_placeholder
from engines.services.sending import send_path
from engines.services.sending.email import footer, open_account, send_message, sent_from
from engines.services.sending.rendering import render_text
from outreach.models import Channel, Client, Lead, Mailbox, MailboxState, MessageTemplate

logger = logging.getLogger(__name__)

TEST_SUBJECT_PREFIX = "[TEST] "
TEST_HEADER = "X-Outreach-Test"
# Where a lead's email has its signed unsubscribe link: a test leaves it out, so the tester cannot unsubscribe
# the lead by clicking it.
TEST_UNSUBSCRIBE = "(the lead's own unsubscribe link goes here; left out of a test)"


class Outcome(StrEnum):
    FILLED = "filled"
    FALLBACK = "fallback"
    MISSING = "missing"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class PlaceholderUse:
    """One placeholder of a template as this lead fills it: `written` as in the template, `value` what it
    became ("" when missing or unknown)."""

    part: str
    written: str
    name: str
    fallback: str | None
    value: str
    outcome: Outcome

    @property
    def note(self) -> str:
        """What happened, for a person: "fallback 'your practice' used (the lead's company is empty)"."""
        known = PLACEHOLDERS.get(self.name)
        field = known.description[:1].lower() + known.description[1:] if known else self.name
        if self.outcome is Outcome.FILLED:
            return f"filled with {self.value!r}"
        if self.outcome is Outcome.FALLBACK:
            return f"fallback {self.fallback!r} used ({field} is empty)"
        if self.outcome is Outcome.MISSING:
            return f"missing: {field} is empty, no fallback: the send is blocked (missing_field:{self.name})"
        return f"unknown placeholder {{{self.name}}}: the send is blocked (unknown_placeholder:{self.name})"


@dataclass(frozen=True)
class Segment:
    """A piece of rendered text: literal template text (`use` None) or what one placeholder became."""

    text: str
    use: PlaceholderUse | None = None


@dataclass(frozen=True)
class RenderedPart:
    """The subject or the body for one lead: `text` as the send path renders it (None when it would block),
    and the same text in segments, each placeholder marked."""

    part: str
    template_text: str
    text: str | None
    segments: tuple[Segment, ...]

    @property
    def uses(self) -> tuple[PlaceholderUse, ...]:
        return tuple(segment.use for segment in self.segments if segment.use is not None)


@dataclass(frozen=True)
class TemplatePreview:
    """A saved template rendered for one lead of its client, with what a send of it would refuse."""

    template: MessageTemplate
    lead: Lead
    subject: RenderedPart | None
    body: RenderedPart
    blocked: SendBlocked | None
    problems: tuple[str, ...]

    @property
    def parts(self) -> tuple[RenderedPart, ...]:
        """The subject (when there is one) and the body."""
        return (self.subject, self.body) if self.subject is not None else (self.body,)

    @property
    def uses(self) -> tuple[PlaceholderUse, ...]:
        return tuple(use for part in self.parts for use in part.uses)

    @property
    def flagged(self) -> tuple[PlaceholderUse, ...]:
        """The placeholders a person should look at: a fallback used, a field missing, an unknown name."""
        return tuple(use for use in self.uses if use.outcome is not Outcome.FILLED)

    @property
    def sendable(self) -> bool:
        return self.blocked is None and not self.problems


@dataclass(frozen=True)
class TestSend:
    """A test email handed to the email backend: to whom, with which subject, and the ESP's message id."""

    to: str
    subject: str
    message_id: str


def client_leads(template: MessageTemplate) -> QuerySet[Lead]:
    """The leads a template may be previewed for: its client's, first by id."""
    return Lead.objects.filter(client_id=template.client_id).order_by("pk")


def default_lead(template: MessageTemplate) -> Lead | None:
    """The lead a preview shows first: the client's first lead by id (None when the client has none)."""
    return client_leads(template).first()


def _use(part: str, written: str, inner: str, lead: Lead, template: MessageTemplate) -> PlaceholderUse:
    """What one placeholder becomes for `lead`, asked of the send path's renderer for the bare `{name}`."""
    name, fallback = split_placeholder(inner)
    try:
        value = render_text(f"{{{name}}}", lead, template.client)
    except MissingField:
        outcome = Outcome.FALLBACK if fallback else Outcome.MISSING
        return PlaceholderUse(part, written, name, fallback, fallback or "", outcome)
    except SendBlocked:
        return PlaceholderUse(part, written, name, fallback, "", Outcome.UNKNOWN)
    return PlaceholderUse(part, written, name, fallback, value, Outcome.FILLED)


def render_part(part: str, text: str, lead: Lead, template: MessageTemplate) -> tuple[RenderedPart, SendBlocked | None]:
    """One part (subject or body) for `lead`: as render_text makes it (None and the SendBlocked when it
    blocks), and in segments that mark each placeholder."""
    segments: list[Segment] = []
    position = 0
    for match in PLACEHOLDER_TOKEN.finditer(text or ""):
        if match.start() > position:
            segments.append(Segment(text[position : match.start()]))
        if match.group(1) is None:  # `{{` or `}}`: a literal brace
            segments.append(Segment(render_text(match.group(0), lead, template.client)))
        else:
            use = _use(part, match.group(0), match.group(1), lead, template)
            segments.append(Segment(use.value if use.value else match.group(0), use))
        position = match.end()
    if position < len(text or ""):
        segments.append(Segment(text[position:]))
    try:
        rendered: str | None = render_text(text, lead, template.client)
        blocked = None
    except SendBlocked as exc:
        rendered, blocked = None, exc
    return RenderedPart(part, text or "", rendered, tuple(segments)), blocked


def preview(template: MessageTemplate, lead: Lead) -> TemplatePreview:
    """`template` as `lead` would read it; SendBlocked("lead_of_another_client") for a lead of another client.

    The subject is rendered when the channel uses one (email; LinkedIn's connection note) or the template has
    one. `blocked` is the first part's SendBlocked (a missing field, an unknown placeholder); `problems` are
    what the send path would refuse in an email's rendered text (InvalidTouch messages).
    """
    if lead.client_id != template.client_id:
        raise SendBlocked("lead_of_another_client", f"lead {lead.pk} is not a lead of {template.client}")
    subject, subject_blocked = None, None
    if template.subject or template.channel == Channel.EMAIL:
        subject, subject_blocked = render_part("subject", template.subject, lead, template)
    body, body_blocked = render_part("body", template.body, lead, template)
    blocked = subject_blocked or body_blocked
    problems: list[str] = []
    if template.channel == Channel.EMAIL and blocked is None and subject is not None:
        try:
            send_path.check_email_text(subject.text, body.text)
        except InvalidTouch as exc:
            problems.append(str(exc))
    return TemplatePreview(template, lead, subject, body, blocked, tuple(problems))


def preview_mailbox(client: Client) -> Mailbox | None:
    """The mailbox a test of the client's emails goes from: its first active mailbox by address, else its first
    warming one; None when it has neither (the client's sending_email)."""
    sending = list(
        Mailbox.objects.filter(client=client, state__in=(MailboxState.ACTIVE, MailboxState.WARMING)).order_by("address")
    )
    active = [mailbox for mailbox in sending if mailbox.state == MailboxState.ACTIVE]
    return next(iter(active or sending), None)


def build_test_email(rendered: TemplatePreview, to: str, *, mailbox: Mailbox | None = None) -> AnymailMessage:
    """The test email of a preview, to `to`: what the lead would get (from `mailbox`, else the client's sending
    address, with the client's footer), its subject prefixed "[TEST] ", marked by the X-Outreach-Test header,
    with no unsubscribe link of the lead's and no lead id in its metadata.

    SendBlocked when the template is not an email template, the preview would be blocked ("missing_field:..."),
    `to` is not one valid address ("invalid_test_address") or there is no sending address ("no_sender_email");
    InvalidTouch when the send path would refuse the text.
    """
    template, client = rendered.template, rendered.template.client
    if template.channel != Channel.EMAIL:
        raise SendBlocked(
            "not_an_email_template", f"a test email is for email templates; this one is {template.channel}"
        )
    if rendered.blocked is not None:
        raise rendered.blocked
    subject = rendered.subject.text if rendered.subject else None
    body = rendered.body.text
    send_path.check_email_text(subject, body)
    address = send_path.email_address(to, reason="invalid_test_address")
    _, from_header = sent_from(mailbox, client)
    lead = rendered.lead
    note = f"\n\n[A test of template {template.pk} ({template}) as lead {lead.pk} would read it; not sent to the lead.]"
    return AnymailMessage(
        subject=TEST_SUBJECT_PREFIX + str(subject),
        body=str(body) + footer(client, TEST_UNSUBSCRIBE) + note,
        from_email=from_header,
        to=[address],
        headers={TEST_HEADER: "template-preview"},
        tags=["template-test"],
        metadata={"test": "true", "client_id": str(client.pk), "template_id": str(template.pk)},
    )


def send_test_email(
    template: MessageTemplate, lead: Lead, to: str, *, connection: BaseEmailBackend | None = None
) -> TestSend:
    """Render `template` for `lead` and send it as a test to `to` (a person of the agency, never the lead)
    through `connection` (else the preview mailbox's ESP account, else the configured email backend). Nothing
    is recorded as a touch.

    Raises what preview and build_test_email raise, and ProviderError when the backend fails or is not
    configured.
    """
    mailbox = preview_mailbox(template.client)
    message = build_test_email(preview(template, lead), to, mailbox=mailbox)
    opened = open_account(mailbox.account) if connection is None and mailbox is not None and mailbox.account else None
    try:
        sent = send_message(message, connection or opened)
    except ImproperlyConfigured as exc:  # an ESP backend without its API key: anymail says so when it is built
        raise ProviderError(f"the email backend is not configured: {exc}", code="not_configured") from exc
    finally:
        if opened is not None:
            opened.close()
    logger.info(
        "test email of template %s for lead %s sent to %s (message %s)", template.pk, lead.pk, to, sent.message_id
    )
    return TestSend(to=message.to[0], subject=message.subject, message_id=sent.message_id)
