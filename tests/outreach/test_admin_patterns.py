"""ConversionPattern pages: a readable view per type, the active and the invalid newest pattern marked,
schema errors in the form, and stored patterns kept as history."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from engines.rules.pattern_checks import pattern_errors
from outreach.admin.pattern_views import wilson_interval
from outreach.admin.patterns import pattern_states
from outreach.models import ConversionPattern
from tests.factories import VALID_PATTERNS, ClientFactory, ConversionPatternFactory, when_patterns, who_patterns

pytestmark = pytest.mark.django_db


def _page(admin_client, pattern):
    response = admin_client.get(reverse("admin:outreach_conversionpattern_change", args=[pattern.pk]))
    assert response.status_code == 200
    return response.content.decode()


def _pattern(pattern_type, *, hours_ago=1, **kwargs):
    kwargs.setdefault("patterns", VALID_PATTERNS[pattern_type]())
    return ConversionPatternFactory(
        pattern_type=pattern_type, computed_at=timezone.now() - timedelta(hours=hours_ago), **kwargs
    )


def test_who_shows_learned_weights_beside_the_defaults_and_their_history(admin_client):
    client = ClientFactory()
    _pattern("who", client=client, hours_ago=200, patterns=who_patterns(
        recommended_weights={"data_quality": 0.2, "authority": 0.2, "company_fit": 0.3, "timing": 0.15}))  # fmt: skip
    newest = _pattern("who", client=client)
    page = _page(admin_client, newest)
    assert 'id="who-weights-chart"' in page
    assert '<th scope="row">Company fit</th><td class="num">0.400</td><td class="num">0.25</td>' in page
    # The breakdown as the detector stores it: each bucket's rate (a percentage), lift, leads and conversions.
    assert '<th scope="row">owner</th><td class="num">20.0%</td><td class="num">1.60×</td>' in page
    assert '<td class="num">80</td><td class="num">16</td>' in page
    history = page[page.index('id="weights-over-time"') :]
    # Both patterns, oldest first, in the table fallback: company fit went 0.3 -> 0.4.
    company_fit = [line for line in history.split("<tr>") if line.startswith('<th scope="row">')]
    assert len(company_fit) == 2
    assert "<td>0.3</td>" in company_fit[0] and "<td>0.4</td>" in company_fit[1]


def test_a_who_pattern_not_in_use_says_why_with_its_held_out_comparison(admin_client):
    reason = "its weights rank the 216 most recent finished leads no better than the weights in use: AUC 0.607"
    pattern = _pattern("who", patterns=who_patterns(
        confidence=0.97,
        model={"shrinkage_toward_learned": 0.23, "deviation_statistic": 7.77, "deviation_degrees_of_freedom": 2},
        activation={"auc_new": 0.6068, "auc_current": 0.6068, "interval": [-0.01, 0.01], "leads": 216,
                    "activated": False, "reason": reason},
    ))  # fmt: skip
    pattern.activated = False
    pattern.save()

    activation = _page(admin_client, pattern).split('id="who-activation"')[1].split("</p>")[0]

    assert "<strong>Not used</strong>: " + reason in activation
    assert "difference interval -0.010 to 0.010" in activation
    assert "Confidence that the components rank leads at all: 0.970" in activation
    assert "moved 0.230 of the way" in activation and "Wald statistic 7.77 on 2 degrees of freedom" in activation


def test_how_lists_winning_sequences_with_rates_sizes_and_intervals(admin_client):
    page = _page(admin_client, _pattern("how"))
    table = page[page.index('id="winning-sequences"') :]
    low, high = wilson_interval(round(0.09 * 120), 120)
    assert "linkedin → email → email → sms" in table
    assert '<td class="num">0.0900</td>' in table and '<td class="num">120</td>' in table
    assert f"{low:.4f} – {high:.4f}" in table


def test_what_lists_effective_and_ineffective_pain_points_and_ctas_with_lifts(admin_client):
    data = VALID_PATTERNS["what"]()
    data["pain_points"]["lift"] = {"leads": {"lift": 1.8, "interval": [1.2, 2.6], "sample_size": 300}}
    page = _page(admin_client, _pattern("what", patterns=data))
    pain = page[page.index('id="pain-points"') : page.index('id="ctas"')]
    assert "leads</span></th><td>effective</td>" in pain and "×1.80" in pain and "1.2 – 2.6" in pain
    assert "cost</span></th><td>ineffective</td>" in pain
    assert "free audit" in page[page.index('id="ctas"') :]


def test_a_malformed_pattern_still_renders_its_readable_view(admin_client):
    for pattern_type in ("who", "when", "how", "what"):
        bad = {"recommended_weights": "x", "best_days": [5, {"day_index": "9"}], "winning_sequences": [{"sequence": 3}],
               "pain_points": [], "personalization_lift": {"x": "y"}}  # fmt: skip
        page = _page(admin_client, _pattern(pattern_type, patterns=bad))
        assert 'data-state="invalid-newest"' in page


def test_the_active_pattern_and_an_invalid_newest_pattern_are_marked(admin_client):
    client = ClientFactory()
    expired = _pattern("when", client=client, hours_ago=24 * 30)
    superseded = _pattern("when", client=client, hours_ago=48)
    active = _pattern("when", client=client, hours_ago=24)
    invalid_newest = _pattern("when", client=client, hours_ago=1, patterns=when_patterns(best_days="monday"))
    not_activated = _pattern("who", client=client, activated=False)
    states = pattern_states(ConversionPattern.objects.all(), now=timezone.now())
    assert states == {
        expired.pk: "expired",
        superseded.pk: "superseded",
        active.pk: "active",
        invalid_newest.pk: "invalid-newest",
        not_activated.pk: "not-activated",
    }
    page = admin_client.get(reverse("admin:outreach_conversionpattern_changelist")).content.decode()
    assert page.count('data-state="active"') == 1
    assert "invalid newest: ignored, an older pattern is in use" in page


def _add_form(client, patterns, pattern_type="when"):
    return {
        "client": client.pk,
        "pattern_type": pattern_type,
        "patterns": json.dumps(patterns),
        "sample_size": 10,
        "confidence": 0.5,
        "computed_at_0": "2026-11-01",
        "computed_at_1": "00:00:00",
        "valid_until_0": "2026-11-08",
        "valid_until_1": "00:00:00",
        "activated": "on",
    }


def test_saving_an_invalid_pattern_shows_the_schema_errors_in_the_form(admin_client):
    client = ClientFactory()
    response = admin_client.post(
        reverse("admin:outreach_conversionpattern_add"),
        _add_form(client, when_patterns(best_days=[{"day_index": 9, "conversion_rate": 0.1}])),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["patterns"]
    # The wording is the schema's own; the form shows exactly what pattern_errors says.
    assert errors == pattern_errors("when", when_patterns(best_days=[{"day_index": 9, "conversion_rate": 0.1}]))
    assert len(errors) == 1 and errors[0].startswith("best_days[0].day_index") and "got 9" in errors[0]
    assert 'id="id_patterns_error"' in response.content.decode()
    assert not ConversionPattern.objects.exists()


def test_weights_out_of_range_are_refused(admin_client):
    response = admin_client.post(
        reverse("admin:outreach_conversionpattern_add"),
        _add_form(ClientFactory(), {"recommended_weights": {"data_quality": 5}}, pattern_type="who"),
    )
    errors = response.context["adminform"].form.errors["patterns"]
    assert errors == pattern_errors("who", {"recommended_weights": {"data_quality": 5}})
    assert any("data_quality" in error and "5" in error for error in errors)


def test_a_valid_pattern_is_saved(admin_client):
    response = admin_client.post(
        reverse("admin:outreach_conversionpattern_add"), _add_form(ClientFactory(), when_patterns())
    )
    assert response.status_code == 302
    assert ConversionPattern.objects.get().patterns["best_hours"][0]["hour"] == 10


def test_a_stored_pattern_keeps_what_it_learned_but_can_be_retired_even_when_invalid(admin_client):
    pattern = _pattern("when", patterns=when_patterns(best_days="monday"))
    url = reverse("admin:outreach_conversionpattern_change", args=[pattern.pk])
    valid_until = timezone.localtime(pattern.computed_at + timedelta(minutes=5))
    response = admin_client.post(
        url,
        {
            "patterns": json.dumps(when_patterns()),
            "sample_size": 1,
            "valid_until_0": f"{valid_until:%Y-%m-%d}",
            "valid_until_1": f"{valid_until:%H:%M:%S}",
        },
    )
    assert response.status_code == 302
    pattern.refresh_from_db()
    assert pattern.patterns["best_days"] == "monday" and pattern.sample_size == 500
    assert not pattern.activated
    assert pattern.valid_until < timezone.now()


def test_the_add_form_shows_the_schema_of_each_type(admin_client):
    page = admin_client.get(reverse("admin:outreach_conversionpattern_add")).content.decode()
    assert "<li><code>who</code>: recommended_weights</li>" in page
    assert "JSON Schema of every pattern type" in page and "&quot;$schema&quot;" in page


def test_a_who_breakdown_written_by_hand_with_bare_rates_shows_them_too(admin_client):
    pattern = _pattern("who", patterns=who_patterns(conversion_rate_by={"industry": {"Dental": 0.25, "Legal": "n/a"}}))
    page = _page(admin_client, pattern)
    assert '<th scope="row">Dental</th><td class="num">25.0%</td><td class="num">—</td>' in page
    assert '<th scope="row">Legal</th><td class="num">—</td>' in page


def _deep(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('"x": NaN', "NaN is not a number JSON allows"),
        ('"x": Infinity', "Infinity is not a number JSON allows"),
        ('"x": -Infinity', "-Infinity is not a number JSON allows"),
        ('"x": 1e999', "1e999 is too large to store"),
        ('"x": ' + "9" * 5000, "Exceeds the limit"),
        ('"x": ' + _deep(40), "nested deeper than"),
        ('"x": ' + _deep(3000), "nested far too deep"),
        ('"x": "a\\u0000b"', "NUL character or broken Unicode"),
        ('"x": "\\ud800"', "NUL character or broken Unicode"),
        ('"x": ', "Enter valid JSON"),
    ],
)
def test_json_no_database_can_store_is_a_form_error_not_a_500(admin_client, extra, message):
    client = ClientFactory()
    form = _add_form(client, when_patterns())
    form["patterns"] = form["patterns"][:-1] + ", " + extra + "}"
    response = admin_client.post(reverse("admin:outreach_conversionpattern_add"), form)
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors["patterns"]
    assert message in errors[0]  # then the schema's own word on a pattern it could not read
    assert not ConversionPattern.objects.exists()
