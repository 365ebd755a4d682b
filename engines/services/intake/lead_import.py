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
import re
import zipfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TypeAlias
from urllib.parse import urlsplit

import tablib
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower

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


@dataclass(frozen=True)
class ImportResult:
    created: int
    updated: int
    skipped: int
    lead_ids: list[int]


def map_columns(headers: Sequence[object]) -> tuple[dict[str, str], list[str], list[str]]:
    """Headers -> ({header: lead field}, ignored headers, errors). Two headers for one field is an error."""
    columns: dict[str, str] = {}
    ignored: list[str] = []
    errors: list[str] = []
    for header in headers:
        name = str(header or "").strip()
        target = _FIELD_BY_HEADER.get(re.sub(r"[^a-z0-9]", "", name.lower()))
        if target is None:
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
    progress: Callable[[int], object] | None = None,
) -> ImportPreview:
    """Check and normalise every row, and say what importing it into `client` would do. Writes nothing."""
    columns, ignored, file_errors = map_columns(headers)
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
    return " ".join(str(value).split())


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


def apply_import(preview: ImportPreview, *, progress: Callable[[int], object] | None = None) -> ImportResult:
    """Write a valid preview, all or nothing, then hand its leads to one score-and-plan task.

    Duplicates are looked up again inside the transaction, so rows another
    import added since the preview are updated or skipped, not duplicated; a
    concurrent insert of the same email aborts the whole import. Raises
    InvalidImport for an invalid preview and LeadImportError when the
    database refuses the rows.
    """
    if not preview.is_valid:
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
    skipped = preview.counts()[RowAction.SKIP]
    if progress is not None:
        progress(skipped)
    return ImportResult(created=len(created), updated=len(updated), skipped=skipped, lead_ids=lead_ids)


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


def load_table(path: Path) -> tuple[list[str], list[Sequence[object]]]:
    """Header and rows of a .csv (UTF-8, with or without BOM) or .xlsx file (its first sheet)."""
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            with path.open(encoding="utf-8-sig", newline="") as handle:
                dataset = tablib.Dataset().load(handle.read(), format="csv")
        except UnicodeDecodeError as exc:
            raise LeadImportError(
                f"Cannot read {path.name}: it is not UTF-8 text (byte {exc.start + 1} is not); save it from your "
                'spreadsheet as "CSV UTF-8" and import it again'
            ) from exc
        except csv.Error as exc:  # a NUL byte, or another file renamed .csv
            raise LeadImportError(f"Cannot read {path.name} as CSV: {exc}") from exc
    elif suffix == ".xlsx":
        try:
            with path.open("rb") as handle:
                dataset = tablib.Dataset().load(handle.read(), format="xlsx")
        except (zipfile.BadZipFile, KeyError, ValueError) as exc:  # empty, not a zip, not a workbook inside
            raise LeadImportError(
                f"Cannot read {path.name}: it is not an Excel workbook (.xlsx); save it from your spreadsheet as "
                "an Excel workbook or as CSV UTF-8 and import it again"
            ) from exc
    else:
        raise LeadImportError(f"Cannot read {path.name}: give a .csv or .xlsx file")
    return [str(h or "") for h in dataset.headers or []], list(dataset)
