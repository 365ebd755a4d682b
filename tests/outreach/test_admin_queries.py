"""No N+1: every changelist and detail page runs the same number of queries with 3 rows as with 30."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models import Model
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from engines.rules.content import build_content_snapshot
from engines.services.scoring.lead_score import score_lead
from tests.factories import (
    ActivityFactory,
    ClientFactory,
    ConversionPatternFactory,
    LeadFactory,
    MessageTemplateFactory,
    ScheduledTouchFactory,
    how_patterns,
    what_patterns,
    when_patterns,
)

pytestmark = pytest.mark.django_db


def _queries(http, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = http.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


def _same_with_3_and_30(http, url: Callable[[], str], add: Callable[[int], None]) -> None:
    add(3)
    http.get(url())  # warm caches (content types, sessions) so both counts are steady-state
    with_3 = _queries(http, url())
    add(27)
    with_30 = _queries(http, url())
    assert with_30 == with_3, f"{url()}: {with_3} queries with 3 rows, {with_30} with 30"


def _sent_activity(lead, **kwargs):
    snapshot = build_content_snapshot(
        "Hi, open to a quick chat about leads?", lead, subject="Hello", client=lead.client
    )
    return ActivityFactory(lead=lead, content_snapshot=snapshot, **kwargs)


ROWS: dict[str, Callable[[], Model]] = {
    "client": ClientFactory.create,
    "lead": lambda: ScheduledTouchFactory.create(lead=LeadFactory(als_score=60)).lead,
    "activity": lambda: _sent_activity(LeadFactory()),
    "conversionpattern": ConversionPatternFactory.create,
    "scheduledtouch": ScheduledTouchFactory.create,
    "messagetemplate": MessageTemplateFactory.create,
}


@pytest.mark.parametrize("model", ROWS)
@pytest.mark.parametrize("as_staff", [False, True], ids=["superuser", "staff"])
def test_changelists_run_a_constant_number_of_queries(admin_client, client, django_user_model, model, as_staff):
    http = admin_client
    user = None
    if as_staff:
        from django.contrib.auth.models import Permission

        from outreach.models import ClientMembership

        user = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
        user.user_permissions.set(Permission.objects.filter(content_type__app_label="outreach"))
        client.force_login(user)
        http = client

    def add(n: int) -> None:
        for _ in range(n):
            row = ROWS[model]()
            if user is not None:
                client_id = getattr(row, "client_id", row.pk)  # a client is its own
                ClientMembership.objects.get_or_create(user=user, client_id=client_id)

    _same_with_3_and_30(http, lambda: reverse(f"admin:outreach_{model}_changelist"), add)


def test_lead_detail_with_its_sequence_and_activities(admin_client):
    lead = LeadFactory()
    ConversionPatternFactory(client=lead.client, computed_at=timezone.now() - timedelta(hours=1))
    score_lead(lead)

    def add(n: int) -> None:
        for _ in range(n):
            touch = ScheduledTouchFactory(lead=lead, touch_number=lead.scheduled_touches.count() + 1)
            _sent_activity(lead, touch_number=touch.touch_number)

    _same_with_3_and_30(admin_client, lambda: reverse("admin:outreach_lead_change", args=[lead.pk]), add)


def test_activity_detail(admin_client):
    lead = LeadFactory()
    template = MessageTemplateFactory(client=lead.client)
    activity = _sent_activity(lead, metadata={"template_id": str(template.pk)})
    url = reverse("admin:outreach_activity_change", args=[activity.pk])

    def add(n: int) -> None:
        for _ in range(n):
            _sent_activity(lead, in_reply_to=activity)

    _same_with_3_and_30(admin_client, lambda: url, add)


@pytest.mark.parametrize("pattern_type", ["who", "when", "how", "what"])
def test_pattern_detail_whatever_the_history(admin_client, pattern_type):
    data = {"who": None, "when": when_patterns, "how": how_patterns, "what": what_patterns}[pattern_type]
    pattern = ConversionPatternFactory(pattern_type=pattern_type, **({"patterns": data()} if data else {}))

    def add(n: int) -> None:
        for i in range(n):
            ConversionPatternFactory(
                client=pattern.client,
                pattern_type=pattern_type,
                computed_at=timezone.now() - timedelta(days=i + 1),
                **({"patterns": data()} if data else {}),
            )

    _same_with_3_and_30(
        admin_client, lambda: reverse("admin:outreach_conversionpattern_change", args=[pattern.pk]), add
    )


def test_client_detail_with_patterns_and_a_busy_month(admin_client):
    agency_client = ClientFactory()

    def add(n: int) -> None:
        for i in range(n):
            ConversionPatternFactory(client=agency_client, computed_at=timezone.now() - timedelta(days=i + 1))
            lead = LeadFactory(client=agency_client)
            sent = _sent_activity(lead, created_at=timezone.now() - timedelta(days=i % 28))
            ScheduledTouchFactory(
                lead=lead, status="sent", activity=sent, planned_sequence=f"email>sms{'>email' * (i % 3)}"
            )
            ActivityFactory(lead=lead, action="email_replied", created_at=timezone.now() - timedelta(days=i % 20))

    _same_with_3_and_30(admin_client, lambda: reverse("admin:outreach_client_change", args=[agency_client.pk]), add)
