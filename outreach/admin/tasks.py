"""Task queue: the LinkedIn messages to send and calls to make by hand, soonest due first.

A task's page shows what to do (the message to copy, or the call script) and
closes it through engines.services.sending.manual_tasks: "done" records what was
actually sent or the call's outcome, "skip" cancels its touch with a reason.
Tasks are opened by the dispatcher, never added here.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html

from engines.exceptions import EngineError
from engines.services.sending.manual_tasks import close_follow_up, complete_task, instructions, skip_task
from engines.services.sending.voice import CALL_OUTCOMES
from outreach.models import ManualTask, TaskKind, TaskStatus

from .scoping import ClientScopedAdmin, VisibleClientFilter

OPEN, ALL = TaskStatus.OPEN.value, "all"


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

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The task page: what to do, and the done and skip forms while it is open."""
        task = self.get_object(request, unquote(object_id))
        if not self.has_view_or_change_permission(request, task):
            raise PermissionDenied
        done_form, skip_form = DoneForm(task=task), SkipForm()
        if request.method == "POST":
            if not self.has_change_permission(request, task):
                raise PermissionDenied
            closed, done_form, skip_form = self._close(request, task)
            if closed:
                return HttpResponseRedirect(self._queue_url(request))
        return TemplateResponse(request, self.change_form_template, self._context(request, task, done_form, skip_form))

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
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{task.get_kind_display()} task: {task.lead}",
            "task": task,
            "original": task,
            "instructions": instructions(task),
            "text_to_copy": task.subject or task.message,
            "can_close": task.status == TaskStatus.OPEN and self.has_change_permission(request, task),
            "done_form": done_form,
            "skip_form": skip_form,
            "queue_url": self._queue_url(request),
        }

    def _queue_url(self, request: HttpRequest) -> str:
        # Back to the queue as it was filtered when the task was opened.
        filters = request.GET.get("_changelist_filters", "")
        url = reverse("admin:outreach_manualtask_changelist", current_app=self.admin_site.name)
        return f"{url}?{filters}" if filters else url


def _user(request: HttpRequest) -> AbstractBaseUser | None:
    return request.user if isinstance(request.user, AbstractBaseUser) else None
