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
"""

from __future__ import annotations

import csv
import os
import random
import tempfile
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


def main() -> None:
    with django_database() as vendor, tempfile.TemporaryDirectory(prefix="outreach-import-") as folder:
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
