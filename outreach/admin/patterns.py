"""ConversionPattern: readable per type, the active one marked; stored patterns are history and stay as they were."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from engines.rules.pattern_checks import pattern_errors
from engines.rules.pattern_schemas import SCHEMAS, json_schema, required_keys
from engines.rules.provider_input import clean
from outreach.models import ConversionPattern, PatternType

from .pattern_views import readable, weights_over_time
from .scoping import ClientScopedAdmin, VisibleClientFilter

WEIGHT_HISTORY = 52  # WHO patterns drawn in the weights-over-time chart (a year of weekly detection)

STATE_LABELS = {
    "active": "active",
    "invalid": "invalid: ignored",
    "invalid-newest": "invalid newest: ignored, an older pattern is in use",
    "not-activated": "not activated",
    "superseded": "superseded",
    "expired": "expired",
    "future": "not yet valid",
}


def pattern_states(patterns: Iterable[ConversionPattern], *, now: datetime) -> dict[int, str]:
    """The state of each pattern (a key of STATE_LABELS), read with one query whatever their number.

    The active pattern of a client and type is the newest one that is in its
    validity window, activated and valid against its schema, as
    engines.services.patterns.get_active_pattern picks it.
    """
    patterns = list(patterns)
    clients = {p.client_id for p in patterns}
    live = ConversionPattern.objects.filter(client_id__in=clients, computed_at__lte=now, valid_until__gt=now).order_by(
        "-computed_at", "-pk"
    )
    active: dict[tuple[int, str], ConversionPattern] = {}
    newer_invalid: set[int] = set()
    for candidate in live.only("pk", "client_id", "pattern_type", "patterns", "activated", "computed_at"):
        key = (candidate.client_id, candidate.pattern_type)
        if key in active:
            continue
        if candidate.activated and not pattern_errors(candidate.pattern_type, candidate.patterns):
            active[key] = candidate
        elif pattern_errors(candidate.pattern_type, candidate.patterns):
            newer_invalid.add(candidate.pk)
    active_ids = {p.pk for p in active.values()}
    states = {}
    for p in patterns:
        if p.pk in active_ids:
            states[p.pk] = "active"
        elif p.pk in newer_invalid:
            states[p.pk] = "invalid-newest"
        elif pattern_errors(p.pattern_type, p.patterns):
            states[p.pk] = "invalid"
        elif not p.activated:
            states[p.pk] = "not-activated"
        elif p.computed_at > now:
            states[p.pk] = "future"
        elif p.valid_until <= now:
            states[p.pk] = "expired"
        else:
            states[p.pk] = "superseded"
    return states


class PatternChangeList(ChangeList):
    """Marks each row of the page with its state, computed for the whole page at once."""

    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        rows = list(self.result_list)
        states = pattern_states(rows, now=timezone.now())
        for row in rows:
            row.state = states[row.pk]


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows; write a number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"{text} is too large to store; write a smaller number")
    return number


class PrettyJSONField(forms.JSONField):
    """The pattern's JSON, shown indented; refused with a form error when no database could store it: NaN and
    Infinity (PostgreSQL's jsonb refuses them), numbers too large for a float or an integer of thousands of
    digits, nesting deeper than any pattern (provider_input.MAX_DEPTH), NUL or broken Unicode in a string."""

    def to_python(self, value: Any) -> Any:
        if self.disabled or value in self.empty_values or not isinstance(value, str):
            return super().to_python(value)
        try:
            parsed = json.loads(value, parse_constant=_no_constant, parse_float=_finite)
            if clean(parsed) != parsed:
                raise ValueError("a text in it has a NUL character or broken Unicode; remove it")
        except json.JSONDecodeError as exc:
            raise ValidationError(f"Enter valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from exc
        except (ValueError, RecursionError) as exc:  # TooDeep is a ValueError; RecursionError: thousands deep
            reason = str(exc) if isinstance(exc, ValueError) else "nested far too deep"
            raise ValidationError(f"Enter JSON a database can store: {reason}") from exc
        return parsed

    def bound_data(self, data: Any, initial: Any) -> Any:
        """What the form shows again after an error: the text as typed when it does not parse here either
        (Django's own reparse would fail on the same input)."""
        if self.disabled or data is None or not isinstance(data, str):
            return super().bound_data(data, initial)
        try:
            return self.to_python(data)
        except ValidationError:
            return forms.fields.InvalidJSONInput(data)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)


class ConversionPatternForm(forms.ModelForm):
    class Meta:
        model = ConversionPattern
        fields = (
            "client",
            "pattern_type",
            "patterns",
            "sample_size",
            "confidence",
            "computed_at",
            "valid_until",
            "activated",
        )

    def _update_errors(self, errors: ValidationError) -> None:
        # A stored pattern cannot be edited (only its validity can), so the schema errors of an invalid one
        # must not stop it being retired.
        if self.instance.pk is not None and hasattr(errors, "error_dict") and "patterns" not in self.fields:
            errors.error_dict.pop("patterns", None)
        super()._update_errors(errors)  # type: ignore[misc]  # BaseModelForm's, missing from django-stubs


def _state_badge(state: str) -> SafeString:
    css = {"active": "active", "invalid": "invalid", "invalid-newest": "invalid"}.get(state, "inactive")
    return format_html('<span class="outreach-state {}" data-state="{}">{}</span>', css, state, STATE_LABELS[state])


@admin.register(ConversionPattern)
class ConversionPatternAdmin(ClientScopedAdmin):
    form = ConversionPatternForm
    list_display = (
        "__str__",
        "client",
        "pattern_type",
        "state",
        "sample_size",
        "confidence",
        "computed_at",
        "valid_until",
    )
    list_filter = (("client", VisibleClientFilter), "pattern_type", "activated")
    list_select_related = ("client",)
    show_full_result_count = False
    ordering = ("-computed_at", "-pk")

    class Media:
        css = {"all": ("outreach/admin.css",)}

    def formfield_for_dbfield(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "patterns":
            return PrettyJSONField(
                widget=forms.Textarea(attrs={"rows": 18, "cols": 90, "class": "vLargeTextField"}),
                help_text="The pattern as JSON; it is checked against the schema of its type when saved.",
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return PatternChangeList

    def get_fieldsets(self, request: HttpRequest, obj: ConversionPattern | None = None) -> Any:
        if obj is None:
            return (
                (None, {"fields": ("client", "pattern_type", "patterns", "schema", ("sample_size", "confidence"))}),
                ("Validity", {"fields": ("computed_at", "valid_until", "activated")}),
            )
        return (
            (None, {"fields": (("client", "pattern_type", "state"), ("sample_size", "confidence"))}),
            ("What it says", {"fields": ("readable", "errors")}),
            ("Validity (retire a pattern by ending its validity or deactivating it)", {"fields": (
                ("computed_at", "valid_until", "activated"),)}),
            ("Raw pattern", {"fields": ("raw_json",), "classes": ("collapse",)}),
        )  # fmt: skip

    def get_readonly_fields(self, request: HttpRequest, obj: ConversionPattern | None = None) -> tuple[str, ...]:
        if obj is None:
            return ("schema",)
        # What was learned is history: only its validity may change.
        return ("client", "pattern_type", "state", "sample_size", "confidence", "computed_at", "readable", "errors",
                "raw_json")  # fmt: skip

    def get_queryset(self, request: HttpRequest) -> QuerySet[ConversionPattern]:
        return super().get_queryset(request).select_related("client")

    @admin.display(description="state")
    def state(self, obj: ConversionPattern) -> SafeString:
        state = getattr(obj, "state", None) or pattern_states([obj], now=timezone.now())[obj.pk]
        return _state_badge(state)

    @admin.display(description="schema errors")
    def errors(self, obj: ConversionPattern) -> SafeString | str:
        found = pattern_errors(obj.pattern_type, obj.patterns)
        if not found:
            return "none: the pattern matches its schema"
        return format_html('<ul class="errorlist">{}</ul>', format_html_join("", "<li>{}</li>", ((e,) for e in found)))

    @admin.display(description="readable view")
    def readable(self, obj: ConversionPattern) -> SafeString:
        view = readable(obj)
        if obj.pattern_type != PatternType.WHO:
            return view
        history = ConversionPattern.objects.filter(client_id=obj.client_id, pattern_type=PatternType.WHO).order_by(
            "-computed_at"
        )[:WEIGHT_HISTORY]
        chart = weights_over_time(history.only("pk", "patterns", "computed_at"))
        return format_html("{}{}", view, chart or "")

    @admin.display(description="schema")
    def schema(self, obj: ConversionPattern | None) -> SafeString:
        required = format_html_join(
            "", "<li><code>{}</code>: {}</li>", ((name, ", ".join(required_keys(name)) or "none") for name in SCHEMAS)
        )
        return format_html(
            "<p>Keys each type must have (the others are optional and checked when present):</p><ul>{}</ul>"
            '<details class="outreach-raw"><summary>JSON Schema of every pattern type</summary><pre>{}</pre></details>',
            required,
            json.dumps(json_schema(), indent=2),
        )

    @admin.display(description="raw JSON")
    def raw_json(self, obj: ConversionPattern) -> SafeString:
        return format_html("<pre>{}</pre>", json.dumps(obj.patterns, indent=2, sort_keys=True, default=str))
