"""The four detectors on one big client: 100,000 leads and about 1,000,000 activities, on PostgreSQL.

    .venv/bin/python -m benchmarks.bench_detectors              # PostgreSQL, 100,000 leads
    BENCH_LEADS=20000 .venv/bin/python -m benchmarks.bench_detectors

The data is the planted-truth generator's (engines.simulation.synthetic), written
by a child process so that this process's peak memory is the detectors' own.
Measured, in this order: each detector alone (each reads its own evidence),
then detect_patterns (all four on evidence read once), best of ROUNDS; the
process's peak resident memory (ru_maxrss) after them; then the peak of
Python allocations (tracemalloc, numpy included) during one more
detect_patterns, which tracemalloc slows down, so it is not timed.
Goal: all four in under 20 s and under 1.5 GB.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import time
import tracemalloc
from datetime import UTC, datetime

from benchmarks.harness import django_database, record_figure, timed

LEADS = int(os.environ.get("BENCH_LEADS", "100000"))
ROUNDS = 2
NOW = datetime(2026, 3, 4, 6, 0, tzinfo=UTC)


def generate(leads: int, results: multiprocessing.Queue) -> None:
    from django.db import connections

    from engines.simulation.synthetic import generate_client

    start = time.perf_counter()
    data = generate_client(n_leads=leads, seed=1, now=NOW, batch_size=5000)
    results.put(
        {
            "client": data.client.pk,
            "leads": data.leads,
            "activities": data.activities,
            "scheduled_touches": data.scheduled_touches,
            "seconds": time.perf_counter() - start,
        }
    )
    connections.close_all()


def analyse() -> None:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")


def main() -> None:
    with django_database() as vendor:
        from django.db import connections

        from engines.services.learning import DETECTORS, detect, detect_patterns, run_detectors
        from outreach.models import Client, ConversionPattern

        connections.close_all()  # the child must not share this process's connection
        queue: multiprocessing.Queue = multiprocessing.get_context("fork").Queue()
        child = multiprocessing.get_context("fork").Process(target=generate, args=(LEADS, queue))
        child.start()
        data = queue.get()
        child.join()
        analyse()
        client = Client.objects.get(pk=data["client"])

        seconds: dict[str, float] = {}
        saved: dict[str, ConversionPattern] = {}
        for _ in range(ROUNDS):
            for pattern_type in DETECTORS:
                round_times: dict[str, float] = {}
                with timed(round_times, pattern_type):
                    detect(pattern_type, client, now=NOW)
                seconds[pattern_type] = min(seconds.get(pattern_type, float("inf")), round_times[pattern_type])
            round_times = {}
            with timed(round_times, "all four"):
                saved = detect_patterns(client, now=NOW)
            seconds["all four"] = min(seconds.get("all four", float("inf")), round_times["all four"])
        peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        tracemalloc.start()
        run_detectors(client, now=NOW)
        _, traced_peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()

        print(f"database: {vendor}")
        print(
            f"data: 1 client, {data['leads']:,} leads, {data['activities']:,} activities, "
            f"{data['scheduled_touches']:,} scheduled touches; generated in {data['seconds']:.1f} s"
        )
        for name, value in seconds.items():
            print(f"  {name:<9} {value:6.2f} s")
        for pattern_type, pattern in saved.items():
            print(f"  saved {pattern_type}: sample {pattern.sample_size:,}, confidence {pattern.confidence}")
        print(f"peak resident memory of this process: {peak_rss_mb:,.0f} MB (goal < 1,536 MB)")
        print(f"peak traced allocations during detect_patterns: {traced_peak / 2**20:,.0f} MB")
        verdict = "met" if seconds["all four"] < 20 and peak_rss_mb < 1536 else "NOT met"
        print(f"goal (all four < 20 s, < 1.5 GB): {verdict}")
        all_four = seconds["all four"]
        record_figure(
            "all four detectors", goal="< 20 s", measured=all_four, unit="s", ratio=all_four / 20, met=all_four < 20
        )
        record_figure(
            "detectors' peak memory", goal="< 1,536 MB", measured=peak_rss_mb, unit="MB", ratio=peak_rss_mb / 1536,
            met=peak_rss_mb < 1536,
        )  # fmt: skip


if __name__ == "__main__":
    main()
