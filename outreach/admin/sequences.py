"""MessageTemplate (what touches say, previewed for a lead, sent as a test to oneself) and ScheduledTouch (the
outbox, written only by the planner and the sender)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from engines.exceptions import EngineError, ProviderError
from engines.rules.placeholders import PLACEHOLDERS
from engines.services.sending import template_preview
from outreach.models import Channel, Lead, MessageTemplate, ScheduledTouch

from .local_time import LIST_NOTE, lead_time_column
from .pagination import CappedCountPaginator
from .scoping import ClientScopedAdmin, ServiceWrittenAdmin, VisibleClientFilter, scope_to_clients


@admin.register(MessageTemplate)
class MessageTemplateAdmin(ClientScopedAdmin):
    """Templates, with the placeholder syntax on the form, a preview for one lead of the template's client
    and a test email to the logged-in user (engines.services.sending.template_preview)."""

    list_display = ("__str__", "client", "channel", "touch_number", "subject", "active")
    list_filter = (("client", VisibleClientFilter), "channel", "active")
    list_select_related = ("client",)
    search_fields = ("name", "subject", "body")
    autocomplete_fields = ("client",)
    show_full_result_count = False
    change_form_template = "admin/outreach/messagetemplate/change_form.html"

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if field is not None and db_field.name in PLACEHOLDER_HELP:
            field.help_text = PLACEHOLDER_HELP[db_field.name]
        return field

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "<path:object_id>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="outreach_messagetemplate_preview",
            ),
            path(
                "<path:object_id>/send-test/",
                self.admin_site.admin_view(self.send_test_view),
                name="outreach_messagetemplate_send_test",
            ),
            *super().get_urls(),
        ]

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        context["placeholders"] = PLACEHOLDER_ROWS
        if obj is not None and obj.pk is not None and self._may_preview(request, obj):
            # A form posted with errors has put its refused values on `obj`: the panel previews the saved template.
            saved = obj
            if request.method == "POST":
                saved = MessageTemplate.objects.select_related("client").filter(pk=obj.pk).first() or obj
            lead = _scoped_leads(saved, request).first()
            context["preview"] = template_preview.preview(saved, lead) if lead is not None else None
            context["preview_url"] = reverse("admin:outreach_messagetemplate_preview", args=[obj.pk])
        return super().render_change_form(request, context, add, change, form_url, obj)

    def preview_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The saved template rendered for a lead of its client (`?lead=ID`, else the first by id)."""
        template = self._template(request, object_id)
        if not self._may_preview(request, template):
            raise PermissionDenied
        leads = _scoped_leads(template, request)
        form = PreviewLeadForm(request.GET if "lead" in request.GET else None, leads=leads)
        lead: Lead | None = None
        if form.is_bound:
            lead = form.cleaned_data["lead"] if form.is_valid() else None
        else:
            lead = leads.first()
            form = PreviewLeadForm(initial={"lead": lead.pk if lead else None}, leads=leads)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Preview: {template}",
            "template": template,
            "form": form,
            "lead": lead,
            "preview": template_preview.preview(template, lead) if lead is not None else None,
            "lead_choices": list(leads[:LEAD_CHOICES]),
            "placeholders": PLACEHOLDER_ROWS,
            "can_send_test": template.channel == Channel.EMAIL and self.has_change_permission(request, template),
            "user_email": getattr(request.user, "email", ""),
        }
        return TemplateResponse(request, "admin/outreach/messagetemplate/preview.html", context)

    def send_test_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: send the template, rendered for the chosen lead, to the logged-in user's own address."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        template = self._template(request, object_id)
        if not (self.has_change_permission(request, template) and self._may_preview(request, template)):
            raise PermissionDenied
        back = reverse("admin:outreach_messagetemplate_preview", args=[template.pk])
        form = PreviewLeadForm(request.POST, leads=_scoped_leads(template, request))
        if not form.is_valid():
            self.message_user(
                request,
                "No test sent: " + " ".join(str(error) for error in form.errors.get("lead", [])),
                messages.ERROR,
            )
            return HttpResponseRedirect(back)
        lead: Lead = form.cleaned_data["lead"]
        back = f"{back}?lead={lead.pk}"
        address = (getattr(request.user, "email", "") or "").strip()
        if template.channel != Channel.EMAIL:
            self.message_user(
                request,
                f"No test sent: a test email is for email templates, this one is {template.channel}.",
                messages.ERROR,
            )
        elif not address:
            self.message_user(
                request,
                "No test sent: your user has no email address. Add one to your user (Users, or ask an "
                "administrator), then try again.",
                messages.ERROR,
            )
        else:
            self._send_test(request, template, lead, address)
        return HttpResponseRedirect(back)

    def _send_test(self, request: HttpRequest, template: MessageTemplate, lead: Lead, address: str) -> None:
        try:
            sent = template_preview.send_test_email(template, lead, address)
        except ProviderError as exc:
            self.message_user(request, f"No test sent: the email provider failed: {exc}", messages.ERROR)
        except EngineError as exc:  # SendBlocked (a missing field, no sender address), InvalidTouch
            self.message_user(request, f"No test sent: {exc}", messages.ERROR)
        else:
            # Recorded in the template's history, never as a touch: no Activity, no lead counters.
            self.log_change(request, template, f"Sent a test email to {sent.to}, as lead {lead.pk} would read it.")
            self.message_user(
                request,
                f"Test email \u201c{sent.subject}\u201d sent to {sent.to}. It is a test, not a touch: nothing was "
                f"recorded for {lead}.",
                messages.SUCCESS,
            )

    def _template(self, request: HttpRequest, object_id: str) -> MessageTemplate:
        template: MessageTemplate = self.get_object(request, unquote(object_id))  # another client's: 404
        return template

    def _may_preview(self, request: HttpRequest, template: MessageTemplate) -> bool:
        """A preview shows a lead's data: the user may view the template and leads."""
        user = request.user
        may_see_leads = user.has_perm("outreach.view_lead") or user.has_perm("outreach.change_lead")
        return self.has_view_or_change_permission(request, template) and may_see_leads


# The subject and body help texts; the change form and the preview page show PLACEHOLDER_ROWS as a table.
PLACEHOLDER_ROWS = [(f"{{{name}}}", placeholder.description) for name, placeholder in PLACEHOLDERS.items()]
PLACEHOLDER_HELP = {
    "subject": (
        "Email: the subject line (required); LinkedIn: the connection note; not used by SMS and calls. One line: "
        "no line breaks or other control characters. Placeholders as in the body."
    ),
    "body": (
        "Placeholders: " + ", ".join(name for name, _ in PLACEHOLDER_ROWS) + ". Write {field|fallback} for a "
        "field a lead may lack; a field that is empty with no fallback blocks the send (missing_field). "
        "{{ and }} write a brace. See \u201cPlaceholders\u201d below."
    ),
}
# How many of the client's leads the preview's lead field suggests (any of its leads may be typed by id).
LEAD_CHOICES = 50


def _scoped_leads(template: MessageTemplate, request: HttpRequest) -> QuerySet[Lead]:
    """The template's client's leads, first by id, cut to the user's clients (a second fence behind the 404)."""
    return scope_to_clients(template_preview.client_leads(template), request).select_related("client")


class PreviewLeadForm(forms.Form):
    """The lead a preview is for: its id, one of the template's client's leads."""

    lead = forms.ModelChoiceField(
        queryset=Lead.objects.none(),
        label="Lead id",
        widget=forms.NumberInput(attrs={"list": "preview-leads", "min": 1}),
        error_messages={"invalid_choice": "Lead %(value)s is not a lead of this template\u2019s client."},
    )

    def __init__(self, *args: Any, leads: QuerySet[Lead], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["lead"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = leads


# Touches are planned by the allocator and claimed by the dispatcher: edited by hand, one could be sent twice.
# Its times are the lead's local time (outreach.admin.local_time), UTC on hover; the lead and client come with the row.
@admin.register(ScheduledTouch)
class ScheduledTouchAdmin(ServiceWrittenAdmin):
    list_display = ("lead", "client", "touch_number", "channel", "scheduled", "status", "reason", "attempts")
    list_filter = (("client", VisibleClientFilter), "status", "channel", "is_exploration")
    list_select_related = ("client", "lead")
    search_fields = ("lead__email", "lead__last_name", "lead__company_name")
    show_full_result_count = False
    paginator = CappedCountPaginator
    ordering = ("-scheduled_at",)
    # The change page shows these stored times as the read-only fields beside them, in the lead's zone.
    local_fields = {"scheduled_at": "scheduled_local", "claimed_at": "claimed_local"}
    readonly_fields = tuple(local_fields.values())

    scheduled = lead_time_column("scheduled_at", f"scheduled ({LIST_NOTE})")
    scheduled_local = lead_time_column("scheduled_at", "scheduled at", detail=True)
    claimed_local = lead_time_column("claimed_at", "claimed at", detail=True)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ScheduledTouch]:
        return super().get_queryset(request).select_related("client", "lead", "activity")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        shown = [name for name in super().get_fields(request, obj) if name not in self.readonly_fields]
        return [self.local_fields.get(name, name) if isinstance(name, str) else name for name in shown]
