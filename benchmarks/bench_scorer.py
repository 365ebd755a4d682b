"""Bulk lead scoring against the per-lead loop and against a raw SQL write of the same rows.

    .venv/bin/python -m benchmarks.bench_scorer            # PostgreSQL, 100,000 leads
    BENCH_LEADS=20000 .venv/bin/python -m benchmarks.bench_scorer

Measured in one run on one database:
- score_leads over every lead (read, compute, write back), best of ROUNDS;
- the score_lead loop (select_related client, one call per lead) on a sample
  of LOOP_SAMPLE leads, extrapolated per lead to all of them;
- a raw write of the same rows: one UPDATE ... FROM unnest(...) of the values
  score_leads stored (precomputed, so nothing is read or computed), best of ROUNDS.
Goal: score_leads >= 20x faster than the loop, and within 2x of the raw write.
"""

from __future__ import annotations

import os
import random
import time
from functools import partial

from benchmarks.harness import django_database, record_figure, timed

LEADS = int(os.environ.get("BENCH_LEADS", "100000"))
LOOP_SAMPLE = int(os.environ.get("BENCH_LOOP_SAMPLE", "5000"))
ROUNDS = 2

TITLES = [
    "Owner",
    "Co-Founder",
    "CEO",
    "Sr. Director",
    "Director of Sales",
    "SVP Sales",
    "Head of Ops",
    "Senior Manager",
    "Practice Manager",
    "Operations Coordinator",
    "Office Manager",
    "",
    "Receptionist",
]
INDUSTRIES = ["Dental", "dental", "Accounting", "Legal", "", "Plumbing", "Physiotherapy"]
COUNTRIES = ["Australia", "AU", "New Zealand", "NZ", "United States", "", "United Kingdom"]


def seed(count: int) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from outreach.models import Client, ConversionPattern, Lead

    weights = {"data_quality": 0.10, "authority": 0.15, "company_fit": 0.40, "timing": 0.20}
    by_pattern = Client.objects.create(name="Pattern Co", icp={"industries": ["Dental"], "countries": ["AU", "NZ"]})
    ConversionPattern.objects.create(
        client=by_pattern,
        pattern_type="who",
        valid_until=timezone.now() + timedelta(days=7),
        patterns={"recommended_weights": weights, "conversion_rate_by": {}, "sample_size": 500, "confidence": 0.8},
    )
    by_client = Client.objects.create(
        name="Learned Co",
        icp={"industries": ["Accounting", "Legal"], "countries": ["Australia"]},
        als_learned_weights={"data_quality": 0.15, "authority": 0.30, "company_fit": 0.20, "timing": 0.20},
    )
    by_default = Client.objects.create(name="Default Co", icp={})
    clients = [by_pattern, by_client, by_default]
    rng = random.Random(16)
    batch = []
    for i in range(count):
        batch.append(
            Lead(
                client=clients[i % 3],
                first_name=f"Lead{i}",
                email=f"lead{i}@example.com" if rng.random() < 0.9 else "",
                email_verified=rng.random() < 0.5,
                phone="+61412345678" if rng.random() < 0.7 else "",
                phone_verified=rng.random() < 0.3,
                linkedin_url=f"https://www.linkedin.com/in/l{i}" if rng.random() < 0.6 else "",
                is_personal_email=rng.random() < 0.2,
                title=rng.choice(TITLES),
                industry=rng.choice(INDUSTRIES),
                employee_count=rng.choice([None, 3, 8, 20, 45, 80, 500]),
                country=rng.choice(COUNTRIES),
                is_new_role=rng.random() < 0.2,
                is_hiring=rng.random() < 0.3,
                recently_funded=rng.random() < 0.1,
                has_bounced=rng.random() < 0.05,
                is_unsubscribed=rng.random() < 0.03,
                is_competitor=rng.random() < 0.02,
                do_not_contact=rng.random() < 0.01,
            )
        )
        if len(batch) == 10000:
            Lead.objects.bulk_create(batch)
            batch = []
    Lead.objects.bulk_create(batch)


def vacuum() -> None:
    """Start every timed write from the same table state (no dead rows from the previous write)."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE outreach_lead")


def fetch_stored() -> dict[str, list]:
    """What score_leads stored, as the columns the raw writes need (read outside the timings)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, als_score, als_components::text, als_weights_used::text, als_weights_source, scored_at, "
            + ", ".join(f"(als_components->>'{key}')::smallint" for key in COMPONENTS)
            + " FROM outreach_lead ORDER BY id"
        )
        names = ["id", "score", "components", "weights", "source", "scored_at", *COMPONENTS]
        return dict(zip(names, map(list, zip(*cursor.fetchall(), strict=True)), strict=True))


COMPONENTS = ("data_quality", "authority", "company_fit", "timing", "risk")


def raw_write_json(stored: dict[str, list]) -> int:
    """One UPDATE ... FROM unnest(...) of every row, components and weights as precomputed JSON per row."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            """
            UPDATE outreach_lead AS lead SET als_score = v.score, als_components = v.components,
                   als_weights_used = v.weights, als_weights_source = v.source, scored_at = %s
            FROM unnest(%s::bigint[], %s::smallint[], %s::jsonb[], %s::jsonb[], %s::text[])
                 AS v(id, score, components, weights, source)
            WHERE lead.id = v.id
            """,
            [
                stored["scored_at"][0],
                stored["id"],
                stored["score"],
                stored["components"],
                stored["weights"],
                stored["source"],
            ],
        )
        return cursor.rowcount


def int_array(values) -> str:
    return "{" + ",".join(map(str, values)) + "}"


def raw_write_arrays(stored: dict[str, list], batch_size: int) -> int:
    """The statement score_leads sends (JSON built by PostgreSQL from smallint arrays passed as array
    literals, weights once per client), fed precomputed values in batches of `batch_size` rows: the
    cost of the write alone."""
    from django.db import connection

    written = 0
    with connection.cursor() as cursor:
        for start in range(0, len(stored["id"]), batch_size):
            part = {key: values[start : start + batch_size] for key, values in stored.items()}
            clients = sorted(set(zip(part["weights"], part["source"], strict=True)))
            ordinal = {client: i for i, client in enumerate(clients, start=1)}
            cursor.execute(
                f"""
                UPDATE outreach_lead AS lead SET als_score = v.score,
                       als_components = jsonb_build_object({", ".join(f"'{k}', v.{k}" for k in COMPONENTS)},
                                                           'scored_at', %s::text),
                       als_weights_used = w.weights, als_weights_source = w.source, scored_at = %s
                FROM unnest(%s::bigint[], %s::smallint[], %s::smallint[], %s::smallint[], %s::smallint[],
                            %s::smallint[], %s::smallint[], %s::int[]) AS v(id, score, {", ".join(COMPONENTS)}, client)
                    JOIN unnest(%s::jsonb[], %s::text[]) WITH ORDINALITY AS w(weights, source, client)
                    ON w.client = v.client
                WHERE lead.id = v.id
                """,
                [
                    part["scored_at"][0].isoformat(),
                    part["scored_at"][0],
                    int_array(part["id"]),
                    int_array(part["score"]),
                    *(int_array(part[key]) for key in COMPONENTS),
                    int_array(ordinal[pair] for pair in zip(part["weights"], part["source"], strict=True)),
                    [weights for weights, _ in clients],
                    [source for _, source in clients],
                ],
            )
            written += cursor.rowcount
    return written


def main() -> None:
    with django_database() as vendor:
        from django.db import connection

        from engines.services.scoring.lead_score import BATCH_SIZE, score_lead, score_leads
        from outreach.models import Lead

        start = time.perf_counter()
        seed(LEADS)
        print(
            f"database: {vendor}; {LEADS:,} leads in 3 clients (weights from a pattern, the client, the defaults); "
            f"seeded in {time.perf_counter() - start:.1f} s"
        )

        bulk: list[float] = []
        raw: dict[str, list[float]] = {}
        for _ in range(ROUNDS):
            vacuum()
            results: dict[str, float] = {}
            with timed(results, "bulk"):
                scored = score_leads(Lead.objects.all())
            assert scored == LEADS, scored
            bulk.append(results["bulk"])

            if connection.vendor != "postgresql":
                continue
            stored = fetch_stored()
            for name, write in (
                ("raw, one UPDATE, JSON per row", partial(raw_write_json, stored)),
                ("raw, one UPDATE, score_leads' statement", partial(raw_write_arrays, stored, LEADS)),
                ("raw, score_leads' statement and batches", partial(raw_write_arrays, stored, BATCH_SIZE)),
            ):
                vacuum()
                with timed(results, "raw"):
                    written = write()
                assert written == LEADS, written
                raw.setdefault(name, []).append(results["raw"])

        vacuum()
        sample = min(LOOP_SAMPLE, LEADS)
        results = {}
        with timed(results, "loop"):
            for lead in Lead.objects.select_related("client").order_by("pk")[:sample]:
                score_lead(lead, lead.client)
        per_lead = results["loop"] / sample
        loop_total = per_lead * LEADS

        best_bulk = min(bulk)
        rounds = ", ".join(f"{t:.2f}" for t in bulk)
        print(f"score_leads, all {LEADS:,} leads:      {best_bulk:8.2f} s  (rounds: {rounds})")
        print(
            f"score_lead loop, {sample:,} leads measured: {results['loop']:8.2f} s  = {per_lead * 1e3:.3f} ms/lead, "
            f"extrapolated to {LEADS:,}: {loop_total:.1f} s"
        )
        for name, times in raw.items():
            rounds = ", ".join(f"{t:.2f}" for t in times)
            print(f"{name}, {LEADS:,} precomputed rows: {min(times):8.2f} s  (rounds: {rounds})")
        speedup = loop_total / best_bulk
        record_figure(
            "score_leads vs the per-lead loop", goal=">= 20x", measured=speedup, unit="x", ratio=speedup / 20,
            met=speedup >= 20,
        )  # fmt: skip
        if raw:
            name, fastest = min(((name, min(times)) for name, times in raw.items()), key=lambda item: item[1])
            print(f"(fastest raw write: {name})")
            overhead = best_bulk / fastest
            record_figure(
                "score_leads vs the fastest raw SQL write", goal="<= 2x", measured=overhead, unit="x",
                ratio=overhead / 2, met=overhead <= 2,
            )  # fmt: skip


if __name__ == "__main__":
    main()
