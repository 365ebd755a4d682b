"""Every model is in the admin, and the admin refuses a malformed pattern with a readable message."""

import json

import pytest
from django.urls import reverse

from outreach.models import ConversionPattern
from tests.factories import (
    ActivityFactory,
    ClientFactory,
    ConversionPatternFactory,
    MessageTemplateFactory,
    ScheduledTouchFactory,
    when_patterns,
)

pytestmark = pytest.mark.django_db

MODELS = ["client", "lead", "activity", "conversionpattern", "scheduledtouch", "messagetemplate"]


@pytest.mark.parametrize("model", MODELS)
def test_changelist_and_add_pages_render(admin_client, model):
    touch = ScheduledTouchFactory()
    ActivityFactory(lead=touch.lead)
    ConversionPatternFactory(client=touch.client)
    MessageTemplateFactory(client=touch.client)
    assert admin_client.get(reverse(f"admin:outreach_{model}_changelist")).status_code == 200
    assert admin_client.get(reverse(f"admin:outreach_{model}_add")).status_code == 200


def _pattern_form(client, patterns):
    return {
        "client": client.pk,
        "pattern_type": "when",
        "patterns": json.dumps(patterns),
        "sample_size": 10,
        "confidence": 0.5,
        "computed_at_0": "2026-11-01",
        "computed_at_1": "00:00:00",
        "valid_until_0": "2026-11-08",
        "valid_until_1": "00:00:00",
    }


def test_admin_refuses_a_malformed_pattern_and_saves_nothing(admin_client):
    client = ClientFactory()
    response = admin_client.post(
        reverse("admin:outreach_conversionpattern_add"),
        _pattern_form(client, when_patterns(best_days=[{"day_index": 9, "conversion_rate": 0.1}])),
    )
    assert response.status_code == 200
    assert "best_days[0].day_index must be a whole number 0-6, got 9" in response.content.decode()
    assert not ConversionPattern.objects.exists()


def test_admin_saves_a_valid_pattern(admin_client):
    client = ClientFactory()
    response = admin_client.post(
        reverse("admin:outreach_conversionpattern_add"), _pattern_form(client, when_patterns())
    )
    assert response.status_code == 302
    assert ConversionPattern.objects.get().patterns["best_hours"][0]["hour"] == 10
