"""Inserting many rows: one COPY on PostgreSQL, bulk_create on SQLite; the same rows either way."""

import json
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from engines.db.copy import copy_escape_json, insert_objects, insert_returning_ids, insert_text
from outreach.models import Activity, Lead, ScheduledTouch
from tests.factories import ClientFactory, EnrollmentFactory, LeadFactory

pytestmark = pytest.mark.django_db

# Every character COPY's text format or JSON escapes, and some that neither does.
AWKWARD = 'tab\there, new\nline, back\\slash, "quotes", \\N, \u00e9t\u00e9 \U0001f600'


def test_objects_are_stored_with_every_value_as_they_hold_it():
    lead = LeadFactory()
    at = timezone.now() - timedelta(days=2, microseconds=7)
    activities = [
        Activity(
            client=lead.client, lead=lead, action="email_sent", channel="email", created_at=at + timedelta(seconds=n),
            content_snapshot={"body": AWKWARD, "n": n, "nested": [1.5, None, True]}, metadata={"k": AWKWARD},
            sequence_id=uuid.uuid4() if n else None, touch_number=n + 1, provider_message_id=f"pm-{n}",
        )
        for n in range(3)
    ]  # fmt: skip

    insert_objects(activities)

    stored = {row.pk: row for row in Activity.objects.filter(lead=lead)}
    assert sorted(stored) == sorted(activity.pk for activity in activities)
    for activity in activities:
        row = stored[activity.pk]
        assert (row.content_snapshot, row.metadata) == (activity.content_snapshot, activity.metadata)
        assert (row.sequence_id, row.touch_number, row.created_at) == (
            activity.sequence_id,
            activity.touch_number,
            activity.created_at,
        )
        assert row.provider_message_id == activity.provider_message_id and row.led_to_booking is False


def test_objects_the_database_refuses_are_refused_whole():
    from django.db import IntegrityError, transaction

    lead = LeadFactory()
    good = Activity(client=lead.client, lead=lead, action="email_sent", channel="email")
    wrong_channel = Activity(client=lead.client, lead=lead, action="email_sent", channel="sms")
    with pytest.raises(IntegrityError), transaction.atomic():
        insert_objects([good, wrong_channel])
    assert not Activity.objects.exists()


def test_no_objects_run_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        insert_objects([])


def test_rows_get_their_new_ids_in_order_and_defaults_for_what_they_leave_out():
    client = ClientFactory()
    rows = [{"email": f"l{n}@example.com", "first_name": AWKWARD if n == 1 else f"L{n}"} for n in range(5)]
    before = timezone.now()

    ids = insert_returning_ids(Lead, rows, fixed={"client_id": client.pk})

    assert len(set(ids)) == 5
    stored = Lead.objects.in_bulk(ids)
    assert [stored[pk].email for pk in ids] == [row["email"] for row in rows]
    assert stored[ids[1]].first_name == AWKWARD
    lead = stored[ids[0]]
    assert (lead.client_id, lead.status, lead.touch_count, lead.als_score) == (client.pk, "new", 0, None)
    assert (lead.is_unsubscribed, lead.als_components, lead.employee_count, lead.phone) == (False, None, None, "")
    assert before <= lead.created_at <= timezone.now()
    assert {stored[pk].email_company for pk in ids} == {"example.com"}  # computed by the database, never copied


def test_ids_follow_on_from_rows_inserted_otherwise():
    client = ClientFactory()
    earlier = LeadFactory(client=client)
    [first] = insert_returning_ids(Lead, [{"email": "next@example.com"}], fixed={"client_id": client.pk})
    later = LeadFactory(client=client)
    assert earlier.pk < first < later.pk


def test_no_rows_get_no_ids_and_run_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert insert_returning_ids(Lead, []) == []


def _touch_fields(lead, n, exploration):
    enrollment = EnrollmentFactory(
        lead=lead, client=lead.client, sequence_id=uuid.UUID(int=n + 1), state="finished", ended_at=timezone.now()
    )
    return {
        "client_id": lead.client_id, "lead_id": lead.pk, "enrollment_id": enrollment.pk,
        "sequence_id": uuid.UUID(int=n + 1), "touch_number": n + 1,
        "channel": "email", "scheduled_at": timezone.now().replace(microsecond=0) + timedelta(days=n),
        "status": "planned", "lead_tier": "warm", "planned_sequence": "email>sms", "is_exploration": bool(exploration),
        "exploration": exploration,
    }  # fmt: skip


def _line(fields, stamp):
    values = [
        fields["client_id"], fields["lead_id"], fields["enrollment_id"], fields["sequence_id"],
        fields["touch_number"], fields["channel"],
        fields["scheduled_at"].isoformat(), fields["status"], fields["lead_tier"], fields["planned_sequence"],
        "t" if fields["is_exploration"] else "f", copy_escape_json(json.dumps(fields["exploration"])), 0, "", "",
        stamp, stamp,
    ]  # fmt: skip
    return "\t".join(map(str, values)) + "\n"


TEXT_FIELDS = (
    "client", "lead", "enrollment", "sequence_id", "touch_number", "channel", "scheduled_at", "status", "lead_tier",
    "planned_sequence", "is_exploration", "exploration", "attempts", "last_error", "reason", "created_at", "updated_at",
)  # fmt: skip


def test_rows_written_as_text_are_stored_as_their_objects_would_be():
    lead = LeadFactory()
    touches = [_touch_fields(lead, n, {"why": AWKWARD, "n": n} if n else {}) for n in range(3)]
    stamp = timezone.now().isoformat()
    made = []

    def lines():
        made.append("text")
        return [_line(fields, stamp) for fields in touches]

    def objects():
        made.append("objects")
        return [ScheduledTouch(**fields) for fields in touches]

    assert insert_text(ScheduledTouch, TEXT_FIELDS, lines, objects, batch_size=2) == 3

    assert made == (["text"] if connection.vendor == "postgresql" else ["objects"])  # only the form used is made
    stored = list(ScheduledTouch.objects.filter(lead=lead).order_by("touch_number").values(*touches[0]))
    assert stored == touches
    assert ScheduledTouch.objects.filter(lead=lead, attempts=0, reason="", created_at__isnull=False).count() == 3


def test_no_text_rows_run_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert insert_text(ScheduledTouch, TEXT_FIELDS, list, list) == 0


def test_json_for_copy_text_keeps_its_backslashes():
    text = json.dumps({"a": AWKWARD})
    assert copy_escape_json(text) == text.replace("\\", "\\\\")
    assert "\t" not in text and "\n" not in text  # json.dumps escapes them itself
