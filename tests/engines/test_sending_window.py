"""The sending window: email and LinkedIn go out only at the client's hours on the lead's working days."""

import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from engines.rules.sending_window import SendingWindow, sending_window
from engines.services.planning.allocator import allocate_lead
from engines.services.sending.dispatcher import dispatch_due_touches
from outreach.models import ScheduledTouch
from tests.factories import (
    ClientFactory,
    ConversionPatternFactory,
    LeadFactory,
    MessageTemplateFactory,
    ScheduledTouchFactory,
    when_patterns,
)

SYDNEY = ZoneInfo("Australia/Sydney")
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=SYDNEY)


def business_client(**fields):
    """A client with the product's default window: 07:00-19:00, Monday to Friday."""
    return ClientFactory(sending_window_start=7, sending_window_end=19, sends_on_weekends=False, **fields)


@pytest.mark.parametrize(
    ("local", "opens"),
    [
        (datetime(2026, 3, 2, 10, 30), datetime(2026, 3, 2, 10, 30)),  # Monday, inside: at once
        (datetime(2026, 3, 2, 6, 59), datetime(2026, 3, 2, 7, 0)),  # before it opens: today at 7:00
        (datetime(2026, 3, 2, 19, 0), datetime(2026, 3, 3, 7, 0)),  # the end is exclusive: tomorrow
        (datetime(2026, 3, 6, 22, 15), datetime(2026, 3, 9, 7, 0)),  # Friday night: Monday
        (datetime(2026, 3, 7, 12, 0), datetime(2026, 3, 9, 7, 0)),  # Saturday noon: Monday
    ],
)
def test_the_window_opens_next_on_a_working_day_at_its_start(local, opens):
    window = SendingWindow(7, 19)
    assert window.next_opening(local.replace(tzinfo=SYDNEY)) == opens.replace(tzinfo=SYDNEY)


def test_a_window_with_weekends_opens_on_saturday():
    window = SendingWindow(7, 19, frozenset(range(7)))
    assert window.next_opening(datetime(2026, 3, 6, 22, 0, tzinfo=SYDNEY)) == datetime(2026, 3, 7, 7, 0, tzinfo=SYDNEY)


@pytest.mark.django_db
def test_the_default_window_is_seven_to_nineteen_on_working_days():
    client = ClientFactory.build()
    for field in ("sending_window_start", "sending_window_end", "sends_on_weekends"):
        setattr(client, field, client._meta.get_field(field).default)
    assert sending_window(client) == SendingWindow(7, 19, frozenset(range(5)))


@pytest.mark.django_db
@pytest.mark.parametrize(("start", "end"), [(19, 7), (9, 9), (0, 25)])
def test_the_database_refuses_a_window_that_ends_before_it_starts(start, end):
    client = ClientFactory.build(sending_window_start=start, sending_window_end=end)
    with pytest.raises(ValidationError):
        client.full_clean()
    with pytest.raises(IntegrityError), transaction.atomic():
        client.save()


@pytest.mark.django_db
def test_a_pattern_hour_outside_the_window_is_passed_over_with_a_logged_reason(caplog):
    client = business_client()
    ConversionPatternFactory(
        client=client,
        pattern_type="when",
        patterns=when_patterns(
            best_days=[{"day_index": 1, "conversion_rate": 0.2}],
            best_hours=[{"hour": 20, "conversion_rate": 0.6}, {"hour": 8, "conversion_rate": 0.3}],
        ),
        computed_at=MONDAY - timedelta(hours=1),
        valid_until=MONDAY + timedelta(days=30),
    )
    lead = LeadFactory(client=client)

    with caplog.at_level(logging.INFO, logger="engines.allocator"):
        result = allocate_lead(lead, sequence_override=["email", "linkedin", "sms"], now=MONDAY)

    hours = {touch["channel"]: touch["hour"] for touch in result["scheduled_touches"]}
    # 20:00 is outside the email and LinkedIn window: the next preferred hour is used. SMS keeps the legal
    # hours of Australia (9:00-20:00 on weekdays): 20:00 is outside them too, and 8:00 before them.
    assert hours["email"] == 8 and hours["linkedin"] == 8
    assert 9 <= hours["sms"] < 20
    assert "WHEN hours 20:00 are outside the sending window (07:00-19:00, Monday to Friday)" in caplog.text


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("due", "opens"),
    [
        (datetime(2026, 3, 4, 21, 0, tzinfo=SYDNEY), datetime(2026, 3, 5, 7, 0, tzinfo=SYDNEY)),
        (datetime(2026, 3, 7, 11, 0, tzinfo=SYDNEY), datetime(2026, 3, 9, 7, 0, tzinfo=SYDNEY)),
    ],
)
def test_an_email_due_outside_the_window_waits_for_it_then_goes(settings, due, opens):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    client = business_client()
    MessageTemplateFactory(client=client, channel="email", touch_number=1)
    touch = ScheduledTouchFactory(client=client, lead=LeadFactory(client=client), channel="email", scheduled_at=due)

    counts = dispatch_due_touches(now=due + timedelta(minutes=5), threads=1)

    touch.refresh_from_db()
    assert (counts["deferred"], counts["sent"]) == (1, 0)
    assert (touch.status, touch.reason, touch.scheduled_at) == ("planned", "sending_window", opens)
    assert dispatch_due_touches(now=opens.astimezone(UTC), threads=1)["sent"] == 1
    assert ScheduledTouch.objects.get(pk=touch.pk).activity.content_snapshot["hour_of_day"] == 7
