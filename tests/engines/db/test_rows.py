"""Instances built from one values query, with their forward relations, on both databases."""

import pytest
from django.db.models.signals import post_init

from engines.db.rows import instances
from outreach.models import Activity, Lead, ScheduledTouch
from tests.factories import ActivityFactory, MailboxFactory, ScheduledTouchFactory

pytestmark = pytest.mark.django_db


def fields_of(instance):
    return {field.attname: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}


def test_the_objects_and_their_relations_are_those_select_related_gives_without_another_query(
    django_assert_num_queries,
):
    for _ in range(3):
        ScheduledTouchFactory(lead__als_components={"fit": 0.5})
    expected = list(ScheduledTouch.objects.select_related("lead", "enrollment").order_by("pk"))

    with django_assert_num_queries(1):
        built = instances(ScheduledTouch.objects.order_by("pk"), ("lead", "enrollment"))
        assert [t.lead.email for t in built] == [t.lead.email for t in expected]

    for touch, reference in zip(built, expected, strict=True):
        assert fields_of(touch) == fields_of(reference)
        assert fields_of(touch.lead) == fields_of(reference.lead)
        assert fields_of(touch.enrollment) == fields_of(reference.enrollment)
        assert touch._state.adding is False and touch._state.db == "default"


def test_a_null_foreign_key_gives_none_and_a_set_one_its_object():
    mailbox = MailboxFactory()
    without = ActivityFactory()
    with_one = ActivityFactory(lead__client=mailbox.client, mailbox=mailbox)

    built = {a.pk: a for a in instances(Activity.objects.all(), ("mailbox",))}

    assert built[without.pk].mailbox is None
    assert built[with_one.pk].mailbox.address == mailbox.address


def test_a_field_left_unread_loads_on_first_use_and_saving_writes_what_changed(django_assert_num_queries):
    touch = ScheduledTouchFactory(lead__title="Head of Growth")

    [built] = instances(ScheduledTouch.objects.all(), ("lead",), unread=("reason", "lead__title"))

    assert "title" not in built.lead.__dict__ and "reason" not in built.__dict__
    with django_assert_num_queries(1):
        assert built.lead.title == "Head of Growth"
    built.lead.first_name = "Priya"
    built.lead.save()
    assert Lead.objects.get(pk=touch.lead_id).first_name == "Priya"


def test_a_model_with_init_receivers_is_refused():
    def receiver(**kwargs):
        pass

    post_init.connect(receiver, sender=Lead)
    try:
        with pytest.raises(ValueError, match="init signal receivers"):
            instances(ScheduledTouch.objects.all(), ("lead",))
    finally:
        post_init.disconnect(receiver, sender=Lead)
