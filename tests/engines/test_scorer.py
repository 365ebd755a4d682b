import logging
import random
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from engines.services.scoring import lead_score
from engines.services.scoring.lead_score import (
    COMPONENT_MAX,
    DEFAULT_WEIGHTS,
    als_tier,
    authority_points,
    explain_score,
    score_lead,
    score_leads,
    validate_weights,
)
from outreach.models import Lead
from tests.factories import ClientFactory, ConversionPatternFactory, LeadFactory, who_patterns

pytestmark = pytest.mark.django_db

LEARNED = {"data_quality": 0.10, "authority": 0.15, "company_fit": 0.40, "timing": 0.20}
CLIENT_WEIGHTS = {"data_quality": 0.15, "authority": 0.30, "company_fit": 0.20, "timing": 0.20}


def bare_lead(client, **fields):
    """A lead with no data at all, then `fields`."""
    blank = dict(
        email="",
        email_verified=False,
        phone="",
        phone_verified=False,
        linkedin_url="",
        is_personal_email=False,
        title="",
        industry="",
        employee_count=None,
        country="",
        timezone="",
    )
    return LeadFactory(client=client, **{**blank, **fields})


def expected_score(components, weights):
    raw = sum(components[k] / COMPONENT_MAX[k] * weights[k] * 100 for k in weights) - components["risk"]
    return int(min(max(round(raw, 9), 0), 100))


class TestSpecScorerTests:
    def test_uses_learned_weights(self):
        client = ClientFactory()
        ConversionPatternFactory(client=client, patterns=who_patterns(recommended_weights=LEARNED))
        lead = LeadFactory(client=client)
        score = score_lead(lead, client)
        assert lead.als_weights_used["company_fit"] == 0.40
        assert lead.als_weights_source == "pattern"
        assert score == expected_score(lead.als_components, LEARNED)

    def test_falls_back_to_defaults(self):
        client = ClientFactory()
        lead = LeadFactory(client=client)
        score_lead(lead, client)
        assert lead.als_weights_used == DEFAULT_WEIGHTS
        assert lead.als_weights_source == "default"


class TestStoredScore:
    def test_components_score_and_timestamp_are_saved(self):
        client = ClientFactory()
        lead = LeadFactory(client=client, phone_verified=False, title="Practice Manager", is_hiring=True)
        before = timezone.now()
        score = score_lead(lead)
        lead.refresh_from_db()
        # email verified 8 + unverified phone 3 + LinkedIn 4; manager; Dental + 20 staff + Australia; hiring.
        components = {"data_quality": 15, "authority": 7, "company_fit": 25, "timing": 5, "risk": 0}
        assert {k: v for k, v in lead.als_components.items() if k != "scored_at"} == components
        assert lead.als_score == score == expected_score(components, DEFAULT_WEIGHTS) == 52
        assert lead.als_weights_used == DEFAULT_WEIGHTS and lead.als_weights_source == "default"
        assert before <= lead.scored_at <= timezone.now()
        assert lead.als_components["scored_at"] == lead.scored_at.isoformat()

    def test_only_the_score_fields_are_written(self):
        lead = LeadFactory()
        Lead.objects.filter(pk=lead.pk).update(first_name="Changed elsewhere")
        with CaptureQueriesContext(connection) as queries:
            score_lead(lead)
        updates = [q["sql"] for q in queries if q["sql"].startswith("UPDATE")]
        assert len(updates) == 1
        lead.refresh_from_db()
        assert lead.first_name == "Changed elsewhere"
        assert lead.als_score is not None

    @pytest.mark.parametrize("with_client", [True, False])
    def test_query_budget(self, django_assert_max_num_queries, with_client):
        client = ClientFactory()
        ConversionPatternFactory(client=client)
        lead = Lead.objects.get(pk=LeadFactory(client=client).pk)
        with django_assert_max_num_queries(3):
            score_lead(lead, client if with_client else None)
        assert lead.als_weights_source == "pattern"

    def test_another_clients_lead_is_refused(self):
        with pytest.raises(ValueError, match="belongs to client"):
            score_lead(LeadFactory(), ClientFactory())

    def test_a_whole_score_is_not_truncated_by_float_error(self):
        # 5/25*0.25*100 + 11/15*0.15*100 is 16, but sums to 15.999999999999998 in floating point.
        lead = bare_lead(ClientFactory(), is_new_role=True, is_hiring=True)
        assert score_lead(lead) == 16

    def test_score_is_clamped_to_0_and_100(self):
        client = ClientFactory()
        assert score_lead(bare_lead(client, do_not_contact=True)) == 0
        top = LeadFactory(
            client=client,
            phone_verified=True,
            is_personal_email=True,
            title="Founder",
            is_new_role=True,
            is_hiring=True,
            recently_funded=True,
        )
        ConversionPatternFactory(
            client=client,
            patterns=who_patterns(
                recommended_weights={"data_quality": 0.2, "authority": 0.2, "company_fit": 0.25, "timing": 0.25}
            ),
        )
        assert score_lead(top) == 90  # the weights sum to 0.90
        assert set(top.als_components.values()) - {top.als_components["scored_at"]} == {20, 25, 15, 0}


class TestComponents:
    def test_missing_and_none_fields_score_as_absent(self):
        client = ClientFactory()
        lead = bare_lead(client)
        for name in ("email", "phone", "linkedin_url", "title", "industry", "country"):
            setattr(lead, name, None)
        lead.employee_count = None
        score_lead(lead, client)
        assert {k: v for k, v in lead.als_components.items() if k != "scored_at"} == {
            "data_quality": 0,
            "authority": 5,
            "company_fit": 0,
            "timing": 0,
            "risk": 0,
        }

    def test_blank_text_is_absent(self):
        lead = bare_lead(ClientFactory(), email="   ", phone=" ")
        score_lead(lead)
        assert lead.als_components["data_quality"] == 0

    @pytest.mark.parametrize(
        "fields, points",
        [
            ({"email_verified": True, "email": "a@b.com"}, 8),
            ({"email": "a@b.com"}, 4),
            ({"phone_verified": True, "phone": "+61412345678"}, 6),
            ({"phone": "+61412345678"}, 3),
            ({"linkedin_url": "https://www.linkedin.com/in/x"}, 4),
            ({"is_personal_email": True}, 2),
            (
                {
                    "email_verified": True,
                    "email": "a@b.com",
                    "phone_verified": True,
                    "phone": "+61412345678",
                    "linkedin_url": "https://www.linkedin.com/in/x",
                    "is_personal_email": True,
                },
                20,
            ),
        ],
    )
    def test_data_quality(self, fields, points):
        lead = bare_lead(ClientFactory(), **fields)
        score_lead(lead)
        assert lead.als_components["data_quality"] == points

    @pytest.mark.parametrize(
        "fields, points",
        [
            ({"is_new_role": True}, 6),
            ({"is_hiring": True}, 5),
            ({"recently_funded": True}, 4),
            ({"is_new_role": True, "is_hiring": True, "recently_funded": True}, 15),
        ],
    )
    def test_timing(self, fields, points):
        lead = bare_lead(ClientFactory(), **fields)
        score_lead(lead)
        assert lead.als_components["timing"] == points

    @pytest.mark.parametrize(
        "fields, points",
        [
            ({"has_bounced": True}, 15),
            ({"is_unsubscribed": True}, 15),
            ({"is_competitor": True}, 10),
            ({"do_not_contact": True}, 15),
            ({"has_bounced": True, "is_competitor": True}, 15),
        ],
    )
    def test_risk_deduction_is_capped(self, fields, points):
        lead = LeadFactory(**fields)
        score_lead(lead)
        assert lead.als_components["risk"] == points
        clean = LeadFactory(client=lead.client)
        assert score_lead(clean) - lead.als_score == points


class TestAuthority:
    @pytest.mark.parametrize(
        "title, points",
        [
            ("Owner", 25),
            ("Business Owner", 25),
            ("Founder", 25),
            ("Co-Founder & CEO", 25),
            ("Cofounder", 25),
            ("co founder", 25),
            ("Managing Partner", 25),
            ("Partners", 25),
            ("CEO", 22),
            ("C.E.O.", 22),
            ("CFO", 22),
            ("CMO", 22),
            ("COO", 22),
            ("CTO", 22),
            ("Chief of Staff", 22),
            ("Chief Revenue Officer", 22),
            ("President", 22),
            ("VP Sales", 18),
            ("V.P. Marketing", 18),
            ("SVP, Operations", 18),
            ("EVP Finance", 18),
            ("AVP", 18),
            ("Vice President", 18),
            ("Vice-President of Sales", 18),
            ("Senior Vice President", 18),
            ("Director of Sales", 15),
            ("Director", 15),
            ("Sr. Director", 15),
            ("Dir. Marketing", 15),
            ("Sr.Dir. Ops", 15),
            ("Managing Director", 22),
            ("Managing Director & Founder", 25),
            ("Head of Growth", 12),
            ("Head Chef", 12),
            ("Department Head", 12),
            ("Senior Manager", 10),
            ("Sr. Manager", 10),
            ("Sr Mgr, Accounts", 10),
            ("Snr Manager", 10),
            ("Manager", 7),
            ("Practice Manager", 7),
            ("Office Mgr", 7),
            ("Partnerships Manager", 7),
            ("Operations Coordinator", 5),
            ("Headquarters liaison", 5),
            ("Directory assistant", 5),
            ("Owner's assistant", 5),
            ("Product Owner", 5),
            ("Senior Product Owner", 5),
            ("Process Owner & Partner", 25),
            ("Receptionist", 5),
            ("Senior Engineer", 5),
            ("Vpn engineer", 5),
            ("Cooper", 5),
            ("Scoop editor", 5),
            ("Doctor", 5),
            ("", 5),
            (None, 5),
        ],
    )
    def test_title(self, title, points):
        assert authority_points(title) == points

    def test_title_case_and_spacing_do_not_matter(self):
        assert authority_points("  director   OF sales ") == authority_points("Director of Sales") == 15
        assert authority_points("VICE   PRESIDENT") == 18


class TestCompanyFit:
    def fit(self, icp, **fields):
        lead = bare_lead(ClientFactory(icp=icp), **fields)
        score_lead(lead)
        return lead.als_components["company_fit"]

    def test_industry_is_case_and_whitespace_insensitive(self):
        icp = {"industries": ["Dental Clinics", "accounting"], "countries": []}
        assert self.fit(icp, industry="  dental   CLINICS ") == 10
        assert self.fit(icp, industry="Accounting") == 10
        assert self.fit(icp, industry="Dental") == 0

    @pytest.mark.parametrize("country", ["Australia", "AU", "au", " australia ", "AUS"])
    def test_country_by_name_or_code(self, country):
        assert self.fit({"countries": ["Australia"]}, country=country) == 7
        assert self.fit({"countries": ["AU"]}, country=country) == 7
        assert self.fit({"countries": ["New Zealand"]}, country=country) == 0

    def test_an_unknown_country_matches_by_its_text(self):
        assert self.fit({"countries": ["Atlantis"]}, country=" atlantis") == 7
        assert self.fit({"countries": ["Atlantis"]}, country="Lemuria") == 0

    @pytest.mark.parametrize("count, points", [(None, 0), (0, 0), (4, 4), (5, 8), (50, 8), (9, 8), (51, 0)])
    def test_size_with_the_default_range(self, count, points):
        assert self.fit({"countries": []}, employee_count=count) == points

    def test_size_near_a_larger_minimum(self):
        icp = {"employee_min": 20, "employee_max": 30, "countries": []}
        assert self.fit(icp, employee_count=25) == 8
        assert self.fit(icp, employee_count=19) == 4
        assert self.fit(icp, employee_count=35) == 4  # the spec's rule: below twice the minimum
        assert self.fit(icp, employee_count=40) == 0

    def test_icp_defaults_apply_to_an_empty_or_broken_icp(self):
        broken = [{"employee_min": None, "employee_max": "many", "countries": None}, {"employee_min": 10**400}]
        for icp in ({}, *broken, []):
            assert self.fit(icp, employee_count=10, country="Australia", industry="Dental") == 15

    def test_full_fit(self):
        assert self.fit({"industries": ["Dental"]}, industry="Dental", employee_count=20, country="AU") == 25


class TestWeightSources:
    INVALID = [
        pytest.param({"data_quality": True, "authority": 0.25, "company_fit": 0.25, "timing": 0.15}, id="boolean"),
        pytest.param({"data_quality": "0.2", "authority": 0.25, "company_fit": 0.25, "timing": 0.15}, id="string"),
        pytest.param({"data_quality": None, "authority": 0.25, "company_fit": 0.25, "timing": 0.15}, id="null"),
        pytest.param({"authority": 0.25, "company_fit": 0.40, "timing": 0.20}, id="missing-key"),
        pytest.param({"data_quality": 0.04, "authority": 0.25, "company_fit": 0.40, "timing": 0.15}, id="too-small"),
        pytest.param({"data_quality": 0.10, "authority": 0.55, "company_fit": 0.10, "timing": 0.10}, id="too-large"),
        pytest.param({"data_quality": 0.30, "authority": 0.30, "company_fit": 0.30, "timing": 0.05}, id="sum-too-high"),
        pytest.param({"data_quality": 0.10, "authority": 0.10, "company_fit": 0.40, "timing": 0.10}, id="sum-too-low"),
        pytest.param([0.2, 0.25, 0.25, 0.15], id="not-an-object"),
    ]

    @pytest.mark.parametrize("weights", INVALID)
    def test_invalid_weights_are_invalid(self, weights):
        assert not validate_weights(weights)

    def test_nan_is_invalid(self):
        assert not validate_weights(
            {"data_quality": float("nan"), "authority": 0.25, "company_fit": 0.25, "timing": 0.15}
        )
        assert validate_weights(DEFAULT_WEIGHTS) and validate_weights(LEARNED)

    @pytest.mark.parametrize("weights", INVALID)
    def test_invalid_pattern_weights_fall_through_to_the_client(self, weights, caplog):
        client = ClientFactory(als_learned_weights=CLIENT_WEIGHTS)
        pattern = ConversionPatternFactory(client=client, patterns=who_patterns(recommended_weights=weights))
        lead = LeadFactory(client=client)
        with caplog.at_level(logging.WARNING, logger="engines"):
            score_lead(lead, client)
        assert (lead.als_weights_used, lead.als_weights_source) == (CLIENT_WEIGHTS, "client")
        assert f"ignoring invalid who pattern {pattern.pk}" in caplog.text

    @pytest.mark.parametrize("weights", INVALID)
    def test_invalid_client_weights_fall_through_to_the_defaults(self, weights, caplog):
        client = ClientFactory(als_learned_weights=weights)
        lead = LeadFactory(client=client)
        with caplog.at_level(logging.WARNING, logger="engines.services.scoring.lead_score"):
            score_lead(lead, client)
        assert (lead.als_weights_used, lead.als_weights_source) == (DEFAULT_WEIGHTS, "default")
        assert f"ignoring invalid learned weights of client {client.pk}" in caplog.text

    def test_nan_client_weights_fall_through_to_the_defaults(self, caplog):
        # NaN cannot be stored in a JSON column, but a client object can still carry it.
        client = ClientFactory()
        client.als_learned_weights = {
            "data_quality": float("nan"),
            "authority": 0.25,
            "company_fit": 0.25,
            "timing": 0.15,
        }
        lead = LeadFactory(client=client)
        with caplog.at_level(logging.WARNING, logger="engines.services.scoring.lead_score"):
            score_lead(lead, client)
        assert lead.als_weights_source == "default"
        assert "must be a number, got nan" in caplog.text

    def test_invalid_pattern_and_client_weights_fall_through_to_the_defaults(self, caplog):
        client = ClientFactory(als_learned_weights={"data_quality": 0.9})
        ConversionPatternFactory(client=client, patterns=who_patterns(recommended_weights={"timing": "high"}))
        lead = LeadFactory(client=client)
        with caplog.at_level(logging.WARNING, logger="engines"):
            score_lead(lead, client)
        assert (lead.als_weights_used, lead.als_weights_source) == (DEFAULT_WEIGHTS, "default")
        assert caplog.text.count("ignoring invalid") == 2

    def test_a_pattern_with_only_recommended_weights_is_used(self):
        client = ClientFactory(als_learned_weights=CLIENT_WEIGHTS)
        ConversionPatternFactory(client=client, patterns={"recommended_weights": LEARNED})  # all the scorer reads
        lead = LeadFactory(client=client)
        score_lead(lead, client)
        assert (lead.als_weights_used, lead.als_weights_source) == (LEARNED, "pattern")

    def test_valid_pattern_wins_over_client_weights(self):
        client = ClientFactory(als_learned_weights=CLIENT_WEIGHTS)
        ConversionPatternFactory(client=client, patterns=who_patterns(recommended_weights=LEARNED))
        lead = LeadFactory(client=client)
        score_lead(lead, client)
        assert (lead.als_weights_used, lead.als_weights_source) == (LEARNED, "pattern")

    def test_valid_client_weights_without_a_pattern(self):
        client = ClientFactory(als_learned_weights={**CLIENT_WEIGHTS, "note": "extra keys are not stored"})
        lead = LeadFactory(client=client)
        score_lead(lead, client)
        assert (lead.als_weights_used, lead.als_weights_source) == (CLIENT_WEIGHTS, "client")

    def test_expired_pattern_is_ignored(self):
        now = timezone.now()
        client = ClientFactory()
        ConversionPatternFactory(
            client=client, computed_at=now - timedelta(days=10), valid_until=now - timedelta(days=1)
        )
        lead = LeadFactory(client=client)
        score_lead(lead, client, now=now)
        assert lead.als_weights_source == "default"
        score_lead(lead, client, now=now - timedelta(days=2))
        assert lead.als_weights_source == "pattern"

    def test_newest_valid_pattern_wins(self):
        now = timezone.now()
        client = ClientFactory()
        older = {"data_quality": 0.20, "authority": 0.20, "company_fit": 0.20, "timing": 0.25}
        ConversionPatternFactory(
            client=client, computed_at=now - timedelta(days=3), patterns=who_patterns(recommended_weights=older)
        )
        ConversionPatternFactory(
            client=client, computed_at=now - timedelta(days=1), patterns=who_patterns(recommended_weights=LEARNED)
        )
        ConversionPatternFactory(  # newer but expired
            client=client,
            computed_at=now - timedelta(hours=5),
            valid_until=now - timedelta(hours=1),
            patterns=who_patterns(recommended_weights=CLIENT_WEIGHTS),
        )
        lead = LeadFactory(client=client)
        score_lead(lead, client, now=now)
        assert lead.als_weights_used == LEARNED


@pytest.mark.parametrize(
    "score, tier", [(None, "cool"), (0, "cool"), (49, "cool"), (50, "warm"), (79, "warm"), (80, "hot"), (100, "hot")]
)
def test_tiers(score, tier):
    assert als_tier(score) == tier


TITLES = [
    "Owner",
    "Co-Founder",
    "CEO",
    "Sr. Director",
    "Director of Sales",
    "SVP Sales",
    "Head of Ops",
    "Senior Manager",
    "Practice Manager",
    "Operations Coordinator",
    "Headquarters liaison",
    "",
    "Receptionist",
]
INDUSTRIES = ["Dental", " dental ", "ACCOUNTING", "Legal", "", "Plumbing"]
COUNTRIES = ["Australia", "AU", "au", "New Zealand", "NZ", "United States", "", "Atlantis"]


def varied_leads(clients, n, seed=16):
    rng = random.Random(seed)
    leads = []
    for i in range(n):
        leads.append(
            Lead(
                client=clients[i % len(clients)],
                email=rng.choice(["", f"lead{i}@example.com"]),
                email_verified=rng.random() < 0.4,
                phone=rng.choice(["", "+61412345678"]),
                phone_verified=rng.random() < 0.3,
                linkedin_url=rng.choice(["", f"https://www.linkedin.com/in/l{i}"]),
                is_personal_email=rng.random() < 0.2,
                title=rng.choice(TITLES),
                industry=rng.choice(INDUSTRIES),
                employee_count=rng.choice([None, 0, 3, 5, 9, 20, 50, 51, 200]),
                country=rng.choice(COUNTRIES),
                is_new_role=rng.random() < 0.3,
                is_hiring=rng.random() < 0.3,
                recently_funded=rng.random() < 0.2,
                has_bounced=rng.random() < 0.1,
                is_unsubscribed=rng.random() < 0.1,
                is_competitor=rng.random() < 0.1,
                do_not_contact=rng.random() < 0.05,
            )
        )
    return Lead.objects.bulk_create(leads)


def three_clients():
    """One client per weight source, with different ICPs."""
    by_pattern = ClientFactory(
        icp={"industries": ["Dental"], "employee_min": 10, "employee_max": 100, "countries": ["AU", "NZ"]}
    )
    ConversionPatternFactory(client=by_pattern, patterns=who_patterns(recommended_weights=LEARNED))
    by_client = ClientFactory(
        icp={"industries": ["accounting", "legal"], "countries": ["United States"]}, als_learned_weights=CLIENT_WEIGHTS
    )
    by_default = ClientFactory(icp={})
    return [by_pattern, by_client, by_default]


def stored(lead):
    components = {k: v for k, v in lead.als_components.items() if k != "scored_at"}
    return lead.als_score, components, lead.als_weights_used, lead.als_weights_source


class TestScoreLeads:
    def test_bulk_equals_single(self):
        clients = three_clients()
        varied_leads(clients, 300)
        other = LeadFactory()  # not in the queryset
        queryset = Lead.objects.filter(client__in=clients)
        now = timezone.now()
        assert score_leads(queryset, batch_size=64, now=now) == 300
        bulk = {lead.pk: lead for lead in queryset}
        assert {lead.als_weights_source for lead in bulk.values()} == {"pattern", "client", "default"}
        assert len({lead.als_score for lead in bulk.values()}) > 20
        for lead in bulk.values():
            assert lead.scored_at == now and lead.als_components["scored_at"] == now.isoformat()
            single = Lead.objects.get(pk=lead.pk)
            score_lead(single)
            assert stored(single) == stored(lead), lead.pk
        other.refresh_from_db()
        assert other.als_score is None

    def test_weights_are_resolved_once_per_client(self):
        clients = three_clients()
        varied_leads(clients, 60)
        with mock.patch.object(lead_score, "load_active_patterns", wraps=lead_score.load_active_patterns) as load:
            assert score_leads(Lead.objects.all(), batch_size=7) == 60
        assert sorted(call.args[0].pk for call in load.call_args_list) == sorted(c.pk for c in clients)

    def test_queries_per_batch_are_constant(self):
        varied_leads(three_clients(), 48)

        def queries(batch_size):
            with CaptureQueriesContext(connection) as captured:
                score_leads(Lead.objects.all(), batch_size=batch_size)
            return len(captured)

        two, four, eight = queries(24), queries(12), queries(6)
        per_batch = (four - two) / 2
        assert eight - four == 4 * per_batch
        assert 2 <= per_batch <= 4  # a SELECT and an UPDATE (a savepoint pair around bulk_update on SQLite)

    def test_progress_is_reported_per_batch(self):
        client = ClientFactory()
        varied_leads([client], 25)
        seen = []
        assert score_leads(client.leads.all(), batch_size=10, progress=seen.append) == 25
        assert seen == [10, 10, 5]

    def test_empty_and_sliced_querysets(self):
        client = ClientFactory()
        varied_leads([client], 10)
        assert score_leads(Lead.objects.none()) == 0
        assert score_leads(client.leads.order_by("-pk")[:4]) == 4
        assert client.leads.filter(als_score__isnull=False).count() == 4

    def test_stored_scores_can_be_explained(self):
        clients = three_clients()
        varied_leads(clients, 120)
        score_leads(Lead.objects.all())
        for lead in Lead.objects.all():
            explained = explain_score(lead.als_components, lead.als_weights_used)
            assert explained["score"] == lead.als_score
            parts = explained["components"]
            assert sum(part["contribution"] for part in parts.values()) == pytest.approx(explained["total"])
            assert parts["risk"]["contribution"] == -lead.als_components["risk"]
            assert parts["company_fit"]["weight"] == lead.als_weights_used["company_fit"]
            assert parts["authority"]["contribution"] == pytest.approx(
                lead.als_components["authority"] / 25 * lead.als_weights_used["authority"] * 100
            )
            assert lead.als_score == min(max(int(round(explained["total"], 9)), 0), 100)
