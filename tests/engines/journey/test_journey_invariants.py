"""A lead's journey, driven at random through the real services, keeps its promises after every step.

A hypothesis state machine plans, re-plans after new WHEN/HOW patterns, moves a simulated clock forward and
dispatches what is due (anymail's test backend, the recording SMS provider; a person closes the LinkedIn and
call tasks), and hears back: replies, bounces, bookings (which pause colleagues), per-channel opt-outs, call
outcomes, lead imports and edits that update fields, and a person's pause, resume, re-enrolment, stop,
do-not-contact and skipped tasks. After every step:

- no lead receives a step twice within an enrollment;
- nothing goes out on a channel after it was stopped (an opt-out, a bounce, a wrong number, "do not call",
  do-not-contact), and nothing of an enrollment goes out after a reply, a booking or a stop that ended it;
- a lead has at most one open enrollment;
- nothing of an enrollment goes out once it ended, or while it is paused;
- the lead's status agrees with its enrollments;
- an active enrollment has a step left to go out (else it should have finished);
- only a client that asks for it pauses colleagues.

Each example runs in a savepoint rolled back at its end, under a frozen clock (time-machine) that the machine
moves itself: every service reads the same simulated time, so runs are repeatable.
"""

from __future__ import annotations

import itertools
import os
from collections import defaultdict
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.test import TestCase
from django_q.conf import Conf
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from engines.exceptions import InvalidTouch, JourneyError, PlanningError
from engines.providers.sms import RecordingSmsProvider
from engines.services.intake.lead_import import apply_import, preview_import
from engines.services.journey import actions, triggers
from engines.services.journey.enrollments import status_disagreements
from engines.services.manual_tasks import complete_task, skip_task
from engines.services.outcomes import events
from engines.services.planning.allocator import allocate_leads, leads_to_allocate
from engines.services.sending.dispatcher import dispatch_due_touches
from outreach.models import (
    Activity,
    Client,
    ConversionPattern,
    Enrollment,
    JourneyEvent,
    Lead,
    LeadStatus,
    ManualTask,
    ScheduledTouch,
    TaskKind,
    TaskStatus,
)
from outreach.models.choices import LIVE_TOUCH_STATUSES, OPEN_ENROLLMENT_STATES, SENT_ACTIONS
from tests.factories import ClientFactory, LeadFactory, MessageTemplateFactory, how_patterns, when_patterns

pytestmark = pytest.mark.django_db

SYDNEY = ZoneInfo("Australia/Sydney")
# Monday 2 March 2026, 09:00 in Sydney: the leads' own time zone.
START = datetime(2026, 3, 2, 9, 0, tzinfo=SYDNEY)
CHANNELS = ("email", "sms", "linkedin", "voice")
ALL = frozenset(CHANNELS)
# (client, email, company): colleagues by domain (acme.com), by company name behind a public domain
# (gmail.com + "Acme"), and the same people at a second client that does not pause colleagues.
PEOPLE = (
    (0, "ana@acme.com", "Acme"),
    (0, "ben@acme.com", "Acme"),
    (0, "cleo@gmail.com", "Acme"),
    (0, "dan@globex.com", "Globex"),
    (0, "eve@GMAIL.com", "Globex"),
    (1, "fay@acme.com", "Acme"),
    (1, "gus@acme.com", "Acme"),
)
HOW_SEQUENCES = (
    ["linkedin", "email", "email", "sms"],
    ["email", "sms", "voice", "email", "linkedin", "email"],
    ["sms", "email", "linkedin"],
)
WHEN_VARIANTS = (
    {"best_days": [{"day_index": 0, "conversion_rate": 0.2}], "best_hours": [{"hour": 9, "conversion_rate": 0.2}]},
    {"best_days": [{"day_index": 3, "conversion_rate": 0.2}], "best_hours": [{"hour": 15, "conversion_rate": 0.2}]},
    {"optimal_sequence_gaps": {"touch_1_to_2": 1, "touch_2_to_3": 1, "touch_3_to_4": 1}},
)
CALL_OUTCOMES = ("connected", "voicemail", "no_answer", "wrong_number", "do_not_call", "meeting_booked")


@dataclass(frozen=True)
class Stop:
    """Something the machine did that forbids sends to `lead_id` after `at`: on `channels` from then on
    (scope "lead"), or, for a reply or a booking, any step of the enrollments that had started by then."""

    lead_id: int
    at: datetime
    channels: frozenset[str]
    scope: str
    why: str


# Hours that pass before an event (mostly none: several things happen the same day).
WAITS = st.sampled_from([0, 0, 0, 3, 20, 50])


def lead_ids() -> st.SearchStrategy[int]:
    return st.integers(0, len(PEOPLE) - 1)


class JourneyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        self._travel = time_machine.travel(START, tick=False)
        self._clock = self._travel.start()
        self.now = START
        mail.outbox = []
        RecordingSmsProvider.outbox.clear()
        self.serial = itertools.count(1)
        self.stops: list[Stop] = []
        self.answers: list[tuple[str, int, str, str]] = []  # (kind, lead index, channel, event id): replayable
        self.clients = [ClientFactory.create(), ClientFactory.create(pause_colleagues_on_answer=False)]
        for client in self.clients:
            for channel in CHANNELS:
                MessageTemplateFactory(client=client, channel=channel, touch_number=1)
        self.lead_pks = [
            LeadFactory.create(
                client=self.clients[client],
                email=email,
                company_name=company,
                phone=f"+6141234{number:04d}",
                status=LeadStatus.NEW,
            ).pk
            for number, (client, email, company) in enumerate(PEOPLE)
        ]

    def teardown(self) -> None:
        try:
            transaction.set_rollback(True)
            self._atomic.__exit__(None, None, None)
        finally:
            self._travel.stop()

    # -- helpers ---------------------------------------------------------------------------------------

    def _step(self, wait: int = 0) -> None:
        """`wait` hours pass (the every-minute schedule then sends what came due, late ones too), then a minute:
        every step happens at its own instant, so "after" is a plain comparison of times."""
        if wait:
            self.now += timedelta(hours=wait)
            self._clock.move_to(self.now)
            self._dispatch()
        self.now += timedelta(minutes=1)
        self._clock.move_to(self.now)

    def _dispatch(self) -> None:
        with committed():
            dispatch_due_touches(now=self.now, threads=2)

    def lead(self, index: int) -> Lead:
        return Lead.objects.select_related("client").get(pk=self.lead_pks[index])

    def stop(self, lead: Lead, channels: frozenset[str], why: str, *, scope: str = "lead") -> None:
        self.stops.append(Stop(lead.pk, self.now, channels, scope, why))

    def event_id(self, kind: str) -> str:
        return f"{kind}-{next(self.serial)}"

    # -- planning --------------------------------------------------------------------------------------

    @initialize(how=st.none() | st.integers(0, len(HOW_SEQUENCES) - 1))
    def imported(self, how: int | None) -> None:
        """The leads were imported (under the client's HOW pattern, when it has one): their task scored and
        planned them."""
        if how is not None:
            for client in self.clients:
                self.save_pattern(client, "how", how)
        with committed():
            triggers.score_and_plan_leads(self.clients[0], self.lead_pks)
            triggers.score_and_plan_leads(self.clients[1], self.lead_pks)

    def save_pattern(self, client: Client, kind: str, variant: int) -> None:
        """A new WHEN or HOW pattern of the client, learned now; its save may queue a re-plan (run at once)."""
        if kind == "how":
            data = how_patterns(
                best_first_channel=None,
                winning_sequences=[
                    {"sequence": HOW_SEQUENCES[variant], "conversion_rate": 0.2, "sample_size": 80 + variant}
                ],
            )
        else:
            data = when_patterns(**WHEN_VARIANTS[variant])
        with committed():
            ConversionPattern.objects.create(
                client=client,
                pattern_type=kind,
                patterns=data,
                sample_size=400,
                confidence=0.7,
                computed_at=self.now,
                valid_until=self.now + timedelta(days=120),
            )

    @rule()
    def plan(self) -> None:
        self._step()
        with committed():
            allocate_leads(Lead.objects.filter(pk__in=self.lead_pks), now=self.now)

    @rule(
        client=st.integers(0, 1),
        kind=st.sampled_from(["how", "when"]),
        variant=st.integers(0, 2),
        how=st.sampled_from(["trigger", "allocate_leads", "replan_client"]),
        wait=WAITS,
    )
    def new_pattern(self, client: int, kind: str, variant: int, how: str, wait: int) -> None:
        """A new WHEN or HOW pattern: its save re-plans the client's leads (the trigger's task), or a run does."""
        self._step(wait)
        owner = Client.objects.get(pk=self.clients[client].pk)
        self.save_pattern(owner, kind, variant)
        with committed():
            if how == "allocate_leads":
                allocate_leads(leads_to_allocate(owner, replan=True), replan=True, now=self.now)
            elif how == "replan_client":
                triggers.replan_client(owner, now=self.now)

    # -- time and sending ------------------------------------------------------------------------------

    @rule(hours=st.sampled_from([1, 4, 18, 47, 120]))
    def advance(self, hours: int) -> None:
        """Time passes; the every-minute schedule sends what comes due."""
        self._step(hours)

    @rule()
    def dispatch(self) -> None:
        self._step()
        self._dispatch()

    @rule(outcome=st.sampled_from(CALL_OUTCOMES), wait=WAITS)
    def close_tasks(self, outcome: str, wait: int) -> None:
        """A person does the open LinkedIn messages and calls (a call ends with `outcome`)."""
        self._step(wait)
        tasks = ManualTask.objects.filter(client__in=self.clients, status=TaskStatus.OPEN).order_by("pk")
        for task in list(tasks):
            lead = self.lead(self.lead_pks.index(task.lead_id))
            try:
                with committed():
                    if task.kind == TaskKind.CALL:
                        complete_task(task, outcome=outcome, now=self.now)
                    else:
                        complete_task(task, now=self.now)
            except InvalidTouch:
                continue  # closed meanwhile (a booking of a colleague done just before paused its lead)
            if task.kind != TaskKind.CALL:
                continue
            if outcome == "wrong_number":
                self.stop(lead, frozenset({"sms", "voice"}), "wrong_number")
            elif outcome == "do_not_call":
                self.stop(lead, frozenset({"voice"}), "do_not_call")
            elif outcome == "meeting_booked":
                self.stop(lead, ALL, "call_booked", scope="enrollment")

    @rule(wait=WAITS)
    def skip_tasks(self, wait: int) -> None:
        """A person skips the open LinkedIn messages and calls instead (the profile is gone, no time)."""
        self._step(wait)
        tasks = ManualTask.objects.filter(client__in=self.clients, status=TaskStatus.OPEN).order_by("pk")
        for task in list(tasks):
            with committed():
                skip_task(task, reason="profile not found", now=self.now)  # skipping stops nobody else

    # -- hearing back ----------------------------------------------------------------------------------

    @rule(index=lead_ids(), channel=st.sampled_from(["email", "sms", "linkedin"]), replay=st.booleans(), wait=WAITS)
    def reply(self, index: int, channel: str, replay: bool, wait: int) -> None:
        self._step(wait)
        lead = self.lead(index)
        earlier = [a for a in self.answers if a[0] == "reply" and a[1] == index]
        event_id = earlier[-1][3] if replay and earlier else self.event_id("reply")
        channel = earlier[-1][2] if replay and earlier else channel
        with committed():
            recorded = events.record_reply(
                lead, channel=channel, provider="test", event_id=event_id, at=self.now,
                answers=events.last_sent(lead, channel=channel), metadata={},
            )  # fmt: skip
        if recorded.created:
            self.answers.append(("reply", index, channel, event_id))
            self.stop(lead, ALL, "reply", scope="enrollment")

    @rule(index=lead_ids(), replay=st.booleans(), wait=WAITS)
    def book(self, index: int, replay: bool, wait: int) -> None:
        """A meeting booked (Cal.com): the lead converts, its colleagues pause (at the client that asks for it)."""
        self._step(wait)
        lead = self.lead(index)
        earlier = [a for a in self.answers if a[0] == "booking" and a[1] == index]
        event_id = earlier[-1][3] if replay and earlier else self.event_id("booking")
        before = Activity.objects.filter(provider="calcom", provider_event_id=event_id).exists()
        with committed():
            events.record_booking(lead, source="calcom", event_id=event_id, at=self.now)
        if not before:
            self.answers.append(("booking", index, "", event_id))
            self.stop(lead, ALL, "booking", scope="enrollment")

    @rule(index=lead_ids(), wait=WAITS)
    def bounce(self, index: int, wait: int) -> None:
        self._step(wait)
        lead = self.lead(index)
        sent = events.last_sent(lead, channel="email")
        if sent is None:
            return
        with committed():
            events.record_bounce(
                sent, hard=True, provider="postmark", event_id=self.event_id("bounce"), at=self.now, metadata={}
            )
        self.stop(lead, frozenset({"email"}), "bounce")

    @rule(index=lead_ids(), channel=st.sampled_from(CHANNELS), wait=WAITS)
    def opt_out(self, index: int, channel: str, wait: int) -> None:
        """An opt-out: the unsubscribe link (email: every channel), an SMS STOP, a channel opt-out."""
        self._step(wait)
        lead = self.lead(index)
        provider = {"email": "unsubscribe", "sms": "twilio"}.get(channel, "test")
        with committed():
            events.record_opt_out(
                lead, channel=channel, provider=provider, event_id=self.event_id("opt-out"), at=self.now,
                same_person=[lead],
            )  # fmt: skip
        self.stop(lead, ALL if channel == "email" else frozenset({channel}), f"opt_out_{channel}")

    # -- people and imports ----------------------------------------------------------------------------

    @rule(
        index=lead_ids(),
        title=st.sampled_from(["CEO", "Practice Manager", "Intern"]),
        company=st.booleans(),
        wait=WAITS,
    )
    def import_update(self, index: int, title: str, company: bool, wait: int) -> None:
        """An import updates the lead's title (and company name); its task scores and plans what it touched."""
        self._step(wait)
        lead = self.lead(index)
        company_name = ("Globex" if lead.company_name == "Acme" else "Acme") if company else lead.company_name
        preview = preview_import(
            lead.client, ["Email", "Title", "Company"], [[lead.email, title, company_name]], on_duplicate="update"
        )
        with committed():
            apply_import(preview)

    @rule(index=lead_ids(), industry=st.sampled_from(["Dental", "Accounting", "Mining"]), wait=WAITS)
    def edit_lead(self, index: int, industry: str, wait: int) -> None:
        """A person edits the lead in the admin: a save, whose receivers rescore (and may plan) it."""
        self._step(wait)
        lead = self.lead(index)
        lead.industry = industry
        with committed():
            lead.save()

    @rule(index=lead_ids(), wait=WAITS)
    def pause(self, index: int, wait: int) -> None:
        self._step(wait)
        try:
            with committed():
                actions.pause(self.lead(index), note="on holiday")
        except JourneyError:
            pass

    @rule(index=lead_ids(), wait=WAITS)
    def resume(self, index: int, wait: int) -> None:
        self._step(wait)
        try:
            with committed():
                actions.resume(self.lead(index), now=self.now)
        except JourneyError:
            pass

    @rule(index=lead_ids(), wait=WAITS)
    def reenroll(self, index: int, wait: int) -> None:
        self._step(wait)
        try:
            with committed():
                actions.reenroll(self.lead(index))
        except (JourneyError, PlanningError, InvalidTouch):
            pass

    @rule(index=lead_ids(), wait=WAITS)
    def stop_lead(self, index: int, wait: int) -> None:
        """A person stops the lead's enrollment (without do-not-contact): nothing more of it goes out."""
        self._step(wait)
        lead = self.lead(index)
        try:
            with committed():
                actions.stop(lead, note="not a fit")
        except JourneyError:
            return
        self.stop(lead, ALL, "stopped", scope="enrollment")

    @rule(index=lead_ids(), wait=WAITS)
    def do_not_contact(self, index: int, wait: int) -> None:
        self._step(wait)
        lead = self.lead(index)
        try:
            with committed():
                actions.set_do_not_contact(lead, note="asked by phone")
        except JourneyError:
            return
        self.stop(lead, ALL, "do_not_contact")

    # -- invariants ------------------------------------------------------------------------------------

    @invariant()
    def no_step_twice_within_an_enrollment(self) -> None:
        twice = (
            Activity.objects.filter(lead_id__in=self.lead_pks, action__in=SENT_ACTIONS)
            .values("lead_id", "sequence_id", "touch_number")
            .annotate(sends=Count("pk"))
            .filter(sends__gt=1)
        )
        assert not list(twice), f"a step went out twice: {list(twice)}"

    @invariant()
    def nothing_goes_out_after_a_stop(self) -> None:
        sends = sent_steps(self.lead_pks)
        for stop in self.stops:
            for send in sends:
                if send.lead_id != stop.lead_id or send.at <= stop.at or send.channel not in stop.channels:
                    continue
                if stop.scope == "enrollment" and send.started_at > stop.at:
                    continue  # a later enrollment (a person re-enrolled the lead)
                raise AssertionError(f"{send} went out after {stop}")

    @invariant()
    def at_most_one_open_enrollment(self) -> None:
        open_ = (
            Enrollment.objects.filter(lead_id__in=self.lead_pks, state__in=OPEN_ENROLLMENT_STATES)
            .values("lead_id")
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
        )
        assert not list(open_), f"leads with several open enrollments: {list(open_)}"

    @invariant()
    def an_ended_or_paused_enrollment_sends_nothing(self) -> None:
        sends = sent_steps(self.lead_pks)
        ended: dict[int, datetime] = {
            pk: at
            for pk, at in Enrollment.objects.filter(lead_id__in=self.lead_pks).values_list("pk", "ended_at")
            if at is not None
        }
        for send in sends:
            if send.enrollment_id in ended:
                assert send.at <= ended[send.enrollment_id], f"{send} went out after its enrollment ended"
        pauses: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
        for enrollment_id, action, at in JourneyEvent.objects.filter(
            lead_id__in=self.lead_pks, action__in=("paused", "resumed"), enrollment__isnull=False
        ).values_list("enrollment_id", "action", "at"):
            pauses[enrollment_id].append((at, action))
        for send in sends:
            paused_since = None
            for at, action in sorted(pauses.get(send.enrollment_id, [])):
                if at >= send.at:
                    break
                paused_since = at if action == "paused" else None
            assert paused_since is None, f"{send} went out while its enrollment was paused (since {paused_since})"

    @invariant()
    def the_lead_status_agrees_with_its_enrollments(self) -> None:
        disagreeing = status_disagreements(Lead.objects.filter(pk__in=self.lead_pks))
        assert not disagreeing.exists(), [
            (lead.pk, lead.status, list(lead.enrollments.values_list("state", flat=True))) for lead in disagreeing
        ]

    @invariant()
    def an_active_enrollment_has_a_step_left(self) -> None:
        """An enrollment is active while a step may still go out (enrollments.py): else it has ended."""
        live = ScheduledTouch.objects.filter(enrollment=OuterRef("pk"), status__in=LIVE_TOUCH_STATUSES)
        stuck = Enrollment.objects.filter(lead_id__in=self.lead_pks, state="active").filter(~Exists(live))
        assert not stuck.exists(), f"active enrollments with no step left: {describe(stuck)}"

    @invariant()
    def only_a_client_that_asks_for_it_pauses_colleagues(self) -> None:
        paused = JourneyEvent.objects.filter(
            lead_id__in=self.lead_pks, reason__in=("colleague_converted", "colleague_replied")
        )
        assert not paused.filter(client=self.clients[1]).exists()


@dataclass(frozen=True)
class Send:
    """A step that went out: its lead, channel, number and time, its enrollment and when that started."""

    lead_id: int
    channel: str
    touch: int
    at: datetime
    enrollment_id: int
    started_at: datetime


def sent_steps(lead_pks: list[int]) -> list[Send]:
    rows = ScheduledTouch.objects.filter(lead_id__in=lead_pks, activity__isnull=False).values_list(
        "lead_id", "channel", "touch_number", "activity__created_at", "enrollment_id", "enrollment__started_at"
    )
    return [Send(*row) for row in rows]


def describe(enrollments: QuerySet[Enrollment]) -> list[object]:
    """Each enrollment with its steps (number, channel, status, reason) and its lead's recent journey events."""
    return [
        (
            enrollment.pk,
            enrollment.lead.email,
            enrollment.lead.status,
            list(
                enrollment.touches.order_by("touch_number", "pk").values_list(
                    "touch_number", "channel", "status", "reason"
                )
            ),
            list(JourneyEvent.objects.filter(lead=enrollment.lead).values_list("action", "reason")),
        )
        for enrollment in enrollments.select_related("lead")
    ]


def committed() -> AbstractContextManager[object]:
    """Run the block as if it committed: the on-commit work it queued (tasks, inline) runs at its end."""
    return TestCase.captureOnCommitCallbacks(execute=True)


@pytest.fixture
def providers(settings, monkeypatch):
    """Anymail's test backend and the recording SMS provider; queued tasks run inline, as a worker would."""
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.SMS_PROVIDER = "engines.providers.sms.RecordingSmsProvider"
    monkeypatch.setattr(Conf, "SYNC", True)


def test_the_journey_keeps_its_promises(providers):
    hunt = os.environ.get("JOURNEY_EXAMPLES")  # set it for a longer, random hunt: about 0.5 s an example
    run_state_machine_as_test(
        JourneyMachine,
        settings=settings(
            # The suite's own run repeats the same examples every time, so it cannot fail by chance.
            derandomize=hunt is None,
            max_examples=int(hunt or 40),
            stateful_step_count=30,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
