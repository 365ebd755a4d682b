"""Task queue: the LinkedIn messages to send and calls to make by hand, soonest due first.

A task's page shows what to do (the message to copy, or the call script), the
lead's recent history (what it was sent, what it answered, what came of it), and
closes it through engines.services.sending.manual_tasks: "done" records what was
actually sent or the call's outcome, "skip" cancels its touch with a reason.
"Done and next" / "Skip and next" then open the next open task due of the
user's clients, oldest due first. Times on the page are the lead's local time
(engines.rules.geography), UTC on hover. Tasks are opened by the dispatcher,
never added here.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from engines.exceptions import EngineError
from engines.rules.geography import lead_timezone_name
from engines.services.sending.manual_tasks import close_follow_up, complete_task, instructions, skip_task
from engines.services.sending.voice import CALL_OUTCOMES
from outreach.models import Activity, ActivityAction, ManualTask, TaskKind, TaskStatus
from outreach.models.choices import REPLY_ACTIONS, SENT_ACTIONS

from .local_time import local_time, zone_note
from .scoping import ClientScopedAdmin, VisibleClientFilter

OPEN, ALL = TaskStatus.OPEN.value, "all"
# The button value that asks for the next task once this one is closed ("Done and next", "Skip and next").
NEXT = "next"
# Activities shown on a task's page, newest first; the lead's page has them all.
HISTORY_SHOWN = 10
# Transport receipts tell a person nothing before they write or call, and would crowd the touches out.
HISTORY_LEFT_OUT = (
    ActivityAction.EMAIL_DELIVERED,
    ActivityAction.EMAIL_DEFERRED,
    ActivityAction.SMS_STATUS,
    ActivityAction.SMS_DELIVERED,
)


class TaskStatusFilter(admin.SimpleListFilter):
    """Open tasks unless asked otherwise: the queue is what is left to do."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [*TaskStatus.choices, (ALL, "All")]

    def choices(self, changelist: Any) -> Any:
        current = self.value() or OPEN
        for value, label in self.lookup_choices:
            yield {
                "selected": current == value,
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request: HttpRequest, queryset: QuerySet[ManualTask]) -> QuerySet[ManualTask]:
        value = self.value() or OPEN
        return queryset if value == ALL else queryset.filter(status=value)


class AssigneeFilter(admin.SimpleListFilter):
    title = "assigned to"
    parameter_name = "assigned"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("mine", "Me"), ("nobody", "Nobody")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ManualTask]) -> QuerySet[ManualTask]:
        if self.value() == "mine":
            return queryset.filter(assigned_to_id=request.user.pk)
        if self.value() == "nobody":
            return queryset.filter(assigned_to__isnull=True)
        return queryset


class DoneForm(forms.Form):
    """What happened: the text actually sent (LinkedIn) or the call's outcome, and any notes."""

    sent_text = forms.CharField(
        label="What you actually sent", widget=forms.Textarea(attrs={"rows": 6, "cols": 80}), required=False
    )
    outcome = forms.ChoiceField(label="Call outcome", choices=[(o, o.replace("_", " ")) for o in CALL_OUTCOMES])
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "cols": 80}), required=False)

    prefix = "done"

    def __init__(self, *args: Any, task: ManualTask, **kwargs: Any):
        super().__init__(*args, **kwargs)
        if task.kind == TaskKind.FOLLOW_UP:  # nothing was sent and no call is recorded: notes only
            del self.fields["sent_text"]
            del self.fields["outcome"]
        elif task.kind == TaskKind.CALL:
            del self.fields["sent_text"]
        else:
            del self.fields["outcome"]
            # A connection request's text is its note; a message's is the message.
            self.fields["sent_text"].initial = task.subject or task.message
            self.fields["sent_text"].help_text = "Edit it if you changed the text before sending."


class SkipForm(forms.Form):
    reason = forms.CharField(
        max_length=120, help_text="Why it will not be done, e.g. 'profile gone' or 'asked us not to call'."
    )
    prefix = "skip"


# ----------------------------------------------------------------------------
# The lead's clock and its recent history
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class HistoryRow:
    """One activity of the lead as the task page shows it: a touch sent, a reply, or another outcome."""

    activity: Activity
    kind: str  # "touch", "reply" or "outcome"
    when: SafeString | str
    detail: str  # a call's outcome, a reply's intent and the touch it answers, ...
    parts: tuple[tuple[str, str], ...]  # (label, text), e.g. ("Subject", ...), ("Body", ...), folded on the page

    @property
    def summary(self) -> str:
        """The first words of the text, shown while it is folded."""
        text = " ".join((self.parts[-1][1] if self.parts else "").split())
        return text if len(text) <= 90 else text[:89] + "…"


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return value.strip() if isinstance(value, str) else ""


def _labelled(*pairs: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((label, text) for label, text in pairs if text)


def _touch_row(activity: Activity, when: SafeString | str) -> HistoryRow:
    snapshot = activity.content_snapshot if isinstance(activity.content_snapshot, dict) else {}
    body = _text(snapshot, "body")
    detail = ""
    if activity.channel == "voice":
        outcome, notes = _text(snapshot, "outcome").replace("_", " "), _text(snapshot, "notes")
        detail = f"outcome: {outcome or 'not recorded'}" + (f" ({notes})" if notes else "")
        parts = _labelled(("Script", body))
    elif snapshot.get("message_type") == "connection_request":
        detail = "connection request"
        parts = _labelled(("Message", body), ("Connection note", _text(snapshot, "connection_note")))
    else:
        parts = _labelled(("Subject", _text(snapshot, "subject")), ("Text", body))
    return HistoryRow(activity, "touch", when, detail, parts)


def _reply_row(activity: Activity, when: SafeString | str) -> HistoryRow:
    metadata = activity.metadata if isinstance(activity.metadata, dict) else {}
    said = []
    if _text(metadata, "intent"):
        said.append(f"intent: {_text(metadata, 'intent').replace('_', ' ')}")
    answers = getattr(activity, "answers_touch", None)
    if answers is not None:
        said.append(f"answers touch {answers}")
    parts = _labelled(("Subject", _text(metadata, "subject")), ("Reply", _text(metadata, "text")))
    return HistoryRow(activity, "reply", when, ", ".join(said), parts)


def lead_history(task: ManualTask, zone: zoneinfo.ZoneInfo) -> tuple[list[HistoryRow], bool]:
    """The lead's last HISTORY_SHOWN activities, newest first, and whether older ones exist; one query."""
    activities = (
        Activity.objects.filter(lead_id=task.lead_id, client_id=task.client_id)
        .exclude(action__in=HISTORY_LEFT_OUT)
        .annotate(answers_touch=F("in_reply_to__touch_number"))
        .order_by("-created_at", "-pk")[: HISTORY_SHOWN + 1]
    )
    rows = []
    for activity in activities:
        when = local_time(activity.created_at, zone)
        if activity.action in SENT_ACTIONS:
            rows.append(_touch_row(activity, when))
        elif activity.action in REPLY_ACTIONS:
            rows.append(_reply_row(activity, when))
        else:
            rows.append(HistoryRow(activity, "outcome", when, "", ()))
    return rows[:HISTORY_SHOWN], len(rows) > HISTORY_SHOWN


def already_sent(rows: list[HistoryRow], text: str) -> HistoryRow | None:
    """The touch in the history that already said `text`, if one did: the person should not send it again."""
    wanted = " ".join(text.split())
    for row in rows:
        if wanted and row.kind == "touch" and any(" ".join(said.split()) == wanted for _, said in row.parts):
            return row
    return None


@admin.register(ManualTask)
class ManualTaskAdmin(ClientScopedAdmin):
    list_display = ("due", "kind", "lead_link", "client", "assigned_to", "status", "excerpt")
    list_display_links = ("due",)
    list_filter = (TaskStatusFilter, AssigneeFilter, "kind", ("client", VisibleClientFilter))
    list_select_related = ("lead", "client", "assigned_to")
    search_fields = ("lead__first_name", "lead__last_name", "lead__email", "lead__company_name", "message")
    ordering = ("due_at", "pk")
    actions = ["assign_to_me"]
    change_form_template = "admin/outreach/task_detail.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="due", ordering="due_at")
    def due(self, task: ManualTask) -> str:
        overdue = task.status == TaskStatus.OPEN and task.due_at < timezone.now()
        stamp = timezone.localtime(task.due_at).strftime("%d %b %H:%M")
        return format_html('<span class="task-overdue">{} (overdue)</span>', stamp) if overdue else stamp

    @admin.display(description="lead", ordering="lead__last_name")
    def lead_link(self, task: ManualTask) -> str:
        url = reverse("admin:outreach_lead_change", args=[task.lead_id])
        return format_html('<a href="{}">{}</a>', url, task.lead)

    @admin.display(description="message or script")
    def excerpt(self, task: ManualTask) -> str:
        text = task.subject or task.message
        return text if len(text) <= 80 else text[:79] + "…"

    @admin.action(description="Assign the selected open tasks to me", permissions=["change"])
    def assign_to_me(self, request: HttpRequest, queryset: QuerySet[ManualTask]) -> None:
        count = queryset.filter(status=TaskStatus.OPEN).update(assigned_to_id=request.user.pk)
        self.message_user(request, f"{count} task(s) assigned to you.", messages.SUCCESS)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ManualTask]:
        # The task page shows the lead, the client and both people: one query with the task.
        return super().get_queryset(request).select_related("lead", "client", "assigned_to", "closed_by")

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The task page: what to do, the lead's recent history, and the done and skip forms while it is open."""
        task = self.get_object(request, unquote(object_id))
        if not self.has_view_or_change_permission(request, task):
            raise PermissionDenied
        done_form, skip_form = DoneForm(task=task), SkipForm()
        if request.method == "POST":
            if not self.has_change_permission(request, task):
                raise PermissionDenied
            closed, done_form, skip_form = self._close(request, task)
            if closed:
                wants_next = NEXT in (request.POST.get("done"), request.POST.get("skip"))
                return HttpResponseRedirect(self._next_url(request) if wants_next else self._queue_url(request))
        return TemplateResponse(request, self.change_form_template, self._context(request, task, done_form, skip_form))

    def _next_url(self, request: HttpRequest) -> str:
        """The page of the open task due first among the user's clients, or the queue (saying so) when none is left."""
        following = (
            self.get_queryset(request)
            .filter(status=TaskStatus.OPEN)
            .order_by("due_at", "pk")
            .values_list("pk", flat=True)
            .first()
        )
        if following is None:
            self.message_user(request, "No open task is left in your clients.", messages.INFO)
            return self._queue_url(request)
        url = reverse("admin:outreach_manualtask_change", args=[following], current_app=self.admin_site.name)
        filters = request.GET.get("_changelist_filters", "")
        return f"{url}?{urlencode({'_changelist_filters': filters})}" if filters else url

    def _close(self, request: HttpRequest, task: ManualTask) -> tuple[bool, DoneForm, SkipForm]:
        """Mark the task done or skipped from the posted form; (closed, the forms to show again)."""
        done_form, skip_form = DoneForm(task=task), SkipForm()
        try:
            if "done" in request.POST:
                done_form = DoneForm(request.POST, task=task)
                if not done_form.is_valid():
                    return False, done_form, skip_form
                data = done_form.cleaned_data
                if task.kind == TaskKind.FOLLOW_UP:
                    close_follow_up(task, user=_user(request), notes=data["notes"])
                    self.message_user(request, f"Done: {task}.", messages.SUCCESS)
                    return True, done_form, skip_form
                complete_task(
                    task,
                    user=_user(request),
                    sent_text=data.get("sent_text") or None,
                    outcome=data.get("outcome") or None,
                    notes=data["notes"],
                )
                self.message_user(request, f"Done: {task}.", messages.SUCCESS)
                return True, done_form, skip_form
            skip_form = SkipForm(request.POST)
            if not skip_form.is_valid():
                return False, done_form, skip_form
            skip_task(task, user=_user(request), reason=skip_form.cleaned_data["reason"])
            self.message_user(request, f"Skipped: {task}.", messages.SUCCESS)
            return True, done_form, skip_form
        except EngineError as exc:
            self.message_user(request, f"Not recorded: {exc}", messages.ERROR)
            return False, done_form, skip_form

    def _context(self, request: HttpRequest, task: ManualTask, done_form: DoneForm, skip_form: SkipForm) -> dict:
        zone = zoneinfo.ZoneInfo(lead_timezone_name(task.lead, task.client))
        history, older = lead_history(task, zone)
        text_to_copy = task.subject or task.message
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{task.get_kind_display()} task: {task.lead}",
            "task": task,
            "original": task,
            "instructions": instructions(task),
            "text_to_copy": text_to_copy,
            "can_close": task.status == TaskStatus.OPEN and self.has_change_permission(request, task),
            "done_form": done_form,
            "skip_form": skip_form,
            "queue_url": self._queue_url(request),
            "zone_note": zone_note(zone),
            "due": local_time(task.due_at, zone),
            "closed": local_time(task.closed_at, zone),
            "history": history,
            "history_shown": HISTORY_SHOWN,
            "older_history": older,
            "already_sent": (
                already_sent(history, text_to_copy)
                if task.kind == TaskKind.LINKEDIN and task.status == TaskStatus.OPEN
                else None
            ),
            "lead_url": reverse("admin:outreach_lead_change", args=[task.lead_id], current_app=self.admin_site.name),
        }

    def _queue_url(self, request: HttpRequest) -> str:
        # Back to the queue as it was filtered when the task was opened.
        filters = request.GET.get("_changelist_filters", "")
        url = reverse("admin:outreach_manualtask_changelist", current_app=self.admin_site.name)
        return f"{url}?{filters}" if filters else url


def _user(request: HttpRequest) -> AbstractBaseUser | None:
    return request.user if isinstance(request.user, AbstractBaseUser) else None
