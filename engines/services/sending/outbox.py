"""Delivering one claimed outbox row (ScheduledTouch): render, re-check, send through the one send path, record.

The dispatcher (engines.services.sending.dispatcher) claims a touch (status `sending`,
committed) and calls deliver_touch; quiet-hours drift, daily limits, retries
and claiming are its job, not this module's.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from django.core.mail.backends.base import BaseEmailBackend
from django.db import DatabaseError

from engines.db.contact import ContactState, LookAhead, contact_states
from engines.exceptions import EngineError, EnrollmentNotActive, InvalidTouch, SendBlocked, SentNotRecorded
from engines.providers.linkedin import LinkedInBackend, ManualTaskBackend
from engines.providers.sms import SmsNumberRefused, SmsProvider
from engines.rules.compliance import check_can_contact
from engines.rules.email_threads import EarlierEmail
from engines.services.sending import send_path
from engines.services.sending.email import earlier_emails, prepare_email
from engines.services.sending.linkedin import send_linkedin
from engines.services.sending.manual_tasks import open_task
from engines.services.sending.recording import check_owner
from engines.services.sending.rendering import TemplateBook, render_touch
from engines.services.sending.sms import prepare_sms, record_number_refused
from outreach.models import Activity, Channel, EnrollmentState, Lead, ManualTask, ScheduledTouch, TaskKind, TouchStatus
from outreach.models.choices import LEAD_STATUS_STOPS

logger = logging.getLogger(__name__)

# Channels whose touches go to a provider (the others open a ManualTask, or an automated LinkedIn backend).
AUTOMATED_CHANNELS = (Channel.EMAIL, Channel.SMS)


def check_lead_open(lead: Lead, channel: str) -> None:
    """SendBlocked when the lead (as the database has it now) may not get this touch: the channel's gates first
    (their reason, "unsubscribed", says more than the status "closed" the same stop leaves), then the status: a
    lead that answered or is closed has a person dealing with it, its remaining touches do not go out."""
    check_can_contact(lead, channel)
    reason = LEAD_STATUS_STOPS.get(lead.status)
    if reason is not None:
        raise SendBlocked(reason, f"lead {lead.pk} is {lead.status}; its remaining touches do not go out")


def deliver_touch(
    touch: ScheduledTouch,
    *,
    now: datetime,
    email_connection: BaseEmailBackend | None = None,
    sms_provider: SmsProvider | None = None,
    linkedin_backend: LinkedInBackend | ManualTaskBackend | None = None,
    templates: TemplateBook | None = None,
) -> Activity | ManualTask:
    """Send one claimed touch and return its Activity (touch `sent`), or the ManualTask a person must do
    (LinkedIn with the manual backend, and calls; touch `waiting`).

    Precondition: touch.status == "sending", committed by the dispatcher.
    Raises SendBlocked (lead replied/converted/closed, do-not-contact,
    opted out, ...; MissingField for a placeholder with no data; "no_template"),
    InvalidTouch, ProviderError (.retryable), or SentNotRecorded: the provider
    accepted and the record failed; the touch is then moved to `review`
    (with the provider message id in last_error) for a person, never resent.
    Optional providers let a dispatcher reuse one connection for many touches,
    `templates` one read of the templates for a batch.
    """
    check_still_allowed(touch)
    lead = Lead.objects.filter(pk=touch.lead_id).first()
    if touch.channel in AUTOMATED_CHANNELS:
        prepared = prepare_touch(touch, lead=lead, now=now, templates=templates)
        try:
            provider = email_connection if touch.channel == Channel.EMAIL else sms_provider
            return send_path.deliver(prepared, provider=provider)
        except SmsNumberRefused as refused:
            record_number_refused(prepared.outgoing.lead, refused)
            raise
        except SentNotRecorded as exc:
            hold_for_review(touch, exc)
            raise
    lead = check_deliverable(touch, lead)
    rendered = render_touch(touch, lead=lead, templates=templates)
    if touch.channel == Channel.LINKEDIN:
        note = rendered.subject or None
        return send_linkedin(
            lead,
            touch.client,
            rendered.body,
            message_type="connection_request" if note else "message",
            connection_note=note,
            now=now,
            touch=touch,
            backend=linkedin_backend,
            lead_is_current=True,
        )
    if touch.channel == Channel.VOICE:
        # No automated dialer: a person places the call, once the gates allow calling this lead at all.
        outgoing = send_path.start(lead, touch.client, Channel.VOICE, now=now, touch=touch, lead_is_current=True)
        send_path.check_text(rendered.body, what="a call script")
        return open_task(outgoing, kind=TaskKind.CALL, message=rendered.body, due_at=touch.scheduled_at or now)
    raise InvalidTouch(f"touch {touch.pk} has unknown channel {touch.channel!r}")


class StopStateUnknown(EngineError):
    """The lead's contact state could not be read before the call: nothing was sent, the touch is tried later."""


def refusals(
    touches: Sequence[ScheduledTouch], *, leads: Mapping[int, Lead] | None = None, ahead: LookAhead | None = None
) -> dict[int, SendBlocked | InvalidTouch | StopStateUnknown]:
    """The last look before provider calls: for each claimed touch that, as the database has it at this moment,
    may no longer go out, by touch pk, what deliver_touch raises before a call (SendBlocked, the lead's own
    reason first, then EnrollmentNotActive); StopStateUnknown for each when that cannot be read. One query.

    A batch's leads are read once, to render them, and a stop (an unsubscribe,
    a reply, a bounce, do-not-contact, a pause) can commit while the batch's
    calls are being made. The dispatcher reads this only for touches it has a
    sending thread free to start at once (dispatcher.SendPool), once the calls
    before them have started (with one thread: returned), so a stop committed
    before the read starts is seen, and only a send whose read came first can
    still reach the lead, as with any check made before a send. `leads`: the touches' leads
    as read before, by pk, brought up to date here (their contact fields)
    rather than made anew. `ahead`: where the look may have been sent already
    (once the previous call had returned); else it is read now.
    """
    enrollment_ids = {touch.enrollment_id for touch in touches}
    try:
        states = ahead.receive(enrollment_ids) if ahead is not None else None
        if states is None:
            states = contact_states(enrollment_ids)
    except DatabaseError as exc:
        unknown = StopStateUnknown(f"could not read the leads' contact state before sending: {exc}")
        return {touch.pk: unknown for touch in touches}
    refused: dict[int, SendBlocked | InvalidTouch | StopStateUnknown] = {}
    for touch in touches:
        try:
            check_state(touch, states.get(touch.enrollment_id), (leads or {}).get(touch.lead_id))
        except (SendBlocked, InvalidTouch) as exc:
            refused[touch.pk] = exc
    return refused


def check_state(touch: ScheduledTouch, state: ContactState | None, lead: Lead | None = None) -> None:
    """Raise what refusals reports for the touch, given its enrollment's state as just read (None: gone) and
    its lead as read before (else made from the state)."""
    if state is None:
        raise SendBlocked("lead_deleted", f"lead {touch.lead_id} no longer exists")
    enrollment_state, fields = state
    if lead is None:
        lead = Lead(pk=touch.lead_id, **fields)
    else:
        for name, value in fields.items():
            setattr(lead, name, value)
    check_deliverable(touch, lead)
    if enrollment_state != EnrollmentState.ACTIVE:
        raise EnrollmentNotActive(enrollment_state)


def check_still_allowed(touch: ScheduledTouch) -> None:
    """Raise what refusals reports for this one touch (its last look, before a call or a task is opened)."""
    refused = refusals([touch]).get(touch.pk)
    if refused is not None:
        raise refused


def check_deliverable(touch: ScheduledTouch, lead: Lead | None) -> Lead:
    """The touch's lead (`lead`, as just read from the database) when the claimed touch may go to it; else
    InvalidTouch (not claimed) or SendBlocked (the lead is gone, another client's, or may not get it)."""
    if touch.status != TouchStatus.SENDING:
        raise InvalidTouch(f"touch {touch.pk} is {touch.status}; only a claimed (sending) touch is delivered")
    if lead is None:
        raise SendBlocked("lead_deleted", f"lead {touch.lead_id} no longer exists")
    check_owner(lead, touch.client)
    check_lead_open(lead, touch.channel)
    return lead


def prepare_touch(
    touch: ScheduledTouch,
    *,
    lead: Lead | None,
    now: datetime,
    templates: TemplateBook | None = None,
    given: Collection[str] | None = None,
    earlier: Sequence[EarlierEmail] | None = None,
) -> send_path.Prepared:
    """A claimed email or SMS touch rendered, checked and ready for its provider.

    `lead` is the touch's lead as just read from the database (None: it was
    deleted); `given`, the texts it has been given already (rendering.texts_given;
    else read here); `earlier`, for an email, the emails its enrollment sent
    (email.earlier_emails; else read here). Raises what deliver_touch raises
    before a provider is called.
    """
    lead = check_deliverable(touch, lead)
    rendered = render_touch(touch, lead=lead, templates=templates, given=given)
    if touch.channel == Channel.EMAIL:
        outgoing = send_path.start(lead, touch.client, Channel.EMAIL, now=now, touch=touch, lead_is_current=True)
        if earlier is None:
            earlier = earlier_emails([touch], {lead.pk: lead}).get(touch.sequence_id, [])
        template = rendered.template
        return prepare_email(
            outgoing,
            rendered.subject,
            rendered.body,
            template_id=template.pk,
            thread=template.email_thread,
            earlier=earlier,
        )
    if touch.channel == Channel.SMS:
        outgoing = send_path.start(
            lead, touch.client, Channel.SMS, now=now, touch=touch, check_hours=True, lead_is_current=True
        )
        return prepare_sms(outgoing, rendered.body)
    raise InvalidTouch(f"touch {touch.pk} is a {touch.channel} touch; only email and SMS go to a provider here")


def hold_for_review(touch: ScheduledTouch, error: SentNotRecorded) -> None:
    """Move a sent-but-unrecorded touch to `review` with the provider message id; log when even that fails."""
    try:
        ScheduledTouch.objects.filter(pk=touch.pk, status=TouchStatus.SENDING).update(
            status=TouchStatus.REVIEW, reason="sent_not_recorded", last_error=str(error)
        )
    except DatabaseError:
        logger.exception(
            "touch %s stays `sending`: could not mark it for review (provider message id %r)",
            touch.pk,
            error.provider_message_id,
        )
        return
    touch.status, touch.reason, touch.last_error = TouchStatus.REVIEW, "sent_not_recorded", str(error)
