import pytest

from engines.services.demo import SAMPLE_LEADS, SAMPLE_TEMPLATES, seed_sample_agency
from outreach.models import Client

pytestmark = pytest.mark.django_db


def test_seeding_twice_gives_one_sample_agency():
    seed_sample_agency()
    client = seed_sample_agency()
    assert Client.objects.count() == 1
    assert client.leads.count() == len(SAMPLE_LEADS)
    assert client.message_templates.filter(active=True).count() == len(SAMPLE_TEMPLATES)
