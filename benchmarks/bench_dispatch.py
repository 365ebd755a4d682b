"""Dispatcher throughput on PostgreSQL: due touches claimed, rendered, snapshotted, sent and recorded.

    .venv/bin/python -m benchmarks.bench_dispatch            # PostgreSQL (BENCH_DB=sqlite for SQLite)
    BENCH_TOUCHES=2000 .venv/bin/python -m benchmarks.bench_dispatch

Each run sends BENCH_TOUCHES (10,000) due email touches of ten clients
through the real path (claim, template, placeholders, content snapshot,
anymail with a recording test backend, Activity + touch + lead update):

1. a provider that answers at once, one dispatcher (one thread, then the
   default thread pool), against a raw bulk insert of the same Activity rows;
2. a provider that takes 50 ms a call, one dispatcher with its thread pool;
3. the same 50 ms provider behind a real `qcluster` with 1, 2 and 4 workers
   (BENCH_CLUSTER_TOUCHES, 3,000 touches each, DISPATCH_THREADS threads a worker; start-up excluded);
4. the instant provider, one dispatcher with its thread pool, with BENCH_MAILBOXES (50) sending mailboxes
   over the ten clients and each client's daily cap per recipient company on (each lead at a company
   of its own, so the caps are counted but do not hold), against the same run without either, side by side.

Goals: >= 1,000 touches/s with the instant provider and >= 200 touches/s with
the 50 ms one, for one worker, and >= 1,000 touches/s with the instant
provider and 50 mailboxes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta

from benchmarks.harness import ROOT, django_database, record_figure, timed

TOUCHES = int(os.environ.get("BENCH_TOUCHES", "10000"))
CLUSTER_TOUCHES = int(os.environ.get("BENCH_CLUSTER_TOUCHES", "3000"))
MAILBOXES = int(os.environ.get("BENCH_MAILBOXES", "50"))
CLUSTER_WORKERS = (1, 2, 4)
CLIENTS = 10
LATENCY = 0.05
GOAL_INSTANT, GOAL_SLOW = 1000, 200
RECORDING_BACKEND = "tests.integration.recording_email.EmailBackend"


def seed(n: int, *, mailboxes: int = 0) -> None:
    """`n` leads over CLIENTS clients, each lead enrolled with one email touch due a minute ago (bulk: no
    signals). With `mailboxes`, the clients share that many active mailboxes and each lead is at a company of
    its own, with the clients' daily cap per recipient company on."""
    from django.utils import timezone

    from outreach.models import Client, Enrollment, Lead, Mailbox, MessageTemplate, ScheduledTouch

    clients = [
        Client.objects.create(
            name=f"Bench client {i}",
            sending_email=f"hello@client{i}.example.com",
            physical_address="1 George St, Sydney NSW 2000",
            daily_email_limit=10 * n,
            # Open around the clock: the run measures sending, whatever the hour it is started at.
            sending_window_start=0,
            sending_window_end=24,
            sends_on_weekends=True,
            # Without mailboxes every lead is at example.com: no cap on emails into one company, as no daily
            # limit binds. With them each lead is at a company of its own, and the default cap is counted.
            daily_emails_per_company=3 if mailboxes else 0,
        )
        for i in range(CLIENTS)
    ]
    MessageTemplate.objects.bulk_create(
        MessageTemplate(
            client=client,
            channel="email",
            touch_number=1,
            subject="Quick question, {first_name}",
            body="Hi {first_name|there}, I noticed {company_name} is hiring. Worth 15 minutes? {sender_name|The team}",
        )
        for client in clients
    )
    leads = Lead.objects.bulk_create(
        (
            Lead(
                client=clients[i % CLIENTS],
                first_name=f"Lead{i}",
                email=f"lead{i}@company{i}.example.com" if mailboxes else f"lead{i}@example.com",
                company_name=f"Company {i}",
                country="Australia",
                timezone="Australia/Sydney",
            )
            for i in range(n)
        ),
        batch_size=5000,
    )
    Mailbox.objects.bulk_create(
        Mailbox(
            client=clients[m % CLIENTS],
            address=f"sender{m}@mail{m % 5}.client{m % CLIENTS}.example.com",
            sending_domain=f"mail{m % 5}.client{m % CLIENTS}.example.com",
            daily_cap=10 * n,
            warmup_start=10 * n,
            state="active",
        )
        for m in range(mailboxes)
    )
    due = timezone.now() - timedelta(minutes=1)
    enrollments = Enrollment.objects.bulk_create(
        (Enrollment(client_id=lead.client_id, lead=lead, sequence_id=uuid.uuid4()) for lead in leads), batch_size=5000
    )
    ScheduledTouch.objects.bulk_create(
        (
            ScheduledTouch(
                client_id=lead.client_id,
                lead=lead,
                enrollment=enrollment,
                sequence_id=enrollment.sequence_id,
                touch_number=1,
                channel="email",
                scheduled_at=due,
            )
            for lead, enrollment in zip(leads, enrollments, strict=True)
        ),
        batch_size=5000,
    )
    analyse()


def reset() -> None:
    """Remove every client and what hangs off it (TRUNCATE on PostgreSQL: a cascading delete is slow)."""
    from django.db import connection

    from outreach.models import Client

    if connection.vendor != "postgresql":
        Client.objects.all().delete()
        return
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {connection.ops.quote_name(Client._meta.db_table)} CASCADE")


def analyse() -> None:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def sent() -> int:
    from outreach.models import ScheduledTouch

    return ScheduledTouch.objects.filter(status="sent").count()


def mailbox_spread() -> str:
    """The fewest and most emails one mailbox sent in the last run, over how many mailboxes sent any."""
    from django.db.models import Count

    from outreach.models import Activity

    counts = list(
        Activity.objects.filter(mailbox__isnull=False)
        .values("mailbox")
        .annotate(n=Count("pk"))
        .values_list("n", flat=True)
    )
    return f"{min(counts)}-{max(counts)} over {len(counts)} mailboxes" if counts else "none"


def raw_insert_seconds() -> float:
    """Seconds to bulk insert copies of the sent Activity rows (new ids), then removed again."""
    from django.db import transaction

    from outreach.models import Activity

    fields = [f.attname for f in Activity._meta.concrete_fields if f.attname != "id"]
    rows = [Activity(id=uuid.uuid4(), **row) for row in Activity.objects.values(*fields)]
    results: dict[str, float] = {}
    with transaction.atomic():
        with timed(results, "insert"):
            Activity.objects.bulk_create(rows, batch_size=1000)
        transaction.set_rollback(True)
    return results["insert"]


def in_process(n: int, *, threads: int, latency: float, mailboxes: int = 0) -> tuple[float, dict]:
    """Seconds for one dispatcher (this process) to send `n` fresh due touches, and its counts."""
    from engines.services.sending.dispatcher import dispatch_due_touches

    reset()
    seed(n, mailboxes=mailboxes)
    os.environ["RECORDING_EMAIL_LATENCY"] = str(latency)
    results: dict[str, float] = {}
    counts: dict = {}
    with timed(results, "run"):
        while sent() < n:
            for key, value in dispatch_due_touches(threads=threads, time_budget=3600).items():
                counts[key] = counts.get(key, 0) + value
    assert sent() == n, counts
    return results["run"], counts


def with_cluster(n: int, *, workers: int, latency: float) -> float:
    """Seconds for a `qcluster` with `workers` workers to send `n` due touches, from the first task handed out."""
    from django.conf import settings
    from django_q.models import OrmQ, Schedule
    from django_q.tasks import async_task

    reset()
    Schedule.objects.all().delete()  # only the tasks handed out below run
    seed(n)
    env = {
        **os.environ,
        "Q_WORKERS": str(workers),
        "Q_SYNC": "0",
        "RECORDING_EMAIL_LATENCY": str(latency),
        "DATABASE_URL": os.environ["DATABASE_URL"],
    }
    logs = os.path.join(settings.BASE_DIR, "var")
    os.makedirs(logs, exist_ok=True)  # a fresh clone has no var/
    log = open(os.path.join(logs, f"bench-qcluster-{workers}.log"), "w")
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 60
        while open(log.name).read().count("ready for work") < workers:
            if time.monotonic() > deadline or cluster.poll() is not None:
                raise RuntimeError(f"qcluster did not start; see {log.name}")
            time.sleep(0.1)
        start = time.perf_counter()
        while sent() < n:
            # Keep one run per worker queued: a run ends when nothing is left that it can claim.
            if OrmQ.objects.count() < workers:
                async_task("engines.tasks.dispatch_touches", sync=False)
            time.sleep(0.05)
        return time.perf_counter() - start
    finally:
        cluster.send_signal(signal.SIGTERM)
        cluster.wait(timeout=30)
        log.close()


def main() -> None:
    os.environ["EMAIL_BACKEND"] = RECORDING_BACKEND
    os.environ.pop("RECORDING_EMAIL_FILE", None)
    with django_database() as vendor:
        from django.db import connection

        from engines.services.sending.dispatcher import default_threads

        pool = default_threads()
        print(f"database: {vendor} ({connection.vendor}), {TOUCHES:,} due email touches, {CLIENTS} clients")

        one_thread, counts = in_process(TOUCHES, threads=1, latency=0)
        insert = raw_insert_seconds()
        pooled, _ = in_process(TOUCHES, threads=pool, latency=0)
        best = min(one_thread, pooled)
        print(f"instant provider, one worker, 1 thread:  {TOUCHES / one_thread:,.0f} touches/s  {counts}")
        print(f"instant provider, one worker, {pool} threads: {TOUCHES / pooled:,.0f} touches/s")
        print(
            f"raw bulk insert of the same {TOUCHES:,} Activity rows: {TOUCHES / insert:,.0f} rows/s; "
            f"dispatch takes {best / insert:.1f}x the raw insert's time"
        )
        with_mailboxes, _ = in_process(TOUCHES, threads=pool, latency=0, mailboxes=MAILBOXES)
        spread = mailbox_spread()
        without, _ = in_process(TOUCHES, threads=pool, latency=0)
        print(
            f"instant provider, one worker, {pool} threads, {MAILBOXES} mailboxes and per-company caps: "
            f"{TOUCHES / with_mailboxes:,.0f} touches/s, {without / with_mailboxes:.2f}x the rate without "
            f"({TOUCHES / without:,.0f} touches/s, run just after); sends per mailbox: {spread}"
        )
        slow, _ = in_process(TOUCHES, threads=pool, latency=LATENCY)
        print(f"50 ms provider, one worker, {pool} threads: {TOUCHES / slow:,.0f} touches/s")

        figures = {}
        for workers in CLUSTER_WORKERS:
            figures[workers] = CLUSTER_TOUCHES / with_cluster(CLUSTER_TOUCHES, workers=workers, latency=LATENCY)
        side_by_side = ", ".join(f"{w} worker{'s' if w > 1 else ''}: {rate:,.0f}/s" for w, rate in figures.items())
        setup = f"{CLUSTER_TOUCHES:,} touches, {pool} threads a worker"
        print(f"50 ms provider, qcluster ({setup}): {side_by_side}")

        for goal, rate, what in (
            (GOAL_INSTANT, TOUCHES / best, "instant provider, one worker"),
            (GOAL_SLOW, TOUCHES / slow, "50 ms provider, one worker"),
            (GOAL_INSTANT, TOUCHES / with_mailboxes, f"instant provider, one worker, {MAILBOXES} mailboxes"),
        ):
            record_figure(what, goal=f">= {goal:,} touches/s", measured=rate, unit="touches/s", ratio=rate / goal,
                          met=rate >= goal)  # fmt: skip


if __name__ == "__main__":
    main()
