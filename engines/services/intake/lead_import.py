"""Leads from a spreadsheet: check every row, show what importing would do, then write it all or nothing.

`preview_import` maps the columns by header (common spellings accepted),
normalises each row as the models store values (engines.rules.normalization:
phone to E.164, country to its ISO code, time zone to its IANA name) and lists
each row's errors; it writes nothing. `apply_import` writes a valid preview in
one transaction: new leads in bulk (COPY on PostgreSQL), duplicates (same
email, any case, within the client) updated or skipped as the user chose. A
failure anywhere rolls the whole import back.

Bulk writes fire no signals, so the per-lead `post_save` trigger
(engines.signals.lead_saved: score, then plan, one task per lead) does not
run for imported rows. Instead, once the transaction commits, ONE django-q2
task (`engines.tasks.score_and_plan_imported_leads`) scores and plans all the
created and updated leads.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO, TextIO, TypeAlias
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from openpyxl import load_workbook  # type: ignore[import-untyped]

from engines.db.bulk import update_each
from engines.db.copy import insert_returning_ids
from engines.exceptions import EngineError
from engines.rules.normalization import normalize_country, normalize_email, normalize_phone, normalize_timezone
from engines.rules.provider_input import is_storable
from engines.services import later
from outreach.models import Client, Lead

WRITE_BATCH_SIZE = 2000
# Lookups of existing emails per query: well under SQLite's bound-parameter limit.
LOOKUP_BATCH_SIZE = 900
PROGRESS_EVERY = 1000
# A sheet larger than this, unpacked, must declare its size (<dimension>) within its first SHEET_HEAD_BYTES.
UNSIZED_SHEET_MAX_BYTES = 5_000_000
SHEET_HEAD_BYTES = 65_536

# A cleaned value of a lead field: text, or a whole number (the employee count).
LeadValue: TypeAlias = str | int


class OnDuplicate(StrEnum):
    """What to do with a row whose email the client already has (or an earlier row of the file has)."""

    UPDATE = "update"
    SKIP = "skip"


class RowAction(StrEnum):
    NEW = "new"
    UPDATE = "update"
    SKIP = "skip"
    INVALID = "invalid"


class LeadImportError(EngineError):
    """An import could not be done; nothing was written."""


class ImportTooLarge(LeadImportError):
    """The file is over an import limit (LEAD_IMPORT_MAX_BYTES, _ROWS, _UNPACKED_BYTES); nothing was read past it."""


@dataclass(frozen=True)
class ImportLimits:
    """What one import may hold, so that reading and checking it keeps memory bounded."""

    max_bytes: int = 20_000_000
    max_rows: int = 100_000
    # An .xlsx is a zip: its unpacked size is read from the zip's directory before any XML is parsed.
    max_unpacked_bytes: int = 400_000_000

    @classmethod
    def from_settings(cls) -> ImportLimits:
        default = cls()
        return cls(
            max_bytes=getattr(settings, "LEAD_IMPORT_MAX_BYTES", default.max_bytes),
            max_rows=getattr(settings, "LEAD_IMPORT_MAX_ROWS", default.max_rows),
            max_unpacked_bytes=getattr(settings, "LEAD_IMPORT_MAX_UNPACKED_BYTES", default.max_unpacked_bytes),
        )


class InvalidImport(LeadImportError):
    """The file or some of its rows are invalid: fix them (see `.preview`) and import again."""

    def __init__(self, preview: ImportPreview):
        self.preview = preview
        invalid = preview.counts()[RowAction.INVALID]
        super().__init__(
            "; ".join(preview.file_errors) or f"{invalid} row(s) have errors: fix them and import the file again"
        )


# Lead field -> header spellings, compared lower-case with everything but letters and digits removed.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "first_name": ("firstname", "first", "givenname", "forename"),
    "last_name": ("lastname", "last", "surname", "familyname"),
    "full_name": ("name", "fullname", "contactname", "contact"),
    "email": ("email", "emailaddress", "workemail", "businessemail", "mail"),
    "phone": ("phone", "phonenumber", "mobile", "mobilephone", "mobilenumber", "telephone", "tel", "cell"),
    "company_name": ("company", "companyname", "organisation", "organization", "organizationname", "account"),
    "title": ("title", "jobtitle", "position", "role", "jobrole"),
    "industry": ("industry", "sector", "vertical"),
    "employee_count": ("employees", "employeecount", "numberofemployees", "noofemployees", "headcount", "companysize"),
    "country": ("country", "countrycode", "countryname"),
    "region": ("region", "state", "province", "stateprovince", "statecode"),
    "timezone": ("timezone", "tz", "timezonename"),
    "linkedin_url": ("linkedin", "linkedinurl", "linkedinprofile", "linkedinprofileurl", "personlinkedinurl"),
}
# Lead field -> its name for people: previews, error lists and the rejected-rows file.
FIELD_LABELS = {
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
# A text cell a spreadsheet would run as a formula starts with one of these (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
REJECTED_REASON_HEADER = "Rejected because"
_FIELD_BY_HEADER = {alias: name for name, aliases in HEADER_ALIASES.items() for alias in aliases}
TEXT_LIMITS = {"first_name": 100, "last_name": 100, "company_name": 200, "title": 200, "industry": 100, "region": 10}
# Fields an update may change; score, status and the flags the services keep are never touched by an import.
IMPORTED_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "company_name",
    "title",
    "industry",
    "employee_count",
    "country",
    "region",
    "timezone",
    "linkedin_url",
)


@dataclass
class ImportRow:
    """One data row: its line in the file (the header is line 1), cells as given, cleaned values, errors, action."""

    line: int
    values: dict[str, LeadValue]
    raw: dict[str, str] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    action: RowAction = RowAction.NEW
    lead_id: int | None = None
    note: str = ""

    @property
    def email_key(self) -> str:
        return str(self.values.get("email", "")).lower()


@dataclass
class ImportPreview:
    """What importing the rows into `client` would do; `is_valid` when it can be applied."""

    client: Client
    on_duplicate: OnDuplicate
    columns: dict[str, str]
    ignored_columns: list[str]
    rows: list[ImportRow]
    file_errors: list[str] = field(default_factory=list)

    def counts(self) -> dict[RowAction, int]:
        counts = dict.fromkeys(RowAction, 0)
        for row in self.rows:
            counts[row.action] += 1
        return counts

    @property
    def is_valid(self) -> bool:
        return not self.file_errors and not any(row.action == RowAction.INVALID for row in self.rows)

    @property
    def importable(self) -> int:
        """Rows that importing only the valid rows would create, update or skip; 0 when the file itself is refused."""
        return 0 if self.file_errors else sum(1 for row in self.rows if row.action != RowAction.INVALID)

    def problems(self, limit: int | None = None) -> list[RowProblem]:
        """The rejected rows' errors, one per field and message, in file order (the first `limit` of them)."""
        found: list[RowProblem] = []
        for row in self.rows:
            if row.action != RowAction.INVALID:
                continue
            for name, messages in row.errors.items():
                found.extend(RowProblem(row.line, FIELD_LABELS.get(name, name), message) for message in messages)
            if limit is not None and len(found) >= limit:
                return found[:limit]
        return found

    def described_ignored_columns(self) -> list[str]:
        """Each ignored header, with the field it may have meant: "Emial (did you mean Email?)"."""
        described = []
        for header in self.ignored_columns:
            guess = guess_field(header)
            described.append(f"{header} (did you mean {FIELD_LABELS[guess]}?)" if guess else header)
        return described


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    skipped: int
    lead_ids: list[int]
    rejected: int = 0


@dataclass(frozen=True)
class RowProblem:
    """One error of one rejected row: its line in the file, the field (as people name it) and what is wrong."""

    line: int
    field: str
    message: str


def header_key(header: object) -> str:
    """A header as it is compared: lower case, letters and digits only ("E-mail " -> "email")."""
    return re.sub(r"[^a-z0-9]", "", str(header or "").lower())


def guess_field(header: str) -> str | None:
    """The lead field an unrecognised header is closest to (a misspelling), if any is close."""
    close = difflib.get_close_matches(header_key(header), list(_FIELD_BY_HEADER), n=1, cutoff=0.75)
    return _FIELD_BY_HEADER[close[0]] if close else None


def match_header(header: object, column_map: Mapping[str, str] | None = None) -> str | None:
    """The lead field the column `header` is read as, or None when it is left out.

    `column_map` (header -> field, "" to leave a column out) decides first: for the header as written, then for
    a header spelled alike (case, spaces and punctuation do not matter); else the spellings we know. The field is
    returned as the map gives it: `map_columns` refuses one that is not a lead field.
    """
    name = str(header or "").strip()
    given = {str(other).strip(): target for other, target in (column_map or {}).items()}
    if name in given:
        return given[name] or None
    key = header_key(name)
    alike = {header_key(other): target for other, target in given.items()}
    if key in alike:
        return alike[key] or None
    return _FIELD_BY_HEADER.get(key)


def map_columns(
    headers: Sequence[object], column_map: Mapping[str, str] | None = None
) -> tuple[dict[str, str], list[str], list[str]]:
    """Headers -> ({header: lead field}, ignored headers, errors). Two headers for one field is an error.

    `column_map` names the field of any header (header -> field, "" to leave a column out), as
    `match_header` reads it: `manage.py import_leads --column` and the admin's column mapping both give one.
    """
    columns: dict[str, str] = {}
    ignored: list[str] = []
    errors = [
        f"{target!r} (for column {header!r}) is not a lead field: use one of {', '.join(FIELD_LABELS)}"
        for header, target in (column_map or {}).items()
        if target and target not in FIELD_LABELS
    ]
    for header in headers:
        name = str(header or "").strip()
        target = match_header(name, column_map)
        if target is None or target not in FIELD_LABELS:
            if name:
                ignored.append(name)
        elif target in columns.values():
            other = next(h for h, f in columns.items() if f == target)
            errors.append(f"Columns {other!r} and {name!r} both give the {target.replace('_', ' ')}: keep one")
        else:
            columns[name] = target
    if not {"email", "phone", "linkedin_url"} & set(columns.values()):
        errors.append("No email, phone or LinkedIn column: name one of them in the header row (e.g. 'Email')")
    return columns, ignored, errors


def preview_import(
    client: Client,
    headers: Sequence[object],
    rows: Iterable[Sequence[object]],
    *,
    on_duplicate: OnDuplicate | str = OnDuplicate.SKIP,
    column_map: Mapping[str, str] | None = None,
    progress: Callable[[int], object] | None = None,
) -> ImportPreview:
    """Check and normalise every row, and say what importing it into `client` would do. Writes nothing."""
    columns, ignored, file_errors = map_columns(headers, column_map)
    positions = {
        index: columns[str(h or "").strip()] for index, h in enumerate(headers) if str(h or "").strip() in columns
    }
    default_region = (client.country or "").upper() or None
    checked: list[ImportRow] = []
    for line, raw in enumerate(rows, start=2):
        checked.append(clean_row(line, {name: raw[i] for i, name in positions.items() if i < len(raw)}, default_region))
        if progress is not None and len(checked) % PROGRESS_EVERY == 0:
            progress(PROGRESS_EVERY)
    if progress is not None:
        progress(len(checked) % PROGRESS_EVERY)
    if not checked:
        file_errors.append("The file has no data rows under its header row")
    preview = ImportPreview(client, OnDuplicate(on_duplicate), columns, ignored, checked, file_errors)
    _resolve_duplicates(preview)
    return preview


def clean_row(line: int, raw: Mapping[str, object], default_region: str | None) -> ImportRow:
    """One row's cleaned values and errors (keyed by lead field). Empty cells are left out of the values."""
    row = ImportRow(line=line, values={})
    for name, value in raw.items():
        text = _text(value)
        if not text:
            continue
        row.raw[name] = text
        try:
            row.values.update(_clean_value(name, text))
        except ValidationError as exc:
            row.errors.setdefault(name, []).extend(exc.messages)
    phone, country = row.values.get("phone"), row.values.get("country")
    if isinstance(phone, str):  # text: the phone has no cleaner of its own
        region = country if isinstance(country, str) and country else default_region
        try:
            row.values["phone"] = normalize_phone(phone, region)
        except ValidationError as exc:
            row.errors.setdefault("phone", []).extend(exc.messages)
    if not row.errors and not {"email", "phone", "linkedin_url"} & row.values.keys():
        row.errors["email"] = ["No email, phone or LinkedIn URL: nothing to reach this lead by"]
    if row.errors:
        row.action = RowAction.INVALID
    return row


def _clean_value(name: str, text: str) -> dict[str, LeadValue]:
    if not is_storable(text):  # PostgreSQL refuses the row at import; SQLite keeps it and the sends fail later
        raise ValidationError("Contains a NUL character or broken Unicode, which cannot be stored: remove it")
    if name == "full_name":
        first, _, last = text.partition(" ")
        return {"first_name": first, "last_name": last.strip()}
    if name in TEXT_LIMITS and len(text) > TEXT_LIMITS[name]:
        raise ValidationError(f"Longer than {TEXT_LIMITS[name]} characters")
    cleaner = _CLEANERS.get(name)
    return {name: cleaner(text) if cleaner else text}


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        # Spreadsheets hand whole numbers back as floats: 20.0 employees, a phone number typed without its "+".
        value = int(value)
    text = " ".join(str(value).split())
    # A cell our rejected-rows file escaped ("'+61 412...") is read as it was typed.
    return text[1:] if text[:1] == "'" and text[1:2] in FORMULA_STARTS and text[1:2] else text


def normalize_url(text: str) -> str:
    """A web address, https when typed without a scheme (checked lightly: URLValidator costs 100,000 rows seconds)."""
    url = text if "://" in text else f"https://{text}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or "." not in parts.netloc or " " in url:
        raise ValidationError(f"{text!r} is not a web address")
    return url


def parse_employee_count(value: object) -> int:
    """A head count: 20, "1,200", a size band "11-50" (its middle) or "1000+" (its floor)."""
    text = _text(value).replace(",", "").rstrip("+")
    low, _, high = text.partition("-")
    try:
        numbers = [float(part) for part in (low, high) if part.strip()]
    except ValueError:
        numbers = []
    if not numbers or min(numbers) < 0:
        raise ValidationError(f"{_text(value)!r} is not a number of employees")
    return round(sum(numbers) / len(numbers))


_CLEANERS: dict[str, Callable[[str], LeadValue]] = {
    "email": normalize_email,
    "employee_count": parse_employee_count,
    "country": normalize_country,
    "region": str.upper,
    "timezone": normalize_timezone,
    "linkedin_url": normalize_url,
}


def _resolve_duplicates(preview: ImportPreview) -> None:
    """Mark rows whose email the client has, or an earlier row has, as updates or skips."""
    existing = existing_leads_by_email(preview.client, {row.email_key for row in preview.rows if row.email_key})
    first_line: dict[str, int] = {}
    for row in preview.rows:
        key = row.email_key
        if row.action == RowAction.INVALID or not key:
            continue
        row.lead_id = existing.get(key)
        duplicate_of = first_line.setdefault(key, row.line)
        if row.lead_id is None and duplicate_of == row.line:
            row.action, row.note = RowAction.NEW, ""
        elif preview.on_duplicate == OnDuplicate.UPDATE:
            row.action = RowAction.UPDATE
            row.note = "updates the existing lead" if duplicate_of == row.line else f"updates line {duplicate_of}"
        else:
            row.action = RowAction.SKIP
            row.note = "email already a lead" if duplicate_of == row.line else f"same email as line {duplicate_of}"


def existing_leads_by_email(client: Client, emails: set[str]) -> dict[str, int]:
    """Lower-cased email -> lead id, for the client's leads among `emails`."""
    found: dict[str, int] = {}
    ordered = sorted(emails)
    leads = Lead.objects.filter(client=client).exclude(email="").annotate(email_key=Lower("email"))
    for start in range(0, len(ordered), LOOKUP_BATCH_SIZE):
        batch = ordered[start : start + LOOKUP_BATCH_SIZE]
        found.update(leads.filter(email_key__in=batch).values_list("email_key", "pk"))
    return found


def apply_import(
    preview: ImportPreview, *, skip_invalid: bool = False, progress: Callable[[int], object] | None = None
) -> ImportResult:
    """Write a valid preview, all or nothing, then hand its leads to one score-and-plan task.

    With `skip_invalid` the rejected rows are left out and the valid rows imported (a file-level
    error, such as no contact column, still refuses the whole file).

    Duplicates are looked up again inside the transaction, so rows another
    import added since the preview are updated or skipped, not duplicated; a
    concurrent insert of the same email aborts the whole import. Raises
    InvalidImport for an invalid preview and LeadImportError when the
    database refuses the rows.
    """
    if preview.file_errors or (not skip_invalid and not preview.is_valid):
        raise InvalidImport(preview)
    try:
        with transaction.atomic():
            _resolve_duplicates(preview)
            updated = _update_leads(preview, progress)
            created = _create_leads(preview, progress)
    except IntegrityError as exc:
        raise LeadImportError(f"Nothing was imported: the database refused the rows ({exc}). Try again.") from exc
    lead_ids = created + updated
    if lead_ids:
        client_id = preview.client.pk
        transaction.on_commit(lambda: later.queue().score_and_plan_leads(client_id, lead_ids))
    counts = preview.counts()
    if progress is not None:
        progress(counts[RowAction.SKIP] + counts[RowAction.INVALID])
    return ImportResult(
        created=len(created),
        updated=len(updated),
        skipped=counts[RowAction.SKIP],
        lead_ids=lead_ids,
        rejected=counts[RowAction.INVALID],
    )


def escape_formula(text: str) -> str:
    """`text` with a leading single quote when a spreadsheet would read it as a formula (OWASP CSV injection)."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def write_rejected_rows(
    preview: ImportPreview, headers: Sequence[object], rows: Sequence[Sequence[object]], out: TextIO
) -> int:
    """The rejected rows as CSV: "Line", the file's own columns and "Rejected because"; how many rows.

    `headers` and `rows` are those the preview was made from. Every cell that a
    spreadsheet would run as a formula gets a leading quote, which the import
    takes off again, so the fixed file can be imported as it is.
    """
    writer = csv.writer(out)
    writer.writerow(["Line", *(escape_formula(_header(h)) for h in headers), REJECTED_REASON_HEADER])
    written = 0
    for row in preview.rows:
        if row.action != RowAction.INVALID:
            continue
        cells = rows[row.line - 2] if 0 <= row.line - 2 < len(rows) else ()
        reason = "; ".join(
            f"{FIELD_LABELS.get(name, name)}: {message}"
            for name, messages in row.errors.items()
            for message in messages
        )
        writer.writerow([row.line, *(escape_formula(_cell_text(cell)) for cell in cells), escape_formula(reason)])
        written += 1
    return written


def _cell_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _create_leads(preview: ImportPreview, progress: Callable[[int], object] | None) -> list[int]:
    """Insert the new rows (and fold later same-email rows into them when updating); their ids."""
    new_by_key: dict[str, dict[str, LeadValue]] = {}
    new_rows: list[dict[str, LeadValue]] = []
    for row in preview.rows:
        if row.action == RowAction.NEW:
            values = dict(row.values)
            new_rows.append(values)
            if row.email_key:
                new_by_key[row.email_key] = values
        elif row.action == RowAction.UPDATE and row.lead_id is None:
            # A later row of the file with the email of a new row: the later values win, the first email spelling.
            new_by_key[row.email_key].update((k, v) for k, v in row.values.items() if k != "email")
    ids: list[int] = []
    for start in range(0, len(new_rows), WRITE_BATCH_SIZE):
        batch = new_rows[start : start + WRITE_BATCH_SIZE]
        ids.extend(insert_returning_ids(Lead, batch, fixed={"client_id": preview.client.pk}))  # COPY on PostgreSQL
        if progress is not None:
            progress(len(batch))
    return ids


def _update_leads(preview: ImportPreview, progress: Callable[[int], object] | None) -> list[int]:
    """Apply the update rows to the client's existing leads: cells the row leaves empty keep their value."""
    values_by_id: dict[int, dict[str, LeadValue]] = {}
    for row in preview.rows:
        if row.action == RowAction.UPDATE and row.lead_id is not None:
            values_by_id.setdefault(row.lead_id, {}).update(row.values)
    ids = sorted(values_by_id)
    fields = [*IMPORTED_FIELDS, "phone_verified", "phone_unusable", "sms_unsupported"]
    for start in range(0, len(ids), WRITE_BATCH_SIZE):
        batch_ids = ids[start : start + WRITE_BATCH_SIZE]
        leads = list(Lead.objects.select_for_update().filter(client=preview.client, pk__in=batch_ids))
        for lead in leads:
            _merge(lead, values_by_id[lead.pk])
        update_each(Lead, fields, leads)  # executemany: bulk_update's CASE costs seconds per thousand rows
        if progress is not None:
            progress(len(batch_ids))
    return ids


def _merge(lead: Lead, values: Mapping[str, LeadValue]) -> None:
    if "phone" in values and values["phone"] != lead.phone:
        # A new number is neither verified nor known to be wrong, nor known to be a landline.
        lead.phone_verified = lead.phone_unusable = lead.sms_unsupported = False
    for name, value in values.items():
        # The stored email keeps its spelling: the file's may differ only in case.
        if name != "email" or not lead.email:
            setattr(lead, name, value)


def load_table(path: Path, limits: ImportLimits | None = None) -> tuple[list[str], list[Sequence[object]]]:
    """Header and rows of a .csv (UTF-8, with or without BOM) or .xlsx file (its first sheet), within the limits."""
    limits = limits or ImportLimits.from_settings()
    if path.suffix.lower() not in (".csv", ".xlsx"):
        raise LeadImportError(f"Cannot read {path.name}: give a .csv or .xlsx file")
    check_file_size(path.name, path.stat().st_size, limits)
    with path.open("rb") as handle:
        return read_table(handle, path.name, limits)


def check_file_size(name: str, size: int, limits: ImportLimits) -> None:
    """Refuse a file larger than LEAD_IMPORT_MAX_BYTES, before reading any of it."""
    if size > limits.max_bytes:
        raise ImportTooLarge(
            f"Cannot import {name}: it is {_megabytes(size)}, more than the limit of {_megabytes(limits.max_bytes)} "
            "(setting LEAD_IMPORT_MAX_BYTES); split it into smaller files and import each"
        )


def read_table(
    handle: BinaryIO, name: str, limits: ImportLimits, *, kind: str | None = None
) -> tuple[list[str], list[Sequence[object]]]:
    """Header and rows of an open .csv or .xlsx file, read row by row and refused past LEAD_IMPORT_MAX_ROWS rows.

    Rows are padded with empty cells to the header's width; fully empty rows
    of a CSV are left out, as are empty rows at the end of a sheet. `kind`
    (".csv" or ".xlsx") says how to read it when `name` does not.
    """
    suffix = kind or Path(name).suffix.lower()
    if suffix == ".csv":
        table = _read_csv(handle, name, limits)
    elif suffix == ".xlsx":
        table = _read_xlsx(handle, name, limits)
    else:
        raise LeadImportError(f"Cannot read {name}: give a .csv or .xlsx file")
    return table


def _too_many_rows(name: str, limits: ImportLimits) -> ImportTooLarge:
    return ImportTooLarge(
        f"Cannot import {name}: it has more than {limits.max_rows:,} rows, the limit (setting LEAD_IMPORT_MAX_ROWS); "
        "split it into smaller files and import each"
    )


def _collect(
    name: str, rows: Iterable[Sequence[object]], limits: ImportLimits
) -> tuple[list[str], list[Sequence[object]]]:
    """The header and the data rows, padded to the header's width; stops reading at the first row past the limit."""
    iterator = iter(rows)
    header = [_header(cell) for cell in next(iterator, ())]
    width = len(header)
    kept: list[Sequence[object]] = []
    pending_empty = 0  # empty rows are kept only when a row with data follows them
    for row in iterator:
        if not any(cell not in (None, "") for cell in row):
            pending_empty += 1
            continue
        kept.extend([("",) * width] * pending_empty)
        pending_empty = 0
        if len(kept) >= limits.max_rows:
            raise _too_many_rows(name, limits)
        # Cells past the header's width have no column name, so nothing would import them.
        cells = tuple("" if cell is None else cell for cell in row[:width])
        kept.append(cells + ("",) * (width - len(cells)))
    return header, kept


def _header(cell: object) -> str:
    return "" if cell is None else str(cell)


def _read_csv(handle: BinaryIO, name: str, limits: ImportLimits) -> tuple[list[str], list[Sequence[object]]]:
    text = io.TextIOWrapper(handle, encoding="utf-8-sig", newline="")
    try:
        # csv.reader reads the file line by line; empty lines give [] and are left out, as blank rows.
        return _collect(name, (row for row in csv.reader(text) if row), limits)
    except UnicodeDecodeError as exc:
        handle.seek(0)
        raise LeadImportError(
            f"Cannot read {name}: it is not UTF-8 text (byte {_first_bad_byte(handle, exc)} is not); save it from "
            'your spreadsheet as "CSV UTF-8" and import it again'
        ) from exc
    except csv.Error as exc:  # a NUL byte, or another file renamed .csv
        raise LeadImportError(f"Cannot read {name} as CSV: {exc}") from exc
    finally:
        text.detach()  # the caller closes the file


def _first_bad_byte(handle: BinaryIO, exc: UnicodeDecodeError) -> int:
    """The position (from 1) of the first byte that is not UTF-8; the file is at most LEAD_IMPORT_MAX_BYTES."""
    try:
        handle.read().decode("utf-8")
    except UnicodeDecodeError as whole:
        return whole.start + 1
    return exc.start + 1


def _read_xlsx(handle: BinaryIO, name: str, limits: ImportLimits) -> tuple[list[str], list[Sequence[object]]]:
    not_a_workbook = LeadImportError(
        f"Cannot read {name}: it is not an Excel workbook (.xlsx); save it from your spreadsheet as "
        "an Excel workbook or as CSV UTF-8 and import it again"
    )
    try:
        with zipfile.ZipFile(handle) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise not_a_workbook from exc
    if unpacked > limits.max_unpacked_bytes:
        raise ImportTooLarge(
            f"Cannot import {name}: unpacked, the workbook is {_megabytes(unpacked)}, more than the limit of "
            f"{_megabytes(limits.max_unpacked_bytes)} (setting LEAD_IMPORT_MAX_UNPACKED_BYTES); save it as CSV "
            "UTF-8, or split it, and import again"
        )
    _check_sheets_declare_their_size(handle, name)
    handle.seek(0)
    try:
        # read_only streams the sheet's XML; dimensions reset, so no row is padded to a width the file only claims.
        book = load_workbook(handle, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:  # not a workbook inside the zip
        raise not_a_workbook from exc
    try:
        sheet = book.active
        if not hasattr(sheet, "reset_dimensions"):  # no sheet, or a chart sheet
            raise not_a_workbook
        sheet.reset_dimensions()
        return _collect(name, sheet.iter_rows(values_only=True), limits)
    finally:
        book.close()


def _check_sheets_declare_their_size(handle: BinaryIO, name: str) -> None:
    """Refuse a large sheet without a <dimension> near its start: openpyxl would parse all of it just to size it.

    Excel, LibreOffice and Google Sheets always write one; a small sheet without it is read (it costs little).
    """
    handle.seek(0)
    with zipfile.ZipFile(handle) as archive:
        for member in archive.infolist():
            if not member.filename.startswith("xl/worksheets/") or member.file_size <= UNSIZED_SHEET_MAX_BYTES:
                continue
            with archive.open(member) as sheet:
                start = sheet.read(SHEET_HEAD_BYTES)
            if not re.search(rb"<(\w+:)?dimension\b", start):
                raise ImportTooLarge(
                    f"Cannot import {name}: its sheet is {_megabytes(member.file_size)} unpacked and does not say "
                    "how many rows it has, as Excel does; save it again from your spreadsheet (or as CSV UTF-8) "
                    "and import it again"
                )


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:,.1f} MB"
