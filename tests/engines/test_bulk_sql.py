import pytest

from engines.db import bulk
from engines.db.bulk import update_from_values
from outreach.models import Lead
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


def test_each_row_gets_its_own_values_across_statements(monkeypatch):
    monkeypatch.setattr(bulk, "ROWS_PER_STATEMENT", 7)
    client = ClientFactory()
    leads = Lead.objects.bulk_create(Lead(client=client, email=f"l{i}@example.com") for i in range(20))
    others = Lead.objects.bulk_create([Lead(client=client, email="untouched@example.com", touch_count=3)])

    changed = update_from_values(
        Lead,
        "touch_count = touch_count + v.column2, company_name = v.column3",
        [(lead.pk, i, f"Company {i}") for i, lead in enumerate(leads)],
    )

    assert changed == 20
    stored = dict(Lead.objects.filter(pk__in=[lead.pk for lead in leads]).values_list("pk", "touch_count"))
    assert [stored[lead.pk] for lead in leads] == list(range(20))
    assert Lead.objects.get(pk=leads[5].pk).company_name == "Company 5"
    assert Lead.objects.get(pk=others[0].pk).touch_count == 3


def test_params_fill_the_assignments_then_the_condition():
    client = ClientFactory()
    new, replied = Lead.objects.bulk_create(
        [Lead(client=client, email="a@example.com"), Lead(client=client, email="b@example.com", status="replied")]
    )

    changed = update_from_values(
        Lead,
        "company_name = %s, touch_count = v.column2",
        [(new.pk, 1), (replied.pk, 1)],
        params=["Acme", "new"],
        where=" AND status = %s",
    )

    assert changed == 1
    assert Lead.objects.get(pk=new.pk).company_name == "Acme"
    assert Lead.objects.get(pk=replied.pk).touch_count == 0


def test_no_rows_runs_nothing(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert update_from_values(Lead, "touch_count = v.column2", []) == 0
