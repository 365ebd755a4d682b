"""Email tracking webhooks: events per second through the real URL, and each event stored exactly once.

    .venv/bin/python -m benchmarks.bench_webhooks                    # PostgreSQL, 10,000 events
    BENCH_EVENTS=2000 BENCH_DB=sqlite .venv/bin/python -m benchmarks.bench_webhooks

Posts Postmark's documented tracking payloads (40% deliveries, 40% opens,
15% clicks, 5% soft and hard bounces) with the basic-auth secret through
Django's test client to anymail's URL, so every request runs the whole stack: middleware (the
provider-callback middleware and what runs before it), anymail's auth and parsing, our guard, the
receiver and the outcome service. A tenth of the requests replay an event
already posted. Measured: events per second over all requests (goal >=
1,000/s), the 50th and 99th percentile of one request, and the rows written,
which must equal the unique events.

The machine this runs on may be shared, and a loaded machine stretches every
round trip to the database. So the CPU time each event costs is measured
too, in this process (client, Django, anymail, our code) and in the
PostgreSQL backend that served it (from /proc), with the load average: the
CPU-bound rate is what one request at a time reaches when neither waits for
a core. And after every 500 events as many HEAD requests go to the same URL
(the same middleware, guard and anymail view, no event): the rate of those,
taken under the same load, is the baseline an event's cost is compared with.
"""

from __future__ import annotations

import base64
import json
import os
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.harness import django_database, record_figure

EVENTS = int(os.environ.get("BENCH_EVENTS", "10000"))
REPLAY_SHARE = 0.10
MESSAGES = max(1, EVENTS // 10)
GOAL_PER_SECOND = 1_000
CHUNK = 500
SECRET = "bench-user:bench-password"
# A tracking stream as ESPs send it: mostly deliveries and opens, some clicks, a few bounces (5%).
KINDS = {"Delivery": 0.40, "Open": 0.40, "Click": 0.15, "SoftBounce": 0.025, "HardBounce": 0.025}


def seed(messages: int) -> list[str]:
    """One client, `messages` leads, each with one email sent; returns the provider message ids."""
    from outreach.models import Activity, Client, Lead

    client = Client.objects.create(name="Bench Co", sending_email="hello@bench.example.com")
    leads = Lead.objects.bulk_create(
        Lead(client=client, email=f"lead{i}@example.com", status="in_sequence") for i in range(messages)
    )
    ids = [f"bench-{i:06d}-0000-4000-8000-000000000000" for i in range(messages)]
    Activity.objects.bulk_create(
        Activity(client=client, lead=lead, action="email_sent", channel="email", provider_message_id=message_id)
        for lead, message_id in zip(leads, ids, strict=True)
    )
    return ids


def payload(kind: str, message_id: str, at: datetime, number: int) -> dict:
    stamp = at.isoformat().replace("+00:00", "Z")
    if kind == "Delivery":
        return {"RecordType": "Delivery", "MessageID": message_id, "Recipient": "p@example.com", "DeliveredAt": stamp}
    if kind in ("Open", "Click"):
        extra: dict[str, object] = {"OriginalLink": "https://example.com/offer"} if kind == "Click" else {}
        return {"RecordType": kind, "MessageID": message_id, "ReceivedAt": stamp, "Recipient": "p@example.com", **extra}
    return {
        "RecordType": "Bounce",
        "ID": number,
        "Type": kind,
        "MessageID": message_id,
        "Email": "p@example.com",
        "BouncedAt": stamp,
        "Details": "smtp;550 5.1.1 mailbox unavailable",
    }


def build_events(ids: list[str], total: int) -> tuple[list[bytes], int]:
    """`total` request bodies, a tenth of them replays of earlier ones, in a fixed random order."""
    rng = random.Random(16)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    unique = total - int(total * REPLAY_SHARE)
    bodies = [
        json.dumps(payload(kind, rng.choice(ids), start + timedelta(seconds=n), n)).encode()
        for n, kind in enumerate(rng.choices(list(KINDS), weights=list(KINDS.values()), k=unique))
    ]
    stream = bodies + [rng.choice(bodies) for _ in range(total - unique)]
    rng.shuffle(stream)
    return stream, unique


def backend_cpu_seconds() -> float | None:
    """CPU seconds used so far by the PostgreSQL backend serving this connection (Linux), else None."""
    from django.db import connection

    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Timing:
    """Wall-clock and CPU seconds spent on a kind of request, and each request's latency."""

    wall: float = 0.0
    cpu: float = 0.0
    latencies: list[float] = field(default_factory=list)

    def run(self, statuses: set[int], send: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        cpu, wall = time.process_time(), time.perf_counter()
        statuses.add(send(*args, **kwargs).status_code)
        self.latencies.append(time.perf_counter() - wall)
        self.wall += self.latencies[-1]
        self.cpu += time.process_time() - cpu

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.wall


def measure(http: Any, url: str, auth: str, stream: list[bytes]) -> tuple[Timing, Timing, set[int], set[int], float]:
    """Post the events in chunks; after each chunk, as many HEAD requests to the same URL (the whole stack,
    no event): the baseline taken under the same load. Returns both timings, their answers, database CPU."""
    events, bare = Timing(), Timing()
    answers: set[int] = set()
    bare_answers: set[int] = set()
    db_before = backend_cpu_seconds()
    for start in range(0, len(stream), CHUNK):
        for body in stream[start : start + CHUNK]:
            events.run(answers, http.post, url, data=body, content_type="application/json", HTTP_AUTHORIZATION=auth)
        for _ in stream[start : start + CHUNK]:
            bare.run(bare_answers, http.head, url, HTTP_AUTHORIZATION=auth)
    db_after = backend_cpu_seconds()
    db_cpu = db_after - db_before if db_before is not None and db_after is not None else 0.0
    return events, bare, answers, bare_answers, db_cpu


def report(events: Timing, bare: Timing, db_cpu: float, written: int, unique: int) -> None:
    timed = len(events.latencies)
    latencies = sorted(events.latencies)
    p99 = latencies[int(timed * 0.99) - 1]
    cpu_rate = timed / (events.cpu + db_cpu)
    print(f"events per second:        {events.rate:10,.0f}   (goal >= {GOAL_PER_SECOND:,})")
    print(
        f"same URL, no event (HEAD): {bare.rate:9,.0f}/s  -> an event costs {bare.rate / events.rate:.1f} bare requests"
    )
    print(f"per request, p50 / p99:   {statistics.median(latencies) * 1000:7.2f} ms / {p99 * 1000:.2f} ms")
    print(
        f"CPU per event:            {events.cpu / timed * 1000:7.2f} ms here + {db_cpu / timed * 1000:.2f} ms in the "
        f"database -> CPU-bound rate {cpu_rate:,.0f}/s  (load average {os.getloadavg()[0]:.1f}, {os.cpu_count()} cores)"
    )
    print(f"rows written:             {written:10,}   (unique events: {unique:,})")
    rate = events.rate
    record_figure(
        "tracking events through the test client", goal=f">= {GOAL_PER_SECOND:,}/s", measured=rate,
        unit="events/s", ratio=rate / GOAL_PER_SECOND, met=rate >= GOAL_PER_SECOND,
    )  # fmt: skip
    record_figure("event cost in bare requests to the same URL", goal="reported", measured=bare.rate / rate, unit="x")
    record_figure("CPU-bound rate (this process + database)", goal="reported", measured=cpu_rate, unit="events/s")
    record_figure("request p99", goal="< 1,000 ms", measured=p99 * 1000, unit="ms", met=p99 < 1.0)
    record_figure("rows written per unique event", goal="1", measured=written / unique, unit="", met=written == unique)


def main() -> None:
    os.environ["ANYMAIL_WEBHOOK_SECRET"] = SECRET
    with django_database() as vendor:
        from django.test import Client
        from django.urls import reverse

        from outreach.models import Activity

        ids = seed(MESSAGES)
        stream, unique = build_events(ids, EVENTS)
        http = Client()
        url = reverse("anymail:postmark_tracking_webhook")
        auth = "Basic " + base64.b64encode(SECRET.encode()).decode()
        for body in stream[:20]:  # warm up imports and connections; these events count like the others
            http.post(url, data=body, content_type="application/json", HTTP_AUTHORIZATION=auth)
        events, bare, answers, bare_answers, db_cpu = measure(http, url, auth, stream[20:])
        written = Activity.objects.exclude(action="email_sent").count()
        print(f"database: {vendor}; {EVENTS:,} tracking events for {MESSAGES:,} emails, {EVENTS - unique:,} replays")
        report(events, bare, db_cpu, written, unique)
        assert answers == {200} and bare_answers == {200}, (answers, bare_answers)
        assert written == unique, (written, unique)


if __name__ == "__main__":
    main()
