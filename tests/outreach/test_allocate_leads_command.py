from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from outreach.models import LeadStatus, ScheduledTouch
from tests.factories import ClientFactory, LeadFactory


def run(*args):
    out = StringIO()
    call_command("allocate_leads", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_plans_unplanned_leads_and_reports_counts():
    client = ClientFactory()
    planned = [LeadFactory(client=client) for _ in range(3)]
    LeadFactory(client=client, do_not_contact=True)
    replied = LeadFactory(client=client, status=LeadStatus.REPLIED)

    output = run()

    assert "3 leads planned (18 touches), 1 could not be contacted, 0 earlier planned touches cancelled" in output
    for lead in planned:
        assert ScheduledTouch.objects.filter(lead=lead, status="planned").count() == 6
    assert not ScheduledTouch.objects.filter(lead=replied).exists()


@pytest.mark.django_db
def test_second_run_leaves_planned_leads_alone_unless_all():
    lead = LeadFactory()
    run()
    first = set(ScheduledTouch.objects.filter(lead=lead).values_list("pk", flat=True))

    assert "0 leads planned" in run()
    assert set(ScheduledTouch.objects.filter(lead=lead).values_list("pk", flat=True)) == first

    assert "1 leads planned (6 touches), 0 could not be contacted, 6 earlier planned touches cancelled" in run("--all")
    assert set(ScheduledTouch.objects.filter(pk__in=first).values_list("status", flat=True)) == {"cancelled"}
    assert ScheduledTouch.objects.filter(lead=lead, status="planned").count() == 6


@pytest.mark.django_db
def test_client_option_limits_the_run_to_that_client():
    mine, theirs = LeadFactory(), LeadFactory()
    run("--client", str(mine.client_id))
    assert ScheduledTouch.objects.filter(lead=mine).count() == 6
    assert not ScheduledTouch.objects.filter(lead=theirs).exists()


@pytest.mark.django_db
def test_unknown_client_is_an_error():
    with pytest.raises(CommandError, match="no client with id 999999"):
        run("--client", "999999")
