"""A real `manage.py qcluster` on the test database: what the nightly detection relies on in production.

Each test commits its rows (transactional tests), starts the cluster as a
subprocess with one worker and the ORM broker, waits (bounded) for the
results it should write, then stops it by its own PID.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, timedelta
from pathlib import Path
from typing import TypeVar

import pytest
from django.db import connection, transaction
from django.utils import timezone
from django_q.models import OrmQ, Schedule, Task
from django_q.tasks import async_task, fetch

from engines.schedules import (
    DETECTION_FUNC,
    DETECTION_SCHEDULE_NAME,
    DETECTION_TIME_UTC,
    DISPATCH_SCHEDULE_NAME,
    ensure_detection_schedule,
    next_daily_run,
)
from engines.services.patterns import get_active_pattern
from engines.simulation.synthetic import generate_client
from outreach.models import Client, ConversionPattern
from tests.factories import ClientFactory

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

REPO_ROOT = Path(__file__).resolve().parents[2]
TYPES = {"who", "what", "when", "how"}
DETECT = "engines.tasks.detect_client_patterns"
# Enough history for all four detectors to save (see tests/engines/test_tasks.py), generated in about a second.
LEADS = 500
# Start-up (Django set-up, forking the workers) plus a detection run, with room for a busy machine.
RUN_TIMEOUT = 60
# django-q2's guard calls the scheduler once per 30 s of guard cycles, the first time 30 s after start.
SCHEDULER_PERIOD = 30
STOP_TIMEOUT = 10
# Well under SQLite's 20 s wait for a lock (settings), after which the blocked write would fail.
KILL_AFTER = 2
# How long the ORM broker waits before handing an unacknowledged task out again (must exceed the timeout).
REDELIVERY_TIMEOUT, REDELIVERY_RETRY = 8, 10

T = TypeVar("T")


def database_url() -> str:
    """The test database, as the subprocess's DATABASE_URL (settings read nothing else)."""
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        return f"postgres://{db['USER']}@/{db['NAME']}?host={db['HOST']}&port={db['PORT']}"
    assert db["NAME"] != ":memory:" and "mode=memory" not in str(db["NAME"]), (
        "an in-memory SQLite test database cannot be shared: tests/conftest.py makes it a file"
    )
    return f"sqlite:///{db['NAME']}"


class QCluster:
    """`python manage.py qcluster` on the test database; its output goes to a file the test can read while it runs."""

    def __init__(self, **env: str) -> None:
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "outreach.settings",
            "DATABASE_URL": database_url(),
            "Q_WORKERS": "1",
            "Q_SYNC": "0",
            **env,
        }
        self.output = tempfile.TemporaryFile(mode="w+")
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> QCluster:
        # Its own session, so that a cluster which ignores SIGTERM can be killed with its workers as one group.
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=REPO_ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self.output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def __exit__(self, *exc_info) -> None:
        process = self.started()
        try:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                message = f"qcluster did not stop within {STOP_TIMEOUT}s of SIGTERM:\n{self.log()}"
                raise AssertionError(message) from None
        finally:
            # Shown by pytest only when the test fails.
            print(f"--- qcluster output (exit code {process.returncode}) ---\n{self.log()}")
            self.output.close()

    def started(self) -> subprocess.Popen:
        if self.process is None:
            raise RuntimeError("QCluster starts in `with QCluster(...)`; it was not entered")
        return self.process

    def log(self) -> str:
        self.output.flush()
        self.output.seek(0)
        return self.output.read()

    def wait_for(self, found: Callable[[], T | None], *, timeout: float, what: str) -> T:
        """Poll `found` until it returns something truthy; fail, with the cluster's output, after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            value = found()
            if value:
                return value
            process = self.started()
            if process.poll() is not None:
                raise AssertionError(f"qcluster exited ({process.returncode}) before {what}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout}s:\n{self.log()}")
            time.sleep(0.1)

    def worker_pids(self) -> list[int]:
        return [int(pid) for pid in re.findall(r"ready for work at (\d+)", self.log())]

    def runs_of(self, task_name: str) -> int:
        """How many times a worker started the task of that name."""
        return len(re.findall(rf" processing {re.escape(task_name)} '", self.log()))


def assert_saved_by(task: Task, client: Client) -> None:
    """The task succeeded and saved one pattern of each type; each activated one is the client's active one (a WHO
    pattern that does not beat the weights in use is stored for the record and not put to use)."""
    assert task.success, task.result
    assert set(task.result) == TYPES
    for pattern_type, pattern_id in task.result.items():
        saved = ConversionPattern.objects.get(pk=pattern_id)
        active = get_active_pattern(client, pattern_type)
        if saved.activated:
            assert active is not None and active.pk == pattern_id
        else:
            assert pattern_type == "who" and active is None, (pattern_type, saved.patterns.get("activation"))


def queued_functions() -> list[str]:
    """What is still queued; a saved pattern queues its own follow-up work (rescoring, re-planning)."""
    return [queued.func() for queued in OrmQ.objects.all()]


@pytest.fixture(autouse=True)
def without_the_dispatch_schedule():
    """These tests follow one task each through the queue: the every-minute dispatch would queue its own."""
    Schedule.objects.filter(name=DISPATCH_SCHEDULE_NAME).delete()


def test_a_detection_task_on_the_orm_broker_runs_in_a_real_cluster():
    client = generate_client(n_leads=LEADS, seed=5).client
    task_id = async_task(DETECT, client.pk, sync=False)
    assert OrmQ.objects.count() == 1 and not ConversionPattern.objects.exists()

    with QCluster() as cluster:
        task = cluster.wait_for(lambda: fetch(task_id), timeout=RUN_TIMEOUT, what="result of the detection task")

    assert_saved_by(task, client)
    assert ConversionPattern.objects.filter(client=client).count() == len(TYPES)
    assert DETECT not in queued_functions()  # acknowledged: never handed out again


def test_the_nightly_schedule_fans_out_to_every_client_and_an_empty_one_does_not_stop_it():
    client = generate_client(n_leads=LEADS, seed=6).client
    empty = ClientFactory()
    schedule = ensure_detection_schedule()
    # Last night's run was missed (the cluster was down): due now.
    missed = next_daily_run(DETECTION_TIME_UTC) - timedelta(days=1)
    Schedule.objects.filter(pk=schedule.pk).update(next_run=missed)
    names = {f"detect patterns of client {c.pk}": c for c in (client, empty)}

    with QCluster() as cluster:
        cluster.wait_for(
            lambda: Task.objects.filter(name__in=names).count() == len(names),
            timeout=SCHEDULER_PERIOD + 2 * RUN_TIMEOUT,
            what="detection task of each client",
        )

    fan_out = Task.objects.get(func=DETECTION_FUNC)
    assert (fan_out.success, fan_out.result, fan_out.group) == (True, Client.objects.count(), DETECTION_SCHEDULE_NAME)
    tasks = {names[task.name]: task for task in Task.objects.filter(name__in=names)}
    assert_saved_by(tasks[client], client)
    assert (tasks[empty].success, tasks[empty].result) == (True, {})
    assert not ConversionPattern.objects.filter(client=empty).exists()
    schedule.refresh_from_db()
    # Ran once (catch_up is off), and is due again at the coming night's time.
    assert schedule.task == fan_out.id
    assert timezone.now() < schedule.next_run <= timezone.now() + timedelta(days=1)
    assert schedule.next_run.astimezone(UTC).time() == DETECTION_TIME_UTC


def test_a_worker_killed_mid_task_has_its_task_redelivered_and_run_to_completion_once():
    client = generate_client(n_leads=LEADS, seed=7).client
    task_name = "detection whose worker is killed"
    with QCluster(Q_TIMEOUT=str(REDELIVERY_TIMEOUT), Q_RETRY=str(REDELIVERY_RETRY)) as cluster:
        worker = cluster.wait_for(cluster.worker_pids, timeout=RUN_TIMEOUT, what="worker")[0]
        # Frozen, the worker cannot take the task before the test holds the lock that pauses it mid-run.
        os.kill(worker, signal.SIGSTOP)
        frozen = True
        try:
            task_id = async_task(DETECT, client.pk, task_name=task_name, sync=False)
            cluster.wait_for(
                lambda: OrmQ.objects.filter(lock__gt=timezone.now()).exists(),
                timeout=RUN_TIMEOUT,
                what="task handed to the worker",
            )
            with transaction.atomic():
                # Blocks the task's first write: PostgreSQL's FOR UPDATE stops the pattern insert (its
                # foreign-key check on the client), the update takes SQLite's write lock. Reads go on.
                Client.objects.select_for_update().get(pk=client.pk)
                Client.objects.filter(pk=client.pk).update(name=client.name)
                os.kill(worker, signal.SIGCONT)
                frozen = False
                cluster.wait_for(lambda: cluster.runs_of(task_name), timeout=RUN_TIMEOUT, what="task started")
                # The task cannot finish while the lock is held; the pause lets it get past django-q2's
                # bookkeeping (a lock shared with the guard) and read its evidence, so it dies mid-run.
                time.sleep(KILL_AFTER)
                os.kill(worker, signal.SIGKILL)
                cluster.wait_for(
                    lambda: len(cluster.worker_pids()) == 2, timeout=RUN_TIMEOUT, what="worker replaced after its death"
                )
        finally:
            if frozen:  # the test failed early: let the cluster stop its worker
                os.kill(worker, signal.SIGCONT)
        assert fetch(task_id) is None

        task = cluster.wait_for(
            lambda: fetch(task_id), timeout=REDELIVERY_RETRY + RUN_TIMEOUT, what="result of the redelivered task"
        )

        assert cluster.runs_of(task_name) == 2
    assert task.attempt_count == 1
    # On PostgreSQL the dead worker's blocked insert still commits once the lock goes, leaving an older WHO
    # row in the history: what counts is that the completed run's patterns are the active ones.
    assert_saved_by(task, client)
    assert DETECT not in queued_functions()
