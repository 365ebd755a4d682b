"""A booking credits the touch that earned it, not every touch of its sequence.

The product flags every touch of a converting sequence sent before the booking
(`led_to_booking`, outcomes.events.credit_sequence). The touch-level detectors
(WHEN's days and hours, WHAT's texts) must see one booking on the touch the
booking answered: crediting all of them made every earlier touch of a
converting sequence a booking, whatever its day, hour or text.
"""

import uuid

import numpy as np
import pytest

from engines.services.learning.evidence import CONVERTED, last_of_sequence, load_evidence
from engines.services.outcomes.events import record_booking
from outreach.models import Activity
from tests.engines.detectors.conftest import NOW
from tests.engines.detectors.test_common import days_ago, lead_state, touch, touches_of
from tests.factories import ClientFactory, LeadFactory

pytestmark = pytest.mark.django_db


def test_a_booking_through_the_product_credits_the_touch_it_answered_not_the_whole_sequence():
    lead = LeadFactory()
    sequence = uuid.uuid4()
    for number, days in ((1, 40), (2, 36), (3, 32)):
        touch(lead, days, touch_number=number, sequence_id=sequence)
    record_booking(lead, source="test", event_id="booked-1", at=days_ago(31))
    flagged = Activity.objects.filter(lead=lead, led_to_booking=True, sequence_id=sequence).count()

    evidence = load_evidence(lead.client, now=NOW)

    assert flagged == 3, "the setup: the product credits the whole sequence"
    assert lead_state(evidence, lead) == CONVERTED
    assert evidence.t_touch[evidence.t_booked].tolist() == [3]
    assert evidence.t_positive("booking_or_reply").sum() == 1
    assert evidence.lead_converted_at[0] <= days_ago(31).timestamp()


def test_each_sequence_of_a_lead_keeps_the_credit_of_its_own_booking():
    client = ClientFactory()
    lead = LeadFactory(client=client)
    first, second = uuid.uuid4(), uuid.uuid4()
    for number, days in ((1, 80), (2, 76)):
        touch(lead, days, touch_number=number, sequence_id=first, led_to_booking=True)
    touch(lead, 70, touch_number=3, sequence_id=first)
    for number, days in ((1, 40), (2, 35), (3, 30)):
        touch(lead, days, touch_number=number, sequence_id=second, led_to_booking=True)
    other = LeadFactory(client=client)
    touch(other, 50, touch_number=1, led_to_booking=True)

    evidence = load_evidence(client, now=NOW)

    mine = touches_of(evidence, lead)
    assert evidence.t_touch[mine & evidence.t_booked].tolist() == [2, 3]
    assert evidence.t_booked[touches_of(evidence, other)].tolist() == [True]


@pytest.mark.parametrize("seed", range(5))
def test_the_last_flagged_touch_of_each_lead_and_sequence_is_kept(seed):
    rng = np.random.default_rng(seed)
    n = 400
    t_lead = np.sort(rng.integers(0, 60, n)).astype(np.int32)
    t_seq = rng.integers(-1, 4, n).astype(np.int32)
    flagged = rng.random(n) < 0.4

    kept = last_of_sequence(flagged, t_lead, t_seq)

    expected = np.zeros(n, dtype=bool)
    last: dict[tuple[int, int], int] = {}
    for i in np.flatnonzero(flagged):
        if t_seq[i] < 0:
            expected[i] = True  # a touch without a sequence is its own
        else:
            last[(int(t_lead[i]), int(t_seq[i]))] = int(i)
    expected[list(last.values())] = True
    assert kept.tolist() == expected.tolist()
