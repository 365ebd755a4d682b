from datetime import UTC, datetime, time
from io import StringIO

import pytest
from django.core.management import call_command
from django_q.models import Schedule

from engines.schedules import (
    DETECTION_FUNC,
    DETECTION_SCHEDULE_NAME,
    DISPATCH_FUNC,
    DISPATCH_SCHEDULE_NAME,
    ensure_detection_schedule,
    ensure_dispatch_schedule,
    ensure_schedules,
    next_daily_run,
)

pytestmark = pytest.mark.django_db


def test_migrating_leaves_exactly_one_nightly_detection_schedule():
    call_command("migrate", verbosity=0)

    schedule = Schedule.objects.get(name=DETECTION_SCHEDULE_NAME)
    assert (schedule.func, schedule.schedule_type, schedule.repeats) == (DETECTION_FUNC, Schedule.DAILY, -1)
    assert schedule.next_run.astimezone(UTC).time() == time(2, 0)


def test_ensuring_twice_changes_nothing():
    Schedule.objects.filter(name=DETECTION_SCHEDULE_NAME).delete()
    first = ensure_detection_schedule(now=datetime(2026, 3, 4, 1, 0, tzinfo=UTC))
    again = ensure_detection_schedule(now=datetime(2026, 3, 9, 5, 0, tzinfo=UTC))

    assert again.pk == first.pk
    assert Schedule.objects.filter(name=DETECTION_SCHEDULE_NAME).count() == 1
    assert again.next_run == datetime(2026, 3, 4, 2, 0, tzinfo=UTC)


def test_a_schedule_edited_away_from_nightly_detection_is_repaired():
    schedule = ensure_detection_schedule()
    Schedule.objects.filter(pk=schedule.pk).update(func="somewhere.else", schedule_type=Schedule.ONCE, repeats=0)

    repaired = ensure_detection_schedule()

    assert (repaired.func, repaired.schedule_type, repaired.repeats) == (DETECTION_FUNC, Schedule.DAILY, -1)
    assert Schedule.objects.filter(name=DETECTION_SCHEDULE_NAME).count() == 1


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2026, 3, 4, 1, 59, tzinfo=UTC), datetime(2026, 3, 4, 2, 0, tzinfo=UTC)),
        (datetime(2026, 3, 4, 2, 0, tzinfo=UTC), datetime(2026, 3, 5, 2, 0, tzinfo=UTC)),
        (datetime(2026, 3, 4, 13, 0, tzinfo=UTC), datetime(2026, 3, 5, 2, 0, tzinfo=UTC)),
    ],
)
def test_the_next_run_is_the_next_two_o_clock_utc(now, expected):
    assert next_daily_run(time(2, 0), now=now) == expected


def test_migrating_leaves_exactly_one_every_minute_dispatch_schedule():
    call_command("migrate", verbosity=0)
    call_command("migrate", verbosity=0)

    schedule = Schedule.objects.get(name=DISPATCH_SCHEDULE_NAME)
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        DISPATCH_FUNC,
        Schedule.MINUTES,
        1,
        -1,
    )


def test_the_dispatch_schedule_is_repaired_and_keeps_its_next_run():
    Schedule.objects.filter(name=DISPATCH_SCHEDULE_NAME).delete()
    first = ensure_dispatch_schedule(now=datetime(2026, 3, 4, 1, 0, tzinfo=UTC))
    Schedule.objects.filter(pk=first.pk).update(func="somewhere.else", minutes=60, repeats=0)

    repaired = ensure_dispatch_schedule(now=datetime(2026, 3, 9, 5, 0, tzinfo=UTC))

    assert repaired.pk == first.pk
    assert (repaired.func, repaired.minutes, repaired.repeats) == (DISPATCH_FUNC, 1, -1)
    assert repaired.next_run == datetime(2026, 3, 4, 1, 0, tzinfo=UTC)
    assert Schedule.objects.filter(name=DISPATCH_SCHEDULE_NAME).count() == 1


def test_setup_schedules_is_idempotent_and_says_what_exists():
    out = StringIO()
    call_command("setup_schedules", stdout=out)
    call_command("setup_schedules", stdout=out)

    assert Schedule.objects.filter(name__in=[DETECTION_SCHEDULE_NAME, DISPATCH_SCHEDULE_NAME]).count() == 2
    assert out.getvalue().count(DISPATCH_FUNC) == 2
    assert [s.pk for s in ensure_schedules()] == list(
        Schedule.objects.filter(name__in=[DETECTION_SCHEDULE_NAME, DISPATCH_SCHEDULE_NAME])
        .order_by("pk")
        .values_list("pk", flat=True)
    )
