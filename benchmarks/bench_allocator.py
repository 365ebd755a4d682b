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

from benchmarks.harness import django_database, timed

LEADS = int(os.environ.get("BENCH_LEADS", "50000"))
SAMPLE = int(os.environ.get("BENCH_SAMPLE", "300"))
GOAL_PER_SECOND = 5000

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


def main() -> None:
    with django_database() as vendor:
        from django.db import connection

        from engines.exceptions import PlanningError
        from engines.services.allocator import allocate_lead, allocate_leads
        from outreach.models import Lead, ScheduledTouch

        rng = random.Random(16)
        results: dict[str, float] = {}
        with timed(results, "seed"):
            _seed(rng)
        analyse(connection, vendor)

        with timed(results, "bulk"):
            counts = allocate_leads(Lead.objects.all())
        analyse(connection, vendor)
        with timed(results, "bulk_again"):
            again = allocate_leads(Lead.objects.all(), replan=True)

        sample = list(Lead.objects.select_related("client").order_by("?")[:SAMPLE])
        with timed(results, "single"):
            for lead in sample:
                try:
                    allocate_lead(lead, lead.client, replan=True)
                except PlanningError:
                    pass

        bulk_rate = LEADS / results["bulk"]
        again_rate = LEADS / results["bulk_again"]
        single_rate = SAMPLE / results["single"]
        planned = ScheduledTouch.objects.filter(status="planned").count()
        print(f"database: {vendor} ({connection.vendor}), leads: {LEADS:,}, seeding took {results['seed']:.1f} s")
        print(f"allocate_leads, first run: {results['bulk']:.2f} s, {bulk_rate:,.0f} leads/s  {counts}")
        print(
            f"allocate_leads, re-plan (cancels every planned touch first): {results['bulk_again']:.2f} s, "
            f"{again_rate:,.0f} leads/s  {again}"
        )
        print(
            f"allocate_lead one by one, re-planning ({SAMPLE} leads): {results['single']:.2f} s, "
            f"{single_rate:,.0f} leads/s"
        )
        print(f"bulk / single: {bulk_rate / single_rate:.1f}x; planned touches now: {planned:,}")
        verdict = "met" if bulk_rate >= GOAL_PER_SECOND else "NOT met"
        print(f"goal >= {GOAL_PER_SECOND:,} leads/s: {verdict}")


if __name__ == "__main__":
    main()
