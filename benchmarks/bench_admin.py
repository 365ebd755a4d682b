"""The Lead and Activity changelists on 100,000 leads and 1,000,000 activities, on PostgreSQL.

    .venv/bin/python -m benchmarks.bench_admin
    BENCH_LEADS=20000 BENCH_ACTIVITIES=200000 .venv/bin/python -m benchmarks.bench_admin

The rows are written by INSERT ... SELECT FROM generate_series (seconds, not
minutes), then VACUUM ANALYZE. Each page is fetched through Django's test
client, as a superuser and as a staff member of three of the ten clients:
the first page in the default ordering, one filter, and searches (a lead's
name, a lead's email, common and rare words of the message body). A figure
is the median of ROUNDS fetches after one warm-up, template rendering
included. Goal: each page under 1 s.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from typing import Any

from benchmarks.harness import django_database, record_figure, timed

LEADS = int(os.environ.get("BENCH_LEADS", "100000"))
ACTIVITIES = int(os.environ.get("BENCH_ACTIVITIES", "1000000"))
CLIENTS = 10
ROUNDS = 5
GOAL_SECONDS = 1.0

FIRST_NAMES = ["Mia", "Noah", "Ava", "Liam", "Zoe", "Jack", "Ella", "Leo", "Ruby", "Oscar"]
LAST_NAMES = ["Nguyen", "Smith", "Okafor", "Patel", "Brown", "Kowalski", "Rossi", "Tanaka", "Walsh", "Garcia"]
SENTENCES = [
    "I noticed your practice is growing fast.",
    "Many clinics lose leads to slow follow-up.",
    "Our clients cut admin time by a third.",
    "Are you open to a quick chat next week?",
    "Would a free audit of your booking funnel help?",
    "Congrats on the new funding round.",
    "Hiring is hard when the phones never stop.",
    "We help accountants win back their evenings.",
    "Is cost per lead creeping up for you too?",
    "Happy to send a short case study.",
]
RARE_WORD = "kombucha"  # in one body of 10,000
ACTIONS = [("email_sent", "email")] * 10 + [("sms_sent", "sms")] * 4 + [("linkedin_sent", "linkedin")] * 3
ACTIONS += [("voice_completed", "voice"), ("email_replied", "email"), ("meeting_booked", "email")]


def _array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + value.replace("'", "''") + "'" for value in values) + "]"


def _insert_select(model: Any, count: int, expressions: dict[str, str]) -> str:
    """INSERT INTO <model> SELECT ... FROM generate_series(1, count) g; unnamed columns get their defaults."""
    from django.db import models

    columns, values = [], []
    for field in model._meta.concrete_fields:
        if field.primary_key and field.column not in expressions:
            continue
        columns.append(field.column)
        if field.column in expressions:
            values.append(expressions[field.column])
        elif isinstance(field, models.JSONField):
            values.append(f"'{json.dumps(field.get_default())}'::jsonb")
        elif isinstance(field, models.DateTimeField):
            values.append("now()" if not field.null else "NULL")
        elif field.has_default():
            default = field.get_default()
            values.append(str(default).lower() if isinstance(default, bool) else f"'{default}'")
        elif field.null:
            values.append("NULL")
        else:
            values.append("''")
    return (
        f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) "
        f"SELECT {', '.join(values)} FROM generate_series(1::bigint, {count}::bigint) AS g"
    )


def populate() -> dict[str, int]:
    from django.db import connection

    from outreach.models import Activity, Client, Enrollment, Lead, ScheduledTouch

    clients = [Client.objects.create(name=f"Client {i}", sending_email=f"c{i}@example.com") for i in range(CLIENTS)]
    first_client = clients[0].pk
    lead_client = f"{first_client} + (g % {CLIENTS})"
    leads = _insert_select(
        Lead,
        LEADS,
        {
            "client_id": lead_client,
            "first_name": f"({_array(FIRST_NAMES)})[1 + g % {len(FIRST_NAMES)}]",
            "last_name": f"({_array(LAST_NAMES)})[1 + (g / 10) % {len(LAST_NAMES)}]",
            "email": "'lead' || g || '@example.com'",
            "company_name": "'Company ' || (g % 5000)",
            "title": "'Practice Manager'",
            "industry": "'Dental'",
            "country": "'Australia'",
            "status": "(ARRAY['new', 'in_sequence', 'in_sequence', 'replied', 'converted'])[1 + g % 5]",
            "als_score": "(g * 37) % 101",
            "touch_count": "g % 6",
            "last_contacted_at": "now() - make_interval(secs => (g * 7919) % 2592000)",
        },
    )
    pick = f"(1 + (g * 7) % {len(ACTIONS)})"
    body = (
        f"({_array(SENTENCES)})[1 + g % 10] || ' ' || ({_array(SENTENCES)})[1 + (g / 10) % 10]"
        f" || CASE WHEN g % 10000 = 0 THEN ' {RARE_WORD}' ELSE '' END"
    )
    lead_of = f"(1 + (g * 7919) % {LEADS})"
    activities = _insert_select(
        Activity,
        ACTIVITIES,
        {
            "id": "gen_random_uuid()",
            "lead_id": f"lead0 + {lead_of} - 1",
            "client_id": f"{first_client} + ({lead_of} % {CLIENTS})",
            "action": f"({_array([a for a, _ in ACTIONS])})[{pick}]",
            "channel": f"({_array([c for _, c in ACTIONS])})[{pick}]",
            "content_snapshot": f"jsonb_build_object('body', {body}, 'subject', 'Quick question', 'word_count', 16)",
            "touch_number": "1 + g % 5",
            "created_at": "now() - make_interval(secs => (g * 104729) % 7776000)",
        },
    )
    enrollments = _insert_select(
        Enrollment,
        LEADS,
        {"client_id": lead_client, "lead_id": "lead0 + g - 1", "sequence_id": "gen_random_uuid()"},
    )
    enrollment_table = Enrollment._meta.db_table
    touches = _insert_select(
        ScheduledTouch,
        LEADS,
        {
            "client_id": lead_client,
            "lead_id": "lead0 + g - 1",
            "enrollment_id": "enr0 + g - 1",
            "sequence_id": f"(SELECT sequence_id FROM {enrollment_table} WHERE id = enr0 + g - 1)",
            "touch_number": "1",
            "channel": "'email'",
            "scheduled_at": "now() + make_interval(hours => (g % 500)::int)",
            "status": "(ARRAY['planned', 'planned', 'cancelled'])[1 + g % 3]",
        },
    )
    seconds: dict[str, float] = {}
    with connection.cursor() as cursor:
        with timed(seconds, "leads"):
            cursor.execute(leads)
        cursor.execute(f"SELECT min(id) FROM {Lead._meta.db_table}")
        lead0 = cursor.fetchone()[0]
        # Lead ids are lead0 .. lead0 + LEADS - 1; lead i (1-based) has client first_client + i % CLIENTS.
        with timed(seconds, "activities"):
            cursor.execute(activities.replace("lead0", str(lead0)))
        with timed(seconds, "touches"):
            cursor.execute(enrollments.replace("lead0", str(lead0)))
            cursor.execute(f"SELECT min(id) FROM {enrollment_table}")
            enr0 = cursor.fetchone()[0]
            cursor.execute(touches.replace("lead0", str(lead0)).replace("enr0", str(enr0)))
        with timed(seconds, "vacuum analyze"):
            cursor.execute("VACUUM ANALYZE")
    print("inserted in " + ", ".join(f"{name} {value:.1f} s" for name, value in seconds.items()))
    return {"first_client": first_client, "lead0": lead0}


def users(first_client: int) -> dict[str, Any]:
    from django.contrib.auth.models import Permission, User
    from django.test import Client as Browser

    from outreach.models import ClientMembership

    superuser = User.objects.create_superuser("root", "root@example.com", "pw")
    staff = User.objects.create_user("staff", "staff@example.com", "pw", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(content_type__app_label="outreach"))
    for client_id in range(first_client, first_client + 3):
        ClientMembership.objects.create(user=staff, client_id=client_id)
    browsers = {}
    for name, user in (("superuser", superuser), ("staff", staff)):
        browsers[name] = Browser()
        browsers[name].force_login(user)
    return browsers


def fetch(browser: Any, url: str, params: dict[str, str]) -> float:
    browser.get(url, params)  # warm-up
    seconds = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        response = browser.get(url, params)
        seconds.append(time.perf_counter() - start)
        assert response.status_code == 200, (url, params, response.status_code)
    return statistics.median(seconds)


def main() -> None:
    os.environ["DEBUG"] = "false"
    with django_database() as vendor:
        from django.urls import reverse

        setup: dict[str, float] = {}
        with timed(setup, "populate"):
            ids = populate()
        print(f"{vendor}: {LEADS:,} leads, {ACTIVITIES:,} activities, {LEADS:,} touches in {setup['populate']:.1f} s")
        browsers = users(ids["first_client"])
        pages = {
            "lead": {
                "first page": {},
                "filter status": {"status__exact": "in_sequence"},
                "search name": {"q": "Okafor"},
                "search email": {"q": f"lead{LEADS // 2}@example.com"},
            },
            "activity": {
                "first page": {},
                "filter channel": {"channel__exact": "sms"},
                "search body (common words)": {"q": "quick chat"},
                "search body (rare word)": {"q": RARE_WORD},
                "search lead name": {"q": "Okafor"},
                "search lead email": {"q": f"lead{LEADS // 2}@example.com"},
            },
        }
        for model, cases in pages.items():
            url = reverse(f"admin:outreach_{model}_changelist")
            for case, params in cases.items():
                for who, browser in browsers.items():
                    seconds = fetch(browser, url, params)
                    record_figure(
                        f"{model} changelist, {case}, {who}",
                        goal=f"< {GOAL_SECONDS:g} s",
                        measured=seconds,
                        unit="s",
                        ratio=seconds / GOAL_SECONDS,
                        met=seconds < GOAL_SECONDS,
                    )


if __name__ == "__main__":
    main()
