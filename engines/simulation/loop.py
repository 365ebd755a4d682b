"""The demo's closed loop: weeks of an agency's work through the real send and outcome paths, on a simulated clock.

1. The sample agency's clients are created with their templates, and a first
   cohort of leads is imported from a spreadsheet through the lead import
   service, whose one bulk task scores and plans them (django-q2, in process).
2. Hour by simulated hour (skipping the hours in which nothing falls due):
   the dispatcher sends what is due through the test email and SMS backends
   and opens LinkedIn and call tasks, which a simulated person closes; the
   response model (engines.simulation.responses) answers every sent touch,
   and each answer reaches Outreach as its provider's request to the real
   webhook views (engines.simulation.callbacks). Every night at 02:00 UTC the
   detectors learn; a new pattern rescores and re-plans through the model
   signals, as in production.
3. After `weeks_before`, a second cohort with the same lead mix is imported. The report
   compares the booking rate of the two cohorts over the same number of days
   after import: before learning and after.

The simulated weeks end at the real present, so the admin shows them as
recent history. Only demo clients are dispatched, learned and reset.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import time_machine
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from django_q.conf import Conf

from engines.exceptions import EngineError
from engines.services.deliverability.mailboxes import check_all_health
from engines.services.intake.lead_import import apply_import, load_table, preview_import
from engines.services.planning.exploration import seeded_draws
from engines.services.sending.dispatcher import dispatch_due_touches
from engines.services.sending.manual_tasks import complete_task
from engines.simulation.agency import DEMO_CLIENTS, build_agency, lead_rows, reset_demo_data, write_lead_csv
from engines.simulation.callbacks import ProviderCallbacks
from engines.simulation.responses import TRUTH, DemoTruth, Event, ResponseModel
from engines.tasks import detect_client_patterns
from outreach.models import Activity, Client, ManualTask, ScheduledTouch, TaskKind, TaskStatus, TouchStatus
from outreach.models.choices import SENT_ACTIONS

DEMO_TWILIO_TOKEN = "demo-twilio-auth-token"
DEMO_CAL_SECRET = "demo-cal-secret"
# A new client explores more than the production default (10%), so a few weeks give the detectors alternatives.
DEMO_EXPLORATION_RATE = 0.5
HOUR = timedelta(hours=1)
# A person works the task queue within this many hours of a task falling due.
TASK_DELAY = timedelta(hours=1)
NIGHTLY_HOUR_UTC = 2
CALL_OUTCOMES = ("connected", "voicemail", "no_answer")


class DemoError(EngineError):
    """The demo was asked for something it cannot do (say what to change)."""


@dataclass(frozen=True)
class DemoConfig:
    # Per client: 2 clients x 2 cohorts x 600 = 2,400 leads, about 10,000 touches and as many provider callbacks,
    # in about two minutes of CPU. Nightly learning reads the whole window, so the cost grows a little faster.
    leads_per_cohort: int = 600
    # A sequence runs about four weeks and a lead counts as finished ten days after its last touch.
    weeks_before: int = 5
    weeks_after: int = 3
    seed: int = 16
    exploration_rate: float = DEMO_EXPLORATION_RATE
    truth: DemoTruth = TRUTH
    clients: int = len(DEMO_CLIENTS)
    # The simulated weeks end here (UTC, on the hour); by default at the present hour, so the admin shows them
    # as recent history. A test fixes it, so the weekdays of the run do not depend on the day it runs.
    end: datetime | None = None

    def check(self) -> None:
        if not 20 <= self.leads_per_cohort <= 20000:
            raise DemoError(f"--leads must be between 20 and 20,000 per client and cohort, got {self.leads_per_cohort}")
        for name in ("weeks_before", "weeks_after"):
            weeks = getattr(self, name)
            if not 1 <= weeks <= 12:
                raise DemoError(f"--{name.replace('_', '-')} must be between 1 and 12, got {weeks}")
        if self.seed < 0:
            raise DemoError(f"--seed must be 0 or more, got {self.seed}")
        if not 1 <= self.clients <= len(DEMO_CLIENTS):
            raise DemoError(f"the demo has 1 to {len(DEMO_CLIENTS)} clients, got {self.clients}")
        if not 0 <= self.exploration_rate <= 1:
            raise DemoError(f"the exploration rate must be between 0 and 1, got {self.exploration_rate}")


@dataclass
class Cohort:
    name: str
    imported_at: datetime
    lead_ids: list[int] = field(default_factory=list)


@dataclass
class LoopResult:
    clients: list[Client]
    cohorts: list[Cohort]
    start: datetime
    end: datetime
    learned_at: datetime
    sends: int = 0
    tasks_closed: int = 0
    events: dict[str, int] = field(default_factory=dict)
    nights: int = 0
    truth: DemoTruth = TRUTH
    exploration_rate: float = DEMO_EXPLORATION_RATE
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def timed(self, part: str) -> Iterator[None]:
        """Adds the CPU time of the block to `part` (the report shows where a run's time went)."""
        started = time.process_time()
        try:
            yield
        finally:
            self.cpu_seconds[part] = self.cpu_seconds.get(part, 0.0) + time.process_time() - started


# Whatever the callback returns is ignored (a progress bar's update() returns a flag).
Progress = Callable[[str, int], object]


@contextmanager
def demo_environment(seed: int) -> Iterator[None]:
    """Test backends (nothing leaves the machine), known secrets for the simulated providers, tasks in process,
    exploration drawn from `seed`."""
    saved_sync = Conf.SYNC
    Conf.SYNC = True
    try:
        with (
            seeded_draws(seed),
            override_settings(
                # DEBUG logs every query (on SQLite with one more query to quote its parameters): not in a long run.
                DEBUG=False,
                # The simulated providers call the webhook views on this host.
                ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "localhost"],
                EMAIL_BACKEND="anymail.backends.test.EmailBackend",
                SMS_PROVIDER="engines.providers.sms.RecordingSmsProvider",
                LINKEDIN_BACKEND="engines.providers.linkedin.ManualTaskBackend",
                TWILIO_AUTH_TOKEN=DEMO_TWILIO_TOKEN,
                CAL_COM_WEBHOOK_SECRET=DEMO_CAL_SECRET,
            ),
        ):
            yield
    finally:
        Conf.SYNC = saved_sync


class Simulation:
    """One run of the loop; `run` drives it hour by hour."""

    def __init__(self, config: DemoConfig, out_dir: Path, progress: Progress | None):
        self.config = config
        self.out_dir = out_dir
        self.progress = progress or (lambda label, hours: None)
        self.responses = ResponseModel(config.truth, seed=config.seed)
        self.callbacks = ProviderCallbacks()
        self.pending: list[tuple[datetime, int, Event]] = []
        self.counter = itertools.count()
        self.clients: list[Client] = []
        self.client_ids: list[int] = []
        self.last_seen = datetime.min.replace(tzinfo=UTC)

    def run(self) -> LoopResult:
        weeks = self.config.weeks_before + self.config.weeks_after
        end = (self.config.end or timezone.now()).astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        start = end - timedelta(weeks=weeks)
        learned_at = start + timedelta(weeks=self.config.weeks_before)
        with demo_environment(self.config.seed), time_machine.travel(start, tick=False) as clock:
            reset_demo_data()
            self.clients = build_agency(self.config.clients)
            self.client_ids = [client.pk for client in self.clients]
            Client.objects.filter(pk__in=self.client_ids).update(exploration_rate=self.config.exploration_rate)
            self.last_seen = start
            result = LoopResult(
                self.clients, [], start, end, learned_at, truth=self.config.truth,
                exploration_rate=self.config.exploration_rate,
            )  # fmt: skip
            with result.timed("lead import (scoring, planning)"):
                result.cohorts.append(self.import_cohort("before learning", start, seed=self.config.seed))
            hour = start
            while hour < end:
                # The same steps as an hourly loop: the hours skipped are those in which nothing would happen.
                after = min(self.next_busy_hour(hour, learned_at), end)
                self.progress("simulated hours", int((after - hour) / HOUR))
                hour = after
                clock.move_to(hour)
                if hour == learned_at:
                    with result.timed("lead import (scoring, planning)"):
                        result.cohorts.append(
                            self.import_cohort(
                                "after learning",
                                hour,
                                seed=self.config.seed + 1,
                                serial_start=self.config.leads_per_cohort,
                            )
                        )
                self.step(hour, result)
        result.events = dict(self.callbacks.answered)
        return result

    def next_busy_hour(self, hour: datetime, learned_at: datetime) -> datetime:
        """The first hour after `hour` at which a touch, a task, an answer, the nightly run or the import is due."""
        touch_due = (
            ScheduledTouch.objects.filter(client_id__in=self.client_ids, status=TouchStatus.PLANNED)
            .order_by("scheduled_at")
            .values_list("scheduled_at", flat=True)
            .first()
        )
        task_due = (
            ManualTask.objects.filter(client_id__in=self.client_ids, status=TaskStatus.OPEN)
            .order_by("due_at")
            .values_list("due_at", flat=True)
            .first()
        )
        nightly = hour.replace(hour=NIGHTLY_HOUR_UTC)
        if nightly <= hour:
            nightly += timedelta(days=1)
        candidates = [nightly, *([learned_at] if learned_at > hour else [])]
        candidates += [touch_due] if touch_due else []
        candidates += [task_due + TASK_DELAY] if task_due else []
        candidates += [self.pending[0][0]] if self.pending else []
        due = min(candidates)
        ceiling = due.replace(minute=0, second=0, microsecond=0)
        if ceiling < due:
            ceiling += HOUR
        return max(hour + HOUR, ceiling)

    def import_cohort(self, name: str, at: datetime, *, seed: int, serial_start: int = 0) -> Cohort:
        """The same lead mix (one seeded draw per client), imported as a client would: a spreadsheet."""
        cohort = Cohort(name, at)
        for index, client in enumerate(self.clients):
            rows = lead_rows(client, count=self.config.leads_per_cohort, seed=seed * 100 + index,
                             serial_start=serial_start)  # fmt: skip
            path = write_lead_csv(self.out_dir / f"leads-{client.pk}-{name.replace(' ', '-')}.csv", rows)
            headers, table = load_table(path)
            preview = preview_import(client, headers, table)
            if not preview.is_valid:
                raise DemoError(f"the demo's own spreadsheet {path} did not import: {preview.file_errors}")
            cohort.lead_ids += apply_import(preview).lead_ids
        return cohort

    def step(self, now: datetime, result: LoopResult) -> None:
        with result.timed("dispatcher (sends, tasks opened)"):
            counts = dispatch_due_touches(now=now, threads=1, client_ids=self.client_ids)
        result.sends += counts.get("sent", 0)
        with result.timed("tasks closed by a person"):
            result.tasks_closed += self.close_tasks(now)
        with result.timed("response model"):
            self.answer_new_touches(now)
        with result.timed("webhook requests"):
            self.deliver_events(now)
        if now.hour == NIGHTLY_HOUR_UTC:
            with result.timed("nightly learning (and re-planning)"):
                for client_id in self.client_ids:
                    detect_client_patterns(client_id)
            with result.timed("mailbox health"):
                check_all_health(now, client_ids=self.client_ids)
            result.nights += 1

    def close_tasks(self, now: datetime) -> int:
        """The agency's person: sends the LinkedIn messages and makes the calls that fell due."""
        due = ManualTask.objects.filter(
            client_id__in=self.client_ids, status=TaskStatus.OPEN, due_at__lte=now - TASK_DELAY
        ).select_related("lead", "client", "scheduled_touch")
        closed = 0
        for task in due:
            outcome = None
            if task.kind == TaskKind.CALL:
                outcome = CALL_OUTCOMES[(task.pk * 7 + self.config.seed) % len(CALL_OUTCOMES)]
            complete_task(task, outcome=outcome, now=now, duration_seconds=180 if outcome == "connected" else 0)
            closed += 1
        return closed

    def answer_new_touches(self, now: datetime) -> None:
        """Draw the consequences of every touch sent since the last step."""
        sent = (
            Activity.objects.filter(
                client_id__in=self.client_ids, action__in=SENT_ACTIONS, created_at__gt=self.last_seen,
                created_at__lte=now,
            )
            .select_related("lead", "client")
            .order_by("created_at")
        )  # fmt: skip
        first_channels = self._first_channels(sent)
        for activity in sent:
            first = first_channels.get(activity.lead_id, activity.channel)
            for event in self.responses.events_for(activity, activity.lead, activity.client, first):
                heapq.heappush(self.pending, (event.at, next(self.counter), event))
        self.last_seen = now

    @staticmethod
    def _first_channels(sent: Iterable[Activity]) -> dict[int, str]:
        """Each lead's first planned channel: the response model's truth favours some openings."""
        lead_ids = {activity.lead_id for activity in sent}
        firsts = ScheduledTouch.objects.filter(lead_id__in=lead_ids, touch_number=1).values_list(
            "lead_id", "channel", "created_at"
        )
        latest: dict[int, tuple[datetime, str]] = {}
        for lead_id, channel, created in firsts:
            if lead_id not in latest or created > latest[lead_id][0]:
                latest[lead_id] = (created, channel)
        return {lead_id: channel for lead_id, (_, channel) in latest.items()}

    def deliver_events(self, now: datetime) -> None:
        """Every answer due by `now`, in time order, as its provider's request to the webhook views."""
        due = []
        while self.pending and self.pending[0][0] <= now:
            due.append(heapq.heappop(self.pending)[2])
        # The callbacks read only fields that never change (addresses, names, message ids): one query will do.
        answered = Activity.objects.select_related("lead", "client", "mailbox").in_bulk(
            {event.activity_id for event in due}
        )
        for event in due:
            activity = answered[UUID(event.activity_id)]
            self.callbacks.deliver(event, activity, activity.lead, activity.client)


def run_loop(config: DemoConfig, *, out_dir: Path, progress: Progress | None = None) -> LoopResult:
    """Run the demo's closed loop (see the module docstring); the database keeps everything it did."""
    config.check()
    return Simulation(config, out_dir, progress).run()
