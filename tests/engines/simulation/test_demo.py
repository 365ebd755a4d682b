from datetime import UTC, datetime

import pytest
from django.core.management import call_command

from engines.simulation.demo import SAMPLE_LEADS, SAMPLE_TEMPLATES, run_demo, sample_leads, seed_sample_agency
from outreach.models import Client, ScheduledTouch

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


def test_seeding_twice_gives_one_sample_agency():
    seed_sample_agency()
    client = seed_sample_agency()
    assert Client.objects.count() == 1
    assert sample_leads(client).count() == len(SAMPLE_LEADS)
    assert client.message_templates.filter(active=True).count() == len(SAMPLE_TEMPLATES)


def test_the_demo_learns_then_scores_and_plans_the_new_leads_with_what_it_learned():
    run = run_demo(history_leads=2000, seed=16, now=NOW)

    assert run.learned["who"].saved, run.learned["who"].reason
    learned_weights = run.learned["who"].pattern.patterns["recommended_weights"]
    assert max(learned_weights, key=learned_weights.get) == "company_fit"
    assert len(run.leads) == len(SAMPLE_LEADS)
    assert all(lead.als_weights_source == "pattern" and lead.als_weights_used == learned_weights for lead in run.leads)

    do_not_contact = [lead for lead in run.leads if lead.do_not_contact]
    assert [run.blocked[lead.pk] for lead in do_not_contact] == ["do_not_contact"]
    assert not ScheduledTouch.objects.filter(lead__in=do_not_contact).exists()
    planned = [lead for lead in run.leads if not lead.do_not_contact]
    assert set(run.plans) == {lead.pk for lead in planned}
    assert all(run.plans[lead.pk]["patterns_used"] == {"when": True, "how": True} for lead in planned)
    no_linkedin = next(lead for lead in planned if not lead.linkedin_url)
    assert "linkedin" not in [t["channel"] for t in run.plans[no_linkedin.pk]["scheduled_touches"]]


def test_running_the_demo_again_rebuilds_the_sample_agency(capsys):
    run_demo(history_leads=60, seed=1, now=NOW)
    run = run_demo(history_leads=60, seed=1, now=NOW)
    assert Client.objects.count() == 1
    assert run.client.leads.count() == 60 + len(SAMPLE_LEADS)


def test_the_demo_command_prints_the_learned_patterns_scores_and_plans(capsys):
    call_command("demo", "--history-leads", "2000", verbosity=0)
    out = capsys.readouterr().out
    assert "What Outreach learned" in out and "company_fit" in out
    assert "Ava Jones (Northside Dental): not contacted (do_not_contact)" in out
    assert "Olivia Chen (Bondi Smiles): 1 " in out
