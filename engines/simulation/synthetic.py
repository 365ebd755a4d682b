"""Synthetic agency data with a planted truth, for the detector tests, the demo and the benchmarks.

`generate_client` creates one client and its leads, scores them with the real
scorer, plans each lead's sequence (ScheduledTouch rows) and plays it out up
to `now`: touches sent (Activity rows with the real content snapshot), replies,
booked meetings, opens. Who converts follows PLANTED:

- company fit matters most (industry, size and country inside the client's
  ideal customer profile), seniority and timing signals less, data quality not
  at all;
- touches sent on a Tuesday or Wednesday, and at 10:00, in the lead's local
  time, earn more replies and bookings;
- sequences opening on LinkedIn win, PLANTED.best_sequence most;
- the "free audit" CTA and a mention of the lead's company lift replies and
  bookings; the "cost" pain point lowers them.

With `truth=NULL` the same leads, plans and volumes are drawn, but every
touch books and is answered at the planted truth's average rates: nothing
matters, and a detector that finds something has found noise (voice calls
still get no written reply).

Each plan records the strategy it was drawn from (`planned_sequence`, before
unreachable channels were dropped) and the tier it was planned for.

Draws come from numpy's default_rng(seed), so a seed (with the same sizes) gives
the same data every time; only the UUIDs, which must stay unique across
clients, are random. Rows are written with bulk_create, `batch_size` leads at a time.
"""

from __future__ import annotations

import uuid
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypedDict

import numpy as np
from django.db import transaction
from django.utils import timezone

from engines.json_types import JSONValue
from engines.rules.content import build_content_snapshot
from engines.rules.geography import lead_timezone_name
from engines.services.scoring.lead_score import als_tier, score_leads
from outreach.models import Activity, Client, Enrollment, EnrollmentState, Lead, LeadStatus, ScheduledTouch, TouchStatus


@dataclass(frozen=True)
class PlantedTruth:
    best_days: tuple[int, ...] = (1, 2)  # Tuesday, Wednesday (Monday=0)
    best_hour: int = 10
    day_lift: tuple[float, ...] = (1.0, 1.8, 1.8, 1.1, 0.8, 0.6, 0.6)
    hour_lift: tuple[tuple[int, float], ...] = ((8, 0.8), (9, 1.2), (10, 1.9), (11, 1.2), (14, 1.1), (17, 0.8))
    # (planned channels, lift on bookings); the first is the winner.
    sequences: tuple[tuple[tuple[str, ...], float], ...] = (
        (("linkedin", "email", "email", "sms", "voice", "email"), 2.0),
        (("linkedin", "email", "voice", "email", "email"), 1.3),
        (("email", "linkedin", "email", "sms", "voice", "email"), 1.0),
        (("email", "email", "sms", "email", "voice", "email"), 0.85),
        (("sms", "email", "linkedin", "email", "voice"), 0.7),
    )
    best_first_channel: str = "linkedin"
    cta_lift: tuple[tuple[str, float], ...] = (("free audit", 1.8),)
    company_mention_lift: float = 1.5
    pain_lift: tuple[tuple[str, float], ...] = (("revenue", 1.3), ("cost", 0.6))
    # Lead propensity: exp(sum of coefficient * (normalised attribute - centre)).
    fit_coefficient: float = 2.6
    authority_coefficient: float = 0.9
    timing_coefficient: float = 0.8
    booking_base: float = 0.011
    reply_base: float = 0.035
    # Null mode: every touch books and is answered at the average rates the truth above would give the same
    # leads and plans, independent of the lead, its sequence, the day, the hour and the content.
    independent: bool = False

    @property
    def best_sequence(self) -> tuple[str, ...]:
        return self.sequences[0][0]


PLANTED = PlantedTruth()
# Same volumes as PLANTED, outcomes independent of everything: the detectors must find nothing in it.
NULL = PlantedTruth(independent=True)


class IdealCustomer(TypedDict):
    """The synthetic client's ICP (Client.icp), as the scorer reads it."""

    industries: list[str]
    employee_min: int
    employee_max: int
    countries: list[str]


ICP: IdealCustomer = {
    "industries": ["Dental", "Accounting"],
    "employee_min": 5,
    "employee_max": 50,
    "countries": ["Australia"],
}
WORKING_HOURS = tuple(range(8, 18))
GAP_DAYS = (2, 3, 4, 5, 7, 7, 7)

# ------------------------------------------------------------------ lead attributes
COUNTRIES = (  # (country, time zones with shares, phone number pattern, legal suffix, share)
    (
        "Australia",
        (
            ("Australia/Sydney", 0.4),
            ("Australia/Melbourne", 0.3),
            ("Australia/Brisbane", 0.15),
            ("Australia/Perth", 0.1),
            ("Australia/Adelaide", 0.05),
        ),
        "+614{:08d}",
        " Pty Ltd",
        0.55,
    ),
    ("New Zealand", (("Pacific/Auckland", 1.0),), "+6421{:07d}", " Ltd", 0.1),
    ("United Kingdom", (("Europe/London", 1.0),), "+447700{:06d}", " Ltd", 0.1),
    (
        "United States",
        (("America/New_York", 0.5), ("America/Chicago", 0.3), ("America/Los_Angeles", 0.2)),
        "+1212{:07d}",
        " Inc",
        0.2,
    ),
    ("Canada", (("America/Toronto", 1.0),), "+1416{:07d}", " Inc", 0.05),
)
INDUSTRIES = (
    ("Dental", 0.25),
    ("Accounting", 0.2),
    ("Legal", 0.12),
    ("Physiotherapy", 0.1),
    ("Real Estate", 0.1),
    ("Veterinary", 0.08),
    ("Construction", 0.08),
    ("Hospitality", 0.07),
)
SIZE_BANDS = (((1, 4), 0.1), ((5, 50), 0.5), ((51, 200), 0.25), ((201, 2000), 0.15))
TITLES = (
    ("Owner", 25, 0.08),
    ("Founder", 25, 0.05),
    ("CEO", 22, 0.07),
    ("Chief Operating Officer", 22, 0.03),
    ("VP Operations", 18, 0.05),
    ("Director of Operations", 15, 0.1),
    ("Head of Marketing", 12, 0.08),
    ("Senior Practice Manager", 10, 0.1),
    ("Practice Manager", 7, 0.2),
    ("Office Manager", 7, 0.1),
    ("Marketing Coordinator", 5, 0.08),
    ("Receptionist", 5, 0.06),
)
FIRST_NAMES = (
    "Olivia",
    "Jack",
    "Mia",
    "Noah",
    "Emma",
    "Liam",
    "Ava",
    "Lucas",
    "Chloe",
    "Ethan",
    "Grace",
    "Oscar",
    "Isla",
    "Henry",
    "Zoe",
    "Leo",
    "Ruby",
    "Hugo",
    "Sienna",
    "Max",
    "Priya",
    "Wei",
    "Aisha",
    "Mateo",
)
LAST_NAMES = (
    "Chen",
    "Wilson",
    "Patel",
    "Smith",
    "Brown",
    "Taylor",
    "Nguyen",
    "Kelly",
    "Martin",
    "Singh",
    "Walker",
    "Harris",
    "Lee",
    "King",
    "Wright",
    "Lopez",
    "Murphy",
    "Khan",
    "Evans",
    "Rossi",
)
PLACES = (
    "Bondi",
    "Harbour",
    "Coastal",
    "Northside",
    "Greenway",
    "Summit",
    "Riverbend",
    "Parkside",
    "Lakeside",
    "Ironbark",
    "Banksia",
    "Wattle",
    "Kingsford",
    "Redfern",
    "Hillcrest",
    "Westgate",
    "Eastwood",
    "Bayview",
    "Seaview",
    "Highfield",
    "Oakridge",
    "Cedar",
    "Marlow",
    "Ashford",
)
COMPANY_NOUNS = ("Partners", "Group", "Collective", "Associates", "Studio", "House", "Clinic", "Co")

# ------------------------------------------------------------------ message parts (each sentence carries one feature)
PAIN_SENTENCES = {
    "leads": "Most firms we speak with want a steadier pipeline of new enquiries.",
    "revenue": "We help practices lift revenue per appointment.",
    "time": "Chasing enquiries by hand eats hours every week.",
    "cost": "Most agencies charge too much, so the budget never stretches far enough.",
    "clients": "Keeping patients coming back is where retention pays off.",
}
CTA_SENTENCES = {
    "free audit": "We could run a free audit of your booking process.",
    "quick call": "Would a quick call next week suit?",
    "open to a quick chat": "Open to a quick chat next week?",
    "worth 15 minutes": "Is it worth 15 minutes on Thursday?",
    "let me know": "Let me know if this is useful.",
    "worth a conversation": "Would this be worth a conversation?",
}
COMPANY_SENTENCE = "I have been following {company_name} for a while."
NEWS_SENTENCE = "I saw the news about your new location."
MUTUAL_SENTENCE = "A mutual contact suggested I reach out."
INDUSTRY_SENTENCE = "Many {industry} businesses tell us the same thing."
FILLERS = (
    "We have worked with similar businesses across the region for a few years now.",
    "Our approach is simple and does not need new software.",
    "Most of our work is with independent practices.",
    "We keep things straightforward and practical.",
)
# Share of touches carrying each optional part.
SHARES = {"company": 0.5, "first_name": 0.7, "news": 0.3, "mutual": 0.1, "industry": 0.3, "pain": 0.85, "cta": 0.9}
MAX_FILLERS = {"email": 3, "linkedin": 1, "sms": 0, "voice": 1}
SENT_ACTION = {"email": "email_sent", "sms": "sms_sent", "linkedin": "linkedin_sent", "voice": "voice_completed"}
REPLY_ACTION = {"email": "email_replied", "sms": "sms_replied", "linkedin": "linkedin_replied"}
DELIVERED_ACTION = {"email": "email_delivered", "sms": "sms_delivered"}
ENGAGEMENT = {"opens_per_email": 1.0, "linkedin_accepted": 0.4}

_PAINS = tuple(PAIN_SENTENCES)
_CTAS = tuple(CTA_SENTENCES)
_DAY = 86_400


@dataclass(frozen=True)
class SyntheticClient:
    client: Client
    leads: int
    activities: int
    scheduled_touches: int


def generate_client(
    *,
    n_leads: int = 3000,
    seed: int = 0,
    now: datetime | None = None,
    days: int = 90,
    name: str | None = None,
    truth: PlantedTruth = PLANTED,
    engagement: bool = True,
    batch_size: int = 2000,
    progress: Callable[[int], object] | None = None,
    client: Client | None = None,
) -> SyntheticClient:
    """Create a client with `n_leads` leads whose sequences started over the `days` before `now`.

    `engagement` adds deliveries, opens and LinkedIn acceptances (rows the
    detectors must skip). `progress(n)` is called after each batch of leads.
    `client`: add the leads to this client instead of a new one (a history
    whose truth changes over time is two calls with different truths and
    periods, and different seeds).
    """
    now = now or timezone.now()
    rng = np.random.default_rng(seed)
    client = client or _new_client(name or f"Synthetic agency client (seed {seed})")
    totals = {"leads": 0, "activities": 0, "scheduled_touches": 0}
    for start in range(0, n_leads, batch_size):
        size = min(batch_size, n_leads - start)
        with transaction.atomic():
            counts = _write_batch(client, rng, seed, start, size, now, days, truth, engagement)
        for key, value in counts.items():
            totals[key] += value
        if progress is not None:
            progress(size)
    return SyntheticClient(client=client, **totals)


def _new_client(name: str) -> Client:
    return Client.objects.create(
        name=name,
        sending_email="growth@synthetic.example.com",
        sending_phone="+61291234567",
        timezone="Australia/Sydney",
        country="AU",
        icp=ICP,
        physical_address="Level 3, 1 George St, Sydney NSW 2000",
    )


def _choice(rng: np.random.Generator, options: Sequence[tuple[object, ...]], size: int) -> np.ndarray:
    """Indices into `options`, drawn with the share each option's last element gives."""
    shares = np.array([option[-1] for option in options], dtype=float)
    return rng.choice(len(options), size=size, p=shares / shares.sum())


def _write_batch(
    client: Client,
    rng: np.random.Generator,
    seed: int,
    start: int,
    size: int,
    now: datetime,
    days: int,
    truth: PlantedTruth,
    engagement: bool,
) -> dict[str, int]:
    leads, propensity = _draw_leads(client, rng, f"{seed}.{start}", size, truth)
    plans = _plan_sequences(rng, leads, client, now, days, truth)
    outcome = _play(rng, plans, propensity, now, truth)
    _settle_leads(leads, plans, outcome)
    Lead.objects.bulk_create(leads, batch_size=1000)
    score_leads(Lead.objects.filter(pk__in=[lead.pk for lead in leads]))
    scores = dict(Lead.objects.filter(pk__in=[lead.pk for lead in leads]).values_list("pk", "als_score"))
    activities, touches = _rows(rng, client, leads, plans, outcome, scores, now, engagement)
    Activity.objects.bulk_create(activities, batch_size=2000)
    _enroll(client, leads, plans, touches, now)
    ScheduledTouch.objects.bulk_create(touches, batch_size=2000)
    return {"leads": len(leads), "activities": len(activities), "scheduled_touches": len(touches)}


# Each lead's one enrollment ends as its status at the end of the play says (CLOSED: every step went, no reply).
_ENROLLMENT_STATE = {
    LeadStatus.NEW: EnrollmentState.ACTIVE,
    LeadStatus.IN_SEQUENCE: EnrollmentState.ACTIVE,
    LeadStatus.CONVERTED: EnrollmentState.CONVERTED,
    LeadStatus.REPLIED: EnrollmentState.REPLIED,
    LeadStatus.CLOSED: EnrollmentState.FINISHED,
}


def _enroll(client: Client, leads: list[Lead], plans: _Plans, touches: list[ScheduledTouch], now: datetime) -> None:
    """One enrollment per lead with touches, in the state its play left it; its touches are its steps."""
    planned = {touch.lead.pk for touch in touches}
    enrollments = Enrollment.objects.bulk_create(
        [
            Enrollment(
                client=client,
                lead=lead,
                sequence_id=plans.sequence[i],
                planned_sequence=plans.strategy[i],
                state=_ENROLLMENT_STATE[LeadStatus(lead.status)],
                started_at=_datetime(plans.at[i][plans.channels[i] >= 0].min()),
                ended_at=None if lead.status in (LeadStatus.NEW, LeadStatus.IN_SEQUENCE) else now,
            )
            for i, lead in enumerate(leads)
            if lead.pk in planned
        ],
        batch_size=2000,
    )
    by_lead = {enrollment.lead_id: enrollment for enrollment in enrollments}
    for touch in touches:
        touch.enrollment = by_lead[touch.lead.pk]


def _draw_leads(
    client: Client, rng: np.random.Generator, prefix: str, size: int, truth: PlantedTruth
) -> tuple[list[Lead], np.ndarray]:
    """Unsaved leads with realistic attributes, and each one's planted propensity to convert."""
    country = _choice(rng, COUNTRIES, size)
    industry = _choice(rng, INDUSTRIES, size)
    band = _choice(rng, SIZE_BANDS, size)
    title = _choice(rng, TITLES, size)
    employees = np.array([rng.integers(SIZE_BANDS[b][0][0], SIZE_BANDS[b][0][1] + 1) for b in band])
    has_phone, has_linkedin = rng.random(size) < 0.9, rng.random(size) < 0.85
    personal = rng.random(size) < 0.1
    new_role, hiring, funded = rng.random(size) < 0.15, rng.random(size) < 0.25, rng.random(size) < 0.08
    keep_zone = rng.random(size) < 0.8
    leads = []
    for i in range(size):
        serial = f"{prefix}.{i}"
        country_name, zones, phone_format, suffix, _ = COUNTRIES[country[i]]
        zone = zones[_choice(rng, zones, 1)[0]][0]
        first, last = FIRST_NAMES[rng.integers(len(FIRST_NAMES))], LAST_NAMES[rng.integers(len(LAST_NAMES))]
        company = f"{PLACES[rng.integers(len(PLACES))]} {COMPANY_NOUNS[rng.integers(len(COMPANY_NOUNS))]}"
        domain = "gmail.com" if personal[i] else company.lower().replace(" ", "") + ".example.com"
        leads.append(
            Lead(
                client=client,
                first_name=first,
                last_name=last,
                email=f"{first}.{last}.{serial}@{domain}".lower(),
                email_verified=bool(rng.random() < 0.7),
                is_personal_email=bool(personal[i]),
                phone=phone_format.format(int(rng.integers(10**6))) if has_phone[i] else "",
                phone_verified=bool(has_phone[i] and rng.random() < 0.5),
                linkedin_url=f"https://www.linkedin.com/in/{first}-{last}-{serial}".lower() if has_linkedin[i] else "",
                company_name=company + (suffix if rng.random() < 0.5 else ""),
                title=TITLES[title[i]][0],
                industry=INDUSTRIES[industry[i]][0],
                employee_count=int(employees[i]),
                country=country_name,
                timezone=zone if keep_zone[i] else "",
                is_new_role=bool(new_role[i]),
                is_hiring=bool(hiring[i]),
                recently_funded=bool(funded[i]),
                status=LeadStatus.IN_SEQUENCE,
            )
        )
    in_icp = (
        0.4 * np.isin(industry, [i for i, (name, _) in enumerate(INDUSTRIES) if name in ICP["industries"]])
        + 0.32 * ((employees >= ICP["employee_min"]) & (employees <= ICP["employee_max"]))
        + 0.28 * (country == 0)
    )
    authority = np.array([TITLES[t][1] for t in title]) / 25
    timing = (6 * new_role + 5 * hiring + 4 * funded) / 15
    propensity = np.exp(
        truth.fit_coefficient * (in_icp - 0.5)
        + truth.authority_coefficient * (authority - 0.5)
        + truth.timing_coefficient * (timing - 0.2)
    )
    return leads, propensity


@dataclass
class _Plans:
    """Per lead and touch slot (n leads x width): channel index (-1: none), UTC epoch, local day and hour, content."""

    sequence: list[uuid.UUID]
    strategy: list[str]  # the channels drawn, before unreachable ones were dropped ("linkedin>email>sms")
    plan_index: np.ndarray
    channels: np.ndarray
    at: np.ndarray
    day: np.ndarray
    hour: np.ndarray
    pain: np.ndarray
    cta: np.ndarray
    parts: dict[str, np.ndarray]
    fillers: np.ndarray


CHANNEL_ORDER = ("email", "sms", "linkedin", "voice")


def _plan_sequences(
    rng: np.random.Generator, leads: list[Lead], client: Client, now: datetime, days: int, truth: PlantedTruth
) -> _Plans:
    n = len(leads)
    plan_index = rng.integers(len(truth.sequences), size=n)
    width = max(len(plan) for plan, _ in truth.sequences)
    channels = np.full((n, width), -1, dtype=np.int64)
    for i, lead in enumerate(leads):
        # Like the allocator, a channel the lead cannot be reached on is left out of the plan.
        reachable = [
            c
            for c in truth.sequences[plan_index[i]][0]
            if (lead.phone or c not in ("sms", "voice")) and (lead.linkedin_url or c != "linkedin")
        ]
        channels[i, : len(reachable)] = [CHANNEL_ORDER.index(c) for c in reachable]

    # Local calendar: day numbers since 1970-01-01 (a Thursday, so Monday=0 is (d + 3) % 7).
    # Starting the day after `now - days` keeps every touch inside a window of `days`, whatever the zone.
    first_day = (now - timedelta(days=days)).timestamp() // _DAY + 1
    start = first_day + rng.integers(days, size=n)
    gaps = np.array(GAP_DAYS[: width - 1]) + rng.integers(-1, 2, size=(n, width - 1))
    local_day = start[:, None] + np.concatenate([np.zeros((n, 1)), np.cumsum(np.maximum(gaps, 1), axis=1)], axis=1)
    weekday = (local_day + 3) % 7
    move = rng.random((n, width)) < 0.75  # most weekend touches wait for Monday
    local_day += np.where(move & (weekday == 5), 2, 0) + np.where(move & (weekday == 6), 1, 0)
    for k in range(1, width):  # a touch moved to Monday never lands on or after the next one
        local_day[:, k] = np.maximum(local_day[:, k], local_day[:, k - 1] + 1)
    hour = rng.choice(WORKING_HOURS, size=(n, width))
    minute = rng.integers(60, size=(n, width))
    at = np.zeros((n, width))
    for i, lead in enumerate(leads):
        zone = zoneinfo.ZoneInfo(lead_timezone_name(lead, client))
        for k in range(width):
            day = datetime.fromtimestamp(local_day[i, k] * _DAY, UTC)
            local = datetime(day.year, day.month, day.day, hour[i, k], minute[i, k], tzinfo=zone)
            at[i, k] = local.timestamp()
    shape = (n, width)
    return _Plans(
        sequence=[uuid.uuid4() for _ in range(n)],
        strategy=[">".join(truth.sequences[index][0]) for index in plan_index],
        plan_index=plan_index,
        channels=channels,
        at=at,
        day=((local_day + 3) % 7).astype(np.int64),
        hour=hour,
        pain=np.where(rng.random(shape) < SHARES["pain"], rng.integers(len(_PAINS), size=shape), -1),
        cta=np.where(rng.random(shape) < SHARES["cta"], rng.integers(len(_CTAS), size=shape), -1),
        parts={
            part: rng.random(shape) < SHARES[part] for part in ("company", "first_name", "news", "mutual", "industry")
        },
        fillers=rng.integers(4, size=shape),
    )


@dataclass
class _Outcome:
    sent: np.ndarray  # (n, width) bool
    cancelled: np.ndarray
    booked: np.ndarray  # the touch that earned the meeting (meeting may still be ahead)
    booking_at: np.ndarray  # (n,) epoch of the meeting booking, inf when none
    reply_at: np.ndarray  # (n, width) epoch of the reply to the touch, inf when none
    voice_outcome: np.ndarray


def _lifts(plans: _Plans, truth: PlantedTruth) -> np.ndarray:
    """How much more (or less) than average each touch's timing and content earn, per the planted truth."""
    lift = np.asarray(truth.day_lift)[plans.day]
    hour_lift = np.ones(24)
    for hour, value in truth.hour_lift:
        hour_lift[hour] = value
    lift = lift * hour_lift[plans.hour]
    for cta, value in truth.cta_lift:
        lift = np.where(plans.cta == _CTAS.index(cta), lift * value, lift)
    for pain, value in truth.pain_lift:
        lift = np.where(plans.pain == _PAINS.index(pain), lift * value, lift)
    lifted: np.ndarray = np.where(plans.parts["company"], lift * truth.company_mention_lift, lift)
    return lifted


def _averaged(
    p_book: np.ndarray, p_reply: np.ndarray, planned: np.ndarray, voice: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The same average rates for every planned touch (calls still get no written reply)."""
    answerable = planned & ~voice
    book = np.full(p_book.shape, p_book[planned].mean() if planned.any() else 0.0)
    reply = np.where(voice, 0.0, p_reply[answerable].mean() if answerable.any() else 0.0)
    return book, reply


def _play(
    rng: np.random.Generator, plans: _Plans, propensity: np.ndarray, now: datetime, truth: PlantedTruth
) -> _Outcome:
    """Send each lead's touches in order until a meeting is booked or `now` is reached."""
    n, width = plans.channels.shape
    now_ts = now.timestamp()
    sequence_lift = np.array([lift for _, lift in truth.sequences])[plans.plan_index]
    touch_lift = _lifts(plans, truth)
    p_book = np.minimum(truth.booking_base * (propensity * sequence_lift)[:, None] * touch_lift, 0.6)
    p_reply = np.minimum(truth.reply_base * np.sqrt(propensity)[:, None] * touch_lift, 0.6)
    voice = plans.channels == CHANNEL_ORDER.index("voice")
    p_reply[voice] = 0.0
    if truth.independent:
        p_book, p_reply = _averaged(p_book, p_reply, plans.channels >= 0, voice)

    sent = np.zeros((n, width), dtype=bool)
    cancelled = np.zeros((n, width), dtype=bool)
    booked = np.zeros((n, width), dtype=bool)
    booking_at = np.full(n, np.inf)
    reply_at = np.full((n, width), np.inf)
    active = np.ones(n, dtype=bool)
    for k in range(width):
        planned = plans.channels[:, k] >= 0
        cancelled[:, k] = planned & ~active
        sent[:, k] = planned & active & (plans.at[:, k] <= now_ts)
        books = sent[:, k] & (rng.random(n) < p_book[:, k])
        replies = sent[:, k] & (books & ~voice[:, k] | (rng.random(n) < p_reply[:, k]))
        reply_at[:, k] = np.where(replies, plans.at[:, k] + rng.uniform(0.05, 2.0, n) * _DAY, np.inf)
        booking_at = np.where(
            books, np.where(voice[:, k], plans.at[:, k], reply_at[:, k] + rng.uniform(0.1, 2.0, n) * _DAY), booking_at
        )
        booked[:, k] = books
        active &= ~books
    voice_outcome = rng.choice(("connected", "voicemail", "no_answer"), size=(n, width), p=(0.3, 0.45, 0.25))
    voice_outcome = np.where(booked & voice, "meeting_booked", voice_outcome)
    reply_at[reply_at > now_ts] = np.inf
    booking_at = np.where(booking_at <= now_ts, booking_at, np.inf)
    return _Outcome(sent, cancelled, booked, booking_at, reply_at, voice_outcome)


def _settle_leads(leads: list[Lead], plans: _Plans, outcome: _Outcome) -> None:
    """Set where each lead stands at the end of the play: touches sent, status, conversion."""
    pending = (plans.channels >= 0) & ~outcome.sent & ~outcome.cancelled
    last_sent = np.where(outcome.sent, plans.at, -np.inf).max(axis=1)
    replied = np.isfinite(outcome.reply_at).any(axis=1)
    for i, lead in enumerate(leads):
        lead.touch_count = int(outcome.sent[i].sum())
        lead.last_contacted_at = _datetime(last_sent[i]) if lead.touch_count else None
        if np.isfinite(outcome.booking_at[i]):
            lead.status, lead.converted_at = LeadStatus.CONVERTED, _datetime(outcome.booking_at[i])
        elif pending[i].any():
            lead.status = LeadStatus.IN_SEQUENCE if lead.touch_count else LeadStatus.NEW
        elif replied[i] or outcome.booked[i].any():
            lead.status = LeadStatus.REPLIED
        else:
            lead.status = LeadStatus.CLOSED


def _datetime(epoch: float) -> datetime:
    return datetime.fromtimestamp(float(epoch), UTC)


def _body(plans: _Plans, i: int, k: int, lead: Lead, channel: str) -> str:
    parts = plans.parts
    sentences = [f"Hi {lead.first_name}," if parts["first_name"][i, k] else "Hi there,"]
    if parts["company"][i, k]:
        sentences.append(COMPANY_SENTENCE.format(company_name=lead.company_name))
    if parts["news"][i, k]:
        sentences.append(NEWS_SENTENCE)
    if parts["mutual"][i, k]:
        sentences.append(MUTUAL_SENTENCE)
    if parts["industry"][i, k]:
        sentences.append(INDUSTRY_SENTENCE.format(industry=lead.industry))
    if plans.pain[i, k] >= 0:
        sentences.append(PAIN_SENTENCES[_PAINS[plans.pain[i, k]]])
    sentences.extend(FILLERS[: min(plans.fillers[i, k], MAX_FILLERS[channel])])
    if plans.cta[i, k] >= 0:
        sentences.append(CTA_SENTENCES[_CTAS[plans.cta[i, k]]])
    return " ".join(sentences)


def _planted_features(plans_pain: int, plans_cta: int, company: bool) -> dict[str, JSONValue]:
    """The features a touch was built with, stored in its metadata so tests can compare them with the snapshot."""
    return {
        "pain_point": _PAINS[plans_pain] if plans_pain >= 0 else None,
        "cta": _CTAS[plans_cta] if plans_cta >= 0 else None,
        "company_mention": bool(company),
    }


@dataclass(frozen=True)
class _Engagement:
    """Engagement the detectors must skip: deliveries, opens (0 to several per email), LinkedIn acceptances."""

    on: bool
    opens: np.ndarray
    delays: np.ndarray
    accepted: np.ndarray

    @classmethod
    def draw(cls, rng: np.random.Generator, shape: tuple[int, int], on: bool) -> _Engagement:
        # Drawn even without engagement so that the rest of the data stays the same either way.
        opens = rng.poisson(ENGAGEMENT["opens_per_email"], shape) * on
        delays = rng.uniform(0.05, 2.0, (*shape, 4)) * _DAY
        accepted = on & (rng.random(shape) < ENGAGEMENT["linkedin_accepted"])
        return cls(on, np.minimum(opens, delays.shape[2]), delays, accepted)

    def of(self, channel: str, i: int, k: int) -> list[tuple[str, float]]:
        """(action, seconds after the touch) of the engagement a sent touch drew."""
        engaged = []
        if self.on and channel in DELIVERED_ACTION:
            engaged.append((DELIVERED_ACTION[channel], 120.0))
        if channel == "email":
            engaged += [("email_opened", delay) for delay in self.delays[i, k, : self.opens[i, k]]]
        if channel == "linkedin" and self.accepted[i, k]:
            engaged.append(("linkedin_accepted", self.delays[i, k, 0]))
        return engaged


def _rows(
    rng: np.random.Generator,
    client: Client,
    leads: list[Lead],
    plans: _Plans,
    outcome: _Outcome,
    scores: dict[int, int | None],
    now: datetime,
    engagement: bool,
) -> tuple[list[Activity], list[ScheduledTouch]]:
    now_ts = now.timestamp()
    n, width = plans.channels.shape
    engaged = _Engagement.draw(rng, (n, width), engagement)
    activities: list[Activity] = []
    touches: list[ScheduledTouch] = []
    for i, lead in enumerate(leads):
        tier = als_tier(scores.get(lead.pk))
        touch_number = 0
        for k in range(width):
            if plans.channels[i, k] < 0:
                continue
            touch_number += 1
            channel = CHANNEL_ORDER[plans.channels[i, k]]
            activity = None
            if outcome.sent[i, k]:
                activity = _sent(client, lead, plans, outcome, i, k, touch_number)
                due = [(action, d) for action, d in engaged.of(channel, i, k) if plans.at[i, k] + d <= now_ts]
                activities += [activity, *_follow_ups(activity, outcome, i, k, due)]
            status = (
                TouchStatus.SENT
                if outcome.sent[i, k]
                else TouchStatus.CANCELLED
                if outcome.cancelled[i, k]
                else TouchStatus.PLANNED
            )
            touches.append(
                ScheduledTouch(
                    client=client,
                    lead=lead,
                    sequence_id=plans.sequence[i],
                    touch_number=touch_number,
                    channel=channel,
                    scheduled_at=_datetime(plans.at[i, k]),
                    status=status,
                    lead_tier=tier,
                    planned_sequence=plans.strategy[i],
                    activity=activity,
                    attempts=1 if activity else 0,
                )
            )
    return activities, touches


def _sent(client: Client, lead: Lead, plans: _Plans, outcome: _Outcome, i: int, k: int, touch_number: int) -> Activity:
    """The Activity of a sent touch, with the real content snapshot of the message it was built from."""
    channel = CHANNEL_ORDER[plans.channels[i, k]]
    sent_at = _datetime(plans.at[i, k])
    metadata: dict[str, JSONValue] = {
        "synthetic": _planted_features(plans.pain[i, k], plans.cta[i, k], plans.parts["company"][i, k])
    }
    if channel == "voice":
        metadata["outcome"] = str(outcome.voice_outcome[i, k])
    return Activity(
        client=client,
        lead=lead,
        action=SENT_ACTION[channel],
        channel=channel,
        content_snapshot=build_content_snapshot(
            _body(plans, i, k, lead, channel),
            lead,
            subject=f"A thought for {lead.first_name}" if channel == "email" else None,
            touch_number=touch_number,
            sequence_id=plans.sequence[i],
            channel=channel,
            sent_at=sent_at,
            client=client,
        ),
        metadata=metadata,
        sequence_id=plans.sequence[i],
        touch_number=touch_number,
        led_to_booking=bool(channel == "voice" and outcome.booked[i, k] and np.isfinite(outcome.booking_at[i])),
        created_at=sent_at,
    )


def _follow_ups(touch: Activity, outcome: _Outcome, i: int, k: int, engaged: list[tuple[str, float]]) -> list[Activity]:
    """What happened after a sent touch: engagement (action, seconds later), the reply, the booked meeting."""

    def event(action: str, at: float, channel: str = touch.channel, **extra: bool) -> Activity:
        return Activity(
            client=touch.client,
            lead=touch.lead,
            action=action,
            channel=channel,
            sequence_id=touch.sequence_id,
            touch_number=touch.touch_number,
            created_at=_datetime(at),
            **extra,
        )

    sent = touch.created_at.timestamp()
    rows = [event(action, sent + delay) for action, delay in engaged]
    if np.isfinite(outcome.reply_at[i, k]):
        rows.append(event(REPLY_ACTION[touch.channel], outcome.reply_at[i, k]))
    if outcome.booked[i, k] and touch.channel != "voice" and np.isfinite(outcome.booking_at[i]):
        rows.append(event("meeting_booked", outcome.booking_at[i], channel="", led_to_booking=True))
    return rows
