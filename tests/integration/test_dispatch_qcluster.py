"""1,000 due touches shared by TWO real `qcluster` processes: every touch one provider call and one Activity;
and a dispatcher process killed between its claim and the provider's answer.

Both clusters run on the test database with the ORM broker; the email backend
(tests/integration/recording_email.py) writes each message it is handed to a
file, so calls are counted across processes, whichever worker made them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone
from django_q.models import Schedule, Task
from django_q.tasks import async_task

from engines.schedules import DISPATCH_SCHEDULE_NAME
from engines.services.sending.dispatcher import CLAIM_TIMEOUT, dispatch_due_touches
from outreach.models import Activity, Lead, ScheduledTouch
from tests.factories import ClientFactory, LeadFactory, MessageTemplateFactory, ScheduledTouchFactory
from tests.integration.recording_email import recorded
from tests.integration.test_qcluster import REPO_ROOT, RUN_TIMEOUT, QCluster, database_url

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TOUCHES = 1000
# Small runs and batches, so both clusters are claiming at the same time, many times over.
TASKS, PER_TASK, BATCH = 20, 50, 10
DISPATCH = "engines.tasks.dispatch_touches"


def seed_due_touches(n: int) -> list[int]:
    """`n` leads of one client, each with one email touch due an hour ago (bulk: no signals fire)."""
    client = ClientFactory(daily_email_limit=10 * n)
    MessageTemplateFactory(client=client, channel="email", touch_number=1)
    leads = Lead.objects.bulk_create(LeadFactory.build(client=client) for _ in range(n))
    due = timezone.now() - timedelta(hours=1)
    touches = ScheduledTouch.objects.bulk_create(
        ScheduledTouchFactory.build(lead=lead, client=client, sequence_id=uuid.uuid4(), scheduled_at=due)
        for lead in leads
    )
    return [touch.pk for touch in touches]


def dispatch_runs(cluster: QCluster) -> int:
    return len(re.findall(r" processing dispatch \d+ '", cluster.log()))


def test_two_clusters_share_1000_due_touches_and_send_each_exactly_once(tmp_path):
    touch_ids = seed_due_touches(TOUCHES)
    # Only the tasks handed out below run: the every-minute schedule would add runs of its own.
    Schedule.objects.filter(name=DISPATCH_SCHEDULE_NAME).delete()
    sends = tmp_path / "sends.jsonl"
    env = {
        "EMAIL_BACKEND": "tests.integration.recording_email.EmailBackend",
        "RECORDING_EMAIL_FILE": str(sends),
        "Q_WORKERS": "2",
        # 2 clusters x 2 workers x (4 + 1) connections, well under the test cluster's limit.
        "DISPATCH_THREADS": "4",
    }
    with QCluster(**env) as first, QCluster(**env) as second:
        for cluster in (first, second):
            cluster.wait_for(lambda c=cluster: len(c.worker_pids()) >= 2, timeout=RUN_TIMEOUT, what="workers ready")
        for i in range(TASKS):
            async_task(
                DISPATCH, limit=PER_TASK, batch_size=BATCH, sync=False, group="dispatch", task_name=f"dispatch {i}"
            )
        first.wait_for(
            lambda: Task.objects.filter(group="dispatch").count() == TASKS,
            timeout=6 * RUN_TIMEOUT,
            what=f"results of the {TASKS} dispatch tasks",
        )
        runs = (dispatch_runs(first), dispatch_runs(second))

    tasks = list(Task.objects.filter(group="dispatch"))
    assert all(task.success for task in tasks), [task.result for task in tasks if not task.success]
    assert sum(task.result["sent"] for task in tasks) == TOUCHES
    # Both clusters took part.
    assert all(runs), runs
    messages = recorded(str(sends))
    assert len(messages) == TOUCHES
    assert len({m["pid"] for m in messages}) >= 2
    per_touch = Counter((m["metadata"]["lead_id"], m["metadata"]["sequence_id"]) for m in messages)
    assert set(per_touch.values()) == {1}
    touches = ScheduledTouch.objects.filter(pk__in=touch_ids)
    assert set(touches.values_list("status", flat=True)) == {"sent"}
    activities = Activity.objects.filter(action="email_sent")
    assert activities.count() == TOUCHES
    assert set(activities.values_list("provider_message_id", flat=True)) == {m["message_id"] for m in messages}
    assert touches.filter(activity__isnull=False).count() == TOUCHES


def test_a_dispatcher_killed_between_claim_and_confirm_leaves_its_touch_for_a_person(tmp_path):
    """The claim is committed (visible to another connection) while the provider call is still in flight; after
    the kill, reconciliation moves the touch to review instead of sending it again."""
    [touch_id] = seed_due_touches(1)
    sends = tmp_path / "sends.jsonl"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "outreach.settings",
        "DATABASE_URL": database_url(),
        "EMAIL_BACKEND": "tests.integration.recording_email.EmailBackend",
        "RECORDING_EMAIL_FILE": str(sends),
        "RECORDING_EMAIL_LATENCY": "600",  # a provider that never answers while the worker lives
    }
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "dispatch_due_touches"],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + RUN_TIMEOUT
        while not ScheduledTouch.objects.filter(pk=touch_id, status="sending").exists():
            assert worker.poll() is None and time.monotonic() < deadline, "the touch was never claimed"
            time.sleep(0.1)
    finally:
        worker.kill()
        worker.wait()

    claimed = ScheduledTouch.objects.get(pk=touch_id)
    assert claimed.claimed_at is not None and claimed.activity_id is None

    counts = dispatch_due_touches(now=claimed.claimed_at + CLAIM_TIMEOUT + timedelta(seconds=1))

    assert (counts["reconciled_review"], counts["sent"]) == (1, 0)
    assert ScheduledTouch.objects.get(pk=touch_id).status == "review"
    assert recorded(str(sends)) == []
    assert not Activity.objects.exists()
