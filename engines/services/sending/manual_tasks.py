"""People's share of a sequence: LinkedIn messages sent by hand and calls made by a person.

A due LinkedIn touch (default manual backend) or call touch opens a
ManualTask and waits (touch status `waiting`). Nothing is recorded as sent
until the person marks the task done: then `linkedin_sent` (with the text
actually sent) or `voice_completed` (with the call's outcome) is recorded,
the touch becomes `sent` with that Activity linked and the task `done`, in
one transaction. Skipping the task cancels the touch with the reason.

A LinkedIn task whose `subject` holds a note is a connection request;
otherwise its message is sent as a message.

A follow-up task (a booked meeting was cancelled) has no touch: the person gets
back to the lead by whatever means fits and closes it (close_follow_up); nothing
is recorded as sent.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from engines.exceptions import InvalidTouch
from engines.providers.linkedin import task_instructions
from engines.services.journey.enrollments import finish_completed
from engines.services.sending import send_path
from engines.services.sending.linkedin_messages import check_linkedin_text, linkedin_record
from engines.services.sending.recording import record_touch
from engines.services.sending.voice import complete_call
from outreach.models import Activity, Client, Lead, ManualTask, ScheduledTouch, TaskKind, TaskStatus, TouchStatus


def open_task(
    outgoing: send_path.Outgoing, *, kind: str, message: str, subject: str = "", due_at: datetime
) -> ManualTask:
    """Open the person's task for a touch that passed its gate; its touch (if any) goes `waiting` with it.

    Opening twice for one touch (a redelivered dispatch) returns the task already open.
    """
    touch = outgoing.touch
    fields = {"client": outgoing.client, "lead": outgoing.lead, "kind": kind, "message": message, "subject": subject}
    if touch is None:
        return ManualTask.objects.create(due_at=due_at, **fields)
    with transaction.atomic():
        task, _ = ManualTask.objects.get_or_create(scheduled_touch=touch, defaults={"due_at": due_at, **fields})
        updated = ScheduledTouch.objects.filter(pk=touch.pk, status__in=(TouchStatus.SENDING, TouchStatus.WAITING))
        if not updated.update(status=TouchStatus.WAITING, reason="", last_error=""):
            raise InvalidTouch(f"touch {touch.pk} is not being sent (status changed meanwhile); no task opened")
    touch.status = TouchStatus.WAITING
    return task


def open_follow_up(lead: Lead, *, message: str, due_at: datetime) -> ManualTask:
    """Ask a person to get back to the lead (`message` says why); no touch belongs to it."""
    return ManualTask.objects.create(
        client_id=lead.client_id, lead=lead, kind=TaskKind.FOLLOW_UP, message=message, due_at=due_at
    )


def instructions(task: ManualTask) -> str:
    """What the person is asked to do, in words."""
    lead = task.lead
    if task.kind == TaskKind.FOLLOW_UP:
        reach = ", ".join(way for way in (lead.email, lead.phone) if way)
        return f"Get back to {lead} ({reach or 'no email or phone on file'}):\n\n{task.message}"
    if task.kind == TaskKind.CALL:
        return f"Call {lead} on {lead.phone} and follow the script:\n\n{task.message}"
    message_type = "connection_request" if task.subject else "message"
    return task_instructions(
        profile_url=lead.linkedin_url,
        message_type=message_type,
        message=task.message,
        connection_note=task.subject or None,
    )


def open_tasks(
    *, client: Client | None = None, kind: str | None = None, due_by: datetime | None = None
) -> QuerySet[ManualTask]:
    """Open tasks, soonest due first, optionally of one client, one kind, or due by a time."""
    tasks = ManualTask.objects.filter(status=TaskStatus.OPEN).select_related("lead", "client")
    if client is not None:
        tasks = tasks.filter(client=client)
    if kind is not None:
        tasks = tasks.filter(kind=kind)
    if due_by is not None:
        tasks = tasks.filter(due_at__lte=due_by)
    return tasks.order_by("due_at", "pk")


def _locked_open(task: ManualTask) -> ManualTask:
    """The task, locked with its touch, when it is still open; InvalidTouch otherwise."""
    if task.scheduled_touch_id is not None:
        # Touch before task: the order cancel_planned_touches locks them in, so the two never deadlock.
        list(ScheduledTouch.objects.select_for_update().filter(pk=task.scheduled_touch_id).values_list("pk"))
    locked = (
        # of=("self",): PostgreSQL cannot lock the nullable side of the outer join to the touch.
        ManualTask.objects.select_for_update(of=("self",))
        .select_related("lead", "client", "scheduled_touch")
        .filter(pk=task.pk)
        .first()
    )
    if locked is None:
        raise InvalidTouch(f"task {task.pk} no longer exists")
    if locked.status != TaskStatus.OPEN:
        raise InvalidTouch(f"task {task.pk} is already {locked.status}; it cannot be closed again")
    return locked


def _record_linkedin(task: ManualTask, sent_text: str | None, now: datetime) -> tuple[Activity, str]:
    outgoing = send_path.start(task.lead, task.client, "linkedin", now=now, touch=task.scheduled_touch, gated=False)
    if task.subject:  # a connection request: what the person sent is the note
        message_type, note, message = "connection_request", sent_text or task.subject, task.message
        sent = note
    else:
        message_type, note, message = "message", None, sent_text or task.message
        sent = message
    check_linkedin_text(message_type, message, note)
    snapshot, metadata = linkedin_record(
        outgoing, message_type=message_type, message=message, connection_note=note, delivery="manual_task"
    )
    activity = record_touch(
        task.lead,
        task.client,
        action="linkedin_sent",
        channel="linkedin",
        content_snapshot=snapshot,
        metadata={**metadata, "task_id": task.pk},
        at=now,
        touch_number=outgoing.touch_number,
        sequence_id=outgoing.sequence_id,
        provider_message_id=f"task-{task.pk}",
        touch=task.scheduled_touch,
    )
    return activity, sent


def complete_task(
    task: ManualTask,
    *,
    user: AbstractBaseUser | None = None,
    sent_text: str | None = None,
    outcome: str | None = None,
    notes: str = "",
    now: datetime | None = None,
    duration_seconds: float = 0,
) -> Activity:
    """The person did it: record the touch (LinkedIn: `sent_text`, default the task's text; call: `outcome`).

    The Activity, the touch marked `sent` with it, and the task marked `done`
    by `user` commit together. Recording is not gated (it happened); an
    already closed task, a call without a known outcome, or text the
    database cannot store raise InvalidTouch and change nothing.
    """
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked_open(task)
        if locked.kind == TaskKind.FOLLOW_UP:
            # Otherwise it would fall through to LinkedIn and record a message nobody sent.
            raise InvalidTouch(f"task {task.pk} is a follow-up: it records no touch; close it with close_follow_up")
        if locked.kind == TaskKind.CALL:
            if outcome is None:
                raise InvalidTouch("a call task is done with its outcome (connected, voicemail, no_answer, ...)")
            activity = complete_call(
                locked.lead,
                locked.client,
                script_content=locked.message,
                outcome=outcome,
                duration_seconds=duration_seconds,
                notes=notes or None,
                now=now,
                touch=locked.scheduled_touch,
            )
            sent = ""
        else:
            activity, sent = _record_linkedin(locked, sent_text, now)
        closed = {"status": TaskStatus.DONE, "closed_by": user, "closed_at": now, "outcome": (outcome or "")[:30]}
        ManualTask.objects.filter(pk=locked.pk).update(sent_text=sent, notes=notes, **closed)
    task.refresh_from_db()
    return activity


def close_follow_up(
    task: ManualTask, *, user: AbstractBaseUser | None = None, notes: str = "", now: datetime | None = None
) -> None:
    """The person got back to the lead: the follow-up task is `done` with their notes. What came of it (a reply,
    a new booking) arrives as its own outcome."""
    send_path.check_text(notes, what="the notes", required=False)
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked_open(task)
        if locked.kind != TaskKind.FOLLOW_UP:
            raise InvalidTouch(f"task {task.pk} is a {locked.kind} task: it is done with complete_task")
        ManualTask.objects.filter(pk=locked.pk).update(
            status=TaskStatus.DONE, closed_by=user, closed_at=now, notes=notes
        )
    task.refresh_from_db()


def skip_task(
    task: ManualTask, *, user: AbstractBaseUser | None = None, reason: str, now: datetime | None = None
) -> None:
    """The person will not do it: the task is `skipped` and its touch `cancelled`, both with `reason`; the
    lead's enrollment finishes when that was its last step left."""
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidTouch("say why the task is skipped")
    send_path.check_text(reason, what="the reason")
    now = now or timezone.now()
    with transaction.atomic():
        locked = _locked_open(task)
        ManualTask.objects.filter(pk=locked.pk).update(
            status=TaskStatus.SKIPPED, closed_by=user, closed_at=now, outcome=reason[:30], notes=reason
        )
        if locked.scheduled_touch_id is not None:
            cancelled = ScheduledTouch.objects.filter(
                pk=locked.scheduled_touch_id, status__in=(TouchStatus.WAITING, TouchStatus.SENDING)
            ).update(status=TouchStatus.CANCELLED, reason=f"task_skipped: {reason}"[:120])
            if cancelled:
                finish_completed([locked.lead_id], at=now)
    task.refresh_from_db()
