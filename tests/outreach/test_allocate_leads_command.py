from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from engines.services.planning import allocator
from outreach.models import LeadStatus, ScheduledTouch
from tests.factories import ClientFactory, LeadFactory


def run(*args, stderr=None):
    out = StringIO()
    call_command("allocate_leads", *args, stdout=out, stderr=stderr or StringIO())
    return out.getvalue()


@pytest.mark.django_db
def test_plans_unplanned_leads_and_reports_counts():
    client = ClientFactory()
    planned = [LeadFactory(client=client) for _ in range(3)]
    LeadFactory(client=client, do_not_contact=True)
    replied = LeadFactory(client=client, status=LeadStatus.REPLIED)

    output = run("--all")

    assert "3 leads planned (18 touches), 1 could not be contacted, 0 earlier planned touches cancelled" in output
    for lead in planned:
        assert ScheduledTouch.objects.filter(lead=lead, status="planned").count() == 6
    assert not ScheduledTouch.objects.filter(lead=replied).exists()


@pytest.mark.django_db
def test_second_run_leaves_planned_leads_alone_unless_replan():
    lead = LeadFactory()
    run("--all")
    first = set(ScheduledTouch.objects.filter(lead=lead).values_list("pk", flat=True))

    assert "0 leads planned" in run("--all")
    assert set(ScheduledTouch.objects.filter(lead=lead).values_list("pk", flat=True)) == first

    output = run("--all", "--replan")
    assert "1 leads planned (6 touches), 0 could not be contacted, 6 earlier planned touches cancelled" in output
    assert set(ScheduledTouch.objects.filter(pk__in=first).values_list("status", flat=True)) == {"cancelled"}
    assert set(ScheduledTouch.objects.filter(pk__in=first).values_list("reason", flat=True)) == {"replanned"}
    assert ScheduledTouch.objects.filter(lead=lead, status="planned").count() == 6


@pytest.mark.django_db
def test_client_option_limits_the_run_to_that_client():
    mine, theirs = LeadFactory(), LeadFactory()
    run("--client", str(mine.client_id))
    assert ScheduledTouch.objects.filter(lead=mine).count() == 6
    assert not ScheduledTouch.objects.filter(lead=theirs).exists()


@pytest.mark.django_db
def test_replan_of_one_client_leaves_the_others_plans_alone():
    mine, theirs = LeadFactory(), LeadFactory()
    run("--all")
    theirs_before = set(ScheduledTouch.objects.filter(lead=theirs).values_list("pk", "status"))
    run("--client", str(mine.client_id), "--replan")
    assert set(ScheduledTouch.objects.filter(lead=theirs).values_list("pk", "status")) == theirs_before
    assert ScheduledTouch.objects.filter(lead=mine, status="cancelled").count() == 6


@pytest.mark.django_db
def test_unknown_client_is_an_error():
    with pytest.raises(CommandError, match="no client with id 999999"):
        run("--client", "999999")


@pytest.mark.django_db
@pytest.mark.parametrize("args", [(), ("--replan",), ("--all", "--client", "1")])
def test_which_clients_must_be_said_once(args):
    with pytest.raises(CommandError):
        run(*args)


@pytest.mark.django_db
def test_one_clients_failure_is_reported_and_the_others_are_planned(monkeypatch):
    broken, fine, also_fine = LeadFactory(), LeadFactory(), LeadFactory()
    real_plan = allocator.Planner.plan

    def plan(self, lead, sequence_override=None, **options):
        # Fault injection: this client's data breaks planning in a way no rule foresaw.
        if self.client.pk == broken.client_id:
            raise KeyError("corrupt row")
        return real_plan(self, lead, sequence_override, **options)

    monkeypatch.setattr(allocator.Planner, "plan", plan)
    err = StringIO()

    with pytest.raises(CommandError, match="allocation failed for 1 of 3 clients"):
        run("--all", stderr=err)

    assert f"client {broken.client} (id {broken.client_id}) skipped: KeyError: 'corrupt row'" in err.getvalue()
    assert not ScheduledTouch.objects.filter(lead=broken).exists()
    for lead in (fine, also_fine):
        assert ScheduledTouch.objects.filter(lead=lead, status="planned").count() == 6
