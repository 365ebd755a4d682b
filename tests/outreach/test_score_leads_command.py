from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command

from engines.services.scoring import lead_score
from outreach.models import Lead
from tests.factories import ClientFactory, LeadFactory

pytestmark = pytest.mark.django_db


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("score_leads", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_scores_one_clients_leads():
    client, other = ClientFactory(), ClientFactory()
    LeadFactory.create_batch(3, client=client)
    LeadFactory(client=other)
    out, err = run("--client", str(client.pk))
    assert f"Scored 3 leads of client {client} (id {client.pk})." in out
    assert "3/3" in err and "100%" in err
    assert not client.leads.filter(als_score__isnull=True).exists()
    assert other.leads.get().als_score is None


def test_scores_every_lead():
    LeadFactory.create_batch(2)
    LeadFactory.create_batch(2, client=ClientFactory())
    out, _ = run("--all")
    assert "Scored 4 leads of all clients." in out
    assert not Lead.objects.filter(als_score__isnull=True).exists()
    assert set(Lead.objects.values_list("als_weights_source", flat=True)) == {"default"}


def test_quiet_run_draws_no_bar():
    LeadFactory()
    _, err = run("--all", "--verbosity", "0")
    assert err == ""


def test_unknown_client_is_an_error():
    with pytest.raises(CommandError, match="No client with id 999999"):
        run("--client", "999999")


@pytest.mark.parametrize("args", [(), ("--all", "--client", "1")])
def test_which_leads_must_be_said_once(args):
    with pytest.raises(CommandError, match="--client|--all"):
        run(*args)


def failing_for(bad_client):
    """score_leads as it is, except that it fails on `bad_client`'s leads as unreadable data would."""

    def score(leads, **kwargs):
        if leads.filter(client=bad_client).exists():
            raise OverflowError("int too large to convert to float")
        return lead_score.score_leads(leads, **kwargs)

    return mock.patch("outreach.management.commands.score_leads.score_leads", side_effect=score)


def test_one_clients_bad_data_is_reported_and_skipped_and_the_others_are_scored():
    first, bad, last = ClientFactory(), ClientFactory(name="Broken Co"), ClientFactory()
    for client in (first, bad, last):
        LeadFactory.create_batch(2, client=client)
    out, err = StringIO(), StringIO()
    with failing_for(bad), pytest.raises(CommandError, match=rf"1 client\(s\) skipped: Broken Co \(id {bad.pk}\)"):
        call_command("score_leads", "--all", stdout=out, stderr=err, verbosity=0)
    assert "Scored 4 leads of all clients." in out.getvalue()
    assert (
        err.getvalue() == f"Skipped client Broken Co (id {bad.pk}): OverflowError: int too large to convert to float\n"
    )
    assert not Lead.objects.filter(client__in=[first, last], als_score__isnull=True).exists()
    assert not bad.leads.filter(als_score__isnull=False).exists()


def test_a_skipped_clients_traceback_is_shown_at_verbosity_2():
    bad = ClientFactory()
    LeadFactory(client=bad)
    err = StringIO()
    with failing_for(bad), pytest.raises(CommandError):
        call_command("score_leads", "--client", str(bad.pk), stdout=StringIO(), stderr=err, verbosity=2)
    assert "Traceback (most recent call last)" in err.getvalue()
