"""The demo's sample agency: demo clients marked as such, reset deletes only them, spreadsheets that import."""

import phonenumbers
import pytest

from engines.services.intake.lead_import import RowAction, load_table, preview_import
from engines.simulation.agency import (
    DEMO_CLIENTS,
    LEAD_COLUMNS,
    TEMPLATES,
    build_agency,
    lead_rows,
    mobile_number,
    reset_demo_data,
    write_lead_csv,
)
from outreach.models import Client, Lead, MessageTemplate
from tests.factories import ClientFactory, LeadFactory

pytestmark = pytest.mark.django_db


def test_build_agency_makes_demo_clients_with_a_template_for_every_channel():
    clients = build_agency()
    assert [client.name for client in clients] == [spec.name for spec in DEMO_CLIENTS]
    assert all(client.is_demo for client in Client.objects.filter(pk__in=[c.pk for c in clients]))
    for client in clients:
        templates = MessageTemplate.objects.filter(client=client)
        assert templates.count() == len(TEMPLATES)
        assert set(templates.filter(touch_number=1).values_list("channel", flat=True)) == {
            "email",
            "sms",
            "linkedin",
            "voice",
        }
    assert len(build_agency(1)) == 1


def test_reset_deletes_only_demo_clients():
    # A real client that happens to share a demo client's name, with its own lead.
    namesake = ClientFactory(name=DEMO_CLIENTS[0].name)
    kept_lead = LeadFactory(client=namesake)
    demo = build_agency()
    LeadFactory(client=demo[0])
    deleted = reset_demo_data()
    assert deleted > len(demo)  # the clients and what hangs off them
    assert list(Client.objects.all()) == [namesake]
    assert list(Lead.objects.all()) == [kept_lead]
    assert reset_demo_data() == 0


def test_mobile_numbers_are_valid_for_their_country():
    for country in ("AU", "NZ", "GB", "US"):
        number = phonenumbers.parse(mobile_number(country, 1234))
        assert phonenumbers.is_valid_number(number)
        assert phonenumbers.region_code_for_number(number) == country


def test_lead_rows_are_seeded_and_realistic():
    client = build_agency(1)[0]
    rows = lead_rows(client, count=200, seed=5)
    assert rows == lead_rows(client, count=200, seed=5)
    assert rows != lead_rows(client, count=200, seed=6)
    assert all(len(row) == len(LEAD_COLUMNS) for row in rows)
    column = {name: index for index, name in enumerate(LEAD_COLUMNS)}
    assert {row[column["Country"]] for row in rows} == {"AU", "NZ", "GB", "US"}
    assert len({row[column["Email"]] for row in rows}) == 200
    phones = [row[column["Phone"]] for row in rows if row[column["Phone"]]]
    assert 0.7 < len(phones) / 200 < 0.95
    assert all(phonenumbers.is_valid_number(phonenumbers.parse(phone)) for phone in phones)


def test_the_spreadsheet_imports_through_the_lead_import_service(tmp_path):
    client = build_agency(1)[0]
    path = write_lead_csv(tmp_path / "leads.csv", lead_rows(client, count=50, seed=1))
    headers, table = load_table(path)
    preview = preview_import(client, headers, table)
    assert preview.is_valid, preview.file_errors
    assert preview.counts()[RowAction.NEW] == 50
    assert preview.ignored_columns == []
