"""Models and the rules the database enforces: a violating row is refused by the database itself."""

import uuid
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from outreach.models import Activity, ConversionPattern, Enrollment, Lead, ScheduledTouch
from tests.factories import (
    ActivityFactory,
    ClientFactory,
    ConversionPatternFactory,
    EnrollmentFactory,
    LeadFactory,
    MessageTemplateFactory,
    ScheduledTouchFactory,
    when_patterns,
)

pytestmark = pytest.mark.django_db


def refused(queryset_update=None, create=None):
    """True when the database refuses the write (IntegrityError), inside its own savepoint."""
    try:
        with transaction.atomic():
            if create:
                create()
            else:
                queryset_update()
    except IntegrityError:
        return True
    return False


def test_factories_build_every_model():
    touch = ScheduledTouchFactory()
    activity = ActivityFactory(lead=touch.lead)
    pattern = ConversionPatternFactory(client=touch.client)
    template = MessageTemplateFactory(client=touch.client)
    assert touch.client == touch.lead.client == activity.client == pattern.client == template.client
    assert isinstance(activity.id, uuid.UUID)
    assert touch.status == "planned"
    assert touch.lead.client.timezone == "Australia/Sydney"


def test_timestamps_are_time_zone_aware():
    activity = ActivityFactory()
    activity.refresh_from_db()
    assert timezone.is_aware(activity.created_at)


@pytest.mark.parametrize("score, ok", [(0, True), (100, True), (101, False)])
def test_als_score_is_kept_within_0_to_100(score, ok):
    lead = LeadFactory()
    assert refused(lambda: Lead.objects.filter(pk=lead.pk).update(als_score=score)) is not ok


def test_lead_status_outside_choices_is_refused():
    lead = LeadFactory()
    assert refused(lambda: Lead.objects.filter(pk=lead.pk).update(status="zombie"))


def test_lead_email_is_unique_per_client_but_blank_is_allowed_many_times():
    client = ClientFactory()
    LeadFactory(client=client, email="a@example.com")
    assert refused(create=lambda: LeadFactory(client=client, email="a@example.com"))
    LeadFactory(email="a@example.com")  # another client may know the same person
    LeadFactory(client=client, email="")
    LeadFactory(client=client, email="")


@pytest.mark.parametrize("field, value", [("action", "email_teleported"), ("channel", "fax"), ("touch_number", 0)])
def test_activity_rejects_unknown_action_channel_and_touch_zero(field, value):
    activity = ActivityFactory()
    assert refused(lambda: Activity.objects.filter(pk=activity.pk).update(**{field: value}))


def test_activity_outcome_may_have_no_channel():
    ActivityFactory(action="meeting_booked", channel="", led_to_booking=True)


def test_a_step_is_at_most_once_in_its_enrollment_unless_cancelled():
    touch = ScheduledTouchFactory()
    duplicate = dict(lead=touch.lead, enrollment=touch.enrollment, sequence_id=touch.sequence_id, touch_number=1)
    assert refused(create=lambda: ScheduledTouchFactory(**duplicate))
    ScheduledTouch.objects.filter(pk=touch.pk).update(status="cancelled")
    ScheduledTouchFactory(**duplicate)  # a cancelled step may be planned again (a re-plan)
    ScheduledTouchFactory(lead=touch.lead, enrollment=touch.enrollment, sequence_id=touch.sequence_id, touch_number=2)


def test_a_lead_has_at_most_one_open_enrollment():
    enrollment = EnrollmentFactory()
    assert refused(create=lambda: EnrollmentFactory(lead=enrollment.lead, state="paused"))
    Enrollment.objects.filter(pk=enrollment.pk).update(state="finished", ended_at=timezone.now())
    EnrollmentFactory(lead=enrollment.lead)  # a re-enrolment, once the first has ended


def test_an_enrollment_has_an_end_exactly_when_it_has_ended():
    enrollment = EnrollmentFactory()
    assert refused(lambda: Enrollment.objects.filter(pk=enrollment.pk).update(state="finished"))
    assert refused(lambda: Enrollment.objects.filter(pk=enrollment.pk).update(ended_at=timezone.now()))
    assert refused(lambda: Enrollment.objects.filter(pk=enrollment.pk).update(state="resting"))


@pytest.mark.parametrize(
    "field, value", [("status", "lost"), ("channel", "pigeon"), ("touch_number", 0), ("lead_tier", "mild")]
)
def test_scheduled_touch_rejects_values_outside_its_vocabulary(field, value):
    touch = ScheduledTouchFactory()
    assert refused(lambda: ScheduledTouch.objects.filter(pk=touch.pk).update(**{field: value}))


def test_a_sent_touch_must_point_at_its_activity():
    touch = ScheduledTouchFactory()
    assert refused(lambda: ScheduledTouch.objects.filter(pk=touch.pk).update(status="sent"))
    activity = ActivityFactory(lead=touch.lead)
    ScheduledTouch.objects.filter(pk=touch.pk).update(status="sent", activity=activity)


@pytest.mark.parametrize("field, value", [("pattern_type", "why"), ("confidence", 1.5), ("confidence", -0.1)])
def test_conversion_pattern_rejects_bad_type_and_confidence(field, value):
    pattern = ConversionPatternFactory()
    assert refused(lambda: ConversionPattern.objects.filter(pk=pattern.pk).update(**{field: value}))


def test_conversion_pattern_must_expire_after_it_was_computed():
    now = timezone.now()
    assert refused(create=lambda: ConversionPatternFactory(computed_at=now, valid_until=now - timedelta(seconds=1)))


def test_only_one_active_template_per_client_channel_and_touch():
    template = MessageTemplateFactory(touch_number=1)
    same_slot = dict(client=template.client, channel="email", touch_number=1)
    assert refused(create=lambda: MessageTemplateFactory(**same_slot))
    MessageTemplateFactory(active=False, **same_slot)  # retired versions are kept


@pytest.mark.parametrize("subject", ["Quick\x0bquestion", "Quick\x0cquestion", "Quick\x1cquestion", "Two\nlines"])
def test_a_template_subject_with_a_control_character_is_refused_on_save(subject):
    template = MessageTemplateFactory.build(client=ClientFactory(), channel="email", subject=subject)
    with pytest.raises(ValidationError) as excinfo:
        template.full_clean()
    assert "one line of text" in str(excinfo.value.message_dict["subject"])
    MessageTemplateFactory.build(client=template.client, channel="email", subject="Quick\tquestion").full_clean()


def test_pattern_clean_reports_schema_errors_readably():
    pattern = ConversionPatternFactory.build(
        client=ClientFactory(), pattern_type="when", patterns=when_patterns(best_hours=[{"hour": 25}])
    )
    with pytest.raises(ValidationError) as excinfo:
        pattern.full_clean()
    messages = excinfo.value.message_dict["patterns"]
    assert any("best_hours[0].hour must be a whole number 0-23" in m for m in messages)


def test_pattern_clean_accepts_a_valid_pattern():
    ConversionPatternFactory.build(client=ClientFactory(), pattern_type="when", patterns=when_patterns()).full_clean()


def test_client_timezone_must_be_iana():
    client = ClientFactory.build(timezone="Sydney/Australia")
    with pytest.raises(ValidationError) as excinfo:
        client.full_clean()
    assert "timezone" in excinfo.value.message_dict


# ---------------------------------------------------------------- what clean() refuses and normalises


def messages(instance) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as excinfo:
        instance.full_clean()
    return excinfo.value.message_dict


def test_an_activity_of_another_clients_lead_is_refused_by_clean():
    lead, other = LeadFactory(), ClientFactory()
    activity = ActivityFactory.build(lead=lead, client=other)
    assert messages(activity)["lead"] == [
        f"lead {lead.pk} belongs to client {lead.client_id}, not to client {other.pk}"
    ]
    ActivityFactory.build(lead=lead, client=lead.client).full_clean()


def test_a_touch_of_another_clients_lead_is_refused_by_clean():
    lead, other = LeadFactory(), ClientFactory()
    touch = ScheduledTouchFactory.build(lead=lead, client=other)
    assert "belongs to client" in messages(touch)["lead"][0]
    ScheduledTouchFactory.build(lead=lead, client=lead.client).full_clean()


def test_a_touch_linked_to_another_leads_activity_is_refused_by_clean():
    touch = ScheduledTouchFactory()
    touch.activity = ActivityFactory()
    assert "is about lead" in messages(touch)["activity"][0]


def test_an_action_on_another_channel_is_refused_by_the_database_and_by_clean():
    lead = LeadFactory()
    assert refused(create=lambda: ActivityFactory(lead=lead, action="sms_sent", channel="email"))
    activity = ActivityFactory.build(lead=lead, client=lead.client, action="sms_sent", channel="email")
    assert messages(activity)["channel"] == ["sms_sent happens on the sms channel, not email"]
    ActivityFactory.build(lead=lead, client=lead.client, action="opted_out", channel="email").full_clean()


def test_two_leads_whose_emails_differ_only_in_case_are_refused_by_the_database_and_by_clean():
    client = ClientFactory()
    LeadFactory(client=client, email="pat@example.com")
    assert refused(create=lambda: LeadFactory(client=client, email="PAT@Example.com"))
    duplicate = LeadFactory.build(client=client, email="PAT@Example.com")
    assert messages(duplicate)["email"] == [f"{client} already has a lead with the email PAT@example.com (in any case)"]
    LeadFactory.build(client=ClientFactory(), email="PAT@Example.com").full_clean()


def test_a_lead_may_be_cleaned_again_with_its_own_email():
    lead = LeadFactory(email="pat@example.com")
    lead.full_clean()


def test_a_lead_time_zone_outside_iana_is_refused_by_clean():
    lead = LeadFactory.build(client=ClientFactory(), timezone="Mars/Base")
    assert messages(lead)["timezone"] == ["'Mars/Base' is not an IANA time zone (e.g. Australia/Sydney)"]


def test_a_lead_time_zone_outside_iana_saved_anyway_is_not_used_for_planning():
    from engines.rules.geography import lead_timezone_name
    from engines.services.planning.allocator import allocate_lead

    lead = LeadFactory(timezone="Mars/Base", country="", phone="")
    assert lead_timezone_name(lead) == lead.client.timezone
    assert allocate_lead(lead)["scheduled_touches"]


def test_clean_stores_the_lead_phone_as_e164_the_country_as_its_code_and_the_email_domain_in_lower_case():
    lead = LeadFactory.build(
        client=ClientFactory(country="GB"), phone="0412 345 678", country="australia", email="Pat.Lee@Example.COM"
    )
    lead.full_clean()
    assert (lead.phone, lead.country, lead.email) == ("+61412345678", "AU", "Pat.Lee@example.com")


def test_a_national_phone_number_is_read_in_the_clients_country_when_the_lead_has_none():
    lead = LeadFactory.build(client=ClientFactory(country="GB"), phone="07911 123456", country="")
    lead.full_clean()
    assert lead.phone == "+447911123456"


@pytest.mark.parametrize(
    "field, value, fragment",
    [
        ("phone", "12", "'12' is not a phone number we can dial"),
        ("phone", "call me", "is not a phone number"),
        ("country", "Atlantis", "Unknown country 'Atlantis'"),
        ("email", "pat@", "'pat@' is not an email address"),
    ],
)
def test_clean_refuses_what_it_cannot_read(field, value, fragment):
    lead = LeadFactory.build(client=ClientFactory(), **{field: value})
    assert any(fragment in message for message in messages(lead)[field])


def test_an_unreadable_phone_is_a_form_error():
    from django.forms import modelform_factory

    client = ClientFactory()
    form = modelform_factory(Lead, fields=["client", "email", "phone", "country", "timezone"])(
        data={"client": client.pk, "email": "a@example.com", "phone": "0000", "country": "AU", "timezone": ""}
    )
    assert not form.is_valid()
    assert "is not a phone number we can dial" in form.errors["phone"][0]


def test_clean_normalises_the_client_sending_phone_country_and_email():
    client = ClientFactory.build(country="gb", sending_phone="020 7946 0018", sending_email="Hi@Client.EXAMPLE.com")
    client.full_clean()
    assert (client.country, client.sending_phone, client.sending_email) == (
        "GB",
        "+442079460018",
        "Hi@client.example.com",
    )


def test_client_time_zone_check_does_not_rebuild_the_zone_list(monkeypatch):
    import zoneinfo

    def rebuilt():
        raise AssertionError("available_timezones() called per check")

    monkeypatch.setattr(zoneinfo, "available_timezones", rebuilt)
    ClientFactory.build(timezone="Europe/Paris").full_clean()
