"""factory-boy factories, one per model."""

import uuid
from datetime import date, timedelta
from typing import Any

import factory
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from outreach.models import (
    Activity,
    Client,
    ClientMembership,
    ConversionPattern,
    DomainCheck,
    EarlyStatus,
    Enrollment,
    Lead,
    Mailbox,
    MailboxStateChange,
    ManualTask,
    MessageTemplate,
    ScheduledTouch,
)
from outreach.models.choices import OPEN_ENROLLMENT_STATES


class ClientFactory(factory.django.DjangoModelFactory[Client]):
    class Meta:
        model = Client

    name = factory.Sequence(lambda n: f"Client {n}")
    sending_email = factory.Sequence(lambda n: f"hello@client{n}.example.com")
    sending_phone = "+61291234567"
    timezone = "Australia/Sydney"
    icp = factory.LazyFunction(
        lambda: {
            "industries": ["Dental", "Accounting"],
            "employee_min": 5,
            "employee_max": 50,
            "countries": ["Australia"],
        }
    )
    physical_address = "1 George St, Sydney NSW 2000"
    # Plans follow the patterns exactly in tests; exploration tests set a rate (and a seeded rng) themselves.
    exploration_rate = 0.0
    # Open at every hour of every day, so a test that sends "now" does not depend on the hour it runs at; the
    # window's own tests (and the product's default, 07:00-19:00 on working days) set it themselves.
    sending_window_start = 0
    sending_window_end = 24
    sends_on_weekends = True


class LeadFactory(factory.django.DjangoModelFactory[Lead]):
    class Meta:
        model = Lead

    client = factory.SubFactory(ClientFactory)
    first_name = factory.Sequence(lambda n: f"Pat{n}")
    last_name = "Nguyen"
    email = factory.Sequence(lambda n: f"pat{n}@lead{n}.example.com")
    email_verified = True
    phone = "+61412345678"
    linkedin_url = factory.Sequence(lambda n: f"https://www.linkedin.com/in/pat-{n}")
    company_name = factory.Sequence(lambda n: f"Lead Co {n}")
    title = "Practice Manager"
    industry = "Dental"
    employee_count = 20
    country = "Australia"
    timezone = "Australia/Sydney"


class ActivityFactory(factory.django.DjangoModelFactory[Activity]):
    class Meta:
        model = Activity

    lead = factory.SubFactory(LeadFactory)
    client = factory.SelfAttribute("lead.client")
    action = "email_sent"
    channel = "email"
    touch_number = 1
    sequence_id = factory.LazyFunction(uuid.uuid4)
    content_snapshot = factory.LazyFunction(dict)
    metadata = factory.LazyFunction(dict)


class ConversionPatternFactory(factory.django.DjangoModelFactory[ConversionPattern]):
    """A valid WHO pattern by default; pass pattern_type and patterns for the others."""

    class Meta:
        model = ConversionPattern

    client = factory.SubFactory(ClientFactory)
    pattern_type = "who"
    patterns = factory.LazyFunction(
        lambda: {
            "recommended_weights": {"data_quality": 0.10, "authority": 0.15, "company_fit": 0.40, "timing": 0.20},
            "conversion_rate_by": {},
            "sample_size": 500,
            "confidence": 0.8,
        }
    )
    sample_size = 500
    confidence = 0.8
    computed_at = factory.LazyFunction(timezone.now)
    valid_until = factory.LazyAttribute(lambda o: o.computed_at + timedelta(days=7))


class EnrollmentFactory(factory.django.DjangoModelFactory[Enrollment]):
    class Meta:
        model = Enrollment

    lead = factory.SubFactory(LeadFactory)
    client = factory.SelfAttribute("lead.client")
    sequence_id = factory.LazyFunction(uuid.uuid4)


def enrollment_of(touch: Any) -> Enrollment:
    """The enrollment a factory touch is a step of: the one carrying its sequence id, else the lead's open one,
    else a new active one with the touch's sequence id."""
    found = (
        Enrollment.objects.filter(sequence_id=touch.sequence_id).first()
        or Enrollment.objects.filter(lead=touch.lead, state__in=OPEN_ENROLLMENT_STATES).first()
    )
    if found is not None:
        return found
    return EnrollmentFactory.create(lead=touch.lead, client=touch.lead.client, sequence_id=touch.sequence_id)


class ScheduledTouchFactory(factory.django.DjangoModelFactory[ScheduledTouch]):
    class Meta:
        model = ScheduledTouch

    lead = factory.SubFactory(LeadFactory)
    client = factory.SelfAttribute("lead.client")
    sequence_id = factory.LazyFunction(uuid.uuid4)
    enrollment = factory.LazyAttribute(enrollment_of)
    touch_number = 1
    channel = "email"
    scheduled_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=1))


class MessageTemplateFactory(factory.django.DjangoModelFactory[MessageTemplate]):
    class Meta:
        model = MessageTemplate

    client = factory.SubFactory(ClientFactory)
    channel = "email"
    touch_number = factory.Sequence(lambda n: n + 1)
    subject = "Quick question, {first_name}"
    body = "Hi {first_name}, I noticed {company_name} is growing. Open to a quick chat?"


class StaffUserFactory(factory.django.DjangoModelFactory[User]):
    """A staff user holding every outreach permission (or the codenames given as `permissions`),
    a member of the clients given as `clients`."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"staff{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@agency.example.com")
    is_staff = True
    password = factory.django.Password("staff-password")

    @factory.post_generation
    def permissions(self, create, extracted, **kwargs):
        if create:
            granted = Permission.objects.filter(content_type__app_label="outreach")
            self.user_permissions.set(granted if extracted is None else granted.filter(codename__in=extracted))

    @factory.post_generation
    def clients(self, create, extracted, **kwargs):
        if create:
            for client in extracted or ():
                ClientMembership.objects.create(user=self, client=client)


class EarlyStatusFactory(factory.django.DjangoModelFactory[EarlyStatus]):
    class Meta:
        model = EarlyStatus

    provider = "twilio"
    message_id = factory.Sequence(lambda n: f"SM{n:032x}")
    status = "delivered"
    error_code = ""
    metadata = factory.LazyAttribute(lambda early: {"status": early.status, "error_code": early.error_code})


class ManualTaskFactory(factory.django.DjangoModelFactory[ManualTask]):
    class Meta:
        model = ManualTask

    lead = factory.SubFactory(LeadFactory)
    client = factory.SelfAttribute("lead.client")
    kind = "linkedin"
    message = factory.LazyAttribute(
        lambda task: f"Hi {task.lead.first_name}, saw your work at {task.lead.company_name}."
    )
    due_at = factory.LazyFunction(timezone.now)


def who_patterns(**overrides) -> dict:
    data = {
        "recommended_weights": {"data_quality": 0.10, "authority": 0.15, "company_fit": 0.40, "timing": 0.20},
        "conversion_rate_by": {
            "seniority": {"owner": {"conversion_rate": 0.2, "lift": 1.6, "sample_size": 80, "conversions": 16}}
        },
        "sample_size": 500,
        "confidence": 0.8,
    }
    return {**data, **overrides}


def when_patterns(**overrides) -> dict:
    data = {
        "best_days": [{"day_index": 1, "conversion_rate": 0.12}, {"day_index": 2, "conversion_rate": 0.10}],
        "best_hours": [{"hour": 10, "conversion_rate": 0.11}, {"hour": 14, "conversion_rate": 0.08}],
        "optimal_sequence_gaps": {"touch_1_to_2": 2, "touch_2_to_3": 3},
        "converting_touch_distribution": {"1": 10, "2": 20},
        "peak_converting_touch": 2,
        "sample_size": 400,
        "confidence": 0.7,
    }
    return {**data, **overrides}


def how_patterns(**overrides) -> dict:
    data = {
        "best_first_channel": "linkedin",
        "winning_sequences": [
            {"sequence": ["linkedin", "email", "email", "sms"], "conversion_rate": 0.09, "sample_size": 120}
        ],
        "channel_effectiveness_by_tier": {"hot": {"voice": {"conversion_rate": 0.2, "sample_size": 50}}},
        "sample_size": 300,
        "confidence": 0.6,
    }
    return {**data, **overrides}


def what_patterns(**overrides) -> dict:
    data = {
        "pain_points": {"effective": ["leads"], "ineffective": ["cost"]},
        "ctas": {"effective": ["free audit"]},
        "personalization_lift": {"has_company_mention": 1.4},
        "optimal_length": {"email": {"min_words": 50, "max_words": 120}},
        "sample_size": 800,
        "confidence": 0.75,
    }
    return {**data, **overrides}


VALID_PATTERNS = {"who": who_patterns, "when": when_patterns, "how": how_patterns, "what": what_patterns}


class DomainCheckFactory(factory.django.DjangoModelFactory[DomainCheck]):
    """A check of the client's sending domain that passed (SPF, DKIM and DMARC found and valid)."""

    class Meta:
        model = DomainCheck

    client = factory.SubFactory(ClientFactory)
    domain = factory.LazyAttribute(lambda check: check.client.sending_email.rpartition("@")[2])
    checked_at = factory.LazyFunction(timezone.now)
    spf_status = "pass"
    spf_record = "v=spf1 include:_spf.google.com ~all"
    spf_message = factory.LazyAttribute(lambda check: f"SPF record found at {check.domain} (ends with `~all`).")
    dkim_status = "pass"
    dkim_record = "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDllHxrhbFWZf365T334UHXSmYy8eyu"
    dkim_message = factory.LazyAttribute(lambda check: f"DKIM key found at google._domainkey.{check.domain}.")
    dmarc_status = "pass"
    dmarc_record = "v=DMARC1; p=reject"
    dmarc_message = factory.LazyAttribute(lambda check: f"DMARC record found at _dmarc.{check.domain}, policy reject.")
    trigger = "command"


class MailboxFactory(factory.django.DjangoModelFactory[Mailbox]):
    """An active mailbox on the client's own domain, through the default email backend, capped at 50 a day."""

    class Meta:
        model = Mailbox

    client = factory.SubFactory(ClientFactory)
    address = factory.LazyAttributeSequence(
        lambda mailbox, n: f"sender{n}@{mailbox.client.sending_email.rpartition('@')[2] or 'mail.example.com'}"
    )
    display_name = factory.Sequence(lambda n: f"Sam Sender {n}")
    daily_cap = 50
    warmup_start = 10
    warmup_increase = 5
    warmup_started_on = date(2025, 1, 1)
    state = "active"


class MailboxStateChangeFactory(factory.django.DjangoModelFactory[MailboxStateChange]):
    class Meta:
        model = MailboxStateChange

    mailbox = factory.SubFactory(MailboxFactory)
    from_state = "active"
    to_state = "paused"
    reason = "by_person"
