"""The recurring django-q2 schedules the engines need, created when missing (after every migrate)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from django.utils import timezone
from django_q.models import Schedule

DETECTION_SCHEDULE_NAME = "engines: nightly pattern detection"
DETECTION_FUNC = "engines.tasks.detect_patterns_for_all_clients"
# Quiet hours for the agency's own servers, before Australian business hours begin.
DETECTION_TIME_UTC = time(2, 0)
DISPATCH_SCHEDULE_NAME = "engines: send due touches"
DISPATCH_FUNC = "engines.tasks.dispatch_touches"
DISPATCH_EVERY_MINUTES = 1


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


def ensure_dispatch_schedule(*, using: str = "default", now: datetime | None = None) -> Schedule:
    """The every-minute dispatcher schedule, created if missing and repaired if edited; idempotent.

    Runs that overlap (a slow provider, two clusters) are safe: each touch is
    claimed by one run only (engines.services.sending.dispatcher).
    """
    wanted = {
        "func": DISPATCH_FUNC,
        "schedule_type": Schedule.MINUTES,
        "minutes": DISPATCH_EVERY_MINUTES,
        "repeats": -1,
    }
    schedule, created = Schedule.objects.using(using).get_or_create(
        name=DISPATCH_SCHEDULE_NAME, defaults={**wanted, "next_run": now or timezone.now()}
    )
    changed = [field for field, value in wanted.items() if getattr(schedule, field) != value]
    if not created and changed:
        for field in changed:
            setattr(schedule, field, wanted[field])
        schedule.save(using=using, update_fields=changed)
    return schedule


def ensure_schedules(*, using: str = "default", now: datetime | None = None) -> list[Schedule]:
    """Every schedule the engines need (nightly detection, the dispatcher), each created or repaired once."""
    return [ensure_detection_schedule(using=using, now=now), ensure_dispatch_schedule(using=using, now=now)]
