"""Lead: what we know, why it scored what it did, its sequence and history; service-owned fields change by action."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db import models
from django.db.models import Min, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString

from engines.exceptions import JourneyError
from engines.services.journey.actions import set_do_not_contact
from engines.services.patterns import get_active_pattern
from engines.services.planning.allocator import allocate_leads
from engines.services.scoring.lead_score import DEFAULT_WEIGHTS, als_tier, explain_score, score_leads
from outreach.models import Activity, Lead, PatternType, ScheduledTouch, Tier, TouchStatus
from outreach.models.choices import HOT_MIN_SCORE, WARM_MIN_SCORE

from .charts import Bar, bar_chart
from .exports import LEAD_EXPORT, ChangeListExportMixin
from .imports import LeadImportMixin
from .journey import LeadJourneyMixin, request_user
from .local_time import LIST_NOTE, lead_time_column, lead_zone, page_note
from .scoping import ClientScopedAdmin, VisibleClientFilter
from .search import leads_matching, search_words

COMPONENT_LABELS = {
    "data_quality": "Data quality",
    "authority": "Authority",
    "company_fit": "Company fit",
    "timing": "Timing",
    "risk": "Risk (deducted)",
}
SERVICE_FIELDS = (
    "status",
    "als_score",
    "tier",
    "als_weights_source",
    "scored_at",
    "touch_count",
    "last_contacted_at",
    "converted_at",
    "do_not_contact",
    "is_unsubscribed",
    "has_bounced",
    "email_opted_out",
    "sms_opted_out",
    "linkedin_opted_out",
    "voice_opted_out",
    "phone_unusable",
    "sms_unsupported",
    "created_at",
)


class TierFilter(admin.SimpleListFilter):
    title = "tier"
    parameter_name = "tier"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return list(Tier.choices)

    def queryset(self, request: HttpRequest, queryset: QuerySet[Lead]) -> QuerySet[Lead]:
        ranges: dict[str | None, Q] = {
            Tier.HOT: Q(als_score__gte=HOT_MIN_SCORE),
            Tier.WARM: Q(als_score__gte=WARM_MIN_SCORE, als_score__lt=HOT_MIN_SCORE),
            Tier.COOL: Q(als_score__lt=WARM_MIN_SCORE) | Q(als_score__isnull=True),
        }
        condition = ranges.get(self.value())
        return queryset if condition is None else queryset.filter(condition)


class ScheduledTouchInline(admin.TabularInline):
    model = ScheduledTouch
    verbose_name_plural = "sequence"
    fields = ("touch_number", "channel", "scheduled", "status", "reason", "attempts", "planned_sequence")
    readonly_fields = fields
    scheduled = lead_time_column("scheduled_at", "scheduled")
    ordering = ("scheduled_at", "touch_number")
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[ScheduledTouch]:
        # Each row's title names its lead; its time is in the lead's zone, which may need the client.
        return super().get_queryset(request).select_related("lead", "client")

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ActivityInline(admin.TabularInline):
    model = Activity
    fk_name = "lead"
    fields = ("created", "action", "channel", "touch_number", "led_to_booking")
    readonly_fields = fields
    ordering = ("-created_at",)
    extra = 0
    can_delete = False
    show_change_link = True
    created = lead_time_column("created_at", "time")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Activity]:
        return super().get_queryset(request).select_related("lead", "client")  # the lead's zone, for each time

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Lead)
class LeadAdmin(ChangeListExportMixin, LeadJourneyMixin, LeadImportMixin, ClientScopedAdmin):
    list_display = (
        "__str__",
        "client",
        "als_score",
        "tier",
        "status",
        "touch_count",
        "last_contacted",
        "next_touch",
    )
    list_filter = (
        ("client", VisibleClientFilter),
        "status",
        TierFilter,
        "als_weights_source",
        "do_not_contact",
        "is_unsubscribed",
    )
    list_select_related = ("client",)
    search_fields = ("first_name", "last_name", "email", "company_name")
    show_full_result_count = False
    ordering = ("-pk",)
    autocomplete_fields = ("client",)
    actions = (
        "rescore",
        "plan",
        "mark_do_not_contact",
        "record_meeting_booked",
        *LeadJourneyMixin.journey_actions,
        *ChangeListExportMixin.export_actions,
    )
    export_spec = LEAD_EXPORT
    change_form_template = "admin/outreach/lead/change_form.html"
    inlines = (ScheduledTouchInline, ActivityInline)
    # LinkedIn profile URLs typed without a scheme are https (Django 6 makes this the default).
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = (
        (None, {"fields": ("client",)}),
        ("Person", {"fields": (("first_name", "last_name"), "title", ("email", "email_verified", "is_personal_email"),
                               ("phone", "phone_verified"), "linkedin_url")}),
        ("Company", {"fields": ("company_name", "industry", "employee_count", ("country", "region"), "timezone")}),
        ("Signals", {"fields": (("is_new_role", "is_hiring", "recently_funded", "is_competitor"),)}),
        ("Score", {"fields": ("score_explanation", ("als_score", "tier", "als_weights_source", "scored_at"))}),
        (
            "Contact state (changed by services and actions)",
            {
                "fields": (
                    ("status", "touch_count", "last_contacted", "converted"),
                    ("do_not_contact", "is_unsubscribed", "has_bounced", "phone_unusable", "sms_unsupported"),
                    ("email_opted_out", "sms_opted_out", "linkedin_opted_out", "voice_opted_out"),
                    "created_at",
                )
            },
        ),
        ("Journey (enrollments, steps sent, history)", {"fields": ("journey",)}),
    )  # fmt: skip

    class Media:
        css = {"all": ("outreach/admin.css",)}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Lead]:
        next_touch = (
            ScheduledTouch.objects.filter(lead=OuterRef("pk"), status=TouchStatus.PLANNED)
            .values("lead")
            .annotate(first=Min("scheduled_at"))
            .values("first")
        )
        return super().get_queryset(request).annotate(next_touch_at=Subquery(next_touch))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Lead], search_term: str
    ) -> tuple[QuerySet[Lead], bool]:
        return leads_matching(queryset, search_words(search_term)), False

    def get_readonly_fields(self, request: HttpRequest, obj: Lead | None = None) -> tuple[str, ...]:
        fields = (*SERVICE_FIELDS, "score_explanation", "journey", "last_contacted", "converted")
        # A lead's client is fixed once it exists: its history, score and plan belong to that client.
        return (*fields, "client") if obj is not None else fields

    @admin.display(description="tier")
    def tier(self, obj: Lead) -> str:
        return Tier(als_tier(obj.als_score)).label if obj.als_score is not None else "—"

    # The lead's own clock (its client is selected with it), UTC on hover; sorted by the stored times.
    last_contacted = lead_time_column("last_contacted_at", f"last contacted ({LIST_NOTE})", lead=None)
    next_touch = lead_time_column("next_touch_at", f"next planned touch ({LIST_NOTE})", lead=None)
    converted = lead_time_column("converted_at", "converted at", lead=None)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        if obj is not None and obj.pk is not None:
            context["lead_zone_note"] = page_note(lead_zone(obj, obj.client))
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description="Why this score")
    def score_explanation(self, obj: Lead) -> SafeString | str:
        if not isinstance(obj.als_components, dict) or not isinstance(obj.als_weights_used, dict):
            return "Not scored yet: use the “Rescore” action."
        try:
            explained = explain_score(obj.als_components, obj.als_weights_used)
        except (KeyError, TypeError, ValueError):
            return "The stored score explanation is incomplete: rescore the lead."
        rows = [{"key": key, "label": COMPONENT_LABELS[key], **item} for key, item in explained["components"].items()]
        contributions = bar_chart(
            "Contribution of each component to the score",
            [Bar(row["label"], row["contribution"], f"{row['contribution']:+.1f}") for row in rows],
            columns=("Component", "Contribution (points)"),
            chart_id="score-chart",
        )
        weights = bar_chart(
            "Weights used (bars) and the default weights (markers)",
            [
                Bar(COMPONENT_LABELS[key], float(value), f"{value:.2f}", secondary=DEFAULT_WEIGHTS.get(key))
                for key, value in obj.als_weights_used.items()
                if key in DEFAULT_WEIGHTS and isinstance(value, (int, float))
            ],
            columns=("Component", "Weight used", "Default"),
            chart_id="weights-chart",
        )
        return render_to_string(
            "admin/outreach/lead/score_explanation.html",
            {
                "lead": obj,
                "rows": rows,
                "explained": explained,
                "contributions": contributions,
                "weights": weights,
                "source": self._weights_source(obj),
            },
        )

    @staticmethod
    def _weights_source(obj: Lead) -> dict[str, Any]:
        """Where the weights came from: the WHO pattern active when the lead was scored, the client, or defaults."""
        if obj.als_weights_source == "pattern":
            pattern = get_active_pattern(obj.client_id, PatternType.WHO, now=obj.scored_at or timezone.now())
            url = reverse("admin:outreach_conversionpattern_change", args=[pattern.pk]) if pattern else None
            return {"label": f"WHO pattern {pattern}" if pattern else "a WHO pattern (since replaced)", "url": url}
        if obj.als_weights_source == "client":
            url = reverse("admin:outreach_client_change", args=[obj.client_id])
            return {"label": f"learned weights stored on {obj.client}", "url": url}
        return {"label": "the scorer's default weights", "url": None}

    # ------------------------------------------------------------------ actions: each calls a service

    @admin.action(description="Rescore the selected leads", permissions=["change"])
    def rescore(self, request: HttpRequest, queryset: QuerySet[Lead]) -> None:
        count = score_leads(Lead.objects.filter(pk__in=queryset.values("pk")))
        self.message_user(request, f"Rescored {count} lead(s).", messages.SUCCESS)

    @admin.action(description="Plan (or re-plan) the selected leads' sequences", permissions=["change"])
    def plan(self, request: HttpRequest, queryset: QuerySet[Lead]) -> None:
        counts = allocate_leads(Lead.objects.filter(pk__in=queryset.values("pk")), replan=True)
        self.message_user(
            request,
            f"Planned {counts['allocated']} lead(s) ({counts['touches']} touches); "
            f"{counts['blocked']} could not be contacted and {counts.get('skipped', 0)} were busy being planned "
            "elsewhere; those were left as they were.",
            messages.SUCCESS if not counts["blocked"] else messages.WARNING,
        )

    @admin.action(description="Mark do-not-contact (cancels their planned touches)", permissions=["change"])
    def mark_do_not_contact(self, request: HttpRequest, queryset: QuerySet[Lead]) -> None:
        marked = cancelled = 0
        for lead in queryset.filter(do_not_contact=False).order_by("pk"):
            try:
                change = set_do_not_contact(lead, by=request_user(request), reason="marked_in_admin")
            except JourneyError as error:  # marked by someone else meanwhile
                self.message_user(request, f"Not marked: {lead}: {error}", messages.WARNING)
                continue
            marked += 1
            cancelled += change.cancelled
        self.message_user(
            request,
            f"Marked {marked} lead(s) do-not-contact; cancelled {cancelled} planned touch(es).",
            messages.SUCCESS,
        )

    @admin.action(description="Record a meeting booked", permissions=["change"])
    def record_meeting_booked(self, request: HttpRequest, queryset: QuerySet[Lead]) -> None:
        from engines.services.outcomes.events import record_booking

        booked = 0
        for lead in queryset.exclude(status="converted").order_by("pk"):
            record_booking(lead, source="admin")
            booked += 1
        self.message_user(request, f"Recorded a meeting booked for {booked} lead(s).", messages.SUCCESS)
