"""The demo's sample agency: its clients, their message templates, and lead spreadsheets to import.

Every client made here is marked `is_demo`; `reset_demo_data` deletes those
and nothing else, so the demo never touches a client it did not make.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import phonenumbers

from engines.json_types import JSONValue
from engines.simulation.synthetic import FIRST_NAMES, LAST_NAMES, PLACES, TITLES
from outreach.models import Client, Mailbox, MailboxState, MessageTemplate

LEAD_COLUMNS = (
    "First name",
    "Last name",
    "Email",
    "Phone",
    "Company",
    "Title",
    "Industry",
    "Employees",
    "Country",
    "Region",
    "Time zone",
    "LinkedIn URL",
)

# (country, share, [(time zone, region, share)]): AU / NZ / US / UK, as the agency sells there.
MARKETS = (
    (
        "AU",
        0.55,
        (
            ("Australia/Sydney", "NSW", 0.4),
            ("Australia/Melbourne", "VIC", 0.3),
            ("Australia/Brisbane", "QLD", 0.2),
            ("Australia/Perth", "WA", 0.1),
        ),
    ),
    ("NZ", 0.1, (("Pacific/Auckland", "", 1.0),)),
    ("GB", 0.15, (("Europe/London", "", 1.0),)),
    (
        "US",
        0.2,
        (("America/New_York", "NY", 0.5), ("America/Chicago", "IL", 0.3), ("America/Los_Angeles", "CA", 0.2)),
    ),
)
INDUSTRIES = (
    ("Dental", 0.25),
    ("Accounting", 0.2),
    ("Legal", 0.15),
    ("Physiotherapy", 0.1),
    ("Real Estate", 0.1),
    ("Veterinary", 0.1),
    ("Construction", 0.1),
)
COMPANY_WORDS = ("Partners", "Group", "Clinic", "Associates", "Studio", "Co")


@dataclass(frozen=True)
class DemoMailbox:
    """A sending mailbox of a demo client: active at `daily_cap`, or warming from `warmup_start` a day."""

    address: str
    display_name: str
    daily_cap: int
    warmup_start: int | None = None  # None: warmed up already (active)
    warmup_increase: int = 10


@dataclass(frozen=True)
class DemoClient:
    name: str
    sender_name: str
    sending_email: str
    sending_phone: str
    timezone: str
    country: str
    physical_address: str
    icp: dict[str, JSONValue]
    # As an agency sends for a client: from mailboxes on secondary domains, one of them new and warming up.
    mailboxes: tuple[DemoMailbox, ...] = ()


DEMO_CLIENTS = (
    DemoClient(
        "Harbour Growth Partners",
        "Sam Carter",
        "sam@harbourgrowth.example.com",
        "+61291234567",
        "Australia/Sydney",
        "AU",
        "Level 3, 1 George St, Sydney NSW 2000",
        {"industries": ["Dental", "Accounting"], "employee_min": 5, "employee_max": 50, "countries": ["AU", "NZ"]},
        (
            DemoMailbox("sam@harbourgrowth-mail.example.com", "Sam Carter", 200),
            DemoMailbox("alex@harbourgrowth-mail.example.com", "Alex Nguyen", 200),
            DemoMailbox("sam@tryharbourgrowth.example.com", "Sam Carter", 150, warmup_start=10),
        ),
    ),
    DemoClient(
        "Summit Legal Marketing",
        "Jordan Blake",
        "jordan@summitlegal.example.com",
        "+12125550100",
        "America/New_York",
        "US",
        "350 Fifth Avenue, New York, NY 10118",
        {"industries": ["Legal", "Real Estate"], "employee_min": 10, "employee_max": 200, "countries": ["US", "GB"]},
        (
            DemoMailbox("jordan@summitlegal-mail.example.com", "Jordan Blake", 300),
            DemoMailbox("jordan@trysummitlegal.example.com", "Jordan Blake", 200, warmup_start=10),
        ),
    ),
)

# (channel, touch number, subject, body): every channel has a template from touch 1, so any plan renders,
# and as many texts as a six-step sequence can ask of it (email-only cadences, two texts, two calls), since a
# prospect is never given one text twice. Touch 1 and 3 emails differ in their call to action, so the
# detectors can compare them.
TEMPLATES = (
    (
        "email",
        1,
        "A free audit for {company_name}",
        "Hi {first_name|there}, we help {industry|businesses} like {company_name} turn enquiries into booked "
        "clients. Could we run a free audit of your follow-up? It takes 20 minutes.\n\n{sender_name}",
    ),
    (
        "email",
        2,
        "Quick question, {first_name|there}",
        "Hi {first_name|there}, most teams we meet lose leads to slow follow-up and manual admin. "
        "Open to a quick chat next week?\n\n{sender_name}",
    ),
    (
        "email",
        3,
        "Worth 15 minutes?",
        "Hi {first_name|there}, happy to share how similar firms grew revenue from the same enquiries. "
        "Book a time that suits you?\n\n{sender_name}",
    ),
    (
        "email",
        4,
        "An idea for {company_name}",
        "Hi {first_name|there}, one thing that works for {industry|firms} like yours: answering every enquiry "
        "within the hour. Want the two-page playbook?\n\n{sender_name}",
    ),
    (
        "email",
        5,
        "Closing the loop",
        "Hi {first_name|there}, should I close the loop on this? Let me know either way.\n\n{sender_name}",
    ),
    (
        "linkedin",
        1,
        "",
        "Hi {first_name|there}, I help {industry|firms} like {company_name} book more clients. "
        "Happy to offer a free audit if useful.",
    ),
    ("linkedin", 2, "", "Thanks for connecting, {first_name|there}. Open to a quick chat about new client bookings?"),
    (
        "linkedin",
        3,
        "",
        "{first_name|Hi}, we shared a short guide on faster follow-up with {industry|firms} this month. Want a copy?",
    ),
    ("sms", 1, "", "Hi {first_name|there}, {sender_name} here. Worth a quick call about new client bookings?"),
    ("sms", 2, "", "Hi {first_name|there}, {sender_name} again. Happy to send our free audit checklist?"),
    (
        "sms",
        3,
        "",
        "Last note from {sender_name}, {first_name|there}: send me a good time and I'll book a 15-minute call.",
    ),
    (
        "voice",
        1,
        "",
        "Introduce {client_name}; ask {first_name|the owner} about new client volume at {company_name}; "
        "offer the free audit.",
    ),
    (
        "voice",
        2,
        "",
        "Follow up for {client_name}: ask {first_name|the owner} whether the audit offer landed; "
        "offer a 15-minute slot this week.",
    ),
)


def reset_demo_data() -> int:
    """Delete the clients a previous demo made (and, with them, their leads and history); how many."""
    deleted, _ = Client.objects.filter(is_demo=True).delete()
    return deleted


def build_agency(count: int = len(DEMO_CLIENTS)) -> list[Client]:
    """The first `count` demo clients with their templates and mailboxes (their warm-up starting today), marked as
    demo data."""
    clients = []
    for spec in DEMO_CLIENTS[:count]:
        client = Client.objects.create(
            name=spec.name,
            sender_name=spec.sender_name,
            sending_email=spec.sending_email,
            sending_phone=spec.sending_phone,
            timezone=spec.timezone,
            country=spec.country,
            physical_address=spec.physical_address,
            icp=spec.icp,
            daily_email_limit=400,
            daily_sms_limit=200,
            daily_linkedin_limit=150,
            daily_voice_limit=100,
            is_demo=True,
        )
        MessageTemplate.objects.bulk_create(
            MessageTemplate(
                client=client,
                channel=channel,
                touch_number=touch,
                subject=subject,
                body=body,
                name=f"{channel} {touch}",
            )
            for channel, touch, subject, body in TEMPLATES
        )
        for spec_mailbox in spec.mailboxes:
            warming = spec_mailbox.warmup_start is not None
            Mailbox.objects.create(
                client=client,
                address=spec_mailbox.address,
                display_name=spec_mailbox.display_name,
                daily_cap=spec_mailbox.daily_cap,
                warmup_start=spec_mailbox.warmup_start or spec_mailbox.daily_cap,
                warmup_increase=spec_mailbox.warmup_increase,
                state=MailboxState.WARMING if warming else MailboxState.ACTIVE,
            )
        clients.append(client)
    return clients


PHONE_TAIL_DIGITS = 5


def mobile_number(country: str, tail: int) -> str:
    """A dialable mobile number of `country` (E.164): its example mobile number with the last five digits varied."""
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:
        raise ValueError(f"phonenumbers has no example mobile number for {country!r}")
    digits = str(example.national_number)
    tail %= 10**PHONE_TAIL_DIGITS
    candidate = phonenumbers.parse(f"+{example.country_code}{digits[:-PHONE_TAIL_DIGITS]}{tail:0{PHONE_TAIL_DIGITS}d}")
    number = candidate if phonenumbers.is_valid_number(candidate) else example
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _pick(rng: np.random.Generator, options: Sequence[tuple[object, ...]], size: int) -> np.ndarray:
    shares = np.array([option[-1] if isinstance(option[-1], float) else option[1] for option in options], float)
    return rng.choice(len(options), size=size, p=shares / shares.sum())


def lead_rows(client: Client, *, count: int, seed: int, serial_start: int = 0) -> list[list[str]]:
    """`count` realistic spreadsheet rows for `client`, drawn from one seeded mix (same seed, same leads).

    `serial_start` numbers the rows: each serial gets its own email address and phone number (an SMS reply
    is matched to its lead by number), so cohorts of one client take disjoint serials.
    """
    rng = np.random.default_rng(seed)
    market = _pick(rng, MARKETS, count)
    industry = _pick(rng, INDUSTRIES, count)
    title = _pick(rng, tuple((name, share) for name, _, share in TITLES), count)
    employees = np.clip(np.round(np.exp(rng.normal(3.2, 1.1, count))), 1, 5000).astype(int)
    has_phone, has_linkedin = rng.random(count) < 0.85, rng.random(count) < 0.8
    domain = client.sending_email.split("@")[-1].split(".")[0]
    rows = []
    for i in range(count):
        serial = serial_start + i
        country, _, zones = MARKETS[market[i]]
        zone, region, _ = zones[_pick(rng, zones, 1)[0]]
        first, last = FIRST_NAMES[rng.integers(len(FIRST_NAMES))], LAST_NAMES[rng.integers(len(LAST_NAMES))]
        company = f"{PLACES[rng.integers(len(PLACES))]} {COMPANY_WORDS[rng.integers(len(COMPANY_WORDS))]}"
        rows.append(
            [
                first,
                last,
                f"{first}.{last}.{serial}@{company.lower().replace(' ', '')}.{domain}.example".lower(),
                mobile_number(country, serial) if has_phone[i] else "",
                company,
                TITLES[title[i]][0],
                INDUSTRIES[industry[i]][0],
                str(employees[i]),
                country,
                region,
                zone,
                f"https://www.linkedin.com/in/{first}-{last}-{serial}".lower() if has_linkedin[i] else "",
            ]
        )
    return rows


def write_lead_csv(path: Path, rows: list[list[str]]) -> Path:
    """The spreadsheet a client would hand over, as the admin's import (and `import_leads`) reads it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(LEAD_COLUMNS)
        writer.writerows(rows)
    return path
