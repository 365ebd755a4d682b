import pytest

from engines.db import bulk
from engines.db.bulk import update_each, update_from_values
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


def test_update_each_writes_each_objects_values_of_the_fields_only():
    client = ClientFactory()
    leads = Lead.objects.bulk_create(Lead(client=client, email=f"e{i}@example.com", title="Old") for i in range(3))
    for i, lead in enumerate(leads):
        lead.first_name, lead.employee_count, lead.phone_verified, lead.title = f"N{i}", i * 10, True, "Not saved"

    update_each(Lead, ["first_name", "employee_count", "phone_verified"], leads[:2])

    stored = Lead.objects.in_bulk([lead.pk for lead in leads])
    assert [(stored[lead.pk].first_name, stored[lead.pk].employee_count) for lead in leads] == [
        ("N0", 0),
        ("N1", 10),
        ("", None),
    ]
    assert [stored[lead.pk].phone_verified for lead in leads] == [True, True, False]
    assert {stored[lead.pk].title for lead in leads} == {"Old"}


def test_update_each_with_no_objects_changes_nothing():
    lead = Lead.objects.create(client=ClientFactory(), email="x@example.com")
    update_each(Lead, ["first_name"], [])
    assert Lead.objects.get(pk=lead.pk).email == "x@example.com"
