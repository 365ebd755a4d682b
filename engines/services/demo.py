"""A small sample agency for `make demo`: one client, its ideal customer profile, templates and leads."""
from __future__ import annotations

from django.db import transaction

from outreach.models import Client, Lead, MessageTemplate

SAMPLE_CLIENT = {
    "name": "Harbour Dental Marketing",
    "sending_email": "growth@harbourdental.example.com",
    "sending_phone": "+61291234567",
    "timezone": "Australia/Sydney",
    "country": "AU",
    "physical_address": "Level 3, 1 George St, Sydney NSW 2000",
    "icp": {"industries": ["Dental", "Orthodontics"], "employee_min": 5, "employee_max": 50, "countries": ["Australia"]},
}

SAMPLE_TEMPLATES = [
    ("email", 1, "Quick question, {first_name}",
     "Hi {first_name}, I noticed {company_name} is growing. Most practices we help struggle to fill the "
     "appointment pipeline without hours of manual follow-up. Open to a quick chat next week?"),
    ("linkedin", 2, "", "Hi {first_name}, I help dental practices like {company_name} book more patients. Happy to connect."),
    ("email", 3, "A free audit for {company_name}",
     "Hi {first_name}, we could run a free audit of how {company_name} turns enquiries into booked patients. Worth 15 minutes?"),
    ("sms", 4, "", "Hi {first_name}, it's Sam from Harbour. Worth a quick call about new patient bookings?"),
    ("voice", 5, "", "Introduce Harbour, ask about new patient volume, offer the free audit."),
    ("email", 6, "Closing the loop", "Hi {first_name}, should I close the loop on this? Let me know either way."),
]

SAMPLE_LEADS = [
    # first, last, title, company, industry, employees, country, region, timezone, phone
    ("Olivia", "Chen", "Practice Owner", "Bondi Smiles", "Dental", 12, "Australia", "NSW", "Australia/Sydney", "+61412000001"),
    ("Jack", "Wilson", "Practice Manager", "Perth Family Dental", "Dental", 25, "Australia", "WA", "Australia/Perth", "+61412000002"),
    ("Mia", "Patel", "Director of Operations", "Brisbane Ortho", "Orthodontics", 40, "Australia", "QLD", "Australia/Brisbane", "+61412000003"),
    ("Noah", "Smith", "Head of Growth", "Melbourne Dental Group", "Dental", 120, "Australia", "VIC", "Australia/Melbourne", "+61412000004"),
    ("Emma", "Brown", "CEO", "Bright Teeth NYC", "Dental", 30, "US", "NY", "America/New_York", "+12125550105"),
    ("Liam", "Taylor", "Receptionist", "Coastal Accounting", "Accounting", 8, "Australia", "NSW", "", "+61412000006"),
]


@transaction.atomic
def seed_sample_agency() -> Client:
    """Create (or refresh) the sample client with its templates and leads; safe to run again."""
    client, _ = Client.objects.update_or_create(name=SAMPLE_CLIENT["name"], defaults=SAMPLE_CLIENT)
    for channel, touch_number, subject, body in SAMPLE_TEMPLATES:
        MessageTemplate.objects.update_or_create(
            client=client, channel=channel, touch_number=touch_number, active=True,
            defaults={"subject": subject, "body": body, "name": f"Demo {channel} touch {touch_number}"},
        )
    for first, last, title, company, industry, employees, country, region, tz, phone in SAMPLE_LEADS:
        email = f"{first.lower()}@{company.lower().replace(' ', '')}.example.com"
        Lead.objects.update_or_create(
            client=client, email=email,
            defaults=dict(
                first_name=first, last_name=last, title=title, company_name=company, industry=industry,
                employee_count=employees, country=country, region=region, timezone=tz, phone=phone,
                email_verified=True, linkedin_url=f"https://www.linkedin.com/in/{first.lower()}-{last.lower()}",
            ),
        )
    return client
