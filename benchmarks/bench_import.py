"""Lead import of a 100,000-row CSV, the way `manage.py import_leads` does it.

    .venv/bin/python -m benchmarks.bench_import            # PostgreSQL, 100,000 rows
    BENCH_ROWS=20000 BENCH_DB=sqlite .venv/bin/python -m benchmarks.bench_import
    BENCH_SCORE_AND_PLAN=1 ...                             # also time the background task's work

The client already has EXISTING leads, and DUPLICATE_SHARE of the file's rows
carry one of their emails (in another case), imported with --on-duplicate
update. Phones come national and international, countries as names and codes.
Measured: reading the file, checking every row (the preview), and writing it
(one transaction), end to end; the score-and-plan task is only enqueued, as in
production. Goal: the whole import under 60 s on PostgreSQL.

Then the limits: a 0.9 MB XLSX holding 1,500,000 rows (a sheet's XML
compresses about 80 times) must be refused within seconds using little
memory: the sheet is streamed and counted, and reading stops at
LEAD_IMPORT_MAX_ROWS + 1. Measured twice: by the row count (the default
limits) and by the zip's unpacked size (LEAD_IMPORT_MAX_UNPACKED_BYTES lowered
under the sheet's size), each with its peak of Python memory (tracemalloc).
BENCH_BOMB_ONLY=1 runs only these.
"""

from __future__ import annotations

import csv
import os
import random
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path

from benchmarks.harness import django_database, record_figure, timed

ROWS = int(os.environ.get("BENCH_ROWS", "100000"))
EXISTING = 10_000
DUPLICATE_SHARE = 0.05
GOAL_SECONDS = 60.0
HEADER = ["First Name", "Last Name", "Email", "Phone", "Company", "Title", "Industry", "Employees", "Country",
          "State", "Time Zone", "LinkedIn URL"]  # fmt: skip
# Country, state, zone, and how its phone numbers are typed (national ones are read in the row's country).
PLACES = [
    ("Australia", "NSW", "Australia/Sydney", "041{:07d}"),
    ("AU", "VIC", "Australia/Melbourne", "(03) 9{:03d} {:04d}"),
    ("New Zealand", "", "Pacific/Auckland", "+64 21 {:03d} {:04d}"),
    ("United States", "NY", "America/New_York", "+1 212 {:03d} {:04d}"),
    ("", "", "", "+6141{:07d}"),
]


def _phone(rng: random.Random, pattern: str) -> str:
    if pattern.count("{") == 2:
        return pattern.format(rng.randrange(200, 1000), rng.randrange(10000))
    return pattern.format(rng.randrange(1_000_000, 10_000_000))


def write_file(path: Path, rows: int, existing_emails: list[str]) -> None:
    rng = random.Random(11)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(rows):
            duplicate = rng.random() < DUPLICATE_SHARE
            email = rng.choice(existing_emails).upper() if duplicate else f"lead{i}@company{i % 5000}.example.com"
            country, region, zone, phone_pattern = rng.choice(PLACES)
            company = f"Company {i % 5000}"
            employees = rng.choice(["12", "11-50", "200", ""])
            writer.writerow(
                [f"First{i}", f"Last{i}", email, _phone(rng, phone_pattern), company, "Practice Manager", "Dental",
                 employees, country, region, zone, f"linkedin.com/in/lead-{i}"]
            )  # fmt: skip


def seed_existing(client) -> list[str]:
    from outreach.models import Lead

    emails = [f"old{i}@existing.example.com" for i in range(EXISTING)]
    Lead.objects.bulk_create((Lead(client=client, email=email) for email in emails), batch_size=5000)
    return emails


BOMB_ROWS = 1_500_000
REFUSAL_GOAL_SECONDS = 10.0
REFUSAL_GOAL_MB = 100.0
_WORKBOOK_PARTS = {
    "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
    'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
    'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.'
    'xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override '
    'PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.'
    'worksheet+xml"/></Types>',
    "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
    'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/'
    '2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
    "xl/workbook.xml": '<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
    'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="Leads" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
    'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
    'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
}


def write_bomb(path: Path, rows: int, *, dimension: bool = True) -> int:
    """An .xlsx of `rows` one-cell rows, its XML written straight into the zip (openpyxl would take minutes).

    Rows without their optional `r` numbers compress about 1,000 times, as a crafted file would. Its unpacked size.
    """
    head = b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
    head += b'spreadsheetml/2006/main">'
    if dimension:  # as Excel writes it
        head += f'<dimension ref="A1:A{rows + 1}"/>'.encode()
    head += b'<sheetData><row><c t="inlineStr"><is><t>Email</t></is></c></row>'
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, text in _WORKBOOK_PARTS.items():
            archive.writestr(name, text)
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write(head)
            chunk = b"<row><c><v>1</v></c></row>" * 10_000
            for start in range(0, rows, 10_000):
                sheet.write(chunk if start + 10_000 <= rows else chunk[: (rows - start) * 26])
            sheet.write(b"</sheetData></worksheet>")
        return sum(member.file_size for member in archive.infolist())


def refuse_bomb(path: Path, limits) -> tuple[float, float, str]:
    """Seconds to refuse the file (without tracing), peak Python memory in MB (traced), and the message."""
    from engines.services.intake.lead_import import ImportTooLarge, load_table

    started = time.perf_counter()
    try:
        load_table(path, limits)
    except ImportTooLarge as exc:
        message = str(exc)
    else:
        raise AssertionError("the file was not refused")
    seconds = time.perf_counter() - started
    tracemalloc.start()
    try:
        load_table(path, limits)
    except ImportTooLarge:
        pass
    peak = tracemalloc.get_traced_memory()[1] / 1_000_000
    tracemalloc.stop()
    return seconds, peak, message


def bench_bomb(folder: str) -> None:
    from engines.services.intake.lead_import import ImportLimits

    cases = {
        "row count": (True, ImportLimits()),
        "unpacked size": (True, ImportLimits(max_unpacked_bytes=20_000_000)),
        "missing dimension": (False, ImportLimits()),
    }
    for label, (dimension, limits) in cases.items():
        path = Path(folder) / f"bomb-{dimension}.xlsx"
        unpacked = write_bomb(path, BOMB_ROWS, dimension=dimension)
        size = path.stat().st_size / 1_000_000
        seconds, peak, message = refuse_bomb(path, limits)
        print(
            f"{BOMB_ROWS:,}-row XLSX, {size:.2f} MB ({unpacked / 1_000_000:.0f} MB unpacked), refused by its {label} "
            f"in {seconds:.2f} s, peak Python memory {peak:.1f} MB: {message}"
        )
        record_figure(
            f"refuse a {size:.2f} MB XLSX of {BOMB_ROWS:,} rows by its {label}",
            goal=f"< {REFUSAL_GOAL_SECONDS:.0f} s, < {REFUSAL_GOAL_MB:.0f} MB",
            measured=seconds,
            unit="s",
            ratio=seconds / REFUSAL_GOAL_SECONDS,
            met=seconds < REFUSAL_GOAL_SECONDS and peak < REFUSAL_GOAL_MB,
        )


def main() -> None:
    if os.environ.get("BENCH_BOMB_ONLY"):
        with django_database() as _vendor, tempfile.TemporaryDirectory(prefix="outreach-import-") as folder:
            bench_bomb(folder)
        return
    with django_database() as vendor, tempfile.TemporaryDirectory(prefix="outreach-import-") as folder:
        bench_bomb(folder)
        from engines.services.intake.lead_import import apply_import, load_table, preview_import
        from engines.services.journey.triggers import score_and_plan_leads
        from outreach.models import Client, Lead

        client = Client.objects.create(name="Import Co", country="AU", icp={"industries": ["Dental"]})
        path = Path(folder) / "leads.csv"
        write_file(path, ROWS, seed_existing(client))
        phases: dict[str, float] = {}
        with timed(phases, "total"):
            with timed(phases, "read"):
                headers, rows = load_table(path)
            with timed(phases, "check"):
                preview = preview_import(client, headers, rows, on_duplicate="update")
            with timed(phases, "write"):
                result = apply_import(preview)
        assert preview.is_valid, preview.counts()
        print(
            f"{ROWS:,} rows on {vendor}: {result.created:,} created, {result.updated:,} updated; "
            + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in phases.items())
        )
        assert Lead.objects.filter(client=client).count() == EXISTING + result.created
        total = phases["total"]
        record_figure(
            f"import {ROWS:,} CSV rows ({vendor})",
            goal=f"< {GOAL_SECONDS:.0f} s",
            measured=total,
            unit="s",
            ratio=total / GOAL_SECONDS,
            met=total < GOAL_SECONDS,
        )
        if os.environ.get("BENCH_SCORE_AND_PLAN"):
            with timed(phases, "score_and_plan"):
                counts = score_and_plan_leads(client, result.lead_ids)
            print(f"the background task's work: {counts}, {phases['score_and_plan']:.1f} s")


if __name__ == "__main__":
    main()
