"""The busiest admin pages on 100,000 leads and 1,000,000 activities, on PostgreSQL: the Lead and Activity
changelists, the reply inbox and the agency home.

    .venv/bin/python -m benchmarks.bench_admin
    BENCH_LEADS=20000 BENCH_ACTIVITIES=200000 .venv/bin/python -m benchmarks.bench_admin

The rows are written by INSERT ... SELECT FROM generate_series (seconds, not minutes), then VACUUM ANALYZE. They
are shaped like an agency's last 90 days, spread evenly over them:

- leads, over ten clients: 30% new, 40% in sequence, 15% finished, 7% replied, 4% converted, 4% closed;
- activities: sends on every channel with their deliveries, opens, clicks, bounces and complaints, each with a
  message body in its snapshot;
- 2% of the activities are replies (email 60%, SMS 25%, LinkedIn 15%) of the replied, converted and closed leads,
  with their text (two email replies in three quote the message they answer under "On ... wrote:") and the send
  they answer (`in_reply_to`). A reply of a converted or closed lead was decided by a person (9 in 10); one of a
  lead still replied waits for a person when it is at most 2 days old, and 1 in 10 older ones, the others were
  decided "interested" (the inbox's Waiting tab: the lead still replied and no decision on the reply);
- 0.3% are meetings booked by converted leads, 1 in 7 of them cancelled since;
- manual tasks, one for every 10 leads (leads drawn at random), a third of them still open; one enrollment and
  one planned or cancelled touch per lead.

Each page is fetched through Django's test client, as a superuser and as a staff member of three of the ten
clients: the Lead and Activity changelists (first page, one filter, searches: a lead's name, a lead's email,
common and rare words of the message body), the reply inbox (its Waiting, All (the default) and Decided tabs, a
search in the reply text for a common and a rare word, one client, and one client's Waiting tab, where the agency
home links) and the agency home (the admin index). A figure is the median of ROUNDS fetches after one warm-up,
template rendering included. Goal: each page under 1 s.
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
DAY = 86_400
PERIOD = 90 * DAY  # every activity falls in the last 90 days
REPLIES = ACTIVITIES // 50  # 2% of the activities
BOOKINGS = ACTIVITIES * 3 // 1000  # 0.3%
CANCELLED = 7  # 1 booking in 7 is cancelled since
TASKS = LEADS // 10

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
# Lead number i (1, 2, ... LEADS) has client i % CLIENTS and the status of its slot (i / 10) % 100, by these
# numbers of slots out of 100; the statuses a reply leaves (replied, converted, closed) are the last slots.
LEAD_STATUSES = [("new", 30), ("in_sequence", 40), ("finished", 15), ("replied", 7), ("converted", 4), ("closed", 4)]
# Every activity but the replies and meetings, by weight out of 1,000.
ACTIONS = [
    ("email_sent", 440), ("email_delivered", 100), ("email_opened", 80), ("email_clicked", 10),
    ("email_bounced", 9), ("email_deferred", 5), ("email_complained", 1), ("sms_sent", 140), ("sms_delivered", 45),
    ("linkedin_sent", 120), ("linkedin_accepted", 15), ("voice_completed", 35),
]  # fmt: skip
SENT_ACTIONS = ["email_sent", "sms_sent", "linkedin_sent", "voice_completed"]
REPLY_CHANNELS = [("email", 12), ("sms", 5), ("linkedin", 3)]
# What the leads answer, by the intent outcomes.intent read: a replied lead's, a converted lead's, a closed lead's.
REPLIED_INTENTS = ["interested", "interested", "later", "unknown", "channel_preference"]
CLOSED_INTENTS = ["not_interested", "not_interested", "wrong_person", "unsubscribe"]
REPLY_TEXTS = {
    "interested": [
        "Yes, send the pricing please, thanks.",
        "Sounds good. How about Thursday at 10?",
        "Thanks for reaching out, we are interested. Can you call me tomorrow?",
        "Send me the case study and a few times next week.",
    ],
    "later": [
        "Not now, we are flat out until the end of the quarter. Try me in March, thanks.",
        "Please get back to me after the holidays.",
    ],
    "unknown": ["Who is this?", "What is this about exactly?"],
    "channel_preference": ["Please email me instead of texting, thanks.", "Rather not here, use my email."],
    "not_interested": ["Not interested, thanks.", "We already have a provider, no thanks."],
    "wrong_person": [
        "I left the practice in June, try our office manager.",
        "Wrong person, please contact Sarah at reception.",
    ],
    "unsubscribe": ["Stop. Remove me from your list.", "Please unsubscribe me."],
}
COMMON_REPLY_WORD = "thanks"  # in about one reply in three
RARE_REPLY_WORD = "sauerkraut"  # in one reply of 1,000


def _array(values: list[str]) -> str:
    return "ARRAY[" + ", ".join("'" + value.replace("'", "''") + "'" for value in values) + "]"


def _draw(seed: int, modulo: int, of: str = "g") -> str:
    """SQL for a pseudo-random whole number 0 .. modulo - 1, fixed by `of` and `seed`; draws of different seeds
    are independent (a multiple of g modulo 10 would follow the client, which is g modulo 10)."""
    return f"((hashint8extended({of}, {seed}) & 2147483647) % {modulo})"


def _weighted(choices: list[tuple[str, int]], draw: str) -> str:
    """SQL for one of `choices` by its weight; `draw` is uniform in 0 .. (the sum of the weights) - 1."""
    starts: list[int] = []
    total = 0
    for _, weight in choices:
        starts.append(total)
        total += weight
    return f"({_array([value for value, _ in choices])})[width_bucket({draw}, ARRAY{starts}::bigint[])]"


def _slots(*statuses: str) -> tuple[int, int]:
    """The first status slot of `statuses` (consecutive in LEAD_STATUSES) and how many slots they have."""
    start, first, count = 0, None, 0
    for name, size in LEAD_STATUSES:
        if name in statuses:
            first = start if first is None else first
            count += size
        start += size
    assert first is not None and count, statuses
    return first, count


def _lead_number(index: str, first_slot: int, slots: int) -> str:
    """SQL for the number of a lead with one of `slots` status slots from `first_slot` (slot 1 or more): `index`
    in 0 .. 10 * slots * LEADS / 1000 - 1 names each of them once, and index % 10 is its client."""
    return f"(1000 * ({index} / {10 * slots}) + 10 * ({first_slot} + ({index} / 10) % {slots}) + {index} % 10)"


def _series(count: int) -> str:
    return f"generate_series(1::bigint, {count}::bigint) AS g"


def _insert_select(model: Any, source: str, expressions: dict[str, str]) -> str:
    """INSERT INTO <model> SELECT ... FROM <source>; unnamed columns get their defaults."""
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
    return f"INSERT INTO {model._meta.db_table} ({', '.join(columns)}) SELECT {', '.join(values)} FROM {source}"


def _last_send(lead: str, before: str) -> str:
    """SQL for the id of `lead`'s last send before `before`: what a reply or a booking answers (NULL if none)."""
    from outreach.models import Activity

    return (
        f"(SELECT sent.id FROM {Activity._meta.db_table} AS sent WHERE sent.lead_id = {lead}"
        f" AND sent.action IN ({', '.join(repr(action) for action in SENT_ACTIONS)})"
        f" AND sent.created_at < {before} ORDER BY sent.created_at DESC LIMIT 1)"
    )


def _iso(moment: str) -> str:
    return f"to_char(({moment}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"')"


def _replies(first_client: int) -> str:
    """The replies (see the module doc), as one INSERT ... SELECT; `lead0` stands for the first lead's id."""
    from outreach.models import Activity

    first_slot, slots = _slots("replied", "converted", "closed")
    converted, closed = _slots("converted")[0], _slots("closed")[0]
    index = f"((g * 7919) % {10 * slots * (LEADS // 1000)})"  # g -> lead is onto once REPLIES >= their number
    chosen = f"""(
        SELECT g, n, age, replied_at, channel, slot, intent,
            CASE WHEN slot < {converted}
                    THEN CASE WHEN age > {2 * DAY} AND {_draw(13, 10)} > 0 THEN 'interested' END
                WHEN slot < {closed} THEN CASE WHEN {_draw(13, 10)} > 0 THEN 'meeting_booked' END
                ELSE CASE WHEN {_draw(13, 10)} > 0 THEN intent END
            END AS decision
        FROM (
            SELECT g, n, age, replied_at, channel, slot,
                CASE WHEN slot < {converted} THEN ({_array(REPLIED_INTENTS)})[1 + {_draw(15, len(REPLIED_INTENTS))}]
                    WHEN slot < {closed} THEN 'interested'
                    ELSE ({_array(CLOSED_INTENTS)})[1 + {_draw(15, len(CLOSED_INTENTS))}]
                END AS intent
            FROM (
                SELECT g, n, age, now() - make_interval(secs => age) AS replied_at, channel, (n / 10) % 100 AS slot
                FROM (
                    SELECT g, {_lead_number(index, first_slot, slots)} AS n, {_draw(11, PERIOD)} AS age,
                        {_weighted(REPLY_CHANNELS, _draw(12, sum(weight for _, weight in REPLY_CHANNELS)))} AS channel
                    FROM {_series(REPLIES)}
                ) AS drawn
            ) AS timed
        ) AS intents
    ) AS r"""
    words = "CASE r.intent " + " ".join(
        f"WHEN '{intent}' THEN ({_array(texts)})[1 + {_draw(17, len(texts), 'r.g')}]"
        for intent, texts in REPLY_TEXTS.items()
    )
    quoted = (
        f"chr(10) || chr(10) || 'On ' || to_char(r.replied_at - interval '2 days', 'Dy, DD Mon YYYY \"at\" HH24:MI')"
        f" || ', Client ' || (r.n % {CLIENTS}) || ' <c' || (r.n % {CLIENTS}) || '@example.com> wrote:' || chr(10)"
        f" || '> ' || ({_array(SENTENCES)})[1 + {_draw(19, 10, 'r.g')}] || chr(10)"
        f" || '> ' || ({_array(SENTENCES)})[1 + {_draw(20, 10, 'r.g')}]"
    )
    text = (
        f"{words} END"
        f" || CASE WHEN {_draw(18, 1000, 'r.g')} = 0 THEN ' We mostly sell {RARE_REPLY_WORD} though.' ELSE '' END"
        f" || CASE WHEN r.channel = 'email' AND {_draw(21, 3, 'r.g')} > 0 THEN {quoted} ELSE '' END"
    )
    decided_at = _iso("least(now(), r.replied_at + interval '3 hours')")
    entry = f"jsonb_build_object('decision', r.decision, 'by', 'alex', 'by_id', NULL, 'at', {decided_at})"
    return _insert_select(
        Activity,
        chosen,
        {
            "id": "md5('reply' || r.g)::uuid",
            "client_id": f"{first_client} + r.n % {CLIENTS}",
            "lead_id": "lead0 + r.n - 1",
            "action": "r.channel || '_replied'",
            "channel": "r.channel",
            "metadata": "CASE WHEN r.decision IS NULL THEN jsonb_build_object('intent', r.intent) ELSE"
            f" jsonb_build_object('intent', r.intent, 'decision', {entry}, 'decisions', jsonb_build_array({entry}))"
            " END",
            "provider": "'bench'",
            "provider_event_id": "'reply:' || r.g",
            "in_reply_to_id": _last_send("lead0 + r.n - 1", "r.replied_at"),
            "reply_text": text,
            "created_at": "r.replied_at",
        },
    )


def _meetings(first_client: int) -> list[str]:
    """The meetings booked (see the module doc), then their cancellations, as two INSERT ... SELECTs."""
    from outreach.models import Activity

    first_slot, slots = _slots("converted")
    index = f"((g * 7919) % {10 * slots * (LEADS // 1000)})"
    booked = f"""(
        SELECT g, n, now() - make_interval(secs => {_draw(22, PERIOD)}) AS booked_at
        FROM (SELECT g, {_lead_number(index, first_slot, slots)} AS n FROM {_series(BOOKINGS)}) AS drawn
    ) AS b"""
    start = _iso("b.booked_at + interval '3 days'")
    common = {"client_id": f"{first_client} + b.n % {CLIENTS}", "lead_id": "lead0 + b.n - 1", "channel": "''"}
    bookings = _insert_select(
        Activity,
        booked,
        {
            **common,
            "id": "md5('booking' || b.g)::uuid",
            "action": "'meeting_booked'",
            "metadata": f"jsonb_build_object('source', 'cal_com', 'start', {start})",
            "provider": "'cal_com'",
            "provider_event_id": "'booking_created:' || b.g",
            "in_reply_to_id": _last_send("lead0 + b.n - 1", "b.booked_at"),
            "created_at": "b.booked_at",
        },
    )
    cancellations = _insert_select(
        Activity,
        f"{booked} WHERE {_draw(23, CANCELLED, 'b.g')} = 0",
        {
            **common,
            "id": "gen_random_uuid()",
            "action": "'meeting_cancelled'",
            "metadata": "jsonb_build_object('source', 'cal_com')",
            "provider": "'cal_com'",
            "provider_event_id": "'booking_cancelled:' || b.g",
            "in_reply_to_id": "md5('booking' || b.g)::uuid",
            "created_at": f"least(now(), b.booked_at + make_interval(hours => 1 + {_draw(24, 48, 'b.g')}::int))",
        },
    )
    return [bookings, cancellations]


def _tasks(first_client: int) -> str:
    """The manual tasks: LinkedIn messages, calls and follow-ups, a third still open, due from 10 days ago to 4
    days on."""
    from outreach.models import ManualTask

    drawn = f"""(
        SELECT g, 1 + {_draw(31, LEADS)} AS n, {_draw(33, 3)} AS state,
            now() + make_interval(hours => ({_draw(37, 14 * 24)} - 240)::int) AS due_at
        FROM {_series(TASKS)}
    ) AS t"""
    return _insert_select(
        ManualTask,
        drawn,
        {
            "client_id": f"{first_client} + t.n % {CLIENTS}",
            "lead_id": "lead0 + t.n - 1",
            "kind": f"({_array(['linkedin', 'call', 'follow_up'])})[1 + {_draw(35, 3, 't.g')}]",
            "message": "'Connect and mention the free audit of their booking funnel.'",
            "due_at": "t.due_at",
            "status": f"({_array(['open', 'done', 'skipped'])})[1 + t.state]",
            "closed_at": "CASE WHEN t.state = 0 THEN NULL ELSE least(now(), t.due_at) END",
        },
    )


def populate() -> dict[str, int]:
    from django.db import connection

    from outreach.models import Activity, Client, Enrollment, Lead, ScheduledTouch

    assert LEADS >= 1000 and LEADS % 1000 == 0, "BENCH_LEADS must be a multiple of 1,000"
    clients = [Client.objects.create(name=f"Client {i}", sending_email=f"c{i}@example.com") for i in range(CLIENTS)]
    first_client = clients[0].pk
    lead_client = f"{first_client} + (g % {CLIENTS})"
    leads = _insert_select(
        Lead,
        _series(LEADS),
        {
            "client_id": lead_client,
            "first_name": f"({_array(FIRST_NAMES)})[1 + g % {len(FIRST_NAMES)}]",
            "last_name": f"({_array(LAST_NAMES)})[1 + (g / 10) % {len(LAST_NAMES)}]",
            "email": "'lead' || g || '@example.com'",
            "company_name": "'Company ' || (g % 5000)",
            "title": "'Practice Manager'",
            "industry": "'Dental'",
            "country": "'Australia'",
            "status": _weighted(LEAD_STATUSES, "(g / 10) % 100"),
            "als_score": "(g * 37) % 101",
            "touch_count": "g % 6",
            "last_contacted_at": "now() - make_interval(secs => (g * 7919) % 2592000)",
        },
    )
    action = _weighted(ACTIONS, _draw(1, sum(weight for _, weight in ACTIONS)))
    body = (
        f"({_array(SENTENCES)})[1 + g % 10] || ' ' || ({_array(SENTENCES)})[1 + (g / 10) % 10]"
        f" || CASE WHEN g % 10000 = 0 THEN ' {RARE_WORD}' ELSE '' END"
    )
    lead_of = f"(1 + (g * 7919) % {LEADS})"
    activities = _insert_select(
        Activity,
        f"(SELECT g, {action} AS action FROM {_series(ACTIVITIES - REPLIES - BOOKINGS - BOOKINGS // CANCELLED)}) AS a",
        {
            "id": "gen_random_uuid()",
            "lead_id": f"lead0 + {lead_of} - 1",
            "client_id": f"{first_client} + ({lead_of} % {CLIENTS})",
            "action": "action",
            "channel": "split_part(action, '_', 1)",
            "content_snapshot": f"jsonb_build_object('body', {body}, 'subject', 'Quick question', 'word_count', 16)",
            "touch_number": "1 + g % 5",
            "created_at": f"now() - make_interval(secs => (g * 104729) % {PERIOD})",
        },
    )
    enrollments = _insert_select(
        Enrollment,
        _series(LEADS),
        {"client_id": lead_client, "lead_id": "lead0 + g - 1", "sequence_id": "gen_random_uuid()"},
    )
    enrollment_table = Enrollment._meta.db_table
    touches = _insert_select(
        ScheduledTouch,
        _series(LEADS),
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
            cursor.execute(f"ANALYZE {Activity._meta.db_table}")  # the replies look their sends up by index
        with timed(seconds, "replies and meetings"):
            for statement in [_replies(first_client), *_meetings(first_client)]:
                cursor.execute(statement.replace("lead0", str(lead0)))
        with timed(seconds, "tasks and touches"):
            cursor.execute(_tasks(first_client).replace("lead0", str(lead0)))
            cursor.execute(enrollments.replace("lead0", str(lead0)))
            cursor.execute(f"SELECT min(id) FROM {enrollment_table}")
            enr0 = cursor.fetchone()[0]
            cursor.execute(touches.replace("lead0", str(lead0)).replace("enr0", str(enr0)))
        with timed(seconds, "vacuum analyze"):
            cursor.execute("VACUUM ANALYZE")
    print("inserted in " + ", ".join(f"{name} {value:.1f} s" for name, value in seconds.items()))
    return {"first_client": first_client, "lead0": lead0}


def describe_data() -> str:
    """What the inbox and the home will count, in one line."""
    from datetime import timedelta

    from django.utils import timezone

    from engines.services.outcomes import inbox
    from engines.services.outcomes.bookings import cancelled_since
    from outreach.models import Activity, ManualTask

    week = Activity.objects.filter(action="meeting_booked", created_at__gte=timezone.now() - timedelta(days=7))
    return (
        f"{Activity.objects.count():,} activities, {inbox.replies().count():,} replies"
        f" ({inbox.replies(show=inbox.Show.WAITING).count():,} waiting,"
        f" {inbox.replies(show=inbox.Show.DECIDED).count():,} decided),"
        f" {week.count():,} meetings booked in the last 7 days ({week.filter(cancelled_since()).count():,} cancelled"
        f" since), {ManualTask.objects.filter(status='open').count():,} open tasks"
    )


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


def fetch(browser: Any, url: str, params: dict[str, str], shows: str = "") -> float:
    """The median seconds of ROUNDS fetches of the page after a warm-up, whose page must contain `shows`."""
    warm_up = browser.get(url, params)
    assert shows in warm_up.content.decode(), (url, params, shows)
    seconds = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        response = browser.get(url, params)
        seconds.append(time.perf_counter() - start)
        assert response.status_code == 200, (url, params, response.status_code)
    return statistics.median(seconds)


# A page's cases: (name, query string, a text the page must show).
Case = tuple[str, dict[str, str], str]


def pages(first_client: int) -> dict[str, tuple[str, list[Case]]]:
    """{page: (url, cases)}; the client picked is one of the staff member's."""
    from django.urls import reverse

    client = str(first_client)
    return {
        "lead changelist": (
            reverse("admin:outreach_lead_changelist"),
            [
                ("first page", {}, ""),
                ("filter status", {"status__exact": "in_sequence"}, ""),
                ("search name", {"q": "Okafor"}, ""),
                ("search email", {"q": f"lead{LEADS // 2}@example.com"}, ""),
            ],
        ),
        "activity changelist": (
            reverse("admin:outreach_activity_changelist"),
            [
                ("first page", {}, ""),
                ("filter channel", {"channel__exact": "sms"}, ""),
                ("search body (common words)", {"q": "quick chat"}, ""),
                ("search body (rare word)", {"q": RARE_WORD}, ""),
                ("search lead name", {"q": "Okafor"}, ""),
                ("search lead email", {"q": f"lead{LEADS // 2}@example.com"}, ""),
            ],
        ),
        "reply inbox": (
            reverse("admin:outreach_inbox"),
            [
                ("waiting tab", {"show": "waiting"}, 'class="inbox-waiting"'),
                ("all tab (the default)", {}, 'class="inbox-quoted"'),
                ("decided tab", {"show": "decided"}, 'class="inbox-decision"'),
                (f"search reply (common word: {COMMON_REPLY_WORD})", {"q": COMMON_REPLY_WORD}, 'class="inbox-row"'),
                (f"search reply (rare word: {RARE_REPLY_WORD})", {"q": RARE_REPLY_WORD}, ""),
                ("one client", {"client": client}, 'class="inbox-row"'),
                ("one client's waiting tab", {"show": "waiting", "client": client}, 'class="inbox-waiting"'),
            ],
        ),
        "agency home": (reverse("admin:index"), [("admin index", {}, 'id="agency-home-table"')]),
    }


def main() -> None:
    with django_database() as vendor:
        setup: dict[str, float] = {}
        with timed(setup, "populate"):
            ids = populate()
        print(f"{vendor}: {LEADS:,} leads, {LEADS:,} touches, {describe_data()}; seeded in {setup['populate']:.1f} s")
        browsers = users(ids["first_client"])
        for page, (url, cases) in pages(ids["first_client"]).items():
            for case, params, shows in cases:
                for who, browser in browsers.items():
                    seconds = fetch(browser, url, params, shows)
                    record_figure(
                        f"{page}, {case}, {who}",
                        goal=f"< {GOAL_SECONDS:g} s",
                        measured=seconds,
                        unit="s",
                        ratio=seconds / GOAL_SECONDS,
                        met=seconds < GOAL_SECONDS,
                    )


if __name__ == "__main__":
    main()
