"""A client's last 30 days: sends, replies and meetings by channel and by week; reply and booking rates per sequence.

Read-only selectors: a fixed number of aggregate queries whatever the volume.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.db.models import CharField, Count, Exists, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce, NullIf, TruncWeek
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString

from outreach.models import Activity, ActivityAction, Channel, Client, Lead, ScheduledTouch, TouchStatus
from outreach.models.choices import REPLY_ACTIONS, SENT_ACTIONS

from .charts import Series, line_chart

DAYS = 30
MEASURES = {
    "sends": Q(action__in=SENT_ACTIONS),
    "replies": Q(action__in=REPLY_ACTIONS),
    "meetings": Q(action=ActivityAction.MEETING_BOOKED),
}


def activity_counts(client: Client, *, since: datetime) -> list[dict[str, Any]]:
    """Sends, replies and meetings per (week, channel) since `since`."""
    return list(
        Activity.objects.filter(client=client, created_at__gte=since)
        .filter(Q(action__in=SENT_ACTIONS) | Q(action__in=REPLY_ACTIONS) | Q(action=ActivityAction.MEETING_BOOKED))
        .annotate(week=TruncWeek("created_at"))
        .values("week", "channel")
        .annotate(**{name: Count("pk", filter=condition) for name, condition in MEASURES.items()})
        .order_by("week", "channel")
    )


def percent(rate: float | None) -> str:
    """A rate as the dashboard shows it: "32.0%", or "—" when there is none."""
    return "—" if rate is None else f"{rate:.1%}"


def sequence_rates(client: Client, *, since: datetime) -> list[dict[str, Any]]:
    """Per planned sequence: leads with a touch sent since `since`, how many replied and how many booked.

    Each lead is counted once, under the sequence it was enrolled with (the enrollment's planned sequence, else
    the plan its touch recorded) in its enrollment with the latest send of the period: a re-plan writes new
    touches with another planned sequence into the same enrollment, and must not count the lead again.
    """
    sent = ScheduledTouch.objects.filter(client=client, status=TouchStatus.SENT, activity__created_at__gte=since)
    latest = (
        sent.filter(lead=OuterRef("pk"))
        .order_by("-activity__created_at", "-pk")
        .annotate(strategy=Coalesce(NullIf("enrollment__planned_sequence", Value("")), "planned_sequence"))
        .values("strategy")[:1]
    )
    later = Activity.objects.filter(lead=OuterRef("pk"), created_at__gte=since)
    rows = (
        Lead.objects.filter(Exists(sent.filter(lead=OuterRef("pk"))), client=client)
        .annotate(planned_sequence=Subquery(latest, output_field=CharField()))
        .values("planned_sequence")
        .annotate(
            leads=Count("pk", distinct=True),
            replied=Count("pk", distinct=True, filter=Q(Exists(later.filter(action__in=REPLY_ACTIONS)))),
            booked=Count("pk", distinct=True, filter=Q(Exists(later.filter(action=ActivityAction.MEETING_BOOKED)))),
        )
        .order_by("-leads", "planned_sequence")
    )
    result = []
    for row in rows:
        reply_rate = row["replied"] / row["leads"] if row["leads"] else None
        booking_rate = row["booked"] / row["leads"] if row["leads"] else None
        result.append(
            {
                **row,
                "sequence": (row["planned_sequence"] or "unknown").replace(">", " → "),
                "reply_rate": reply_rate,
                "booking_rate": booking_rate,
                "reply_percent": percent(reply_rate),
                "booking_percent": percent(booking_rate),
            }
        )
    return result


def dashboard(client: Client, *, now: datetime | None = None) -> SafeString:
    now = now or timezone.now()
    since = now - timedelta(days=DAYS)
    counts = activity_counts(client, since=since)
    by_channel: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(MEASURES, 0))
    by_week: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(MEASURES, 0))
    for row in counts:
        channel = Channel(row["channel"]).label if row["channel"] in Channel.values else "other"
        week = f"{row['week']:%Y-%m-%d}"
        for name in MEASURES:
            by_channel[channel][name] += row[name]
            by_week[week][name] += row[name]
    weeks = sorted(by_week)
    chart = (
        line_chart(
            "Sends, replies and meetings by week (weeks starting Monday)",
            weeks,
            [Series(name, [by_week[week][name] for week in weeks]) for name in MEASURES],
            chart_id="dashboard-weeks",
        )
        if weeks
        else None
    )
    return render_to_string(
        "admin/outreach/client/dashboard.html",
        {
            "since": since,
            "by_channel": sorted(by_channel.items()),
            "by_week": [(week, by_week[week]) for week in weeks],
            "chart": chart,
            "sequences": sequence_rates(client, since=since),
        },
    )
