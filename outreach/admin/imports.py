"""Import leads: upload a CSV or XLSX into one of the user's clients, see every row's fate, then confirm.

django-import-export supplies the upload, the temporary file between the
two steps and the preview page; the checks and the writes are
engines.services.intake.lead_import's, the same as `manage.py import_leads`. Mixed
into the Lead admin (`LeadImportMixin`), it adds an "Import" button to the
lead list.
"""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from import_export import resources
from import_export.admin import ImportMixin
from import_export.fields import Field
from import_export.formats.base_formats import CSV, XLSX
from import_export.forms import ConfirmImportForm, ImportForm
from import_export.results import Error, Result, RowResult
from tablib import Dataset

from engines.services.intake.lead_import import (
    HEADER_ALIASES,
    IMPORTED_FIELDS,
    ImportPreview,
    ImportRow,
    LeadImportError,
    OnDuplicate,
    RowAction,
    apply_import,
    preview_import,
)
from outreach.models import Client, Lead

from .scoping import visible_clients

# Rows drawn on the preview page; the totals above it count every row.
PREVIEW_ROWS = 500
LABELS = {
    "first_name": "First name",
    "last_name": "Last name",
    "full_name": "Name",
    "email": "Email",
    "phone": "Phone",
    "company_name": "Company",
    "title": "Title",
    "industry": "Industry",
    "employee_count": "Employees",
    "country": "Country",
    "region": "Region",
    "timezone": "Time zone",
    "linkedin_url": "LinkedIn URL",
}
PREVIEW_COLUMNS = [LABELS[name] for name in IMPORTED_FIELDS] + ["Note"]
DUPLICATE_CHOICES = [
    (OnDuplicate.SKIP.value, "Skip them: keep those leads as they are"),
    (OnDuplicate.UPDATE.value, "Update them with the file's values (empty cells keep the lead's value)"),
]


class LeadImportForm(ImportForm):
    client = forms.ModelChoiceField(queryset=Client.objects.none(), help_text="The client these leads are for.")
    on_duplicate = forms.ChoiceField(
        label="Leads the client already has (same email)",
        choices=DUPLICATE_CHOICES,
        initial=OnDuplicate.SKIP.value,
        widget=forms.RadioSelect,
    )
    field_order = ["client", "import_file", "format", "on_duplicate"]


class LeadConfirmImportForm(ConfirmImportForm):
    client = forms.ModelChoiceField(queryset=Client.objects.none(), widget=forms.HiddenInput)
    on_duplicate = forms.ChoiceField(choices=DUPLICATE_CHOICES, widget=forms.HiddenInput)


class LeadImportResource(resources.ModelResource):
    """Lead rows for one client; `import_data` hands the whole dataset to the lead import service."""

    first_name = Field(attribute="first_name", column_name="First name")
    last_name = Field(attribute="last_name", column_name="Last name")
    email = Field(attribute="email", column_name="Email")
    phone = Field(attribute="phone", column_name="Phone")
    company_name = Field(attribute="company_name", column_name="Company")
    title = Field(attribute="title", column_name="Title")
    industry = Field(attribute="industry", column_name="Industry")
    employee_count = Field(attribute="employee_count", column_name="Employees")
    country = Field(attribute="country", column_name="Country")
    region = Field(attribute="region", column_name="Region")
    timezone = Field(attribute="timezone", column_name="Time zone")
    linkedin_url = Field(attribute="linkedin_url", column_name="LinkedIn URL")

    class Meta:
        model = Lead
        fields = IMPORTED_FIELDS

    def __init__(self, client: Client | None = None, on_duplicate: str = OnDuplicate.SKIP, **kwargs: Any):
        super().__init__(**kwargs)
        self.client = client
        self.on_duplicate = OnDuplicate(on_duplicate)

    def import_data(self, dataset: Dataset, dry_run: bool = False, **kwargs: Any) -> Result:
        """The preview (dry run), or the import itself; a failed import is reported as an error, nothing written."""
        if self.client is None:
            raise LeadImportError("Choose the client to import the leads into")
        preview = preview_import(self.client, dataset.headers or [], dataset, on_duplicate=self.on_duplicate)
        result = preview_result(preview)
        if not dry_run and preview.is_valid:
            try:
                apply_import(preview)
            except LeadImportError as exc:
                result.append_base_error(Error(exc))
        return result


def preview_result(preview: ImportPreview) -> Result:
    """The preview in import-export's terms: totals of every row, the first rows drawn, invalid rows with errors."""
    result = Result()
    result.diff_headers = PREVIEW_COLUMNS
    result.total_rows = len(preview.rows)
    # Shown above the preview, so a misspelt header or the wrong client is noticed before the import.
    result.ignored_columns = preview.ignored_columns
    result.client = preview.client
    for message in preview.file_errors:
        # The header row is line 1: file-level problems are its errors.
        result.append_invalid_row(1, {}, ValidationError(message))
    import_types = {RowAction.NEW: "new", RowAction.UPDATE: "update", RowAction.SKIP: "skip"}
    for row in preview.rows:
        if row.action == RowAction.INVALID:
            result.totals[RowResult.IMPORT_TYPE_INVALID] += 1
            if len(result.invalid_rows) < PREVIEW_ROWS:
                errors = {LABELS.get(name, name): problems for name, problems in row.errors.items()}
                result.append_invalid_row(row.line, _cells(row, row.raw), ValidationError(errors))
            continue
        result.totals[import_types[row.action]] += 1
        if len(result.rows) < PREVIEW_ROWS:
            row_result = RowResult()
            row_result.import_type = import_types[row.action]
            row_result.diff = list(_cells(row, row.values).values())
            result.append_row_result(row_result)
    return result


def _cells(row: ImportRow, values: dict[str, Any]) -> dict[str, Any]:
    cells = {LABELS[name]: values.get(name, "") for name in IMPORTED_FIELDS}
    cells["Note"] = row.note
    return cells


def _limit_to_user(form: forms.Form, request: HttpRequest) -> None:
    """Only the user's clients; updating existing leads only for users who may change leads."""
    # Both import forms declare these two fields; form.fields is typed as plain Fields.
    cast(forms.ModelChoiceField, form.fields["client"]).queryset = visible_clients(request)
    if not request.user.has_perm("outreach.change_lead"):
        cast(forms.ChoiceField, form.fields["on_duplicate"]).choices = DUPLICATE_CHOICES[:1]


class LeadImportMixin(ImportMixin):
    """The Lead admin's "Import" button: into one of the user's clients, with the user's choice for duplicates."""

    resource_classes = [LeadImportResource]
    import_formats = [CSV, XLSX]
    import_form_class = LeadImportForm
    confirm_form_class = LeadConfirmImportForm
    import_template_name = "admin/outreach/import_leads.html"
    # A LogEntry per row would make a 100,000-row import write 100,000 more rows; the message reports the counts.
    skip_admin_log = True

    def has_import_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("outreach.add_lead") and visible_clients(request).exists()

    def create_import_form(self, request: HttpRequest) -> LeadImportForm:
        form = super().create_import_form(request)
        _limit_to_user(form, request)
        return form

    def create_confirm_form(self, request: HttpRequest, import_form: Any = None) -> LeadConfirmImportForm:
        form = super().create_confirm_form(request, import_form)
        # What is posted at the confirm step is checked again: still one of the user's clients, still allowed.
        _limit_to_user(form, request)
        return form

    def get_confirm_form_initial(self, request: HttpRequest, import_form: Any) -> dict[str, Any]:
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["client"] = import_form.cleaned_data["client"].pk
            initial["on_duplicate"] = import_form.cleaned_data["on_duplicate"]
        return initial

    def get_import_resource_kwargs(self, request: HttpRequest, **kwargs: Any) -> dict[str, Any]:
        form = kwargs.get("form")
        cleaned = getattr(form, "cleaned_data", None) or {}
        return {"client": cleaned.get("client"), "on_duplicate": cleaned.get("on_duplicate", OnDuplicate.SKIP)}

    def get_import_context_data(self, **kwargs: Any) -> dict[str, Any]:
        spellings = {LABELS[name]: ", ".join(aliases) for name, aliases in HEADER_ALIASES.items()}
        context = super().get_import_context_data(**kwargs)
        return {**context, "header_spellings": spellings, "preview_rows": PREVIEW_ROWS}

    def process_result(self, result: Result, request: HttpRequest) -> HttpResponse:
        if result.has_errors() or result.has_validation_errors():
            problems = [str(error.error) for error in result.base_errors] or ["some rows no longer pass the checks"]
            messages.error(request, "Nothing was imported: " + "; ".join(problems) + ". Upload the file again.")
            return HttpResponseRedirect(reverse("admin:outreach_lead_import", current_app=self.admin_site.name))
        return super().process_result(result, request)

    def add_success_message(self, result: Result, request: HttpRequest) -> None:
        totals = result.totals
        messages.success(
            request,
            f"Import finished: {totals['new']} new, {totals['update']} updated and {totals['skip']} skipped leads. "
            "They are being scored and planned in the background.",
        )
