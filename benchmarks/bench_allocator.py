"""Allocator throughput: allocate_leads over 50,000 leads on PostgreSQL, and allocate_lead on a sample.

    .venv/bin/python -m benchmarks.bench_allocator            # PostgreSQL (BENCH_DB=sqlite for SQLite)
    BENCH_LEADS=10000 .venv/bin/python -m benchmarks.bench_allocator

Leads are spread over five clients (no patterns, WHEN only, HOW only, both,
and a weekend-loving WHEN with fractional gaps) and a mix of countries, time
zones, regions and reachable channels, some of them do-not-contact. Every
client explores at the default rate (10% of plans drawn by Thompson sampling).
The goal is at least 5,000 leads per second for the bulk path (first
allocation).

The tables are analysed after seeding and after the first run, as autovacuum
would after loads this size: without statistics PostgreSQL scans the whole
touch table to find a batch's planned touches.
"""

from __future__ import annotations

import os
import random
from datetime import timedelta

from benchmarks.harness import django_database, record_figure, timed

LEADS = int(os.environ.get("BENCH_LEADS", "50000"))
SAMPLE = int(os.environ.get("BENCH_SAMPLE", "300"))
GOAL_PER_SECOND = 5000
WARM_UP = 500

# (country, region, timezone, phone): blank timezones are found from the phone or the country.
PLACES = [
    ("Australia", "NSW", "Australia/Sydney", "+61412345678"),
    ("Australia", "WA", "Australia/Perth", "+61891234567"),
    ("Australia", "VIC", "", "+61412345678"),
    ("AU", "", "", "+61298765432"),
    ("United States", "NY", "America/New_York", "+12125551234"),
    ("United States", "CA", "America/Los_Angeles", "+13105551234"),
    ("United Kingdom", "", "", "+442071234567"),
    ("New Zealand", "", "Pacific/Auckland", "+6421234567"),
    ("Germany", "BE", "", "+4915112345678"),
    ("Singapore", "", "", "+6591234567"),
]


def _patterns() -> list[tuple[dict | None, dict | None]]:
    from tests.factories import how_patterns, when_patterns

    weekend = when_patterns(
        best_days=[{"day_index": 5, "conversion_rate": 0.2}, {"day_index": 0, "conversion_rate": 0.1}],
        best_hours=[{"hour": 11, "conversion_rate": 0.2}, {"hour": 19, "conversion_rate": 0.1}],
        optimal_sequence_gaps={"touch_1_to_2": 1.5, "touch_2_to_3": 2.5, "touch_3_to_4": 0.5},
    )
    how = how_patterns(
        winning_sequences=[
            {
                "sequence": ["email", "sms", "linkedin", "email", "voice", "email", "sms"],
                "conversion_rate": 0.1,
                "sample_size": 90,
            }
        ]
    )
    return [(None, None), (when_patterns(), None), (None, how), (when_patterns(), how_patterns()), (weekend, how)]


def _seed(rng: random.Random) -> list:
    from django.utils import timezone

    from outreach.models import Client, ConversionPattern, Lead

    now = timezone.now()
    clients = []
    for i, (when, how) in enumerate(_patterns()):
        client = Client.objects.create(name=f"Bench client {i}", timezone="Australia/Sydney")
        for kind, data in (("when", when), ("how", how)):
            if data is not None:
                ConversionPattern.objects.create(
                    client=client,
                    pattern_type=kind,
                    patterns=data,
                    sample_size=data["sample_size"],
                    confidence=data["confidence"],
                    computed_at=now - timedelta(hours=1),
                    valid_until=now + timedelta(days=7),
                )
        clients.append(client)
    leads = []
    for n in range(LEADS):
        country, region, zone, phone = PLACES[n % len(PLACES)]
        roll = rng.random()
        leads.append(
            Lead(
                client=clients[n % len(clients)],
                first_name=f"Lead{n}",
                email="" if roll < 0.05 else f"lead{n}@example.com",
                phone="" if 0.05 <= roll < 0.15 else phone,
                linkedin_url="" if 0.15 <= roll < 0.30 else f"https://www.linkedin.com/in/lead-{n}",
                country=country,
                region=region,
                timezone=zone,
                als_score=None if roll > 0.9 else rng.randint(0, 100),
                do_not_contact=rng.random() < 0.02,
                sms_opted_out=rng.random() < 0.03,
            )
        )
    Lead.objects.bulk_create(leads, batch_size=5000)
    return clients


def analyse(connection, vendor: str) -> None:
    if vendor == "postgres":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _warm_up() -> None:
    """Plan and drop a few hundred leads, so neither measured run pays for first imports and cold caches."""
    from engines.services.planning.allocator import allocate_leads
    from outreach.models import Enrollment, Lead

    allocate_leads(Lead.objects.order_by("pk")[:WARM_UP])
    Enrollment.objects.all().delete()  # and their touches: every lead is planned afresh


def _raw_insert(results: dict[str, float]) -> None:
    """Time a bare COPY of the rows the first run wrote (same table, same indexes): the floor for inserting them.

    The rows are copied out, deleted and copied back in, so the table is as the first run left it.
    """
    import io

    from django.db import connection, transaction

    from outreach.models import ScheduledTouch

    table = connection.ops.quote_name(ScheduledTouch._meta.db_table)
    rows = io.BytesIO()
    with connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} TO STDOUT") as copy:
            for block in copy:
                rows.write(block)
        cursor.execute(f"DELETE FROM {table}")
        cursor.execute(f"VACUUM {table}")
    with timed(results, "raw_insert"), transaction.atomic(), connection.cursor() as cursor:
        with cursor.cursor.copy(f"COPY {table} FROM STDIN") as copy:
            copy.write(rows.getvalue())


def _first_plan_without_exploration(results: dict[str, float]) -> dict:
    """The first run again with exploration off, on the same leads: what exploring 10% of plans costs."""
    from engines.services.planning.allocator import allocate_leads
    from outreach.models import Client, Enrollment, Lead

    Enrollment.objects.all().delete()  # and their touches: every lead is planned afresh
    Client.objects.update(exploration_rate=0)
    with timed(results, "bulk_no_exploration"):
        return allocate_leads(Lead.objects.all())


def _single(results: dict[str, float]) -> None:
    from engines.exceptions import PlanningError
    from engines.services.planning.allocator import allocate_lead
    from outreach.models import Lead

    sample = list(Lead.objects.select_related("client").order_by("?")[:SAMPLE])
    with timed(results, "single"):
        for lead in sample:
            try:
                allocate_lead(lead, lead.client, replan=True)
            except PlanningError:
                pass


def _report(results: dict[str, float], counts: dict, again: dict, plain: dict) -> None:
    bulk_rate = LEADS / results["bulk"]
    single_rate = SAMPLE / results["single"]
    print(f"allocate_leads, first run (10% exploring): {results['bulk']:.2f} s, {bulk_rate:,.0f} leads/s  {counts}")
    if "raw_insert" in results:
        print(f"bare COPY of the first run's touch rows: {results['raw_insert']:.2f} s")
    print(f"allocate_leads, re-plan (cancels every unsent touch first): {results['bulk_again']:.2f} s  {again}")
    print(f"allocate_leads, first run, exploration off: {results['bulk_no_exploration']:.2f} s  {plain}")
    print(f"allocate_lead one by one, re-planning ({SAMPLE} leads): {results['single']:.2f} s")
    record_figure(
        f"allocator first plan ({LEADS:,} leads, 10% exploring)",
        goal=f">= {GOAL_PER_SECOND:,} leads/s",
        measured=bulk_rate,
        unit="leads/s",
        ratio=bulk_rate / GOAL_PER_SECOND,
        met=bulk_rate >= GOAL_PER_SECOND,
    )
    if "raw_insert" in results:
        record_figure(
            "allocator first plan vs a bare COPY of its rows",
            goal="reported",
            measured=results["bulk"] / results["raw_insert"],
            unit="x time",
        )
    record_figure("allocator re-plan", goal="reported", measured=LEADS / results["bulk_again"], unit="leads/s")
    record_figure(
        "allocator exploration cost (first plan, 10% vs off)",
        goal="reported",
        measured=results["bulk"] / results["bulk_no_exploration"],
        unit="x time",
    )
    record_figure(
        "allocator bulk vs one by one",
        goal="reported",
        measured=bulk_rate / single_rate,
        unit="x",
    )


def main() -> None:
    with django_database() as vendor:
        from django.db import connection

        from engines.services.planning.allocator import allocate_leads
        from outreach.models import Lead

        results: dict[str, float] = {}
        with timed(results, "seed"):
            _seed(random.Random(16))
        analyse(connection, vendor)
        print(f"database: {vendor} ({connection.vendor}), leads: {LEADS:,}, seeding took {results['seed']:.1f} s")

        _warm_up()
        with timed(results, "bulk"):
            counts = allocate_leads(Lead.objects.all())
        if vendor == "postgres":
            _raw_insert(results)
        analyse(connection, vendor)
        with timed(results, "bulk_again"):
            again = allocate_leads(Lead.objects.all(), replan=True)
        _single(results)
        plain = _first_plan_without_exploration(results)
        _report(results, counts, again, plain)


if __name__ == "__main__":
    main()
