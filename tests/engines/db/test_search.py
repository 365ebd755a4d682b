"""The admin's searches: the same matches through PostgreSQL's index expressions and SQLite's substring scan."""

import pytest
from django.db import connection
from django.db.models import Q

from engines.db.search import BodyMatches, LeadSearchText, body_matches, leads_matching
from outreach.models import Activity, Lead
from tests.factories import ActivityFactory, ClientFactory, LeadFactory

pytestmark = pytest.mark.django_db


def test_a_lead_matches_when_every_word_is_in_its_name_email_or_company_in_any_case():
    client = ClientFactory()
    ada = LeadFactory(client=client, first_name="Ada", last_name="Lovelace", email="ada@engines.example.com",
                      company_name="Analytical Works")  # fmt: skip
    LeadFactory(client=client, first_name="Charles", last_name="Babbage", email="cb@example.com",
                company_name="Difference Engines")  # fmt: skip
    leads = Lead.objects.filter(client=client)

    assert list(leads_matching(leads, ["ada", "WORKS"])) == [ada]
    assert list(leads_matching(leads, ["lovelace", "analytical"])) == [ada]  # words from different fields
    assert sorted(lead.last_name for lead in leads_matching(leads, ["engines"])) == ["Babbage", "Lovelace"]
    assert list(leads_matching(leads, ["ada", "babbage"])) == []
    assert leads_matching(leads, []).count() == 2


def test_the_lead_search_repeats_the_trigram_index_expression_on_postgresql():
    sql = str(leads_matching(Lead.objects.all(), ["x"]).query)
    if connection.vendor == "postgresql":
        expression = " || ' ' || ".join(f'"outreach_lead"."{name}"' for name in ("first_name", "last_name", "email"))
        assert f'UPPER({expression} || \' \' || "outreach_lead"."company_name")' in sql
        assert isinstance(leads_matching(Lead.objects.all(), ["x"]).query.annotations["search_text"], LeadSearchText)
    else:
        assert "UPPER(" not in sql and "LIKE" in sql


def test_an_activity_matches_when_its_body_holds_every_word():
    both = ActivityFactory(content_snapshot={"body": "Would a short call about invoices help?"})
    one = ActivityFactory(content_snapshot={"body": "A short note"}, lead=both.lead)
    ActivityFactory(content_snapshot={}, lead=both.lead)  # no body at all

    activities = Activity.objects.filter(lead=both.lead)
    assert list(activities.filter(body_matches(["short", "invoices"]))) == [both]
    assert sorted(a.pk for a in activities.filter(body_matches(["short"]))) == sorted([both.pk, one.pk])
    assert list(activities.filter(body_matches(["nothing"]))) == []


def test_a_body_match_works_inside_a_subquery():
    wanted = ActivityFactory(content_snapshot={"body": "Pricing for dental clinics"})
    ActivityFactory(content_snapshot={"body": "Other things"}, lead=wanted.lead)
    matching = Activity.objects.filter(body_matches(["dental"])).values("pk")
    assert list(Activity.objects.filter(Q(pk__in=matching)).values_list("pk", flat=True)) == [wanted.pk]


def test_the_body_search_is_full_text_on_postgresql_and_a_substring_elsewhere():
    condition = body_matches(["a", "b"])
    if connection.vendor == "postgresql":
        assert isinstance(condition.children[0], BodyMatches)
        sql = str(Activity.objects.filter(condition).query)
        assert "to_tsvector('english', COALESCE((" in sql and "plainto_tsquery('english', a b)" in sql
    else:
        assert condition.children == [
            ("content_snapshot__body__icontains", "a"),
            ("content_snapshot__body__icontains", "b"),
        ]
