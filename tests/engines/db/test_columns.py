"""Reading columns: values as the driver gives them, times as the epoch Python gives, UUIDs as 16 bytes."""

import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.db.models import Case, IntegerField, Value, When

from engines.db import columns as columns_module
from engines.db.columns import NULL_UUID, Epoch, fetch_columns, uuid_bytes
from outreach.models import Activity, Lead
from tests.factories import ActivityFactory, LeadFactory

pytestmark = pytest.mark.django_db

AT = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


@pytest.mark.parametrize(
    "at",
    [AT, AT - timedelta(days=400, microseconds=1), AT + timedelta(microseconds=999_999), AT.replace(microsecond=0)],
)
def test_epoch_is_the_timestamp_python_gives(at):
    activity = ActivityFactory(created_at=at)
    columns = fetch_columns(Activity.objects.filter(pk=activity.pk), {"at": Epoch("created_at")})
    assert columns == {"at": [at.timestamp()]}


def test_a_null_time_is_read_as_none():
    lead = LeadFactory()
    assert fetch_columns(Lead.objects.filter(pk=lead.pk), {"at": Epoch("converted_at")}) == {"at": [None]}


def test_columns_come_one_list_each_in_row_order_across_chunks(monkeypatch):
    monkeypatch.setattr(columns_module, "CHUNK", 2)
    lead = LeadFactory()
    activities = [ActivityFactory(lead=lead, touch_number=n + 1, channel="email") for n in range(5)]
    # An expression may take the name of a field ("channel"): it is selected under another alias.
    channel = Case(When(channel="email", then=Value(7)), default=Value(-1), output_field=IntegerField())

    read = fetch_columns(
        Activity.objects.filter(lead=lead).order_by("touch_number"),  # the order is dropped: rows come as they may
        {"touch": "touch_number", "channel": channel, "lead": "lead_id"},
    )

    assert list(read) == ["touch", "channel", "lead"]
    assert sorted(read["touch"]) == [1, 2, 3, 4, 5]
    assert read["channel"] == [7] * 5 and read["lead"] == [lead.pk] * 5
    assert len(activities) == 5


def test_no_rows_give_empty_columns():
    assert fetch_columns(Activity.objects.filter(action="email_sent"), {"x": "id", "at": Epoch("created_at")}) == {
        "x": [],
        "at": [],
    }


def test_uuids_are_read_as_their_bytes_whatever_form_the_driver_gives():
    sequence_id = uuid.uuid4()
    activity = ActivityFactory(sequence_id=sequence_id)
    empty = ActivityFactory(sequence_id=None, lead=activity.lead)
    read = fetch_columns(Activity.objects.filter(pk__in=[activity.pk, empty.pk]), {"pk": "id", "seq": "sequence_id"})

    keys = uuid_bytes(read["seq"])
    by_activity = {uuid.UUID(str(pk)): keys[i : i + 1].tobytes() for i, pk in enumerate(read["pk"])}
    assert by_activity == {activity.pk: sequence_id.bytes, empty.pk: NULL_UUID}


def test_uuid_bytes_takes_objects_hex_text_and_none():
    value = uuid.uuid4()
    keys = uuid_bytes([value, value.hex, None])
    assert keys.dtype == np.dtype("S16") and keys.tobytes() == value.bytes + value.bytes + NULL_UUID
    assert (keys == NULL_UUID).tolist() == [False, False, True]
    assert uuid_bytes([]).tolist() == []
