from io import StringIO

import pytest
from django.core.management import CommandError, call_command

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
