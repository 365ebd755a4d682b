"""`make demo`: the whole learning loop on a sample agency, through the real send and outcome paths."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError, CommandParser

from engines.simulation.loop import DemoConfig, DemoError, run_loop
from engines.simulation.report import build_report, terminal_lines, write_html
from outreach.management.base import OutreachCommand
from outreach.management.progress import progress_bar

DEFAULTS = DemoConfig()


class Command(OutreachCommand):
    help = (
        "Build a sample agency (demo clients, templates, leads imported from a spreadsheet), run simulated weeks "
        "of sends, provider callbacks and nightly learning through the real dispatcher and webhook views, and "
        "report what was learned against the planted truth. Re-running replaces only the previous demo's data."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--leads",
            type=int,
            default=DEFAULTS.leads_per_cohort,
            help="leads per client in each of the two cohorts, 20-20000 (default %(default)s)",
        )
        parser.add_argument(
            "--weeks-before",
            type=int,
            default=DEFAULTS.weeks_before,
            help="weeks before the second cohort is imported, 1-12 (default %(default)s; learning needs about five: "
            "a sequence runs four weeks and a lead counts as finished ten days after its last touch)",
        )
        parser.add_argument(
            "--weeks-after",
            type=int,
            default=DEFAULTS.weeks_after,
            help="weeks after it, 1-12; both cohorts are measured over this many weeks (default %(default)s)",
        )
        parser.add_argument(
            "--seed", type=int, default=DEFAULTS.seed, help="seed of the leads and their answers (default %(default)s)"
        )
        parser.add_argument(
            "--out",
            default=str(settings.BASE_DIR / "var" / "demo"),
            help="folder for the spreadsheets and the HTML report (default %(default)s)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        config = DemoConfig(
            leads_per_cohort=options["leads"],
            weeks_before=options["weeks_before"],
            weeks_after=options["weeks_after"],
            seed=options["seed"],
        )
        try:
            config.check()
        except DemoError as exc:
            raise CommandError(str(exc)) from exc
        out_dir = _writable(Path(options["out"]).resolve())
        hours = (config.weeks_before + config.weeks_after) * 7 * 24
        # django-q2 logs every in-process task at INFO, the detectors every nightly pattern: thousands of lines
        # that would bury the progress bar (the report sums them up).
        for name in ("django-q", "engines.services.learning"):
            logging.getLogger(name).setLevel(logging.WARNING)
        # The demo's own database is brought up to date first, as `make demo` does.
        call_command("migrate", verbosity=0)
        started, cpu = time.monotonic(), time.process_time()
        with progress_bar(self, hours, verbosity=options["verbosity"], unit="h", desc="simulated") as bar:
            loop = run_loop(config, out_dir=out_dir, progress=lambda label, n: bar.update(n))
        report = build_report(loop, horizon_days=config.weeks_after * 7)
        for line in terminal_lines(report):
            self.stdout.write(line)
        html = write_html(report, out_dir / "report.html")
        wall, cpu = time.monotonic() - started, time.process_time() - cpu
        self.stdout.write(f"\nRan in {wall:.0f} s ({cpu:.0f} s of CPU).")
        self.stdout.write(self.style.SUCCESS(f"Report with charts: {html}"))
        self.stdout.write(
            self.style.SUCCESS("Look around: `make run` starts the admin (login printed) and a qcluster worker.")
        )


def _writable(folder: Path) -> Path:
    """`folder`, made if missing, once a file can be written in it: checked before the run rather than after
    minutes of simulation."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".outreach-write-check"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise CommandError(f"cannot write the report to {folder}: {exc.strerror or exc}; choose another --out") from exc
    return folder
