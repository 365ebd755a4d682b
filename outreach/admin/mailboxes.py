"""Mailboxes: each client's sending addresses, with today's cap and sends and the last 7 days' bounce and
complaint rates; a person pauses, resumes or retires them (with a note) and reads their history. The Client page
lists its mailboxes in an inline. An ESP account is shown by its name only: its secrets stay in the environment.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from engines.services.deliverability import mailboxes as service
from outreach.models import Mailbox, MailboxStateChange

from .scoping import ClientScopedAdmin, VisibleClientFilter

FIGURE_DAYS = 7


def account_choices() -> list[tuple[str, str]]:
    """The ESP accounts a mailbox may send through, by name (never their options: they may hold secrets)."""
    return [("", "Default (EMAIL_BACKEND)"), *((name, name) for name in sorted(settings.OUTREACH_MAILBOX_ACCOUNTS))]


class MailboxForm(forms.ModelForm):
    account = forms.TypedChoiceField(choices=account_choices, required=False, empty_value="")

    class Meta:
        model = Mailbox
        fields = (
            "client",
            "address",
            "display_name",
            "account",
            "daily_cap",
            "warmup_start",
            "warmup_increase",
            "warmup_started_on",
        )


class NoteActionForm(ActionForm):
    note = forms.CharField(required=False, label="Note", help_text="why (kept in the mailbox's history)")


class StateChangeInline(admin.TabularInline):
    model = MailboxStateChange
    fields = ("at", "from_state", "to_state", "reason", "note", "by")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "history"

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ClientMailboxInline(admin.TabularInline):
    """The client's mailboxes on its page: the plan is edited here, the state changed on the mailbox's page."""

    model = Mailbox
    form = MailboxForm
    fields = ("address", "display_name", "account", "daily_cap", "warmup_start", "warmup_increase", "state_shown")
    readonly_fields = ("state_shown",)
    extra = 0
    can_delete = False
    show_change_link = True

    @admin.display(description="state")
    def state_shown(self, obj: Mailbox) -> str:
        if obj.pk is None:
            return "warming up once saved"
        return f"{obj.get_state_display()} ({obj.get_state_reason_display().lower()})"


@admin.register(Mailbox)
class MailboxAdmin(ClientScopedAdmin):
    form = MailboxForm
    action_form = NoteActionForm
    actions = ("pause_mailboxes", "resume_mailboxes", "retire_mailboxes")
    list_display = (
        "address",
        "client",
        "state",
        "state_reason",
        "cap_today",
        "sent_today",
        "bounce_rate",
        "complaint_rate",
    )
    list_filter = (("client", VisibleClientFilter), "state", "sending_domain")
    list_select_related = ("client",)
    search_fields = ("address", "display_name", "client__name")
    readonly_fields = ("sending_domain", "state", "state_reason", "state_changed_at", "state_changed_by")
    inlines = (StateChangeInline,)

    def get_fields(self, request: HttpRequest, obj: Mailbox | None = None) -> Any:
        return (*MailboxForm.Meta.fields, *(self.readonly_fields if obj is not None else ()))

    def get_readonly_fields(self, request: HttpRequest, obj: Mailbox | None = None) -> Any:
        return self.readonly_fields if obj is not None else ()

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        """The page's mailboxes, each given its figures: two queries for today's sends, one for the rates."""
        changelist = super().get_changelist_instance(request)
        now = timezone.now()
        shown: list[Mailbox] = list(changelist.result_list)
        sent = service.sent_today(shown, now)
        rates = service.mailbox_sends([mailbox.pk for mailbox in shown], now - timedelta(days=FIGURE_DAYS))
        for mailbox in shown:
            mailbox.figures = {  # type: ignore[attr-defined]
                "cap": service.cap_today(mailbox, now),
                "sent": sent[mailbox.pk],
                "rates": rates.get(mailbox.pk, service.MailboxSends()),
            }
        return changelist

    @admin.display(description="today's cap")
    def cap_today(self, obj: Mailbox) -> int:
        return int(obj.figures["cap"])  # type: ignore[attr-defined]

    @admin.display(description="sent today")
    def sent_today(self, obj: Mailbox) -> int:
        return int(obj.figures["sent"])  # type: ignore[attr-defined]

    @admin.display(description=f"hard bounces ({FIGURE_DAYS} days)")
    def bounce_rate(self, obj: Mailbox) -> str:
        sends: service.MailboxSends = obj.figures["rates"]  # type: ignore[attr-defined]
        return _rate(sends.bounce_rate, sends.hard_bounces, sends.sends)

    @admin.display(description=f"complaints ({FIGURE_DAYS} days)")
    def complaint_rate(self, obj: Mailbox) -> str:
        sends: service.MailboxSends = obj.figures["rates"]  # type: ignore[attr-defined]
        return _rate(sends.complaint_rate, sends.complaints, sends.sends)

    # A mailbox that sent is kept with its history (Activity.mailbox is RESTRICT): retire it instead.
    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    @admin.action(description="Pause the selected mailboxes (with the note)")
    def pause_mailboxes(self, request: HttpRequest, queryset: QuerySet[Mailbox]) -> None:
        self._act(request, queryset, service.pause, "paused")

    @admin.action(description="Resume the selected mailboxes (with the note)")
    def resume_mailboxes(self, request: HttpRequest, queryset: QuerySet[Mailbox]) -> None:
        self._act(request, queryset, service.resume, "resumed")

    @admin.action(description="Retire the selected mailboxes for good (with the note)")
    def retire_mailboxes(self, request: HttpRequest, queryset: QuerySet[Mailbox]) -> None:
        self._act(request, queryset, service.retire, "retired")

    def _act(self, request: HttpRequest, queryset: QuerySet[Mailbox], act: Any, done: str) -> None:
        note = str(request.POST.get("note", "")).strip()
        user = request.user if isinstance(request.user, AbstractBaseUser) else None
        for mailbox in queryset.select_related("client").order_by("address"):
            try:
                act(mailbox, user, note)
            except service.MailboxError as refused:
                self.message_user(request, str(refused), messages.WARNING)
            else:
                self.message_user(request, f"{mailbox} {done}.", messages.SUCCESS)


def _rate(rate: float | None, part: int, sends: int) -> str:
    return "—" if rate is None else f"{100 * rate:.1f}% ({part} of {sends})"
