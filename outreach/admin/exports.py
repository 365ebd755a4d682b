"""Export leads and activities to CSV or XLSX from their change lists, cut to the user's clients like the list.

The **Export CSV** and **Export XLSX** buttons above a list carry the list's query string (filters, search,
ordering) to `export_view`, which builds the same ChangeList as the page and exports all of its rows, not only
the page shown; the two list actions export the rows ticked (or every row, with "select all"). Both need the
view permission of the model, and both start from the admin's own queryset, so a row of another client never
leaves, whatever the URL says.

Rows are read with `values_list(...).iterator()`: a CSV is streamed as it is read, an XLSX is written row by row
by openpyxl's write-only workbook into a temporary file, then sent; neither holds the rows in memory. Only the
columns listed below leave (no metadata, no provider payloads, nothing of a client but its name). Every text cell
a spreadsheet would take for a formula (it starts with =, +, -, @, a tab or a carriage return: OWASP's "CSV
injection") gets a leading single quote, in both formats. Times are UTC: ISO 8601 text in CSV, date-time cells
in XLSX, the headers say "(UTC)".
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ERROR_FLAG
from django.core.exceptions import PermissionDenied
from django.db.models import Expression, QuerySet
from django.db.models.fields.json import KT
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE  # type: ignore[import-untyped]

from engines.services.scoring.lead_score import als_tier

Cell = str | int | float | bool | datetime | None

# A text cell starting with one of these is read as a formula (or shifted into one) by spreadsheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Rows fetched from the database at a time (a server-side cursor on PostgreSQL).
CHUNK_SIZE = 2000
# CSV rows written per chunk of the streamed response.
CSV_ROWS_PER_CHUNK = 500
# An XLSX sheet holds at most this many rows, the header included; a longer export goes on in another sheet.
XLSX_MAX_ROWS = 1_048_576
# The most characters an Excel cell holds; longer text is cut there (Excel would refuse the file).
XLSX_MAX_CELL_CHARS = 32_767
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS = {"csv": "CSV", "xlsx": "XLSX"}


def _same(value: Any) -> Cell:
    return value


@dataclass(frozen=True)
class Column:
    """One exported column: its header, the values_list lookups it is made of, and how they make its cell."""

    header: str
    sources: tuple[str, ...]
    value: Callable[..., Cell] = _same


def column(header: str, source: str | None = None, value: Callable[..., Cell] = _same) -> Column:
    return Column(header, (source or header,), value)


@dataclass(frozen=True)
class ExportSpec:
    """What an export of one model writes: its columns, the annotations they read, the file's name and sheet."""

    file_stem: str
    sheet_title: str
    columns: tuple[Column, ...]
    annotations: Mapping[str, Expression] = field(default_factory=dict)

    @property
    def headers(self) -> list[str]:
        return [col.header for col in self.columns]

    def rows(self, queryset: QuerySet[Any]) -> Iterator[list[Cell]]:
        """Each row's cells, read a chunk at a time; the queryset's filters and ordering are kept."""
        lookups = list(dict.fromkeys(source for col in self.columns for source in col.sources))
        positions = [(col.value, [lookups.index(source) for source in col.sources]) for col in self.columns]
        if self.annotations:
            queryset = queryset.annotate(**self.annotations)
        for values in queryset.values_list(*lookups).iterator(chunk_size=CHUNK_SIZE):
            yield [value(*(values[i] for i in indexes)) for value, indexes in positions]


def _tier(score: int | None) -> str:
    return "" if score is None else str(als_tier(score))


def _name(first_name: str, last_name: str) -> str:
    return f"{first_name} {last_name}".strip()


def _text(value: Any) -> str:
    """A text read out of the content snapshot (KT): "" when missing."""
    return "" if value is None else str(value)


LEAD_EXPORT = ExportSpec(
    file_stem="leads",
    sheet_title="Leads",
    columns=(
        column("id", "pk"),
        column("client", "client__name"),
        column("first_name"),
        column("last_name"),
        column("email"),
        column("phone"),
        column("linkedin_url"),
        column("title"),
        column("company_name"),
        column("industry"),
        column("employee_count"),
        column("country"),
        column("region"),
        column("timezone"),
        column("status"),
        column("score", "als_score"),
        column("tier", "als_score", _tier),
        column("do_not_contact"),
        column("unsubscribed", "is_unsubscribed"),
        column("bounced", "has_bounced"),
        column("email_opted_out"),
        column("sms_opted_out"),
        column("linkedin_opted_out"),
        column("voice_opted_out"),
        column("phone_unusable"),
        column("sms_unsupported"),
        column("touch_count"),
        column("last_contacted_at (UTC)", "last_contacted_at"),
        column("converted_at (UTC)", "converted_at"),
        column("created_at (UTC)", "created_at"),
    ),
)

ACTIVITY_EXPORT = ExportSpec(
    file_stem="activities",
    sheet_title="Activities",
    columns=(
        column("id", "pk", str),
        column("client", "client__name"),
        column("lead_id"),
        column("lead_email", "lead__email"),
        Column("lead_name", ("lead__first_name", "lead__last_name"), _name),
        column("action"),
        column("channel"),
        column("touch_number"),
        column("created_at (UTC)", "created_at"),
        column("provider"),
        column("provider_message_id"),
        column("led_to_booking"),
        column("subject", "export_subject", _text),
        column("body", "export_body", _text),
    ),
    annotations={"export_subject": KT("content_snapshot__subject"), "export_body": KT("content_snapshot__body")},
)


# ----------------------------------------------------------------------------
# Cells and files
# ----------------------------------------------------------------------------


def escape_formula(text: str) -> str:
    """`text` with a leading single quote when a spreadsheet would read it as a formula (OWASP CSV injection)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _utc(value: datetime) -> datetime:
    """The moment in UTC, to the second, without a time zone (what a spreadsheet cell can hold)."""
    moment = value.astimezone(UTC) if timezone.is_aware(value) else value
    return moment.replace(tzinfo=None, microsecond=0)


def csv_cell(value: Cell) -> str | int | float:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _utc(value).isoformat() + "Z"
    if isinstance(value, int | float):
        return value
    return escape_formula(str(value))


def xlsx_cell(value: Cell) -> Cell:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime):
        return _utc(value)
    # Control characters are not allowed in the file: dropped before the formula check, so none hides a formula.
    return escape_formula(ILLEGAL_CHARACTERS_RE.sub("", str(value)))[:XLSX_MAX_CELL_CHARS]


class _Buffer:
    """A file csv.writer writes into, read back a chunk at a time."""

    def __init__(self) -> None:
        self.text = io.StringIO()

    def write(self, value: str) -> int:
        return self.text.write(value)

    def take(self) -> str:
        chunk = self.text.getvalue()
        self.text.seek(0)
        self.text.truncate()
        return chunk


def csv_chunks(headers: list[str], rows: Iterable[list[Cell]]) -> Iterator[str]:
    """The CSV text (RFC 4180: comma, double quotes, CRLF) in chunks of CSV_ROWS_PER_CHUNK rows."""
    buffer = _Buffer()
    writer = csv.writer(buffer)
    writer.writerow([escape_formula(header) for header in headers])
    for count, row in enumerate(rows, start=1):
        writer.writerow([csv_cell(value) for value in row])
        if count % CSV_ROWS_PER_CHUNK == 0:
            yield buffer.take()
    yield buffer.take()


def xlsx_file(sheet_title: str, headers: list[str], rows: Iterable[list[Cell]]) -> IO[bytes]:
    """A temporary file holding the workbook, at its start; a sheet that is full goes on in "<title> (2)"..."""
    workbook = Workbook(write_only=True)
    header = [xlsx_cell(header) for header in headers]
    sheets = 1
    sheet = workbook.create_sheet(sheet_title)
    sheet.append(header)
    filled = 1
    for row in rows:
        if filled >= XLSX_MAX_ROWS:
            sheets += 1
            sheet = workbook.create_sheet(f"{sheet_title} ({sheets})")
            sheet.append(header)
            filled = 1
        sheet.append([xlsx_cell(value) for value in row])
        filled += 1
    file = tempfile.TemporaryFile()
    try:
        workbook.save(file)
    except BaseException:
        file.close()
        raise
    file.seek(0)
    return file


def export_response(queryset: QuerySet[Any], spec: ExportSpec, fmt: str) -> HttpResponseBase:
    """The queryset's rows as a download: a streamed CSV, or an XLSX file."""
    filename = f"{spec.file_stem}-{timezone.now():%Y%m%d-%H%M%S}.{fmt}"
    rows = spec.rows(queryset)
    if fmt == "xlsx":
        workbook = xlsx_file(spec.sheet_title, spec.headers, rows)
        return FileResponse(workbook, as_attachment=True, filename=filename, content_type=XLSX_CONTENT_TYPE)
    response = StreamingHttpResponse(csv_chunks(spec.headers, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# ----------------------------------------------------------------------------
# The admin
# ----------------------------------------------------------------------------


def _export_action(fmt: str) -> Callable[[Any, HttpRequest, QuerySet[Any]], HttpResponseBase]:
    def export_selected(model_admin: ChangeListExportMixin, request: HttpRequest, queryset: QuerySet[Any]) -> Any:
        return export_response(queryset, model_admin.export_spec, fmt)

    export_selected.__name__ = f"export_selected_{fmt}"
    return admin.action(
        description=f"Export the selected %(verbose_name_plural)s to {FORMATS[fmt]}", permissions=["view"]
    )(export_selected)


class ChangeListExportMixin(admin.ModelAdmin):
    """Export buttons on the change list (every row of the list as filtered and searched) and export actions.

    Set `export_spec` and add `*ChangeListExportMixin.export_actions` to `actions`. Mixes with import-export's
    ImportMixin in either order: the buttons are added to whatever change-list template the admin had.
    """

    export_spec: ExportSpec
    export_selected_csv = _export_action("csv")
    export_selected_xlsx = _export_action("xlsx")
    export_actions = ("export_selected_csv", "export_selected_xlsx")
    export_change_list_template = "admin/outreach/export/change_list.html"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.export_base_change_list_template = self.change_list_template or "admin/change_list.html"
        # Per instance, after the bases' __init__ (import-export's ImportMixin sets its own there too).
        self.change_list_template = self.export_change_list_template  # type: ignore[misc]

    def _export_url_name(self) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_export"

    def get_urls(self) -> list[URLPattern]:
        export = path("export/<slug:fmt>/", self.admin_site.admin_view(self.export_view), name=self._export_url_name())
        return [export, *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        name = f"{self.admin_site.name}:{self._export_url_name()}"
        context = {
            **(extra_context or {}),
            "export_base_change_list_template": self.export_base_change_list_template,
            "export_links": [(label, reverse(name, args=[fmt])) for fmt, label in FORMATS.items()],
        }
        return super().changelist_view(request, context)

    def export_view(self, request: HttpRequest, fmt: str) -> HttpResponseBase:
        """Every row of the change list that the same query string shows (all pages), as `fmt`."""
        if fmt not in FORMATS:
            raise Http404(f"No export format {fmt!r}")
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            # As the change list does: back to it, saying the filters were wrong.
            url = reverse(f"{self.admin_site.name}:{self.opts.app_label}_{self.opts.model_name}_changelist")
            return HttpResponseRedirect(f"{url}?{ERROR_FLAG}=1")
        return export_response(changelist.queryset, self.export_spec, fmt)
