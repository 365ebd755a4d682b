"""The demo: a sample agency client with 90 days of history, what Outreach learns from it,
and how that changes the scores and plans of the client's new leads.

Everything runs through the real services: the synthetic history is scored by
the scorer and its touches carry real content snapshots; the detectors learn
from it; the scorer and allocator then consume what was learned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from engines.exceptions import NotPlannable
from engines.services.allocator import allocate_lead
from engines.services.detectors import DetectionResult, run_detectors
from engines.services.scorer import score_leads
from engines.simulation.synthetic import ICP, SyntheticClient, generate_client
from outreach.models import Client, Lead, MessageTemplate

SAMPLE_CLIENT = {
    "name": "Harbour Growth Partners",
    "sending_email": "growth@harbourgrowth.example.com",
    "sending_phone": "+61291234567",
    "timezone": "Australia/Sydney",
    "country": "AU",
    "physical_address": "Level 3, 1 George St, Sydney NSW 2000",
    "icp": ICP,
}

SAMPLE_TEMPLATES = [
    (
        "email",
        1,
        "Quick question, {first_name}",
        "Hi {first_name}, I noticed {company_name} is growing. Most practices we help struggle to fill the "
        "appointment pipeline without hours of manual follow-up. Open to a quick chat next week?",
    ),
    ("linkedin", 2, "", "Hi {first_name}, I help practices like {company_name} book more clients. Happy to connect."),
    (
        "email",
        3,
        "A free audit for {company_name}",
        "Hi {first_name}, we could run a free audit of how {company_name} turns enquiries into booked clients. Worth 15 minutes?",
    ),
    ("sms", 4, "", "Hi {first_name}, it's Sam from Harbour. Worth a quick call about new client bookings?"),
    ("voice", 5, "", "Introduce Harbour, ask about new client volume, offer the free audit."),
    ("email", 6, "Closing the loop", "Hi {first_name}, should I close the loop on this? Let me know either way."),
]

SAMPLE_LEADS = [
    # first, last, title, company, industry, employees, country, region, timezone, phone, extra fields
    (
        "Olivia",
        "Chen",
        "Practice Owner",
        "Bondi Smiles",
        "Dental",
        12,
        "Australia",
        "NSW",
        "Australia/Sydney",
        "+61412000001",
        {"is_hiring": True},
    ),
    (
        "Jack",
        "Wilson",
        "Practice Manager",
        "Perth Family Dental",
        "Dental",
        25,
        "Australia",
        "WA",
        "Australia/Perth",
        "+61412000002",
        {},
    ),
    (
        "Mia",
        "Patel",
        "Director of Operations",
        "Brisbane Ledger Co",
        "Accounting",
        40,
        "Australia",
        "QLD",
        "Australia/Brisbane",
        "+61412000003",
        {"recently_funded": True},
    ),
    (
        "Noah",
        "Smith",
        "Head of Growth",
        "Melbourne Dental Group",
        "Dental",
        120,
        "Australia",
        "VIC",
        "Australia/Melbourne",
        "+61412000004",
        {},
    ),
    ("Emma", "Brown", "CEO", "Bright Teeth NYC", "Dental", 30, "US", "NY", "America/New_York", "+12125550105", {}),
    (
        "Liam",
        "Taylor",
        "Receptionist",
        "Coastal Realty",
        "Real Estate",
        8,
        "Australia",
        "NSW",
        "",
        "+61412000006",
        {"linkedin_url": ""},
    ),
    (
        "Ava",
        "Jones",
        "Managing Director",
        "Northside Dental",
        "Dental",
        15,
        "Australia",
        "NSW",
        "Australia/Sydney",
        "+61412000007",
        {"do_not_contact": True},
    ),
]


def _sample_email(first: str, company: str) -> str:
    return f"{first.lower()}@{company.lower().replace(' ', '')}.example.com"


@transaction.atomic
def seed_sample_agency() -> Client:
    """Create (or refresh) the sample client with its templates and new leads; safe to run again."""
    client, _ = Client.objects.update_or_create(name=SAMPLE_CLIENT["name"], defaults=SAMPLE_CLIENT)
    for channel, touch_number, subject, body in SAMPLE_TEMPLATES:
        MessageTemplate.objects.update_or_create(
            client=client,
            channel=channel,
            touch_number=touch_number,
            active=True,
            defaults={"subject": subject, "body": body, "name": f"Demo {channel} touch {touch_number}"},
        )
    for first, last, title, company, industry, employees, country, region, tz, phone, extra in SAMPLE_LEADS:
        Lead.objects.update_or_create(
            client=client,
            email=_sample_email(first, company),
            defaults={
                "first_name": first,
                "last_name": last,
                "title": title,
                "company_name": company,
                "industry": industry,
                "employee_count": employees,
                "country": country,
                "region": region,
                "timezone": tz,
                "phone": phone,
                "email_verified": True,
                "linkedin_url": f"https://www.linkedin.com/in/{first.lower()}-{last.lower()}",
                **extra,
            },
        )
    return client


def sample_leads(client: Client) -> QuerySet[Lead]:
    """The sample agency's new leads (not its synthetic history)."""
    emails = [_sample_email(first, company) for first, _, _, company, *_ in SAMPLE_LEADS]
    return client.leads.filter(email__in=emails).order_by("pk")


@dataclass
class DemoRun:
    client: Client
    history: SyntheticClient
    learned: dict[str, DetectionResult]
    leads: list[Lead]
    plans: dict[int, dict] = field(default_factory=dict)
    blocked: dict[int, str] = field(default_factory=dict)


def run_demo(
    *,
    history_leads: int = 2000,
    seed: int = 16,
    now: datetime | None = None,
    progress: Callable[[int], object] | None = None,
) -> DemoRun:
    """Rebuild the sample agency from scratch, learn from its history, then score and plan its new leads."""
    now = now or timezone.now()
    Client.objects.filter(name=SAMPLE_CLIENT["name"]).delete()
    history = generate_client(n_leads=history_leads, seed=seed, now=now, name=SAMPLE_CLIENT["name"], progress=progress)
    client = seed_sample_agency()
    learned = run_detectors(client, now=now)
    leads = sample_leads(client)
    score_leads(leads, now=now)
    run = DemoRun(client=client, history=history, learned=learned, leads=list(leads))
    for lead in run.leads:
        try:
            run.plans[lead.pk] = allocate_lead(lead, client, now=now)
        except NotPlannable as blocked:
            run.blocked[lead.pk] = blocked.reason
    return run
