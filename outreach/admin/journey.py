"""A lead's journey in the back office: pause, resume, stop, re-enrol and undo do-not-contact, and what happened.

On the lead list they are actions (re-enrol and undo do-not-contact ask first, on an intermediate page: the
sequence, the reason); on a lead's page they are buttons that open a short form. Each calls
engines.services.journey.actions, which records who did it and why, and reports per lead. The lead's page lists
its enrollments with their steps and the text each step sent, and its journey events. Enrollment and
JourneyEvent have read-only pages of their own, scoped to the user's clients like every other.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.contrib.auth.base_user import AbstractBaseUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.safestring import SafeString

from engines.exceptions import EngineError, InvalidOverride, JourneyError
from engines.services.journey import actions
from engines.services.planning.sequence_rules import validate_sequence_override
from outreach.models import Client, Enrollment, EnrollmentState, JourneyEvent, Lead, ScheduledTouch
from outreach.models.choices import OPEN_ENROLLMENT_STATES

from .local_time import LIST_NOTE, lead_time_column, lead_zone, local_time, page_note
from .pagination import CappedCountPaginator
from .scoping import ServiceWrittenAdmin, VisibleClientFilter

# Journey events drawn on a lead's page, newest first.
EVENTS_SHOWN = 100
NOTE_WIDGET = forms.Textarea(attrs={"rows": 3, "cols": 60})


# ----------------------------------------------------------------------------
# Forms
# ----------------------------------------------------------------------------


class NoteForm(forms.Form):
    note = forms.CharField(required=False, widget=NOTE_WIDGET, help_text="Optional: kept with the lead's history.")


class PauseForm(NoteForm):
    until = forms.DateTimeField(
        label="Resume by itself at",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text="On the lead's clock (from the list: each lead's own). Leave empty to resume by hand.",
    )
    field_order = ["until", "note"]


def on_lead_clock(until: datetime | None, lead: Lead) -> datetime | None:
    """The date and time a person typed (which Django read on the server's clock) as that time on the lead's
    clock: "9:00" resumes at 9:00 where the lead is."""
    if until is None:
        return None
    typed = timezone.localtime(until).replace(tzinfo=None)
    return typed.replace(tzinfo=lead_zone(lead))


class ReenrollForm(NoteForm):
    CLIENT, CHANNELS = "client", "channels"
    source = forms.ChoiceField(
        label="Sequence",
        choices=[
            (CLIENT, "The client's sequence (its learned HOW pattern, else the default)"),
            (CHANNELS, "These channels, in order"),
        ],
        initial=CLIENT,
        widget=forms.RadioSelect,
    )
    channels = forms.CharField(
        required=False, max_length=120, help_text="Channels in order, e.g. email>linkedin>sms (also voice)."
    )
    field_order = ["source", "channels", "note"]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["sequence"] = None
        if data.get("source") == self.CHANNELS:
            try:
                data["sequence"] = validate_sequence_override(actions.sequence_channels(data.get("channels") or ""))
            except (InvalidOverride, JourneyError):
                self.add_error("channels", "Give channels like email>linkedin>sms (email, sms, linkedin, voice).")
        return data


class UndoDoNotContactForm(NoteForm):
    reason = forms.CharField(
        max_length=120, help_text="Why this lead may be contacted again, e.g. 'asked to hear from us by email'."
    )
    field_order = ["reason", "note"]


# ----------------------------------------------------------------------------
# The actions: what each asks, calls and says
# ----------------------------------------------------------------------------

By = AbstractBaseUser | None
Data = Mapping[str, Any]


def _describe_pause(lead: Lead, change: actions.Change) -> str:
    return f"Paused {lead}: {change.cancelled} unsent step(s) cancelled."


def _describe_resume(lead: Lead, change: actions.Change) -> str:
    if change.state == EnrollmentState.FINISHED:
        return f"Resumed {lead}: no step was left to send, so its enrollment finished."
    return f"Resumed {lead}: {change.planned} step(s) planned."


def _describe_stop(lead: Lead, change: actions.Change) -> str:
    return f"Stopped {lead}: {change.cancelled} unsent step(s) cancelled; the lead is {lead.get_status_display()}."


def _describe_reenroll(lead: Lead, change: actions.Change) -> str:
    return f"Re-enrolled {lead}: {change.planned} step(s) planned."


def _describe_undo(lead: Lead, change: actions.Change) -> str:
    return f"{lead} may be contacted again. It was not re-enrolled: re-enrol it to start a sequence."


@dataclass(frozen=True)
class JourneyAction:
    """One journey action as the admin offers it: its button, its form, the service it calls and its report."""

    slug: str
    label: str
    form: type[forms.Form]
    call: Callable[[Lead, By, Data], actions.Change]
    describe: Callable[[Lead, actions.Change], str]
    # Asked before a list action runs (its form has a required field or a choice); others run at once.
    asks: bool = False


JOURNEY_ACTIONS: dict[str, JourneyAction] = {
    spec.slug: spec
    for spec in (
        JourneyAction(
            "pause",
            "Pause",
            PauseForm,
            lambda lead, by, data: actions.pause(
                lead, by=by, until=on_lead_clock(data.get("until"), lead), note=data.get("note", "")
            ),
            _describe_pause,
        ),
        JourneyAction(
            "resume",
            "Resume",
            NoteForm,
            lambda lead, by, data: actions.resume(lead, by=by, note=data.get("note", "")),
            _describe_resume,
        ),
        JourneyAction(
            "stop",
            "Stop",
            NoteForm,
            lambda lead, by, data: actions.stop(lead, by=by, note=data.get("note", "")),
            _describe_stop,
        ),
        JourneyAction(
            "reenroll",
            "Re-enrol",
            ReenrollForm,
            lambda lead, by, data: actions.reenroll(
                lead, by=by, sequence=data.get("sequence"), note=data.get("note", "")
            ),
            _describe_reenroll,
            asks=True,
        ),
        JourneyAction(
            "undo-do-not-contact",
            "Undo do-not-contact",
            UndoDoNotContactForm,
            lambda lead, by, data: actions.undo_do_not_contact(
                lead, by=by, reason=data.get("reason", ""), note=data.get("note", "")
            ),
            _describe_undo,
            asks=True,
        ),
    )
}


def run_for_each(
    model_admin: admin.ModelAdmin, request: HttpRequest, spec: JourneyAction, leads: Iterable[Lead], data: Data
) -> tuple[int, int]:
    """Call the action for each lead, one transaction each, and say per lead how it went; (done, refused)."""
    done = refused = 0
    for lead in leads:
        try:
            change = spec.call(lead, request_user(request), data)
        except EngineError as error:
            refused += 1
            model_admin.message_user(request, f"{spec.label}: not done for {lead}: {error}", messages.ERROR)
        else:
            done += 1
            model_admin.message_user(request, spec.describe(lead, change), messages.SUCCESS)
    return done, refused


def request_user(request: HttpRequest) -> AbstractBaseUser | None:
    return request.user if isinstance(request.user, AbstractBaseUser) else None


# ----------------------------------------------------------------------------
# What the lead's page shows
# ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    touch: ScheduledTouch
    subject: str
    body: str
    scheduled: SafeString | str  # the times, on the lead's clock (outreach.admin.local_time)
    sent: SafeString | str


@dataclass(frozen=True)
class EnrollmentRow:
    enrollment: Enrollment
    steps: list[Step]
    started: SafeString | str
    ended: SafeString | str
    resumes: SafeString | str


@dataclass(frozen=True)
class EventRow:
    event: JourneyEvent
    at: SafeString | str


def journey_context(lead: Lead, client: Client | None = None) -> dict[str, Any]:
    """The lead's enrollments, newest first, each with its steps (and the text each sent), and its events; times
    on the lead's clock (its zone as the send path has it; pass `client` when it is loaded, else it is read)."""
    zone = lead_zone(lead, client if client is not None else lead.client)
    steps: dict[int, list[Step]] = defaultdict(list)
    touches = ScheduledTouch.objects.filter(lead_id=lead.pk).select_related("activity")
    for touch in touches.order_by("touch_number", "scheduled_at", "pk"):
        snapshot = touch.activity.content_snapshot if touch.activity is not None else None
        snapshot = snapshot if isinstance(snapshot, dict) else {}
        subject, body = snapshot.get("subject"), snapshot.get("body")
        sent = local_time(touch.activity.created_at if touch.activity is not None else None, zone)
        steps[touch.enrollment_id].append(
            Step(
                touch,
                subject if isinstance(subject, str) else "",
                body if isinstance(body, str) else "",
                local_time(touch.scheduled_at, zone),
                sent,
            )
        )
    enrollments = Enrollment.objects.filter(lead_id=lead.pk).order_by("-started_at", "-pk")
    events = JourneyEvent.objects.filter(lead_id=lead.pk).select_related("by").order_by("-at", "-pk")
    return {
        "enrollments": [
            EnrollmentRow(
                enrollment,
                steps.get(enrollment.pk, []),
                local_time(enrollment.started_at, zone),
                local_time(enrollment.ended_at, zone),
                local_time(enrollment.resume_at, zone) if enrollment.resume_at else "",
            )
            for enrollment in enrollments
        ],
        "events": [EventRow(event, local_time(event.at, zone)) for event in events[:EVENTS_SHOWN]],
        "events_shown": EVENTS_SHOWN,
        "zone_note": page_note(zone),
    }


def journey_buttons(lead: Lead) -> list[tuple[str, str]]:
    """(label, url) of the journey actions that apply to the lead as it is now."""
    open_state = (
        Enrollment.objects.filter(lead_id=lead.pk, state__in=OPEN_ENROLLMENT_STATES)
        .values_list("state", flat=True)
        .first()
    )
    offered = {
        "pause": open_state == EnrollmentState.ACTIVE,
        "resume": open_state == EnrollmentState.PAUSED,
        "stop": open_state is not None or lead.status in actions.CLOSABLE_STATUSES,  # what actions.stop accepts
        "reenroll": open_state is None,
        "undo-do-not-contact": lead.do_not_contact,
    }
    return [
        (spec.label, reverse("admin:outreach_lead_journey", args=[lead.pk, slug]))
        for slug, spec in JOURNEY_ACTIONS.items()
        if offered[slug]
    ]


# ----------------------------------------------------------------------------
# The Lead admin's share
# ----------------------------------------------------------------------------


def _bulk_action(slug: str, description: str) -> Callable[[Any, HttpRequest, QuerySet[Lead]], HttpResponse | None]:
    spec = JOURNEY_ACTIONS[slug]

    def action(model_admin: LeadJourneyMixin, request: HttpRequest, queryset: QuerySet[Lead]) -> HttpResponse | None:
        return model_admin.run_bulk(request, queryset, spec)

    action.__name__ = f"journey_{slug.replace('-', '_')}"
    return admin.action(description=description, permissions=["change"])(action)


class LeadJourneyMixin(admin.ModelAdmin):
    """Mixed into the Lead admin: the journey's list actions, the buttons and forms on a lead's page, and the
    lead's enrollments and events as a read-only field (`journey`)."""

    journey_pause = _bulk_action("pause", "Pause the selected leads' sequences")
    journey_resume = _bulk_action("resume", "Resume the selected leads' paused sequences")
    journey_stop = _bulk_action("stop", "Stop the selected leads' sequences (without do-not-contact)")
    journey_reenroll = _bulk_action("reenroll", "Re-enrol the selected leads (choose the sequence)…")
    journey_undo_do_not_contact = _bulk_action("undo-do-not-contact", "Undo do-not-contact (give the reason)…")
    journey_actions = (
        "journey_pause",
        "journey_resume",
        "journey_stop",
        "journey_reenroll",
        "journey_undo_do_not_contact",
    )

    def get_urls(self) -> list[URLPattern]:
        journey = path(
            "<path:object_id>/journey/<slug:action>/",
            self.admin_site.admin_view(self.journey_view),
            name="outreach_lead_journey",
        )
        return [journey, *super().get_urls()]

    @admin.display(description="Enrollments and history")
    def journey(self, obj: Lead) -> SafeString | str:
        if obj.pk is None:
            return "Not enrolled yet."
        # The lead's page names the zone once, above everything (LeadAdmin.render_change_form).
        context = {**journey_context(obj, obj.client), "zone_note": None}
        return render_to_string("admin/outreach/lead/journey.html", context)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        if obj is not None and obj.pk is not None and self.has_change_permission(request, obj):
            context["journey_buttons"] = journey_buttons(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def journey_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        """A lead's journey action: its form (GET), then the action (POST) and back to the lead's page."""
        spec = JOURNEY_ACTIONS.get(action)
        if spec is None:
            raise Http404(f"No journey action {action!r}")
        lead = self.get_object(request, unquote(object_id))  # another client's lead: 404
        if lead is None:
            raise Http404(f"No lead with id {object_id!r}")
        if not self.has_change_permission(request, lead):
            raise PermissionDenied
        form = spec.form(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            run_for_each(self, request, spec, [lead], form.cleaned_data)
            return HttpResponseRedirect(reverse("admin:outreach_lead_change", args=[lead.pk]))
        context = {**self._journey_page(request, spec, form), "leads": [lead], "lead": lead}
        return TemplateResponse(request, "admin/outreach/lead/journey_action.html", context)

    def run_bulk(self, request: HttpRequest, queryset: QuerySet[Lead], spec: JourneyAction) -> HttpResponse | None:
        """A list action: at once, or (re-enrol, undo do-not-contact) after its intermediate form is posted."""
        leads = list(queryset.select_related("client").order_by("pk"))
        if not spec.asks:
            run_for_each(self, request, spec, leads, {})
            return None
        form = spec.form(request.POST if "apply" in request.POST else None)
        if "apply" in request.POST and form.is_valid():
            run_for_each(self, request, spec, leads, form.cleaned_data)
            return None
        context = {
            **self._journey_page(request, spec, form),
            "leads": leads,
            "action_name": f"journey_{spec.slug.replace('-', '_')}",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/outreach/lead/journey_action.html", context)

    def _journey_page(self, request: HttpRequest, spec: JourneyAction, form: forms.Form) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": spec.label,
            "spec": spec,
            "form": form,
            "changelist_url": reverse("admin:outreach_lead_changelist"),
        }


# ----------------------------------------------------------------------------
# Enrollment and JourneyEvent pages (read-only)
# ----------------------------------------------------------------------------


@admin.register(Enrollment)
class EnrollmentAdmin(ServiceWrittenAdmin):
    list_display = ("lead", "client", "state", "planned_sequence", "started", "ended", "end_reason")
    list_filter = (("client", VisibleClientFilter), "state")
    list_select_related = ("client", "lead")
    search_fields = ("lead__email", "lead__last_name", "lead__company_name")
    show_full_result_count = False
    paginator = CappedCountPaginator
    ordering = ("-started_at", "-pk")
    fields = (
        "lead",
        "client",
        "state",
        "planned_sequence",
        "sequence_id",
        "started_local",
        "ended",
        "end_reason",
        "resumes",
        "steps",
    )
    readonly_fields = fields
    # The lead's local time, UTC on hover (the lead and client are selected with each row).
    started = lead_time_column("started_at", f"started ({LIST_NOTE})")
    started_local = lead_time_column("started_at", "started", detail=True)
    ended = lead_time_column("ended_at", f"ended ({LIST_NOTE})")
    resumes = lead_time_column("resume_at", "resumes at")

    @admin.display(description="steps")
    def steps(self, obj: Enrollment) -> SafeString:
        context = journey_context(obj.lead, obj.client)
        mine = [row for row in context["enrollments"] if row.enrollment.pk == obj.pk]
        return render_to_string(
            "admin/outreach/lead/journey.html",
            {"enrollments": mine, "events": None, "zone_note": context["zone_note"]},
        )


@admin.register(JourneyEvent)
class JourneyEventAdmin(ServiceWrittenAdmin):
    list_display = ("when", "lead", "client", "action", "reason", "by", "enrollment")
    list_filter = (("client", VisibleClientFilter), "action")
    list_select_related = ("client", "lead", "by", "enrollment__lead")  # an enrollment's name is its lead's
    search_fields = ("lead__email", "lead__last_name", "lead__company_name", "reason", "note")
    show_full_result_count = False
    paginator = CappedCountPaginator
    ordering = ("-at", "-pk")
    fields = ("when_local", "lead", "client", "enrollment", "action", "reason", "by", "note")
    readonly_fields = fields
    when = lead_time_column("at", f"when ({LIST_NOTE})")
    when_local = lead_time_column("at", "when", detail=True)
