"""Each signal path, with django-q2 running enqueued tasks inline (sync) once the saving transaction commits."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone
from django_q.conf import Conf
from django_q.models import Task

from outreach.models import Lead, ManualTask, ScheduledTouch
from tests.factories import (
    ActivityFactory,
    ClientFactory,
    ConversionPatternFactory,
    LeadFactory,
    ScheduledTouchFactory,
    how_patterns,
    when_patterns,
    who_patterns,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def sync_queue(monkeypatch):
    """Run enqueued tasks inline, through django-q2's own worker (Q_CLUSTER is read once, at import)."""
    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a block, then the on-commit callbacks its saves registered (the test's own transaction never commits)."""

    def run(block):
        with django_capture_on_commit_callbacks(execute=True) as callbacks:
            result = block()
        return result, callbacks

    return run


def funcs_run():
    return sorted(Task.objects.values_list("func", flat=True))


def live_touches(lead):
    return ScheduledTouch.objects.filter(lead=lead, status__in=("planned", "waiting"))


# --- new and changed leads ---------------------------------------------------------------------------


def test_a_new_lead_is_scored_then_planned(sync_queue, committed):
    lead, _ = committed(lambda: LeadFactory())

    lead.refresh_from_db()
    assert lead.als_score is not None and lead.scored_at is not None
    assert live_touches(lead).count() >= 1
    assert funcs_run() == ["engines.tasks.allocate_one_lead", "engines.tasks.score_one_lead"]


def test_saving_the_score_does_not_score_again(sync_queue, committed):
    lead = LeadFactory()
    ScheduledTouchFactory(lead=lead)  # planned already: nothing to allocate either
    lead.als_score = 40

    committed(lambda: lead.save(update_fields=["als_score"]))

    # Only the allocation check runs, and it leaves the live plan alone.
    assert funcs_run() == ["engines.tasks.allocate_one_lead"]
    assert Task.objects.get().result is None
    assert ScheduledTouch.objects.filter(lead=lead).count() == 1


def test_a_change_to_a_field_the_score_reads_rescores(sync_queue, committed):
    lead = LeadFactory(title="Receptionist")
    ScheduledTouchFactory(lead=lead)
    Lead.objects.filter(pk=lead.pk).update(als_score=1)
    lead.refresh_from_db()
    lead.title = "CEO"

    committed(lambda: lead.save())

    lead.refresh_from_db()
    assert lead.als_score > 1
    assert "engines.tasks.score_one_lead" in funcs_run()
    assert ScheduledTouch.objects.filter(lead=lead).count() == 1


def test_a_change_to_a_field_the_score_ignores_does_nothing(sync_queue, committed):
    lead = LeadFactory()
    ScheduledTouchFactory(lead=lead)
    Lead.objects.filter(pk=lead.pk).update(als_score=42)
    lead.refresh_from_db()
    lead.last_name = "Other"

    committed(lambda: lead.save())

    assert "engines.tasks.score_one_lead" not in funcs_run()
    assert Lead.objects.get(pk=lead.pk).als_score == 42
    assert ScheduledTouch.objects.filter(lead=lead).count() == 1


def test_a_scored_lead_without_a_plan_is_planned_but_not_one_that_replied(sync_queue, committed):
    waiting = LeadFactory()
    replied = LeadFactory(status="replied")
    for lead in (waiting, replied):
        Lead.objects.filter(pk=lead.pk).update(als_score=60)
        lead.refresh_from_db()

    # An unrelated save, as from the admin.
    committed(lambda: [waiting.save(), replied.save()])

    assert live_touches(waiting).exists()
    assert not ScheduledTouch.objects.filter(lead=replied).exists()


def test_a_lead_no_channel_can_reach_is_scored_but_not_planned(sync_queue, committed):
    lead, _ = committed(lambda: LeadFactory(email="", phone="", linkedin_url=""))

    assert Lead.objects.get(pk=lead.pk).als_score is not None
    assert not ScheduledTouch.objects.filter(lead=lead).exists()
    assert funcs_run() == ["engines.tasks.score_one_lead"]


def test_nothing_is_enqueued_for_a_save_that_rolls_back(committed):
    def rolled_back():
        try:
            with transaction.atomic():
                LeadFactory()
                raise RuntimeError("abandoned")
        except RuntimeError:
            pass

    _, callbacks = committed(rolled_back)

    assert callbacks == []


# --- stopping contact: synchronous, in the saving transaction ------------------------------------------


def planned_sequence(lead):
    channels = ["email", "sms", "linkedin", "voice", "email"]
    return [
        ScheduledTouchFactory(
            lead=lead, touch_number=n, channel=channel, scheduled_at=timezone.now() + timedelta(days=n)
        )
        for n, channel in enumerate(channels, start=1)
    ]


@pytest.mark.parametrize(
    ("field", "value", "reason", "cancelled_channels"),
    [
        ("do_not_contact", True, "do_not_contact", {"email", "sms", "linkedin", "voice"}),
        ("is_unsubscribed", True, "unsubscribed", {"email", "sms", "linkedin", "voice"}),
        ("status", "converted", "meeting_booked", {"email", "sms", "linkedin", "voice"}),
        ("status", "closed", "lead_closed", {"email", "sms", "linkedin", "voice"}),
        ("status", "replied", "lead_replied", {"email", "sms", "linkedin", "voice"}),
        ("sms_opted_out", True, "sms_opted_out", {"sms"}),
        ("email_opted_out", True, "email_opted_out", {"email"}),
        ("linkedin_opted_out", True, "linkedin_opted_out", {"linkedin"}),
        ("voice_opted_out", True, "voice_opted_out", {"voice"}),
        ("has_bounced", True, "bounced", {"email"}),
        ("phone_unusable", True, "phone_unusable", {"sms", "voice"}),
    ],
)
def test_a_plain_save_that_stops_contact_has_cancelled_the_touches_before_it_returns(
    field, value, reason, cancelled_channels
):
    lead = LeadFactory()
    touches = planned_sequence(lead)
    sent = ScheduledTouchFactory(lead=lead, touch_number=9, status="sending")

    with transaction.atomic():
        shell_copy = Lead.objects.get(pk=lead.pk)
        setattr(shell_copy, field, value)
        shell_copy.save()
        # Still inside the transaction that saved the lead: no queue involved.
        by_channel = {t.channel: t.status for t in ScheduledTouch.objects.filter(pk__in=[t.pk for t in touches])}

    assert {channel for channel, status in by_channel.items() if status == "cancelled"} == cancelled_channels
    assert set(ScheduledTouch.objects.filter(lead=lead, status="cancelled").values_list("reason", flat=True)) == {
        reason
    }
    assert ScheduledTouch.objects.get(pk=sent.pk).status == "sending"


def test_an_open_manual_task_is_skipped_with_its_touch():
    lead = LeadFactory()
    touch = ScheduledTouchFactory(lead=lead, channel="linkedin", status="waiting")
    task = ManualTask.objects.create(
        client=lead.client, lead=lead, scheduled_touch=touch, kind="linkedin", message="Hi"
    )

    lead.do_not_contact = True
    lead.save()

    task.refresh_from_db()
    assert task.status == "skipped" and ScheduledTouch.objects.get(pk=touch.pk).status == "cancelled"


def test_a_save_with_update_fields_that_stops_contact_cancels_too():
    lead = LeadFactory()
    touches = planned_sequence(lead)

    lead.do_not_contact = True
    lead.save(update_fields=["do_not_contact"])

    assert not ScheduledTouch.objects.filter(pk__in=[t.pk for t in touches], status="planned").exists()


def test_a_save_that_rolls_back_keeps_the_touches():
    lead = LeadFactory()
    touches = planned_sequence(lead)

    with pytest.raises(RuntimeError):
        with transaction.atomic():
            lead.do_not_contact = True
            lead.save()
            raise RuntimeError("the admin form failed later")

    assert ScheduledTouch.objects.filter(pk__in=[t.pk for t in touches], status="planned").count() == len(touches)


def test_a_flag_already_on_cancels_nothing_more():
    lead = LeadFactory(sms_opted_out=True)
    touches = planned_sequence(lead)

    lead.first_name = "Renamed"
    lead.save()

    assert ScheduledTouch.objects.filter(pk__in=[t.pk for t in touches], status="planned").count() == len(touches)


# --- clients and patterns: bulk work --------------------------------------------------------------------


def scored_leads(client, n=3):
    leads = [LeadFactory(client=client) for _ in range(n)]
    Lead.objects.filter(pk__in=[lead.pk for lead in leads]).update(als_score=1, als_weights_source="default")
    return leads


def test_a_new_who_pattern_rescores_the_client_s_open_leads_in_bulk(sync_queue, committed):
    client = ClientFactory()
    other = ClientFactory()
    leads = scored_leads(client)
    closed = LeadFactory(client=client, status="closed")
    Lead.objects.filter(pk=closed.pk).update(als_score=1)
    outsider = scored_leads(other, 1)[0]

    committed(lambda: ConversionPatternFactory(client=client, pattern_type="who", patterns=who_patterns()))

    assert set(
        Lead.objects.filter(pk__in=[lead.pk for lead in leads]).values_list("als_weights_source", flat=True)
    ) == {"pattern"}
    assert Lead.objects.get(pk=closed.pk).als_score == 1
    assert Lead.objects.get(pk=outsider.pk).als_score == 1
    assert "engines.tasks.rescore_client_leads" in funcs_run()


def test_a_pattern_that_was_not_activated_changes_nothing(sync_queue, committed):
    client = ClientFactory()

    _, callbacks = committed(
        lambda: ConversionPatternFactory(client=client, pattern_type="who", patterns=who_patterns(), activated=False)
    )

    assert callbacks == []


def test_new_learned_weights_on_the_client_rescore_its_leads(sync_queue, committed):
    client = ClientFactory()
    leads = scored_leads(client)
    weights = {"data_quality": 0.2, "authority": 0.3, "company_fit": 0.2, "timing": 0.15}
    client.als_learned_weights = weights

    committed(lambda: client.save())

    assert all(lead.als_weights_used == weights for lead in Lead.objects.filter(pk__in=[x.pk for x in leads]))


def test_a_client_saved_unchanged_enqueues_nothing(committed):
    client = ClientFactory()
    client.name = "Renamed"

    _, callbacks = committed(lambda: client.save())

    assert callbacks == []


@pytest.mark.parametrize(
    ("pattern_type", "patterns"), [("when", when_patterns), ("how", how_patterns)], ids=["when", "how"]
)
def test_a_new_how_or_when_pattern_replans_unsent_touches_and_leaves_sent_ones(
    sync_queue, committed, pattern_type, patterns
):
    client = ClientFactory()
    lead = LeadFactory(client=client, status="in_sequence")
    Lead.objects.filter(pk=lead.pk).update(als_score=60)
    activity = ActivityFactory(lead=lead)
    sent = ScheduledTouchFactory(lead=lead, touch_number=1, status="sent", activity=activity)
    old = [
        ScheduledTouchFactory(lead=lead, sequence_id=sent.sequence_id, touch_number=n, channel=channel)
        for n, channel in enumerate(["sms", "linkedin", "voice", "email"], start=2)
    ]
    idle = LeadFactory(client=client)  # no plan: a re-plan does not plan it
    Lead.objects.filter(pk=idle.pk).update(als_score=60)

    committed(lambda: ConversionPatternFactory(client=client, pattern_type=pattern_type, patterns=patterns()))

    assert not ScheduledTouch.objects.filter(pk__in=[t.pk for t in old], status="planned").exists()
    assert live_touches(lead).exists()
    assert ScheduledTouch.objects.get(pk=sent.pk).status == "sent"
    assert not ScheduledTouch.objects.filter(lead=idle).exists()
    assert "engines.tasks.replan_client_touches" in funcs_run()


@pytest.mark.parametrize(
    ("pattern_type", "patterns", "same", "changed"),
    [
        (
            "when",
            when_patterns,
            {"sample_size": 900, "confidence": 0.8},
            {"best_hours": [{"hour": 15, "conversion_rate": 0.2}]},
        ),
        ("how", how_patterns, {"sample_size": 900}, {"best_first_channel": "email"}),
    ],
    ids=["when", "how"],
)
def test_a_new_pattern_replans_only_when_its_preferences_change(
    sync_queue, committed, pattern_type, patterns, same, changed
):
    """The nightly detection saves a pattern every night; most nights only its counts move."""
    client = ClientFactory()
    lead = LeadFactory(client=client, status="in_sequence")
    Lead.objects.filter(pk=lead.pk).update(als_score=60)
    planned_sequence(lead)
    committed(lambda: ConversionPatternFactory(client=client, pattern_type=pattern_type, patterns=patterns()))
    replans = funcs_run().count("engines.tasks.replan_client_touches")

    committed(lambda: ConversionPatternFactory(client=client, pattern_type=pattern_type, patterns=patterns(**same)))
    assert funcs_run().count("engines.tasks.replan_client_touches") == replans

    committed(lambda: ConversionPatternFactory(client=client, pattern_type=pattern_type, patterns=patterns(**changed)))
    assert funcs_run().count("engines.tasks.replan_client_touches") == replans + 1


def test_bulk_writes_fire_nothing(committed):
    client = ClientFactory()

    _, callbacks = committed(lambda: Lead.objects.bulk_create([Lead(client=client, email="bulk@example.com")]))

    assert callbacks == []
