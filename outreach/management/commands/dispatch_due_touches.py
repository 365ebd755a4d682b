from typing import Any

from django.core.management.base import CommandError

from engines.services.sending.dispatcher import OUTCOMES, dispatch_due_touches, preview_due_touches
from outreach.management.base import OutreachCommand

# More than any run handles (the dispatcher works in batches), and far below what a database LIMIT can hold:
# a larger --limit ended the dry run in an IntegrityError (SQLite) or a DataError (PostgreSQL) traceback.
MAX_LIMIT = 1_000_000


class Command(OutreachCommand):
    help = (
        "Send the touches that are due now, each exactly once (what the every-minute schedule runs). "
        "SMS and calls outside legal contact hours and touches over the client's daily limit wait for their "
        "next allowed slot. --dry-run lists what would go out and why the others wait, and changes nothing."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--dry-run", action="store_true", help="list what would go out and why others wait; send nothing"
        )
        parser.add_argument(
            "--limit", type=int, metavar="N", help=f"handle at most N due touches, 1-{MAX_LIMIT:,} (default: all)"
        )

    def handle(self, *args: Any, dry_run: bool = False, limit: int | None = None, **options: Any) -> None:
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1")
        if limit is not None and limit > MAX_LIMIT:
            raise CommandError(f"--limit must be at most {MAX_LIMIT:,} (leave it out to handle every due touch)")
        if dry_run:
            self._preview(limit)
            return
        counts = dispatch_due_touches(limit=limit)
        summary = ", ".join(f"{counts[outcome]} {outcome.replace('_', ' ')}" for outcome in OUTCOMES if counts[outcome])
        self.stdout.write(self.style.SUCCESS(summary or "nothing was due"))

    def _preview(self, limit: int | None) -> None:
        decisions = preview_due_touches(limit=limit)
        if not decisions:
            self.stdout.write("Nothing is due.")
            return
        for decision in decisions:
            touch = decision.touch
            what = f"touch {touch.pk}: {touch.channel} #{touch.touch_number} to {touch.lead} ({touch.client})"
            if decision.action == "send":
                self.stdout.write(f"would send   {what}")
            elif decision.action == "defer":
                self.stdout.write(f"would wait   {what}: {decision.reason} until {decision.at:%Y-%m-%d %H:%M} UTC")
            else:
                self.stdout.write(f"would block  {what}: {decision.reason}")
        going = sum(decision.action == "send" for decision in decisions)
        self.stdout.write(self.style.SUCCESS(f"{going} of {len(decisions)} due touches would go out now (dry run)"))
