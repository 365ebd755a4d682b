"""The demo's response model: how simulated leads answer the touches Outreach really sent.

Every sent touch (an Activity the dispatcher or a closed manual task wrote)
draws its consequences here, from a planted truth the detectors are meant to
find. Nothing is written: the model returns events, and the demo delivers each
one through the real webhook views at its time.

For a touch with local day `d`, local hour `h`, in a sequence opening on
channel `c`, with CTA `a`, to a lead of ICP fit `f` (0-1):

    p(reply)   = REPLY_BASE[channel] * DAY_LIFT[d] * HOUR_LIFT[h] * FIRST_CHANNEL_LIFT[c] * CTA_LIFT[a]
                 * exp(FIT * (f - 0.5))
    p(booking) = p(reply) * BOOK_AFTER_REPLY        (a reply books with that chance, a day or two later)

Other events do not depend on the truth: an email is delivered (or hard
bounces, or soft bounces), is opened, may draw an out-of-office auto-reply
or a one-click unsubscribe; an SMS is delivered or undelivered and may draw a
STOP. A lead answers once: after a reply, a STOP or an unsubscribe nothing
more is drawn for it (and Outreach has cancelled its remaining touches).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from outreach.models import Activity, Client, Lead


@dataclass(frozen=True)
class DemoTruth:
    """What converts in the demo; the report compares what Outreach learned with this.

    The sample agency sells to practices (dental, accounting, legal) whose owners read their messages
    before opening hours and at the start and end of the week: Monday and Thursday at 8:00 answer best,
    not the planner's defaults (Tuesday to Thursday at 10:00, 14:00, 9:00), so learning has something to
    change. Rates are those of cold outreach: a few percent of touches draw a reply, half of replies book.
    """

    best_days: tuple[int, ...] = (0, 3)  # Monday, Thursday (Monday=0)
    day_lift: tuple[float, ...] = (1.8, 0.8, 0.8, 1.8, 0.6, 0.3, 0.3)
    best_hour: int = 8
    hour_lift: dict[int, float] = field(default_factory=lambda: {8: 2.4, 9: 1.3, 16: 1.1})
    best_first_channel: str = "linkedin"
    first_channel_lift: dict[str, float] = field(
        default_factory=lambda: {"linkedin": 2.0, "email": 1.0, "sms": 0.7, "voice": 0.8}
    )
    best_cta: str = "free audit"
    cta_lift: dict[str, float] = field(default_factory=lambda: {"free audit": 1.5})
    fit_coefficient: float = 2.0
    reply_base: dict[str, float] = field(
        default_factory=lambda: {"email": 0.025, "linkedin": 0.03, "sms": 0.02, "voice": 0.03}
    )
    book_after_reply: float = 0.5


TRUTH = DemoTruth()
# An hour the truth does not name; and the most likely a reply can be, however many lifts multiply.
OTHER_HOUR_LIFT = 0.7
MAX_REPLY = 0.9

EMAIL_HARD_BOUNCE = 0.02
EMAIL_SOFT_BOUNCE = 0.01
EMAIL_OPEN = 0.5
EMAIL_AUTO_REPLY = 0.03
EMAIL_UNSUBSCRIBE = 0.004
SMS_UNDELIVERED = 0.03
SMS_STOP = 0.02


@dataclass(frozen=True)
class Event:
    """Something a lead or a provider does, at `at`, about the sent touch `activity_id`."""

    at: datetime
    kind: str  # delivered, bounced, deferred, opened, auto_reply, unsubscribe, reply, stop, booking, sms_*
    activity_id: str
    lead_id: int
    client_id: int
    channel: str


def icp_fit(lead: Lead, client: Client) -> float:
    """The lead's fit to the client's ideal customer profile, 0-1 (industry, size, country)."""
    icp = client.icp or {}
    industries = {name.lower() for name in icp.get("industries", [])}
    countries = {name.lower() for name in icp.get("countries", [])}
    size_ok = lead.employee_count is not None and (
        icp.get("employee_min", 0) <= lead.employee_count <= icp.get("employee_max", 10**9)
    )
    return (
        0.4 * (lead.industry.lower() in industries)
        + 0.32 * size_ok
        + 0.28 * (lead.country.lower() in countries or _country_name(lead.country) in countries)
    )


def _country_name(code: str) -> str:
    import pycountry

    country = pycountry.countries.get(alpha_2=code.upper()) if len(code) == 2 else None
    return country.name.lower() if country else code.lower()


class ResponseModel:
    """Draws each sent touch's consequences; seeded, so a demo run can be repeated exactly."""

    def __init__(self, truth: DemoTruth = TRUTH, *, seed: int = 16):
        self.truth = truth
        self.seed = seed
        self.finished: set[int] = set()

    def _rng(self, activity: Activity, lead: Lead) -> np.random.Generator:
        # One stream per touch, so the draws do not depend on the order touches are handled in, keyed by what
        # a re-run reproduces (the seeded lead's address, the touch and its time; not the random Activity id).
        key = f"{lead.email}|{activity.channel}|{activity.touch_number}|{activity.created_at.isoformat()}"
        return np.random.default_rng([self.seed, zlib.crc32(key.encode())])

    def reply_probability(self, activity: Activity, lead: Lead, client: Client, first_channel: str) -> float:
        truth, snapshot = self.truth, activity.content_snapshot
        lift = (
            truth.day_lift[int(snapshot.get("day_index", 0))]
            * truth.hour_lift.get(int(snapshot.get("hour_of_day", 12)), OTHER_HOUR_LIFT)
            * truth.first_channel_lift.get(first_channel, 1.0)
            * truth.cta_lift.get(snapshot.get("cta_used") or "", 1.0)
            * math.exp(truth.fit_coefficient * (icp_fit(lead, client) - 0.5))
        )
        return min(MAX_REPLY, truth.reply_base.get(activity.channel, 0.03) * lift)

    def events_for(self, activity: Activity, lead: Lead, client: Client, first_channel: str) -> list[Event]:
        """What follows one sent touch, in time order."""
        if lead.pk in self.finished:
            return []
        rng = self._rng(activity, lead)
        sent = activity.created_at

        def event(kind: str, hours: float) -> Event:
            return Event(sent + timedelta(hours=hours), kind, str(activity.pk), lead.pk, client.pk, activity.channel)

        events = [*self._provider_events(activity, rng, event)]
        if any(e.kind in ("bounced", "sms_undelivered") for e in events):
            return events
        answer = self._answer(activity, lead, client, first_channel, rng, event)
        if answer:
            self.finished.add(lead.pk)
        return sorted(events + answer, key=lambda e: e.at)

    def _provider_events(
        self, activity: Activity, rng: np.random.Generator, event: Callable[[str, float], Event]
    ) -> list[Event]:
        draw = rng.random()
        if activity.channel == "email":
            if draw < EMAIL_HARD_BOUNCE:
                return [event("bounced", 0.05)]
            out = [event("deferred", 0.05)] if draw < EMAIL_HARD_BOUNCE + EMAIL_SOFT_BOUNCE else []
            out.append(event("delivered", 0.1))
            if rng.random() < EMAIL_OPEN:
                out.append(event("opened", float(rng.uniform(0.2, 30))))
            if rng.random() < EMAIL_AUTO_REPLY:
                out.append(event("auto_reply", 0.15))
            return out
        if activity.channel == "sms":
            return [event("sms_undelivered" if draw < SMS_UNDELIVERED else "sms_delivered", 0.02)]
        return []

    def _answer(
        self,
        activity: Activity,
        lead: Lead,
        client: Client,
        first_channel: str,
        rng: np.random.Generator,
        event: Callable[[str, float], Event],
    ) -> list[Event]:
        """At most one answer per touch: a reply (perhaps then a booking), a STOP or an unsubscribe."""
        draw = rng.random()
        p_reply = self.reply_probability(activity, lead, client, first_channel)
        if draw < p_reply:
            reply = [event("reply", float(rng.uniform(0.5, 20)))]
            if rng.random() < self.truth.book_after_reply:
                reply.append(event("booking", float(rng.uniform(24, 60))))
            return reply
        draw -= p_reply
        if activity.channel == "sms" and draw < SMS_STOP:
            return [event("stop", float(rng.uniform(0.1, 5)))]
        if activity.channel == "email" and draw < EMAIL_UNSUBSCRIBE:
            return [event("unsubscribe", float(rng.uniform(0.2, 10)))]
        return []
