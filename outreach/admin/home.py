"""The agency home: the admin index opens with each of the user's clients and its figures, then Django's app list.

Per client: the last 7 days' sends, replies, meetings booked (not cancelled since), bounce and complaint rates
(of the emails sent in those days), and, counted now whatever their date, the open manual tasks and the replies
waiting for a person (the reply inbox's Waiting tab: the lead is still "replied" and nobody has decided about
the reply). Then the paused sending mailboxes, each with why and a link to it. Five queries whatever the number
of clients: the clients, one grouped aggregate each over activities, open tasks and waiting replies, and the
paused mailboxes. Each figure links to the change list (or the inbox) it counts, when
the user may view it. `install` makes a site's index this page and its "View site" link point here; `favicon` serves
the site's icon.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from django.contrib.admin import AdminSite
from django.db.models import Count, Model, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_safe

from engines.services.outcomes import inbox
from engines.services.outcomes.bookings import cancelled_since
from outreach.models import Activity, ActivityAction, Client, Lead, Mailbox, MailboxState, ManualTask, TaskStatus
from outreach.models.choices import REPLY_ACTIONS, SENT_ACTIONS

from .scoping import scope_to_clients, visible_clients

DAYS = 7
FAVICON = Path(__file__).resolve().parent.parent / "static" / "outreach" / "favicon.svg"
# The activity figures, each a condition on the activities of the period.
ACTIVITY_MEASURES: dict[str, Q] = {
    "sends": Q(action__in=SENT_ACTIONS),
    "replies": Q(action__in=REPLY_ACTIONS),
    # A booking cancelled since no longer stands (outcomes.bookings.standing_meetings), wherever its cancellation
    # falls.
    "meetings": Q(action=ActivityAction.MEETING_BOOKED) & ~Q(cancelled_since()),
    "emails_sent": Q(action=ActivityAction.EMAIL_SENT),
    "bounces": Q(action=ActivityAction.EMAIL_BOUNCED),
    "complaints": Q(action=ActivityAction.EMAIL_COMPLAINED),
}
COUNTED_ACTIONS = sorted(
    {*SENT_ACTIONS, *REPLY_ACTIONS, ActivityAction.MEETING_BOOKED, ActivityAction.EMAIL_BOUNCED,
     ActivityAction.EMAIL_COMPLAINED}
)  # fmt: skip


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    explanation: str


COLUMNS = (
    Column("sends", "Sends", "emails, SMS and LinkedIn messages sent and calls made in the last 7 days"),
    Column("replies", "Replies", "email, SMS and LinkedIn replies received in the last 7 days"),
    Column("meetings", "Meetings booked", "meetings booked in the last 7 days and not cancelled since"),
    Column(
        "bounce_rate", "Bounce rate", "email bounces ÷ emails sent, both in the last 7 days (soft bounces left out)"
    ),
    Column("complaint_rate", "Complaint rate", "emails marked as spam ÷ emails sent, both in the last 7 days"),
    Column("open_tasks", "Open tasks", "LinkedIn messages, calls and follow-ups a person still has to do, now"),
    Column(
        "replies_waiting",
        "Replies waiting",
        "replies in the inbox's Waiting tab now: the lead is still “Replied” and nobody has decided about the reply",
    ),
)


@dataclass(frozen=True)
class Figure:
    key: str
    text: str
    url: str = ""
    title: str = ""


@dataclass(frozen=True)
class ClientRow:
    pk: int
    name: str
    is_demo: bool
    url: str
    figures: tuple[Figure, ...]


@dataclass(frozen=True)
class PausedMailbox:
    address: str
    client: str
    reason: str
    since: datetime
    url: str


@dataclass(frozen=True)
class AgencyHome:
    since: datetime
    now: datetime
    time_zone: str
    columns: tuple[Column, ...]
    rows: tuple[ClientRow, ...]
    can_add_client: bool
    paused_mailboxes: tuple[PausedMailbox, ...] = ()


def agency_home(request: HttpRequest, site: AdminSite, *, now: datetime | None = None) -> AgencyHome:
    """The request user's clients with their figures, and their paused mailboxes: five queries whatever the number
    of clients."""
    now = (now or timezone.now()).replace(microsecond=0)
    since = now - timedelta(days=DAYS)
    clients = list(visible_clients(request).order_by("name", "pk").values_list("pk", "name", "is_demo"))
    activity = _by_client(
        scope_to_clients(Activity.objects.filter(created_at__gte=since, action__in=COUNTED_ACTIONS), request),
        {name: Count("pk", filter=condition) for name, condition in ACTIVITY_MEASURES.items()},
    )
    tasks = _by_client(
        scope_to_clients(ManualTask.objects.filter(status=TaskStatus.OPEN), request), {"open_tasks": Count("pk")}
    )
    # The inbox's own rule (a reply whose lead is still replied and that nobody decided about), so both agree.
    waiting = _by_client(
        scope_to_clients(inbox.replies(show=inbox.Show.WAITING), request), {"replies_waiting": Count("pk")}
    )
    links = _Links(request, site, since)
    rows = tuple(
        ClientRow(
            pk=pk,
            name=name,
            is_demo=is_demo,
            url=links.client(pk),
            figures=_figures(pk, {**activity.get(pk, {}), **tasks.get(pk, {}), **waiting.get(pk, {})}, links),
        )
        for pk, name, is_demo in clients
    )
    return AgencyHome(
        since=since,
        now=now,
        time_zone=timezone.get_current_timezone_name(),
        columns=COLUMNS,
        rows=rows,
        can_add_client=site.get_model_admin(Client).has_add_permission(request),
        paused_mailboxes=_paused_mailboxes(request, site),
    )


def _paused_mailboxes(request: HttpRequest, site: AdminSite) -> tuple[PausedMailbox, ...]:
    """The user's clients' paused mailboxes, the longest paused first: a paused mailbox holds its enrollments'
    emails until a person resumes it."""
    paused = scope_to_clients(Mailbox.objects.filter(state=MailboxState.PAUSED), request).select_related("client")
    viewable = site.get_model_admin(Mailbox).has_view_permission(request)
    return tuple(
        PausedMailbox(
            address=mailbox.address,
            client=mailbox.client.name,
            reason=mailbox.get_state_reason_display(),
            since=mailbox.state_changed_at,
            url=reverse("admin:outreach_mailbox_change", args=[mailbox.pk]) if viewable else "",
        )
        for mailbox in paused.order_by("state_changed_at", "pk")
    )


def _by_client(queryset: QuerySet[Any], aggregates: Mapping[str, Any]) -> dict[int, dict[str, int]]:
    """One grouped aggregate: {client id: {name: value}}."""
    rows = queryset.order_by().values("client_id").annotate(**aggregates)
    return {row.pop("client_id"): row for row in rows}


class _Links:
    """The change lists the figures link to, filtered to one client; none where the user may not view the list."""

    def __init__(self, request: HttpRequest, site: AdminSite, since: datetime) -> None:
        self.since = since.isoformat()
        self.viewable: dict[type[Model], bool] = {
            model: site.get_model_admin(model).has_view_permission(request)
            for model in (Client, Activity, ManualTask, Lead)
        }

    def client(self, pk: int) -> str:
        return reverse("admin:outreach_client_change", args=[pk]) if self.viewable[Client] else ""

    def activities(self, pk: int, actions: Iterable[str]) -> str:
        actions = list(actions)
        action = {"action__exact": actions[0]} if len(actions) == 1 else {"action__in": ",".join(actions)}
        return self._changelist(Activity, {"client__id__exact": pk, **action, "created_at__gte": self.since})

    def open_tasks(self, pk: int) -> str:
        return self._changelist(ManualTask, {"client__id__exact": pk, "status": TaskStatus.OPEN.value})

    def replies_waiting(self, pk: int) -> str:
        if not self.viewable[Activity]:
            return ""
        return f"{reverse('admin:outreach_inbox')}?{urlencode({'show': inbox.Show.WAITING.value, 'client': pk})}"

    def _changelist(self, model: type[Model], query: dict[str, Any]) -> str:
        if not self.viewable[model]:
            return ""
        return f"{reverse(f'admin:outreach_{model._meta.model_name}_changelist')}?{urlencode(query)}"


def _rate(part: int, whole: int, what: str) -> tuple[str, str]:
    """A rate as a percentage with one decimal, and its counts for the tooltip; "—" when no email was sent."""
    if not whole:
        return "—", f"no email sent in the last {DAYS} days ({part} {what})"
    return f"{100 * part / whole:.1f}%", f"{part} {what} of {whole} emails sent"


def _figures(pk: int, counts: Mapping[str, int], links: _Links) -> tuple[Figure, ...]:
    def count(name: str) -> int:
        return counts.get(name, 0)

    bounce_rate, bounce_title = _rate(count("bounces"), count("emails_sent"), "bounced")
    complaint_rate, complaint_title = _rate(count("complaints"), count("emails_sent"), "marked as spam")
    return (
        Figure("sends", str(count("sends")), links.activities(pk, SENT_ACTIONS)),
        Figure("replies", str(count("replies")), links.activities(pk, REPLY_ACTIONS)),
        Figure(
            "meetings",
            str(count("meetings")),
            links.activities(pk, [ActivityAction.MEETING_BOOKED]),
            "the list also shows bookings cancelled since, which are not counted",
        ),
        Figure("bounce_rate", bounce_rate, links.activities(pk, [ActivityAction.EMAIL_BOUNCED]), bounce_title),
        Figure(
            "complaint_rate", complaint_rate, links.activities(pk, [ActivityAction.EMAIL_COMPLAINED]), complaint_title
        ),
        Figure("open_tasks", str(count("open_tasks")), links.open_tasks(pk)),
        Figure("replies_waiting", str(count("replies_waiting")), links.replies_waiting(pk)),
    )


def install(site: AdminSite) -> None:
    """Make `site`'s index the agency home (Django's index, given the `agency_home` context it shows first)."""
    stock_index: Callable[..., Any] = site.index

    @wraps(stock_index)
    def index(request: HttpRequest, extra_context: dict[str, Any] | None = None) -> Any:
        return stock_index(request, extra_context={"agency_home": agency_home(request, site), **(extra_context or {})})

    site.index = index  # type: ignore[method-assign]


@require_safe
@cache_control(max_age=86400, public=True)
def favicon(request: HttpRequest) -> HttpResponse:
    """The site's icon (an SVG), at /favicon.ico where browsers ask for it."""
    return HttpResponse(FAVICON.read_bytes(), content_type="image/svg+xml")
