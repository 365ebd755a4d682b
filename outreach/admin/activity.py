"""Activity: the history of what was sent and heard back, read-only for everyone."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString

from outreach.models import Activity, Lead, MessageTemplate

from .exports import ACTIVITY_EXPORT, ChangeListExportMixin
from .local_time import LIST_NOTE, lead_time_column
from .pagination import CappedCountPaginator
from .scoping import ServiceWrittenAdmin, VisibleClientFilter, scope_to_clients
from .search import body_matches, leads_matching, search_words

PERSONALIZATION_FLAGS = {
    "has_first_name": "First name",
    "has_company_mention": "Company mentioned",
    "has_industry_specific": "Industry-specific",
    "has_recent_news": "Recent news",
    "has_mutual_connection": "Mutual connection",
}
# A search by lead reads the activities of at most this many matching leads (the newest): their ids go to the
# database as a list, which it can read through an index beside the body's match; a subquery there cannot be.
LEAD_MATCH_LIMIT = 1000


@admin.register(Activity)
class ActivityAdmin(ChangeListExportMixin, ServiceWrittenAdmin):
    list_display = ("created", "client", "lead", "action", "channel", "touch_number", "led_to_booking")
    list_filter = (
        ("client", VisibleClientFilter),
        "channel",
        "action",
        ("created_at", admin.DateFieldListFilter),
        "led_to_booking",
    )
    list_select_related = ("client", "lead")
    search_fields = ("body",)  # searched by get_search_results: lead name/email/company, or words of the body
    search_help_text = (
        f"A lead's name, email or company (the {LEAD_MATCH_LIMIT:,} newest matching leads), "
        "or words of the message body."
    )
    show_full_result_count = False
    paginator = CappedCountPaginator
    # Facet counts would count a million rows once per filter choice.
    show_facets = admin.ShowFacets.NEVER
    ordering = ("-created_at",)
    actions = ChangeListExportMixin.export_actions
    export_spec = ACTIVITY_EXPORT
    fieldsets = (
        ("What was sent", {"fields": ("snapshot_card",)}),
        (
            "Activity",
            {
                "fields": (
                    ("client", "lead"),
                    ("action", "channel", "created_local"),
                    ("touch_number", "sequence_id"),
                    ("provider", "provider_message_id", "provider_event_id"),
                    ("message_id",),
                    ("in_reply_to", "led_to_booking"),
                )
            },
        ),
        ("Raw record", {"fields": ("raw_json",)}),
    )
    readonly_fields = ("snapshot_card", "raw_json", "created_local")
    # Times in the lead's zone (the send path's), UTC on hover; the lead and client are selected with the row.
    created = lead_time_column("created_at", f"time ({LIST_NOTE})")
    created_local = lead_time_column("created_at", "time", detail=True)

    class Media:
        css = {"all": ("outreach/admin.css",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Activity]:
        return super().get_queryset(request).select_related("client", "lead")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Activity], search_term: str
    ) -> tuple[QuerySet[Activity], bool]:
        words = search_words(search_term)
        if not words:
            return queryset, False
        leads = scope_to_clients(leads_matching(Lead.objects.all(), words), request).order_by("-pk")
        lead_ids = list(leads.values_list("pk", flat=True)[:LEAD_MATCH_LIMIT])
        by_body = body_matches(words)
        if not lead_ids:
            return queryset.filter(by_body), False
        # Beside a list of lead ids, the body match as a list of ids too when it is short: the database then reads
        # both through their indexes. A long one is dense enough to be met early in the newest-first scan.
        body = scope_to_clients(Activity.objects.filter(by_body), request)
        body_ids = list(body.values_list("pk", flat=True)[: LEAD_MATCH_LIMIT + 1])
        if len(body_ids) <= LEAD_MATCH_LIMIT:
            by_body = Q(pk__in=body_ids)
        return queryset.filter(Q(lead_id__in=lead_ids) | by_body), False

    @admin.display(description="Snapshot")
    def snapshot_card(self, obj: Activity) -> SafeString:
        snapshot = obj.content_snapshot if isinstance(obj.content_snapshot, dict) else {}
        return render_to_string(
            "admin/outreach/activity/snapshot_card.html",
            {
                "activity": obj,
                "snapshot": snapshot,
                "subject": _text(snapshot.get("subject")),
                "body": _text(snapshot.get("body")),
                "pain_points": _strings(snapshot.get("pain_points_used")),
                "flags": [(label, bool(snapshot.get(key))) for key, label in PERSONALIZATION_FLAGS.items()],
                "template": self._template_of(obj, snapshot),
            },
        )

    @admin.display(description="Raw JSON")
    def raw_json(self, obj: Activity) -> SafeString:
        return format_html(
            '<details class="outreach-raw"><summary>content_snapshot and metadata</summary>'
            "<h4>content_snapshot</h4><pre>{}</pre><h4>metadata</h4><pre>{}</pre></details>",
            json.dumps(obj.content_snapshot, indent=2, sort_keys=True, default=str),
            json.dumps(obj.metadata, indent=2, sort_keys=True, default=str),
        )

    @staticmethod
    def _template_of(obj: Activity, snapshot: dict) -> dict[str, Any] | None:
        """The message template the touch was rendered from, as recorded in the snapshot or metadata."""
        metadata = obj.metadata if isinstance(obj.metadata, dict) else {}
        template_id = snapshot.get("template_id") or metadata.get("template_id")
        if not template_id or not str(template_id).isdigit():
            return None
        template = MessageTemplate.objects.filter(pk=int(template_id), client_id=obj.client_id).first()
        if template is None:
            return {"label": f"template {template_id} (deleted)", "url": None}
        return {"label": str(template), "url": reverse("admin:outreach_messagetemplate_change", args=[template.pk])}


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []
