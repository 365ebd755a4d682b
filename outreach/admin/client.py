"""Client: the ICP and learned weights as validated forms, limits, active patterns and a 30-day dashboard; its
sending domain's SPF, DKIM and DMARC checks (an action on the list, the last check on its page, and the
read-only history of checks on a page of its own); its sending mailboxes, in an inline (outreach.admin.mailboxes)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from engines.rules.dns_auth import shown
from engines.rules.geography import country_code
from engines.rules.pattern_checks import WEIGHT_KEYS, weights_errors
from engines.services.deliverability.domains import check_client, client_domain, latest_checks
from outreach.models import AuthStatus, CheckTrigger, Client, ConversionPattern, DomainCheck, PatternType
from outreach.models.domain_check import AUTH_RECORDS

from .dashboard import dashboard
from .mailboxes import ClientMailboxInline
from .pattern_views import weights_over_time
from .patterns import STATE_LABELS, WEIGHT_HISTORY, pattern_states
from .scoping import ClientScopedAdmin, ServiceWrittenAdmin, VisibleClientFilter

# Clients one admin action checks: each waits on the DNS (up to DNS_TIMEOUT when a server does not answer).
MAX_DOMAIN_CHECKS_PER_ACTION = 20
# A verdict's badge on the client's page (classes of outreach/admin.css).
STATUS_BADGES = {
    AuthStatus.PASS: "active",
    AuthStatus.WARN: "inactive",
    AuthStatus.FAIL: "invalid",
    AuthStatus.ERROR: "invalid",
}


def _items(text: str) -> list[str]:
    """Entries typed one per line or separated by commas, blanks dropped, order kept, each once."""
    seen: dict[str, None] = {}
    for item in re.split(r"[,\n]", text or ""):
        if item.strip():
            seen.setdefault(" ".join(item.split()), None)
    return list(seen)


class ClientForm(forms.ModelForm):
    industries = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Industries the client sells to, one per line or separated by commas (e.g. Dental, Accounting).",
    )
    employee_min = forms.IntegerField(min_value=1, initial=5, label="Employees from")
    employee_max = forms.IntegerField(min_value=1, initial=50, label="Employees up to")
    countries = forms.CharField(
        required=False, help_text="Countries, by name or ISO code, separated by commas (e.g. Australia, NZ)."
    )

    weight_data_quality = forms.FloatField(required=False, min_value=0, max_value=1, label="Data quality weight")
    weight_authority = forms.FloatField(required=False, min_value=0, max_value=1, label="Authority weight")
    weight_company_fit = forms.FloatField(required=False, min_value=0, max_value=1, label="Company fit weight")
    weight_timing = forms.FloatField(required=False, min_value=0, max_value=1, label="Timing weight")

    class Meta:
        model = Client
        fields = (
            "name",
            "sender_name",
            "sending_email",
            "sending_phone",
            "dkim_selector",
            "timezone",
            "country",
            "physical_address",
            "daily_email_limit",
            "daily_sms_limit",
            "daily_linkedin_limit",
            "daily_voice_limit",
            "daily_emails_per_company",
            "sending_window_start",
            "sending_window_end",
            "sends_on_weekends",
            "exploration_rate",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        icp = self.instance.icp if isinstance(self.instance.icp, dict) else {}
        self.initial.setdefault("industries", "\n".join(_strings(icp.get("industries"))))
        self.initial.setdefault("countries", ", ".join(_strings(icp.get("countries"))))
        for bound in ("employee_min", "employee_max"):
            if isinstance(icp.get(bound), int):
                self.initial.setdefault(bound, icp[bound])
        weights = self.instance.als_learned_weights
        if isinstance(weights, dict):
            for key in WEIGHT_KEYS:
                self.initial.setdefault(f"weight_{key}", weights.get(key))

    def clean_countries(self) -> list[str]:
        countries = _items(self.cleaned_data["countries"])
        unknown = [country for country in countries if country_code(country) is None]
        if unknown:
            raise forms.ValidationError(f"Unknown countries: {', '.join(unknown)}. Use a country name or ISO code.")
        return countries

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or self.cleaned_data
        low, high = cleaned.get("employee_min"), cleaned.get("employee_max")
        if low is not None and high is not None and low > high:
            self.add_error("employee_max", "must be at least the lower bound")
        weights = {key: cleaned.get(f"weight_{key}") for key in WEIGHT_KEYS}
        given = [key for key, value in weights.items() if value is not None]
        if given and len(given) < len(WEIGHT_KEYS):
            self.add_error(None, "Give all four learned weights, or none to use the defaults.")
        elif given:
            for error in weights_errors(weights):
                self.add_error(None, f"Learned weights: {error}")
        return cleaned

    def save(self, commit: bool = True) -> Client:
        client = super().save(commit=False)
        icp = dict(client.icp) if isinstance(client.icp, dict) else {}
        icp.update(
            industries=_items(self.cleaned_data["industries"]),
            employee_min=self.cleaned_data["employee_min"],
            employee_max=self.cleaned_data["employee_max"],
            countries=self.cleaned_data["countries"],
        )
        client.icp = icp
        weights = {key: self.cleaned_data.get(f"weight_{key}") for key in WEIGHT_KEYS}
        client.als_learned_weights = weights if all(v is not None for v in weights.values()) else None
        if commit:
            client.save()
        return client


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


@admin.register(Client)
class ClientAdmin(ClientScopedAdmin):
    client_field = "pk"
    form = ClientForm
    list_display = ("name", "sending_email", "sending_phone", "timezone", "country", "exploration_rate")
    search_fields = ("name", "sending_email")
    show_full_result_count = False
    actions = ("check_sending_domains",)
    inlines = (ClientMailboxInline,)

    class Media:
        css = {"all": ("outreach/admin.css",)}

    def get_fieldsets(self, request: HttpRequest, obj: Client | None = None) -> Any:
        fieldsets: list[tuple[str | None, dict[str, Any]]] = [
            (None, {"fields": ("name", "sender_name", ("sending_email", "sending_phone"), ("timezone", "country"),
                               "physical_address")}),
            ("Ideal customer profile", {"fields": ("industries", ("employee_min", "employee_max"), "countries")}),
            ("Learned scoring weights (all four, summing to 0.80-0.90; empty = the defaults)",
             {"fields": tuple(f"weight_{key}" for key in WEIGHT_KEYS)}),
            ("Sending", {"fields": (("daily_email_limit", "daily_sms_limit", "daily_linkedin_limit",
                                     "daily_voice_limit"),
                                    "daily_emails_per_company",
                                    ("sending_window_start", "sending_window_end", "sends_on_weekends"),
                                    "exploration_rate")}),
            ("Sending domain (SPF, DKIM, DMARC)",
             {"fields": ("dkim_selector", "last_domain_check") if obj is not None else ("dkim_selector",)}),
        ]  # fmt: skip
        if obj is not None:
            fieldsets += [
                ("Patterns", {"fields": ("active_patterns", "weights_history")}),
                ("Last 30 days", {"fields": ("last_30_days",)}),
            ]
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Client | None = None) -> tuple[str, ...]:
        return ("active_patterns", "weights_history", "last_30_days", "last_domain_check") if obj is not None else ()

    # A client exists for the whole agency: only superusers add or remove one.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_superuser

    @admin.display(description="active patterns")
    def active_patterns(self, obj: Client) -> SafeString:
        now = timezone.now()
        live = list(
            ConversionPattern.objects.filter(client=obj, computed_at__lte=now, valid_until__gt=now).order_by(
                "pattern_type", "-computed_at"
            )
        )
        states = pattern_states(live, now=now)
        rows = []
        for pattern_type, label in PatternType.choices:
            shown = [p for p in live if p.pattern_type == pattern_type and states[p.pk] in ("active", "invalid-newest")]
            rows.append(
                {
                    "label": label,
                    "patterns": [
                        {
                            "pattern": p,
                            "state": STATE_LABELS[states[p.pk]],
                            "url": reverse("admin:outreach_conversionpattern_change", args=[p.pk]),
                        }
                        for p in shown
                    ],
                }
            )
        return render_to_string("admin/outreach/client/active_patterns.html", {"rows": rows})

    @admin.display(description="learned weights over time")
    def weights_history(self, obj: Client) -> SafeString | str:
        history = ConversionPattern.objects.filter(client=obj, pattern_type=PatternType.WHO).order_by("-computed_at")
        chart = weights_over_time(history.only("pk", "patterns", "computed_at")[:WEIGHT_HISTORY])
        return chart or "No WHO pattern learned yet."

    @admin.display(description="dashboard")
    def last_30_days(self, obj: Client) -> SafeString:
        return dashboard(obj)

    @admin.display(description="last check")
    def last_domain_check(self, obj: Client) -> SafeString | str:
        check = latest_checks(Client.objects.filter(pk=obj.pk)).get(obj.pk)
        if check is None:
            return "Never checked: use the action 'Check sending domains (SPF, DKIM, DMARC)' on the client list."
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td><span class='outreach-state {}'>{}</span></td>"
            "<td><code style='white-space: pre-wrap; word-break: break-all'>{}</code></td><td>{}</td></tr>",
            (
                (
                    label,
                    STATUS_BADGES[AuthStatus(getattr(check, f"{prefix}_status"))],
                    AuthStatus(getattr(check, f"{prefix}_status")).label,
                    getattr(check, f"{prefix}_record") or "-",
                    getattr(check, f"{prefix}_message"),
                )
                for label, prefix in AUTH_RECORDS
            ),
        )
        stale = "" if check.domain == client_domain(obj) else " (another domain: the sending email changed since)"
        return format_html(
            "<p>{} on {}{}, {}.</p><table><thead><tr><th>record</th><th>verdict</th><th>found</th>"
            "<th>what to fix</th></tr></thead><tbody>{}</tbody></table>",
            check.domain,
            timezone.localtime(check.checked_at).strftime("%Y-%m-%d %H:%M %Z"),
            stale,
            check.get_trigger_display() + (f" by {check.triggered_by}" if check.triggered_by else ""),
            rows,
        )

    @admin.action(description="Check sending domains (SPF, DKIM, DMARC)")
    def check_sending_domains(self, request: HttpRequest, queryset: QuerySet[Client]) -> None:
        clients = list(queryset.order_by("name", "pk")[: MAX_DOMAIN_CHECKS_PER_ACTION + 1])
        if len(clients) > MAX_DOMAIN_CHECKS_PER_ACTION:
            self.message_user(
                request,
                f"Select at most {MAX_DOMAIN_CHECKS_PER_ACTION} clients: each check waits on the DNS. "
                "`python manage.py check_domains` checks them all.",
                messages.ERROR,
            )
            return
        for client in clients:
            if not client_domain(client):
                self.message_user(request, f"{client}: no sending email, nothing to check.", messages.WARNING)
                continue
            user = request.user if isinstance(request.user, AbstractBaseUser) else None
            check = check_client(client, trigger=CheckTrigger.ADMIN, by=user)
            self.message_user(request, _summary(check), messages.SUCCESS if check.passed else messages.ERROR)


def _summary(check: DomainCheck) -> str:
    """One message: each verdict, then what to fix for each record that is not a plain pass."""
    verdicts = ", ".join(f"{label} {status}" for label, status in check.statuses().items())
    fixes = [
        f"{label}: {getattr(check, f'{prefix}_message')}"
        for label, prefix in AUTH_RECORDS
        if getattr(check, f"{prefix}_status") != AuthStatus.PASS
    ]
    return f"{check.client} ({check.domain}): {verdicts}." + "".join(f" {fix}" for fix in fixes)


@admin.register(DomainCheck)
class DomainCheckAdmin(ServiceWrittenAdmin):
    """Every check of every sending domain, newest first: what the DNS held then and what was wrong."""

    list_display = ("domain", "client", "checked_at", "spf_status", "dkim_status", "dmarc_status", "trigger", "found")
    list_filter = (("client", VisibleClientFilter), "spf_status", "dkim_status", "dmarc_status", "trigger")
    list_select_related = ("client",)
    search_fields = ("domain", "client__name")
    date_hierarchy = "checked_at"

    @admin.display(description="records")
    def found(self, obj: DomainCheck) -> str:
        return " | ".join(shown(getattr(obj, f"{prefix}_record")) or "-" for _, prefix in AUTH_RECORDS)
