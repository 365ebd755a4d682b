"""The demo's response model: answers follow the planted truth, one per lead, the same for the same seed."""

import dataclasses
import math
import uuid
from datetime import UTC, datetime

import pytest

from engines.simulation.responses import OTHER_HOUR_LIFT, TRUTH, ResponseModel, icp_fit
from outreach.models import Activity, Client, Lead

SENT = datetime(2026, 3, 3, 23, 0, tzinfo=UTC)
ANSWERS = {"reply", "stop", "unsubscribe"}


def client() -> Client:
    return Client(
        pk=1,
        name="Harbour",
        icp={"industries": ["Dental"], "employee_min": 5, "employee_max": 50, "countries": ["AU"]},
    )


def lead(pk: int = 1, **fields) -> Lead:
    values = {"industry": "Dental", "employee_count": 20, "country": "AU", "email": f"l{pk}@x.example.com"}
    return Lead(pk=pk, client_id=1, **{**values, **fields})


def touch(
    *,
    channel: str = "email",
    day: int = TRUTH.best_days[0],
    hour: int = TRUTH.best_hour,
    cta: str | None = None,
    lead_pk: int = 1,
    number: int = 0,
):
    action = {"email": "email_sent", "sms": "sms_sent", "linkedin": "linkedin_sent", "voice": "voice_completed"}
    return Activity(
        id=uuid.UUID(int=(lead_pk * 100 + number) * 10_000 + day * 100 + hour),
        client_id=1,
        lead_id=lead_pk,
        action=action[channel],
        channel=channel,
        # The model's draws for a touch follow from the seed, the lead's address, the channel, number and time.
        touch_number=number + 1,
        created_at=SENT,
        content_snapshot={"day_index": day, "hour_of_day": hour, "cta_used": cta},
    )


def test_icp_fit_weighs_industry_size_and_country():
    assert icp_fit(lead(), client()) == pytest.approx(1.0)
    assert icp_fit(lead(industry="Legal"), client()) == pytest.approx(0.6)
    assert icp_fit(lead(industry="Legal", employee_count=500, country="US"), client()) == pytest.approx(0.0)
    # A lead's country code matches an ICP that writes the country out in full.
    spelled_out = client()
    spelled_out.icp = {**spelled_out.icp, "countries": ["Australia"]}
    assert icp_fit(lead(), spelled_out) == pytest.approx(1.0)


def test_reply_probability_is_the_planted_product_of_lifts():
    model = ResponseModel(seed=1)
    best = model.reply_probability(touch(), lead(), client(), "email")
    best_day, best_hour = TRUTH.day_lift[TRUTH.best_days[0]], TRUTH.hour_lift[TRUTH.best_hour]
    lifts = best_day * best_hour * math.exp(TRUTH.fit_coefficient * 0.5)
    assert best == pytest.approx(TRUTH.reply_base["email"] * lifts)
    # Each part of the truth scales the chance by its lift, and nothing else does.
    assert model.reply_probability(touch(day=5), lead(), client(), "email") / best == pytest.approx(
        TRUTH.day_lift[5] / best_day
    )
    assert model.reply_probability(touch(hour=15), lead(), client(), "email") / best == pytest.approx(
        TRUTH.hour_lift.get(15, OTHER_HOUR_LIFT) / best_hour
    )
    late = model.reply_probability(touch(hour=15), lead(), client(), "email")
    linkedin_first = model.reply_probability(touch(hour=15), lead(), client(), "linkedin")
    assert linkedin_first / late == pytest.approx(TRUTH.first_channel_lift["linkedin"])
    audit = model.reply_probability(touch(cta=TRUTH.best_cta), lead(), client(), "email")
    assert audit / best == pytest.approx(TRUTH.cta_lift[TRUTH.best_cta])
    poor_fit = model.reply_probability(touch(), lead(industry="Legal", employee_count=900), client(), "email")
    assert poor_fit < best


def test_reply_probability_is_capped():
    strong = dataclasses.replace(TRUTH, reply_base={"email": 5.0})
    assert ResponseModel(strong).reply_probability(touch(), lead(), client(), "email") == 0.9


def reply_share(model: ResponseModel, n: int, **touch_fields) -> float:
    replies = 0
    for pk in range(n):
        events = model.events_for(touch(lead_pk=pk, **touch_fields), lead(pk), client(), "email")
        replies += any(event.kind == "reply" for event in events)
    return replies / n


def test_drawn_replies_follow_the_probabilities():
    truth = dataclasses.replace(TRUTH, reply_base={"email": 0.1})
    n = 4000
    best, late = reply_share(ResponseModel(truth, seed=3), n), reply_share(ResponseModel(truth, seed=3), n, hour=13)
    model = ResponseModel(truth)
    p_best = model.reply_probability(touch(), lead(), client(), "email")
    p_late = model.reply_probability(touch(hour=13), lead(), client(), "email")
    # Hard bounces (2%) never answer; within four standard errors of the planted chance otherwise.
    for share, p in ((best, p_best * 0.98), (late, p_late * 0.98)):
        assert abs(share - p) < 4 * (p * (1 - p) / n) ** 0.5
    assert best > 2 * late


def test_a_lead_answers_once():
    truth = dataclasses.replace(TRUTH, reply_base={"email": 5.0})  # every delivered touch draws a reply
    model = ResponseModel(truth, seed=2)
    first = next(
        events
        for events in (model.events_for(touch(number=n), lead(), client(), "email") for n in range(5))
        if any(e.kind == "reply" for e in events)
    )
    assert sum(event.kind in ANSWERS for event in first) == 1
    assert model.events_for(touch(number=9), lead(), client(), "email") == []
    # Another lead still answers.
    drawn = [model.events_for(touch(lead_pk=2, number=n), lead(2), client(), "email") for n in range(5)]
    assert any(event.kind == "reply" for events in drawn for event in events)


def test_a_booking_follows_its_reply():
    truth = dataclasses.replace(TRUTH, reply_base={"sms": 5.0}, book_after_reply=1.0)
    events = ResponseModel(truth, seed=0).events_for(touch(channel="sms"), lead(), client(), "sms")
    kinds = [event.kind for event in events]
    if "sms_undelivered" in kinds:
        pytest.fail("seed 0 was meant to deliver this SMS")
    assert kinds == ["sms_delivered", "reply", "booking"]
    assert events == sorted(events, key=lambda event: event.at)
    assert all(event.at > SENT for event in events)


def test_a_bounced_email_draws_nothing_else():
    model = ResponseModel(dataclasses.replace(TRUTH, reply_base={"email": 5.0}), seed=0)
    drawn = [model.events_for(touch(lead_pk=pk), lead(pk), client(), "email") for pk in range(400)]
    bounced = [events for events in drawn if any(event.kind == "bounced" for event in events)]
    assert bounced, "2% of 400 emails bounce"
    assert all([event.kind for event in events] == ["bounced"] for events in bounced)


def test_the_same_seed_draws_the_same_answers():
    touches = [touch(lead_pk=pk) for pk in range(300)]

    def draw(seed: int, order: list[Activity]) -> dict[str, list[tuple[str, datetime]]]:
        model = ResponseModel(seed=seed)
        return {
            str(t.pk): [(e.kind, e.at) for e in model.events_for(t, lead(t.lead_id), client(), "email")] for t in order
        }

    first = draw(16, touches)
    assert draw(16, list(reversed(touches))) == first  # one stream per touch: order does not matter
    assert draw(17, touches) != first
