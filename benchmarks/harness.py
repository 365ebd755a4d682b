"""Shared set-up for benchmarks: Django on a throwaway PostgreSQL cluster (or SQLite), migrated.

Usage, at the top of a benchmark script run as `python -m benchmarks.bench_x`:

    from benchmarks.harness import django_database, timed
    with django_database() as vendor:
        ...  # import models and services only inside
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from devtools.throwaway_postgres import throwaway_postgres  # noqa: E402 (the path is set just above)


@contextlib.contextmanager
def django_database(vendor: str | None = None) -> Iterator[str]:
    """Point Django at a fresh database (BENCH_DB=postgres|sqlite, default postgres), migrate it, yield the vendor."""
    vendor = (vendor or os.environ.get("BENCH_DB", "postgres")).lower()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outreach.settings")
    os.environ["ENGINES_LOG_LEVEL"] = "WARNING"
    # Measured as production runs: with DEBUG on, Django logs every query's SQL and parameters, a cost each
    # query pays that production does not (and the log grows with the run).
    os.environ.setdefault("DEBUG", "false")
    with contextlib.ExitStack() as stack:
        if vendor == "postgres":
            cluster = stack.enter_context(throwaway_postgres())
            os.environ["DATABASE_URL"] = cluster.url
        else:
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="outreach-bench-"))
            os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        yield vendor
        from django.db import connections

        connections.close_all()


@contextlib.contextmanager
def timed(results: dict[str, float], name: str) -> Iterator[None]:
    """Store the wall-clock seconds of the block in results[name]."""
    start = time.perf_counter()
    yield
    results[name] = time.perf_counter() - start


def record_figure(
    figure: str, *, goal: str, measured: float, unit: str, ratio: float | None = None, met: bool | None = None
) -> None:
    """Print one headline figure and, under `make bench`, append it to the run's results file.

    `ratio` is the measured figure over its goal or baseline, taken in the same
    run (these machines are noisy: ratios compare, seconds alone do not).
    """
    row = {"figure": figure, "goal": goal, "measured": measured, "unit": unit, "ratio": ratio, "met": met}
    ratio_text = "" if ratio is None else f" (ratio {ratio:.2f})"
    verdict = "" if met is None else (" [met]" if met else " [MISSED]")
    print(f"{figure}: {measured:,.2f} {unit}, goal {goal}{ratio_text}{verdict}")
    results_file = os.environ.get("BENCH_RESULTS")
    if results_file:
        import json

        with open(results_file, "a", encoding="utf-8") as out:
            out.write(json.dumps(row) + "\n")
