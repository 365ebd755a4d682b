"""`make demo` end to end: the default demo on a fresh SQLite database, timed as a new user runs it.

    .venv/bin/python -m benchmarks.bench_demo
    BENCH_DEMO_LEADS=300 .venv/bin/python -m benchmarks.bench_demo     # a smaller run

Runs `manage.py demo` (migrations included) in a child process against a
throwaway SQLite file and reports its wall-clock and CPU seconds, the leads
it simulated and the goal's ratio: a few thousand leads in under 3 minutes on
a 2-core machine. The demo always runs on SQLite (the zero-setup default),
whatever BENCH_DB says.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import tempfile
import time

from benchmarks.harness import ROOT, record_figure

GOAL_SECONDS = 180
LEADS = os.environ.get("BENCH_DEMO_LEADS")


def default_leads() -> int:
    """The leads a default demo simulates: per client and cohort, for each client, in two cohorts."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "outreach.settings")
    import django

    django.setup()
    from engines.simulation.loop import DemoConfig

    config = DemoConfig()
    return config.leads_per_cohort * config.clients * 2


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="outreach-bench-demo-") as folder:
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{folder}/demo.sqlite3"}
        command = [sys.executable, "manage.py", "demo", "--out", folder, "--verbosity", "0"]
        command += ["--leads", LEADS] if LEADS else []
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if finished.returncode != 0:
        raise SystemExit(f"the demo failed (exit {finished.returncode}):\n{finished.stdout}\n{finished.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    sent = re.search(r"([\d,]+) touches sent", finished.stdout)
    leads = default_leads() if LEADS is None else int(LEADS) * 2 * 2
    touches = sent.group(1) if sent else "?"
    print(f"demo of {leads:,} leads ({touches} touches sent): {wall:.0f} s wall, {cpu:.0f} s of CPU")
    record_figure(
        f"make demo, {leads:,} leads, fresh SQLite", goal=f"< {GOAL_SECONDS} s on 2 cores", measured=wall, unit="s",
        ratio=wall / GOAL_SECONDS, met=wall < GOAL_SECONDS,
    )  # fmt: skip


if __name__ == "__main__":
    main()
