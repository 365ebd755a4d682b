from typing import Any

from engines.schedules import ensure_schedules
from outreach.management.base import OutreachCommand


class Command(OutreachCommand):
    help = (
        "Create the django-q2 schedules the engines need, or repair them if edited: nightly pattern detection "
        "and the every-minute dispatcher of due touches. Safe to run any number of times (migrate runs it too)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        for schedule in ensure_schedules():
            self.stdout.write(
                self.style.SUCCESS(f"{schedule.name}: {schedule.func}, next run {schedule.next_run:%Y-%m-%d %H:%M} UTC")
            )
