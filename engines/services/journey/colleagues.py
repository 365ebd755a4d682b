"""The company-level stop: when one person at a company answers, their colleagues' sequences pause.

Per client (Client.pause_colleagues_on_answer, on by default), a booking or a
positive reply from one lead pauses the active enrollments of the client's
other leads at the same company: the same email domain (case-insensitive),
or, when the lead's address is at a public mail provider (or the lead has no
address), the same company name (case-insensitive, trimmed, not empty). The
paused enrollments keep their sent steps; their unsent steps are cancelled
with the reason (StopReason.COLLEAGUE_CONVERTED or COLLEAGUE_REPLIED) and each
pause is written to the journey's audit trail (JourneyEvent "paused"), naming
the lead who answered. A person resumes a colleague (journey.actions.resume);
nothing resumes it by itself.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.db.models.functions import Trim
from django.utils import timezone

from engines.rules.email_domains import PUBLIC_MAIL_DOMAINS, email_domain
from engines.services.journey.actions import JourneyAction
from engines.services.planning.touch_writer import cancel_touches, lock_leads
from outreach.models import Client, Enrollment, EnrollmentState, JourneyEvent, Lead, ScheduledTouch, StopReason

_WHY = {StopReason.COLLEAGUE_CONVERTED: "booked a meeting", StopReason.COLLEAGUE_REPLIED: "replied"}


def colleagues_of(lead: Lead) -> QuerySet[Lead]:
    """The client's other leads at the lead's company: the same email domain, or the same company name when
    the lead's address is at a public mail provider or missing; none when neither says where the lead works."""
    others = Lead.objects.filter(client_id=lead.client_id).exclude(pk=lead.pk)
    domain = email_domain(lead.email)
    if domain and domain not in PUBLIC_MAIL_DOMAINS:
        return others.filter(email__iendswith=f"@{domain}")
    company = lead.company_name.strip()
    if not company:
        return others.none()
    return others.annotate(company=Trim("company_name")).filter(company__iexact=company)


def pause_colleagues(lead: Lead, *, reason: StopReason, at: datetime | None = None) -> int:
    """Pause the active enrollments of the lead's colleagues (colleagues_of) because the lead answered; how many.

    Does nothing unless the lead's client pauses colleagues on an answer
    (Client.pause_colleagues_on_answer). Each paused enrollment's unsent steps
    are cancelled with `reason` (its open manual tasks skipped) and a
    JourneyEvent "paused" names the lead who answered. Runs in the caller's
    transaction when there is one, so the outcome and the pauses commit
    together. Callers: a booking (StopReason.COLLEAGUE_CONVERTED) and a
    reply (StopReason.COLLEAGUE_REPLIED) on first storage. Every reply counts
    as positive for now: what a reply means (interested, not now, not me) is
    classified in a later change, which will call this for the positive ones
    only.
    """
    if not Client.objects.filter(pk=lead.client_id, pause_colleagues_on_answer=True).exists():
        return 0
    at = at or timezone.now()
    colleagues = colleagues_of(lead).filter(pk=OuterRef("lead_id"))
    active = Enrollment.objects.filter(client_id=lead.client_id, state=EnrollmentState.ACTIVE)
    with transaction.atomic():
        lead_ids = sorted(set(active.filter(Exists(colleagues)).values_list("lead_id", flat=True)))
        if not lead_ids:
            return 0
        # Their lead rows first, as every change of a journey does: an allocation or a person's change of one
        # of them waits for this pause, and what is read below is what they left.
        lock_leads(lead_ids)
        enrollments = list(active.filter(lead_id__in=lead_ids).order_by("pk").values_list("pk", "lead_id"))
        if not enrollments:
            return 0
        ids = [pk for pk, _ in enrollments]
        paused = Enrollment.objects.filter(pk__in=ids, state=EnrollmentState.ACTIVE).update(
            state=EnrollmentState.PAUSED, updated_at=timezone.now()
        )
        cancel_touches(ScheduledTouch.objects.filter(enrollment_id__in=ids), reason=reason)
        note = f"Paused because {lead} (lead {lead.pk}), at the same company, {_WHY.get(reason, reason)}."
        JourneyEvent.objects.bulk_create(
            JourneyEvent(
                client_id=lead.client_id,
                lead_id=colleague_id,
                enrollment_id=pk,
                action=JourneyAction.PAUSED.value,
                reason=reason,
                note=note,
                at=at,
            )
            for pk, colleague_id in enrollments
        )
    return paused
