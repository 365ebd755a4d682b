"""Import leads: upload a CSV or XLSX into one of the user's clients, see every row's fate, then confirm.

django-import-export supplies the upload, the temporary file between the
two steps (kept server-side: the confirm step posts only its signed name) and
the preview page; reading the file within the limits, the checks and the
writes are engines.services.intake.lead_import's, the same as `manage.py
import_leads`. Rejected rows are listed as text; when other rows are valid,
the person may import those and download the rejected ones as CSV. Mixed into
the Lead admin (`LeadImportMixin`), it adds an "Import" button to the lead list.

The preview also shows the file's columns and the lead field each is read as (open when a header matched
nothing or no email column was found, folded otherwise). Changing them posts to `import/columns/`, which
previews the kept file again with that mapping (header -> field, "" to leave a column out: the service's
`column_map`, the one `import_leads --column` gives); the confirm step and the rejected-rows download carry
the mapping in a hidden field, checked again when posted.

A confirmed file of more than LEAD_IMPORT_PROGRESS_ROWS rows is answered with a page streamed while the import runs
(`ImportProgressPage`): a line each time about 2% more rows are checked, then imported, then the same message a
smaller import leaves on the lead list. The import runs in a thread lent this request's database connection
(`ImportThread`), the same connection and transaction as without the page; the kept file is removed once the import
has returned, as import-export removes it.
"""

from __future__ import annotations

import io
import json
import logging
import math
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect, StreamingHttpResponse
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST
from import_export import resources
from import_export.admin import ImportMixin
from import_export.fields import Field
from import_export.formats.base_formats import CSV, XLSX
from import_export.forms import ConfirmImportForm, ImportForm
from import_export.results import Error, Result, RowResult
from import_export.signals import post_import
from tablib import Dataset

from engines.services.intake.lead_import import (
    FIELD_LABELS,
    HEADER_ALIASES,
    IMPORTED_FIELDS,
    ImportLimits,
    ImportPreview,
    ImportRow,
    LeadImportError,
    OnDuplicate,
    RowAction,
    apply_import,
    check_file_size,
    match_header,
    preview_import,
    read_table,
    write_rejected_rows,
)
from outreach.models import Client, Lead

from .scoping import visible_clients

# Rows drawn on the preview page, and errors listed; the totals above them count every row.
PREVIEW_ROWS = 500
LABELS = FIELD_LABELS
# The signed name of the kept file is good for a day (import-export's temporary files live in the temp folder).
KEPT_FILE_MAX_AGE = 24 * 3600
PREVIEW_COLUMNS = [LABELS[name] for name in IMPORTED_FIELDS] + ["Note"]
DUPLICATE_CHOICES = [
    (OnDuplicate.SKIP.value, "Skip them: keep those leads as they are"),
    (OnDuplicate.UPDATE.value, "Update them with the file's values (empty cells keep the lead's value)"),
]
IGNORE_COLUMN = ("", "Ignore this column")
MAPPING_CHOICES = [IGNORE_COLUMN, *LABELS.items()]
# Rows looked at for each column's first value, shown beside its select.
SAMPLE_ROWS = 50
UNREADABLE_MAPPING = "The column mapping cannot be read: map the columns again"
# The confirm form's fields naming the kept file, posted back as they were (the name stays signed).
KEPT_FILE_FIELDS = ("import_file_name", "original_file_name", "format", "resource")
# The mapping form posts the kept file's fields under this prefix: on one page with the upload and confirm forms,
# no two forms have fields of the same name.
KEPT_PREFIX = "kept"
# A confirmed import of more rows than the setting LEAD_IMPORT_PROGRESS_ROWS shows its progress while it runs.
DEFAULT_PROGRESS_ROWS = 2000
# That page gets a line each time this share of the rows more has been checked, or imported. The service reports
# in batches (1,000 rows checked, 2,000 written at a time), so a smaller file gets fewer lines.
PROGRESS_STEP = 0.02
# Seconds the page of a finished import waits before opening the lead list (its link opens it at once).
LEAD_LIST_AFTER_SECONDS = 10
PROGRESS_TEMPLATE = "admin/outreach/import_progress.html"
PROGRESS_END_TEMPLATE = "admin/outreach/import_progress_end.html"
# Where import_progress.html is cut: the progress lines and the outcome are written there.
STREAM_MARKER = "<!-- lead-import-progress -->"
CHECKED, IMPORTED = "checked", "imported"
PHASE_TEXT = {
    CHECKED: "Checking the rows: {} of {} rows checked",
    IMPORTED: "Writing the leads: {} of {} rows imported",
}
UNEXPECTED_FAILURE = (
    "Nothing was imported: the import stopped on an unexpected error (it has been logged for the developers). "
    "Upload the file again."
)
# An import that fails unexpectedly on the streamed page is logged as the server error it would have been.
request_logger = logging.getLogger("django.request")


class LeadImportForm(ImportForm):
    client = forms.ModelChoiceField(queryset=Client.objects.none(), help_text="The client these leads are for.")
    on_duplicate = forms.ChoiceField(
        label="Leads the client already has (same email)",
        choices=DUPLICATE_CHOICES,
        initial=OnDuplicate.SKIP.value,
        widget=forms.RadioSelect,
    )
    field_order = ["client", "import_file", "format", "on_duplicate"]

    def clean_import_file(self) -> Any:
        upload = self.cleaned_data["import_file"]
        try:
            check_file_size(upload.name, upload.size, ImportLimits.from_settings())
        except LeadImportError as exc:
            raise ValidationError(str(exc)) from exc
        return upload


class LeadConfirmImportForm(ConfirmImportForm):
    """The kept file, its client and choices: posted to import it, to download its rejected rows, to map its columns."""

    client = forms.ModelChoiceField(queryset=Client.objects.none(), widget=forms.HiddenInput)
    on_duplicate = forms.ChoiceField(choices=DUPLICATE_CHOICES, widget=forms.HiddenInput)
    # The person's column mapping as JSON (header -> field, "" to leave the column out); empty: headers as spelt.
    column_map = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Its own ids: the upload form may be on the same page (to send a fixed file instead).
        kwargs.setdefault("auto_id", "id_confirm_%s")
        super().__init__(*args, **kwargs)
        self.user_pk: object = None

    def clean_import_file_name(self) -> str:
        """The kept file's name, signed for this user at the preview: no other file can be named here."""
        try:
            name = signing.loads(
                self.cleaned_data["import_file_name"], salt=_file_name_salt(self.user_pk), max_age=KEPT_FILE_MAX_AGE
            )
        except signing.BadSignature as exc:
            raise ValidationError("The uploaded file is no longer known: upload it again") from exc
        self.cleaned_data["import_file_name"] = name
        return cast(str, super().clean_import_file_name())

    def clean_format(self) -> str:
        value = str(self.cleaned_data["format"])
        if value not in {str(index) for index in range(len(IMPORT_FORMATS))}:
            raise ValidationError("Unknown file format: upload the file again")
        return value

    def clean_column_map(self) -> dict[str, str]:
        return parse_column_map(self.cleaned_data.get("column_map") or "")


class ColumnMappingForm(forms.Form):
    """One select per header of the kept file: the lead field its column holds, or "Ignore this column"."""

    def __init__(self, headers: Sequence[object], samples: Mapping[str, str], *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_mapping_%s")
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.headers = distinct_headers(headers)
        self.samples = dict(samples)
        for index, header in enumerate(self.headers):
            self.fields[f"column_{index}"] = forms.ChoiceField(label=header, choices=MAPPING_CHOICES, required=False)

    @classmethod
    def for_file(cls, columns: FileColumns) -> ColumnMappingForm:
        """Unbound, each select on the field the preview read its column as."""
        initial = {f"column_{index}": columns.fields.get(header, "") for index, header in enumerate(columns.headers)}
        return cls(columns.headers, columns.samples, initial=initial)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        pairs = [(header, cleaned.get(f"column_{index}") or "") for index, header in enumerate(self.headers)]
        for index, message in mapping_problems(pairs):
            self.add_error(f"column_{index}", message)
        return cleaned

    def column_map(self) -> dict[str, str]:
        """The mapping for the service: every header of the file -> its field, "" to leave the column out."""
        return {header: self.cleaned_data.get(f"column_{index}") or "" for index, header in enumerate(self.headers)}

    def rows(self) -> list[tuple[forms.BoundField, str]]:
        """Each header's select with the column's first value, for the page's table."""
        return [(self[f"column_{index}"], self.samples.get(header, "")) for index, header in enumerate(self.headers)]


def distinct_headers(headers: Iterable[object]) -> list[str]:
    """The file's non-empty headers, in file order, each once (the mapping names a column by its header)."""
    return list(dict.fromkeys(name for name in (str(header or "").strip() for header in headers) if name))


def mapping_problems(pairs: Sequence[tuple[str, str]]) -> list[tuple[int, str]]:
    """(position, what is wrong) of each (header, field) pair naming no lead field, or a field an earlier one has."""
    problems: list[tuple[int, str]] = []
    first: dict[str, str] = {}
    for index, (header, target) in enumerate(pairs):
        if not target:
            continue
        if target not in LABELS:
            problems.append((index, f"{target!r} (for column {header!r}) is not a lead field"))
        elif target in first:
            problems.append(
                (index, f"Columns {first[target]!r} and {header!r} are both mapped to {LABELS[target]}: keep one")
            )
        else:
            first[target] = header
    return problems


def parse_column_map(text: str) -> dict[str, str]:
    """The mapping the confirm step carries, checked as the mapping form checks it (a forged one is refused)."""
    if not text:
        return {}
    try:
        loaded = json.loads(text)
    except ValueError as exc:
        raise ValidationError(UNREADABLE_MAPPING) from exc
    if not isinstance(loaded, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in loaded.items()):
        raise ValidationError(UNREADABLE_MAPPING)
    mapping = cast(dict[str, str], loaded)
    problems = mapping_problems(list(mapping.items()))
    if problems:
        raise ValidationError([message for _index, message in problems])
    return mapping


@dataclass(frozen=True)
class FileColumns:
    """The file's headers as the mapping form shows them, and whether the page should ask about them (`unsure`)."""

    headers: list[str]
    fields: dict[str, str]  # header -> the field its column is read as, "" when left out
    samples: dict[str, str]  # header -> the column's first value
    unsure: bool
    mapped: bool  # read with a mapping the person chose


def file_columns(preview: ImportPreview, dataset: Dataset, column_map: Mapping[str, str]) -> FileColumns:
    """What the mapping form shows: unsure when a header matched nothing (and was not mapped by hand), the file's
    columns were refused, or no column gives the email."""
    headers = distinct_headers(dataset.headers or [])
    fields = {header: match_header(header, column_map) or "" for header in headers}
    unmatched = [header for header in headers if fields[header] not in LABELS and header not in column_map]
    no_email = not column_map and "email" not in preview.columns.values()
    unsure = bool(unmatched or preview.file_errors or no_email)
    return FileColumns(headers, fields, column_samples(dataset.headers or [], dataset), unsure, bool(column_map))


def column_samples(headers: Sequence[object], rows: Iterable[Sequence[object]]) -> dict[str, str]:
    """Each header's first non-empty value among the first SAMPLE_ROWS rows."""
    positions: dict[str, int] = {}
    for index, header in enumerate(headers):
        if str(header or "").strip():
            positions.setdefault(str(header).strip(), index)
    samples: dict[str, str] = {}
    for row in islice(rows, SAMPLE_ROWS):
        for header, index in positions.items():
            cell = row[index] if index < len(row) else None
            text = "" if cell is None else str(cell).strip()
            if text and header not in samples:
                samples[header] = text
    return samples


def _file_name_salt(user_pk: object) -> str:
    return f"outreach.lead-import.file:{user_pk}"


class LeadCSV(CSV):
    """CSV handed to the service as bytes: it decodes (UTF-8, else a message), streams and counts the rows."""

    file_name = "the file"

    def is_binary(self) -> bool:
        return True

    def get_read_mode(self) -> str:
        return "rb"

    def create_dataset(self, in_stream: bytes) -> Dataset:
        return _dataset(in_stream, self.file_name, ".csv")


class LeadXLSX(XLSX):
    """XLSX read by the service: unpacked size checked first, then the first sheet streamed row by row."""

    file_name = "the file"

    def create_dataset(self, in_stream: bytes) -> Dataset:
        return _dataset(in_stream, self.file_name, ".xlsx")


# The confirm form's "format" is an index into this list.
IMPORT_FORMATS = [LeadCSV, LeadXLSX]


def _dataset(data: bytes, file_name: str, kind: str) -> Dataset:
    limits = ImportLimits.from_settings()
    check_file_size(file_name, len(data), limits)
    headers, rows = read_table(io.BytesIO(data), file_name, limits, kind=kind)
    return Dataset(*rows, headers=headers)


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

    def __init__(
        self,
        client: Client | None = None,
        on_duplicate: str = OnDuplicate.SKIP,
        column_map: Mapping[str, str] | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.client = client
        self.on_duplicate = OnDuplicate(on_duplicate)
        # The person's mapping (header -> field, "" to leave a column out), handed to the service as it is.
        self.column_map = dict(column_map or {})

    def import_data(
        self,
        dataset: Dataset,
        dry_run: bool = False,
        progress: Callable[[str, int], object] | None = None,
        **kwargs: Any,
    ) -> Result:
        """The preview (dry run), or the import itself; a failed import is reported as an error, nothing written.

        `progress(phase, rows)` hears of rows checked (CHECKED) and imported (IMPORTED), as the service reports them.
        """
        if self.client is None:
            raise LeadImportError("Choose the client to import the leads into")
        preview = self.preview(dataset, progress=_phase(progress, CHECKED))
        if dry_run or not preview.importable:
            result = preview_result(preview)
            result.file_columns = file_columns(preview, dataset, self.column_map)
            if self.column_map:  # left out as the person chose: no "did you mean"
                result.ignored_columns = list(preview.ignored_columns)
            return result
        # Confirmed: the valid rows are imported, the rejected ones left out (the person saw them listed).
        result = preview_result(preview, with_invalid_rows=False)
        try:
            imported = apply_import(preview, skip_invalid=True, progress=_phase(progress, IMPORTED))
        except LeadImportError as exc:
            result.append_base_error(Error(exc))
        else:
            result.totals["rejected"] = imported.rejected
        return result

    def preview(self, dataset: Dataset, progress: Callable[[int], object] | None = None) -> ImportPreview:
        if self.client is None:
            raise LeadImportError("Choose the client to import the leads into")
        return preview_import(
            self.client,
            dataset.headers or [],
            dataset,
            on_duplicate=self.on_duplicate,
            column_map=self.column_map or None,
            progress=progress,
        )


def _phase(progress: Callable[[str, int], object] | None, phase: str) -> Callable[[int], object] | None:
    """The service's progress callback (rows done since the last call) for one phase of the import."""
    if progress is None:
        return None
    return lambda rows: progress(phase, rows)


def preview_result(preview: ImportPreview, *, with_invalid_rows: bool = True) -> Result:
    """The preview in import-export's terms: totals of every row, the first rows drawn, invalid rows with errors.

    The rejected rows' errors are also listed as text (`problems`: line, field, message); `importable` counts
    the rows that "Import the valid rows" would import.
    """
    result = Result()
    result.diff_headers = PREVIEW_COLUMNS
    result.total_rows = len(preview.rows)
    # Shown above the preview, so a misspelt header or the wrong client is noticed before the import.
    result.ignored_columns = preview.described_ignored_columns()
    result.client = preview.client
    result.importable = preview.importable
    result.problems = [(1, "File", message) for message in preview.file_errors] + [
        (problem.line, problem.field, problem.message) for problem in preview.problems(PREVIEW_ROWS)
    ]
    for message in preview.file_errors:
        # The header row is line 1: file-level problems are its errors.
        result.append_invalid_row(1, {}, ValidationError(message))
    import_types = {RowAction.NEW: "new", RowAction.UPDATE: "update", RowAction.SKIP: "skip"}
    for row in preview.rows:
        if row.action == RowAction.INVALID:
            result.totals[RowResult.IMPORT_TYPE_INVALID] += 1
            if with_invalid_rows and len(result.invalid_rows) < PREVIEW_ROWS:
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
    import_formats = IMPORT_FORMATS
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
        # What is posted at the confirm step is checked again: still one of the user's clients, still allowed,
        # and the kept file one this user uploaded.
        _limit_to_user(form, request)
        form.user_pk = request.user.pk
        return form

    def _kept_file_form(self, request: HttpRequest, **kwargs: Any) -> LeadConfirmImportForm:
        """The confirm form built from `kwargs` (data or initial), not from this request's POST."""
        form = cast(LeadConfirmImportForm, self.get_confirm_form_class(request)(**kwargs))
        _limit_to_user(form, request)
        form.user_pk = request.user.pk
        return form

    def get_confirm_form_initial(self, request: HttpRequest, import_form: Any) -> dict[str, Any]:
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["client"] = import_form.cleaned_data["client"].pk
            initial["on_duplicate"] = import_form.cleaned_data["on_duplicate"]
            initial["import_file_name"] = signing.dumps(
                initial["import_file_name"], salt=_file_name_salt(request.user.pk)
            )
        return initial

    def write_to_tmp_storage(self, import_file: Any, input_format: Any) -> Any:
        """The upload kept for the confirm step (joined once, not re-concatenated per chunk); its name for messages."""
        input_format.file_name = import_file.name
        storage = self.get_tmp_storage_class()(read_mode=input_format.get_read_mode())
        storage.save(b"".join(import_file.chunks()))
        return storage

    def add_data_read_fail_error_to_form(self, form: forms.Form, e: Exception) -> None:
        if isinstance(e, LeadImportError):  # over a limit, not UTF-8, not a workbook: the service says what to do
            form.add_error("import_file", str(e))
        else:
            super().add_data_read_fail_error_to_form(form, e)

    def import_action(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        """import-export's preview; with rows rejected but others valid, the confirm form imports the valid ones.

        Once the file is read, the page also has the column mapping form (`_columns_context`).
        """
        response = super().import_action(request, **kwargs)
        context = getattr(response, "context_data", None)
        if isinstance(response, TemplateResponse) and context is not None:
            result, form = context.get("result"), context.get("form")
            if result is not None and form is not None and form.is_valid():
                if _may_confirm(result) and not context.get("confirm_form"):
                    context["confirm_form"] = self.create_confirm_form(request, import_form=form)
                context.update(self._columns_context(request, result, self.get_confirm_form_initial(request, form)))
        return response

    def _columns_context(self, request: HttpRequest, result: Result, initial: dict[str, Any]) -> dict[str, Any]:
        """The mapping form, pre-filled as the preview read the columns, and the kept file's fields to post with it."""
        columns: FileColumns | None = getattr(result, "file_columns", None)
        if columns is None:
            return {}
        mapping_form = ColumnMappingForm.for_file(columns)
        return {
            "kept_form": self._kept_file_form(request, initial=initial, prefix=KEPT_PREFIX),
            "mapping_form": mapping_form,
            "mapping_rows": mapping_form.rows(),
            "mapping_open": columns.unsure,
        }

    @method_decorator(require_POST)
    def columns_view(self, request: HttpRequest) -> HttpResponse:
        """The preview again, on the kept file, its columns read as the person mapped them; never a new upload.

        A mapping with two columns for one field, or a field we do not have, is shown back with its errors.
        """
        if not self.has_import_permission(request):
            raise PermissionDenied
        kept = self._kept_file_form(request, data=request.POST, prefix=KEPT_PREFIX)
        dataset = self._kept_dataset(kept)
        if dataset is None:
            return self._file_gone(request)
        chosen = kept.cleaned_data
        initial: dict[str, Any] = {name: request.POST.get(kept.add_prefix(name), "") for name in KEPT_FILE_FIELDS}
        initial.update(client=chosen["client"].pk, on_duplicate=chosen["on_duplicate"])
        upload = self._upload_form(request, initial)
        headers = list(dataset.headers or [])
        mapping_form = ColumnMappingForm(headers, column_samples(headers, dataset), data=request.POST)
        if not mapping_form.is_valid():
            kept_again = self._kept_file_form(request, initial=initial, prefix=KEPT_PREFIX)
            extra = {"kept_form": kept_again, "mapping_form": mapping_form, "mapping_rows": mapping_form.rows()}
            return self._import_page(request, upload, {**extra, "mapping_open": True})
        column_map = mapping_form.column_map()
        resource = LeadImportResource(chosen["client"], chosen["on_duplicate"], column_map)
        result = resource.import_data(dataset, dry_run=True)
        initial["column_map"] = json.dumps(column_map)
        extra = {"result": result, **self._columns_context(request, result, initial)}
        if _may_confirm(result):
            extra["confirm_form"] = self._kept_file_form(request, initial=initial)
        return self._import_page(request, upload, extra)

    def _kept_dataset(self, form: LeadConfirmImportForm) -> Dataset | None:
        """The kept file named by a valid confirm form, read again; None when the form or the file is not good."""
        if not form.is_valid():
            return None
        data = form.cleaned_data
        input_format = self.get_import_formats()[int(data["format"])]()
        input_format.file_name = data["original_file_name"]
        storage = self.get_tmp_storage_class()(name=data["import_file_name"], read_mode=input_format.get_read_mode())
        try:
            return cast(Dataset, input_format.create_dataset(storage.read()))
        except (LeadImportError, OSError):  # removed since (imported), or renamed to another format
            return None

    def _file_gone(self, request: HttpRequest) -> HttpResponse:
        messages.error(request, "The uploaded file is no longer known: upload it again.")
        return HttpResponseRedirect(reverse("admin:outreach_lead_import", current_app=self.admin_site.name))

    def _upload_form(self, request: HttpRequest, initial: dict[str, Any]) -> forms.Form:
        """The upload form, unbound, on the kept file's client and choices: to send another file instead."""
        form_class = self.get_import_form_class(request)
        form = form_class(self.get_import_formats(), self.get_import_resource_classes(request), initial=initial)
        _limit_to_user(form, request)
        return cast(forms.Form, form)

    def _import_page(self, request: HttpRequest, upload: forms.Form, extra: dict[str, Any]) -> TemplateResponse:
        """The import page as import-export's `import_action` draws it, with `extra` (result, forms)."""
        resource = LeadImportResource()
        fields = [f.column_name for f in resource.get_user_visible_fields()]
        context = {
            **self.get_import_context_data(),
            **self.admin_site.each_context(request),
            "title": _("Import"),
            "form": upload,
            "opts": self.model._meta,
            "media": self.media + upload.media,
            "fields_list": [(resource.get_display_name(), fields)],
            "import_error_display": self.import_error_display,
            **extra,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, [self.import_template_name], context)

    def get_urls(self) -> list[URLPattern]:
        info = self.opts.app_label, self.opts.model_name
        rejected = path(
            "import/rejected/",
            self.admin_site.admin_view(self.rejected_rows_view),
            name="{}_{}_import_rejected".format(*info),
        )
        columns = path(
            "import/columns/",
            self.admin_site.admin_view(self.columns_view),
            name="{}_{}_import_columns".format(*info),
        )
        return [rejected, columns, *super().get_urls()]

    @method_decorator(require_POST)
    def rejected_rows_view(self, request: HttpRequest) -> HttpResponse:
        """The preview's rejected rows as CSV, from the kept file (which stays for the confirm step)."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = self.create_confirm_form(request)
        dataset = self._kept_dataset(form)
        if dataset is None:
            return self._file_gone(request)
        data = form.cleaned_data
        resource = LeadImportResource(data["client"], data["on_duplicate"], data["column_map"])
        out = io.StringIO()
        write_rejected_rows(resource.preview(dataset), dataset.headers or [], dataset, out)
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
        stem = str(data["original_file_name"]).rsplit(".", 1)[0][:80] or "leads"
        response["Content-Disposition"] = f'attachment; filename="{_safe_file_name(stem)}-rejected.csv"'
        return response

    def get_import_resource_kwargs(self, request: HttpRequest, **kwargs: Any) -> dict[str, Any]:
        form = kwargs.get("form")
        cleaned = getattr(form, "cleaned_data", None) or {}
        return {
            "client": cleaned.get("client"),
            "on_duplicate": cleaned.get("on_duplicate", OnDuplicate.SKIP),
            # The confirm form's mapping (the upload form has none): the import reads the columns as the preview did.
            "column_map": cleaned.get("column_map") or {},
        }

    def get_import_context_data(self, **kwargs: Any) -> dict[str, Any]:
        spellings = {LABELS[name]: ", ".join(aliases) for name, aliases in HEADER_ALIASES.items()}
        context = super().get_import_context_data(**kwargs)
        limits = ImportLimits.from_settings()
        shown = {"max_megabytes": f"{limits.max_bytes / 1_000_000:,.1f}", "max_rows": f"{limits.max_rows:,}"}
        return {**context, "header_spellings": spellings, "preview_rows": PREVIEW_ROWS, "import_limits": shown}

    def process_import(self, request: HttpRequest, **kwargs: Any) -> HttpResponseBase:
        """The confirmed import, as import-export does it; of more than LEAD_IMPORT_PROGRESS_ROWS rows, streamed.

        A smaller file is imported here and answered with a redirect and a message, as before. A larger one is
        answered with a page that shows the import's progress while it runs (`_import_with_progress`).
        """
        if not self.has_import_permission(request):
            raise PermissionDenied
        confirm_form = self.create_confirm_form(request)
        if not confirm_form.is_valid():
            return cast(HttpResponseBase, super().process_import(request, **kwargs))  # the confirm form's errors
        # As import-export reads the kept file (ImportMixin.process_import).
        input_format = self.get_import_formats()[int(confirm_form.cleaned_data["format"])](encoding=self.from_encoding)
        tmp_storage = self.get_tmp_storage_class()(
            name=confirm_form.cleaned_data["import_file_name"],
            encoding=None if input_format.is_binary() else self.from_encoding,
            read_mode=input_format.get_read_mode(),
            **self.get_tmp_storage_class_kwargs(),
        )
        dataset = input_format.create_dataset(tmp_storage.read())
        if len(dataset) > progress_rows():
            return self._import_with_progress(request, confirm_form, dataset, tmp_storage, **kwargs)
        result = self.process_dataset(dataset, confirm_form, request, **kwargs)
        tmp_storage.remove()
        return self.process_result(result, request)

    def _import_with_progress(
        self, request: HttpRequest, form: LeadConfirmImportForm, dataset: Dataset, tmp_storage: Any, **kwargs: Any
    ) -> StreamingHttpResponse:
        """The page of the import's progress, written while a thread imports on this request's connection."""
        request.current_app = self.admin_site.name
        page = ImportProgressPage.render(request, self._progress_context(request, form, len(dataset)), len(dataset))

        def run(progress: Callable[[str, int], object]) -> Result:
            return cast(Result, self.process_dataset(dataset, form, request, progress=progress, **kwargs))

        response = StreamingHttpResponse(
            self._progress_stream(request, page, ImportThread(run), tmp_storage),
            content_type="text/html; charset=utf-8",
        )
        response["X-Accel-Buffering"] = "no"  # nginx would otherwise hold the page until the import has ended
        return response

    def _progress_context(self, request: HttpRequest, form: LeadConfirmImportForm, rows: int) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "title": "Importing leads",
            "opts": self.model._meta,
            "client": form.cleaned_data["client"],
            "file_name": form.cleaned_data["original_file_name"] or "the file",
            "total_rows": rows,
            "total_rows_text": f"{rows:,}",
            "lead_list_url": reverse("admin:outreach_lead_changelist", current_app=self.admin_site.name),
            "import_url": reverse("admin:outreach_lead_import", current_app=self.admin_site.name),
            "refresh_seconds": LEAD_LIST_AFTER_SECONDS,
        }

    def _progress_stream(
        self, request: HttpRequest, page: ImportProgressPage, job: ImportThread, tmp_storage: Any
    ) -> Iterator[str]:
        """The page: its start, a line per step of the import, how it ended, its end.

        The import runs to its end even when the browser leaves (as it would without the page): closing this
        iterator waits for it, then the kept file is removed as import-export removes it.
        """
        try:
            job.start()  # once the server asks for the page: a response never sent starts no import
            yield page.start()
            for report in job.reports():
                lines = page.advance(report)
                if lines:
                    yield lines
        finally:
            outcome = job.finish()
            self._after_streamed_import(request, outcome, tmp_storage)
        yield page.end(self._ending(outcome))

    def _after_streamed_import(self, request: HttpRequest, outcome: Outcome | None, tmp_storage: Any) -> None:
        """What process_import does after the import: the kept file removed once the import returned (an error
        that escaped it leaves the file, as a server error did), the log entries and signal of a finished one."""
        if outcome is None:  # the import did not start
            return
        if outcome.result is None:
            error = outcome.error
            exc_info = (type(error), error, error.__traceback__) if error is not None else None
            extra = {"status_code": 500, "request": request}
            request_logger.error("Lead import failed: %s", request.path, exc_info=exc_info, extra=extra)
            return
        tmp_storage.remove()
        if not _failed(outcome.result):
            self.generate_log_entries(outcome.result, request)
            post_import.send(sender=None, model=self.model)

    def _ending(self, outcome: Outcome | None) -> dict[str, Any]:
        """The end of the page: the message process_result gives, and the counts; or why nothing was imported."""
        result = outcome.result if outcome is not None else None
        if result is None:
            return {"finished": False, "message": UNEXPECTED_FAILURE}
        if _failed(result):
            return {"finished": False, "message": failure_message(result)}
        totals = result.totals
        counts = {
            "new": totals["new"],
            "updated": totals["update"],
            "skipped": totals["skip"],
            "rejected": totals.get("rejected", 0),
        }
        return {"finished": True, "message": success_message(result), "counts": counts}

    def process_result(self, result: Result, request: HttpRequest) -> HttpResponse:
        if _failed(result):
            messages.error(request, failure_message(result))
            return HttpResponseRedirect(reverse("admin:outreach_lead_import", current_app=self.admin_site.name))
        return super().process_result(result, request)

    def add_success_message(self, result: Result, request: HttpRequest) -> None:
        messages.success(request, success_message(result))


def progress_rows() -> int:
    """Confirmed imports of more data rows than this show their progress (setting LEAD_IMPORT_PROGRESS_ROWS)."""
    return int(getattr(settings, "LEAD_IMPORT_PROGRESS_ROWS", DEFAULT_PROGRESS_ROWS))


def _failed(result: Result) -> bool:
    return bool(result.has_errors() or result.has_validation_errors())


def failure_message(result: Result) -> str:
    """Why a confirmed import wrote nothing: the import page's message, also the end of the progress page."""
    problems = [str(error.error) for error in result.base_errors] or ["some rows no longer pass the checks"]
    return "Nothing was imported: " + "; ".join(problems) + ". Upload the file again."


def success_message(result: Result) -> str:
    """The counts of a finished import: the lead list's message, also the end of the progress page."""
    totals = result.totals
    rejected = totals.get("rejected", 0)
    return (
        f"Import finished: {totals['new']} new, {totals['update']} updated and {totals['skip']} skipped leads"
        + (f"; {rejected} rejected row{'s' if rejected != 1 else ''} left out" if rejected else "")
        + ". They are being scored and planned in the background."
    )


@dataclass(frozen=True)
class Progress:
    """Rows more done in one phase of the import (CHECKED or IMPORTED) since its last report."""

    phase: str
    rows: int


@dataclass(frozen=True)
class Outcome:
    """How the import ended: import-export's result (maybe a refused import), or the error nothing caught."""

    result: Result | None = None
    error: Exception | None = None


class ImportThread:
    """Runs the import in a thread on this request's database connection and hands its progress back.

    A WSGI server sends what the response's iterator yields from the request's thread, so the import cannot run
    there while the page is written. The connection is lent, not shared: the request's thread touches no database
    while the import runs (it waits for its reports) and until the thread has ended (`finish`). So the import runs
    in the connection, and any transaction, it would run in without the page: apply_import's atomic block, its
    on_commit task, a failure rolled back whole.
    """

    def __init__(self, run: Callable[[Callable[[str, int], object]], Result]) -> None:
        self._run = run
        self._reports: queue.SimpleQueue[Progress | Outcome] = queue.SimpleQueue()
        self._connection = connections[DEFAULT_DB_ALIAS]
        self._thread = threading.Thread(target=self._work, name="lead-import", daemon=True)
        self._lent = False
        self.outcome: Outcome | None = None

    def start(self) -> None:
        self._connection.inc_thread_sharing()
        try:
            self._thread.start()
        except BaseException:
            self._connection.dec_thread_sharing()
            raise
        self._lent = True

    def reports(self) -> Iterator[Progress]:
        """The import's progress as it comes; stops when the import has ended (then `outcome` says how)."""
        while self.outcome is None:
            report = self._reports.get()
            if isinstance(report, Outcome):
                self.outcome = report
            else:
                yield report

    def finish(self) -> Outcome | None:
        """Wait for the import to end and take the connection back; how it ended, None if it never started."""
        if not self._lent:
            return self.outcome
        self._thread.join()
        self._connection.dec_thread_sharing()
        self._lent = False
        while self.outcome is None:  # the page stopped reading (the browser left): the outcome is the last report
            report = self._reports.get()
            if isinstance(report, Outcome):
                self.outcome = report
        return self.outcome

    def _work(self) -> None:
        # The last report is always the outcome: the request's thread waits for it.
        outcome = Outcome(error=RuntimeError("the import thread stopped without a result"))
        try:
            connections[DEFAULT_DB_ALIAS] = self._connection
            outcome = Outcome(result=self._run(self._report))
        except Exception as exc:  # apply_import's atomic block rolled back: the page says so, the view logs it
            outcome = Outcome(error=exc)
        finally:
            self._reports.put(outcome)

    def _report(self, phase: str, rows: int) -> None:
        self._reports.put(Progress(phase, rows))


class ImportProgressPage:
    """The streamed page (import_progress.html cut at STREAM_MARKER), a line per step of rows, and its end."""

    def __init__(self, head: str, tail: str, context: dict[str, Any], total: int) -> None:
        self.head, self.tail, self.context, self.total = head, tail, context, total
        self.step = max(1, math.ceil(total * PROGRESS_STEP))
        self.done = dict.fromkeys((CHECKED, IMPORTED), 0)
        self.shown = dict.fromkeys((CHECKED, IMPORTED), 0)

    @classmethod
    def render(cls, request: HttpRequest, context: dict[str, Any], total: int) -> ImportProgressPage:
        html = render_to_string(PROGRESS_TEMPLATE, context, request=request)
        head, marker, tail = html.partition(STREAM_MARKER)
        if not marker:
            raise ValueError(f"{PROGRESS_TEMPLATE} must contain {STREAM_MARKER}")
        return cls(head, tail, context, total)

    def start(self) -> str:
        return self.head + '<div class="import-steps" aria-live="polite">\n' + self.line(CHECKED)

    def advance(self, report: Progress) -> str:
        """The line `report` brings, if any: when a step of rows more is done in its phase, or all of them."""
        phase = report.phase
        self.done[phase] = min(self.total, self.done[phase] + report.rows)
        done, shown = self.done[phase], self.shown[phase]
        lines = ""
        if done - shown >= self.step or (done == self.total and shown < self.total):
            lines = self.line(phase)
        if phase == CHECKED and done == self.total and shown < self.total:
            lines += self.line(IMPORTED)  # every row checked: the writing starts
        return lines

    def line(self, phase: str) -> str:
        done = self.shown[phase] = self.done[phase]
        percent = 100 * done // self.total if self.total else 100
        return format_html(
            '<p class="import-step" data-phase="{}" data-rows="{}"><progress max="{}" value="{}">{}%</progress>'
            "{} ({}%)</p>\n",
            phase,
            done,
            self.total,
            done,
            percent,
            PHASE_TEXT[phase].format(f"{done:,}", f"{self.total:,}"),
            percent,
        )

    def end(self, ending: dict[str, Any]) -> str:
        """How the import ended, and the rest of the page. Finished, the last line says every row is done (rows
        folded into another with the same email, or updating one lead twice, are not reported as written)."""
        last = ""
        if ending.get("finished") and self.shown[IMPORTED] < self.total:
            self.done[IMPORTED] = self.total
            last = self.line(IMPORTED)
        return last + render_to_string(PROGRESS_END_TEMPLATE, {**self.context, **ending}) + self.tail


def _may_confirm(result: Result) -> bool:
    """Whether the preview can be imported: no file-level failure and some row to create, update or skip."""
    return not result.has_errors() and getattr(result, "importable", 0) > 0


def _safe_file_name(stem: str) -> str:
    return "".join(char if char.isalnum() or char in "-_" else "_" for char in stem)
