"""The recurring django-q2 schedules the engines need, created when missing (after every migrate)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.utils import timezone
from django_q.models import Schedule

DETECTION_SCHEDULE_NAME = "engines: nightly pattern detection"
DETECTION_FUNC = "engines.tasks.detect_patterns_for_all_clients"
# Quiet hours for the agency's own servers, before Australian business hours begin.
DETECTION_TIME_UTC = time(2, 0)


def next_daily_run(at: time, *, now: datetime | None = None) -> datetime:
    """The next instant (UTC) whose time of day is `at`, strictly after `now`."""
    now = (now or timezone.now()).astimezone(UTC)
    candidate = now.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
    return candidate if candidate > now else candidate + timedelta(days=1)


def ensure_detection_schedule(*, using: str = "default", now: datetime | None = None) -> Schedule:
    """The nightly detection schedule, created if missing and repaired if edited away from daily; idempotent.

    An existing schedule keeps its next run, so running this again (every
    migrate does) never shifts or repeats the night's detection.
    """
    schedule, created = Schedule.objects.using(using).get_or_create(
        name=DETECTION_SCHEDULE_NAME,
        defaults={
            "func": DETECTION_FUNC,
            "schedule_type": Schedule.DAILY,
            "repeats": -1,
            "next_run": next_daily_run(DETECTION_TIME_UTC, now=now),
        },
    )
    wanted = (DETECTION_FUNC, Schedule.DAILY, -1)
    if not created and (schedule.func, schedule.schedule_type, schedule.repeats) != wanted:
        schedule.func, schedule.schedule_type, schedule.repeats = wanted
        schedule.save(using=using, update_fields=["func", "schedule_type", "repeats"])
    return schedule
