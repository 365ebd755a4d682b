import uuid

import pytest

from engines.exceptions import InvalidTouch, SendBlocked
from engines.services.touches import check_reachable, touch_context
from outreach.models import Lead
from tests.factories import LeadFactory


@pytest.mark.parametrize(
    "touch_number, sequence_id, expected",
    [
        (1, None, (1, None)),
        (7, "1b4e28ba-2fa1-11d2-883f-0016d3cca427", (7, uuid.UUID("1b4e28ba-2fa1-11d2-883f-0016d3cca427"))),
        (2, uuid.UUID(int=5), (2, uuid.UUID(int=5))),
    ],
)
def test_touch_context_gives_the_column_values(touch_number, sequence_id, expected):
    assert touch_context(touch_number, sequence_id) == expected


@pytest.mark.parametrize(
    "touch_number, sequence_id",
    [(0, None), (-1, None), (True, None), (2.0, None), (40000, None), (1, "seq-1"), (1, 12)],
)
def test_touch_context_refuses_what_the_database_would(touch_number, sequence_id):
    with pytest.raises(InvalidTouch):
        touch_context(touch_number, sequence_id)


@pytest.mark.django_db
def test_an_unsaved_or_deleted_lead_cannot_be_touched():
    with pytest.raises(InvalidTouch):
        check_reachable(LeadFactory.build(), "email")
    lead = LeadFactory()
    Lead.objects.filter(pk=lead.pk).delete()
    with pytest.raises(SendBlocked) as raised:
        check_reachable(lead, "email")
    assert raised.value.reason == "lead_deleted"
