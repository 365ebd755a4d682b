"""Client: the ICP and learned weights as validated forms, limits, active patterns and a 30-day dashboard."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString

from engines.rules.geography import country_code
from engines.rules.pattern_checks import WEIGHT_KEYS, weights_errors
from outreach.models import Client, ConversionPattern, PatternType

from .dashboard import dashboard
from .pattern_views import weights_over_time
from .patterns import STATE_LABELS, WEIGHT_HISTORY, pattern_states
from .scoping import ClientScopedAdmin


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
            "timezone",
            "country",
            "physical_address",
            "daily_email_limit",
            "daily_sms_limit",
            "daily_linkedin_limit",
            "daily_voice_limit",
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
                                    ("sending_window_start", "sending_window_end", "sends_on_weekends"),
                                    "exploration_rate")}),
        ]  # fmt: skip
        if obj is not None:
            fieldsets += [
                ("Patterns", {"fields": ("active_patterns", "weights_history")}),
                ("Last 30 days", {"fields": ("last_30_days",)}),
            ]
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: Client | None = None) -> tuple[str, ...]:
        return ("active_patterns", "weights_history", "last_30_days") if obj is not None else ()

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
