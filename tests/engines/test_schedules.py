from datetime import UTC, datetime, time

import pytest
from django.core.management import call_command
from django_q.models import Schedule

from engines.services.schedules import (
    DETECTION_FUNC,
    DETECTION_SCHEDULE_NAME,
    ensure_detection_schedule,
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
