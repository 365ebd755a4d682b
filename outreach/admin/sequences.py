"""MessageTemplate (what touches say) and ScheduledTouch (the outbox, written only by the planner and the sender)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from engines.rules.placeholders import PLACEHOLDERS
from outreach.models import MessageTemplate, ScheduledTouch

from .pagination import CappedCountPaginator
from .scoping import ClientScopedAdmin, ServiceWrittenAdmin, VisibleClientFilter


@admin.register(MessageTemplate)
class MessageTemplateAdmin(ClientScopedAdmin):
    list_display = ("__str__", "client", "channel", "touch_number", "subject", "active")
    list_filter = (("client", VisibleClientFilter), "channel", "active")
    list_select_related = ("client",)
    search_fields = ("name", "subject", "body")
    autocomplete_fields = ("client",)
    show_full_result_count = False

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "body" and field is not None:
            field.help_text = "Placeholders: " + ", ".join(f"{{{name}}}" for name in PLACEHOLDERS)
        return field


# Touches are planned by the allocator and claimed by the dispatcher: edited by hand, one could be sent twice.
@admin.register(ScheduledTouch)
class ScheduledTouchAdmin(ServiceWrittenAdmin):
    list_display = ("lead", "client", "touch_number", "channel", "scheduled_at", "status", "reason", "attempts")
    list_filter = (("client", VisibleClientFilter), "status", "channel", "is_exploration")
    list_select_related = ("client", "lead")
    search_fields = ("lead__email", "lead__last_name", "lead__company_name")
    show_full_result_count = False
    paginator = CappedCountPaginator
    ordering = ("-scheduled_at",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ScheduledTouch]:
        return super().get_queryset(request).select_related("client", "lead", "activity")
