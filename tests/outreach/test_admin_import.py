"""Import leads in the admin: upload, preview with per-row errors, confirm; only into the user's own clients."""

from __future__ import annotations

import pytest
import tablib
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from outreach.models import Lead
from tests.engines.test_lead_import import refuse_new_leads
from tests.factories import ClientFactory, LeadFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

IMPORT = reverse("admin:outreach_lead_import")
PROCESS = reverse("admin:outreach_lead_process_import")
CHANGELIST = reverse("admin:outreach_lead_changelist")
CSV_FORMAT, XLSX_FORMAT = "0", "1"
GOOD_CSV = (
    "First name,Surname,E-mail,Mobile,Company,Country,Time zone\n"
    "Sam,Lee,sam@clinic.example.com,0412 345 678,Clinic,Australia,Australia/Sydney\n"
    "Jo,Park,jo@dental.example.com,+61298765432,Dental,AU,Australia/Perth\n"
)
BAD_ROW = "Al,Ng,al-at-nowhere,12,Co,Australia,Moon/Base\n"


@pytest.fixture
def harbour():
    return ClientFactory(name="Harbour Dental", country="AU")


@pytest.fixture
def staff(client, harbour):
    """A staff member of Harbour Dental only, logged in."""
    client.force_login(StaffUserFactory(clients=[harbour]))
    return client


def _upload(http, agency_client, text, *, on_duplicate="skip", name="leads.csv", file_format=CSV_FORMAT):
    content = text if isinstance(text, bytes) else text.encode()
    return http.post(
        IMPORT,
        {
            "client": agency_client.pk,
            "import_file": SimpleUploadedFile(name, content),
            "format": file_format,
            "on_duplicate": on_duplicate,
            "resource": "0",
        },
    )


def _confirm(http, preview_response):
    return http.post(PROCESS, preview_response.context["confirm_form"].initial)


def _messages(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_the_lead_list_offers_the_import_and_the_page_lists_only_the_user_s_clients(staff, harbour):
    ClientFactory(name="Other Agency Client")

    assert IMPORT in staff.get(CHANGELIST).content.decode()
    page = staff.get(IMPORT)
    assert page.status_code == 200
    assert list(page.context["form"].fields["client"].queryset) == [harbour]
    assert "LinkedIn URL" in page.content.decode()


def test_a_preview_shows_what_would_happen_and_writes_nothing(staff, harbour):
    response = _upload(staff, harbour, GOOD_CSV)

    assert response.status_code == 200
    result = response.context["result"]
    assert (result.totals["new"], result.totals["invalid"]) == (2, 0)
    assert "+61412345678" in response.content.decode()  # the phone as it will be stored
    assert response.context["confirm_form"] is not None
    assert not Lead.objects.exists()


def test_confirming_imports_the_rows_into_the_client(staff, harbour):
    response = _confirm(staff, _upload(staff, harbour, GOOD_CSV))

    assert response.status_code == 302 and response.url == CHANGELIST
    assert set(harbour.leads.values_list("email", flat=True)) == {"sam@clinic.example.com", "jo@dental.example.com"}
    assert "Import finished: 2 new, 0 updated and 0 skipped leads." in _messages(response)[0]


def test_columns_that_are_not_imported_are_named(staff, harbour):
    response = _upload(staff, harbour, "Email,Favourite colour\nsam@clinic.example.com,teal\n")

    assert "Columns not imported (header not recognised):\n  Favourite colour." in response.content.decode()


def test_a_bad_row_is_shown_with_its_errors_and_nothing_can_be_confirmed(staff, harbour):
    response = _upload(staff, harbour, GOOD_CSV + BAD_ROW)

    page = response.content.decode()
    invalid = response.context["result"].invalid_rows
    assert [row.number for row in invalid] == [4]
    assert set(invalid[0].field_specific_errors) == {"Email", "Phone", "Time zone"}
    assert "&#x27;al-at-nowhere&#x27; is not an email address" in page
    assert "Unknown time zone &#x27;Moon/Base&#x27;" in page
    assert "Confirm import" not in page
    assert not Lead.objects.exists()


def test_a_file_without_a_contact_column_is_refused_on_its_header_line(staff, harbour):
    response = _upload(staff, harbour, "Name,Company\nSam Lee,Clinic\n")

    invalid = response.context["result"].invalid_rows
    assert invalid[0].number == 1
    assert "No email, phone or LinkedIn column" in invalid[0].non_field_specific_errors[0]


@pytest.mark.parametrize(
    ("choice", "company", "message"),
    [("skip", "Old", "1 new, 0 updated and 1 skipped"), ("update", "Clinic", "1 new, 1 updated and 0 skipped")],
)
def test_duplicates_are_skipped_or_updated_as_the_user_chooses(staff, harbour, choice, company, message):
    lead = LeadFactory(client=harbour, email="Sam@Clinic.example.com", company_name="Old")

    response = _confirm(staff, _upload(staff, harbour, GOOD_CSV, on_duplicate=choice))

    assert message in _messages(response)[0]
    lead.refresh_from_db()
    assert lead.company_name == company
    assert harbour.leads.count() == 2


def test_an_xlsx_file_is_imported(staff, harbour):
    data = tablib.Dataset(["sam@clinic.example.com", "Sam", 20.0], headers=["Email", "First name", "Employees"])

    _confirm(staff, _upload(staff, harbour, data.export("xlsx"), name="leads.xlsx", file_format=XLSX_FORMAT))

    assert harbour.leads.get().employee_count == 20


def test_a_failure_at_confirm_leaves_nothing_imported(staff, harbour):
    preview = _upload(staff, harbour, GOOD_CSV)

    with connection.execute_wrapper(refuse_new_leads):
        response = _confirm(staff, preview)

    assert response.status_code == 302 and response.url == IMPORT
    assert "Nothing was imported" in _messages(response)[0]
    assert not Lead.objects.exists()


def test_a_staff_member_cannot_upload_into_another_client(staff):
    other = ClientFactory(name="Not Mine")

    response = _upload(staff, other, GOOD_CSV)

    assert "client" in response.context["form"].errors
    assert not Lead.objects.exists()


def test_a_staff_member_cannot_switch_the_client_at_the_confirm_step(staff, harbour):
    other = ClientFactory(name="Not Mine")
    confirm_data = {**_upload(staff, harbour, GOOD_CSV).context["confirm_form"].initial, "client": other.pk}

    response = staff.post(PROCESS, confirm_data)

    assert response.status_code == 200
    assert "client" in response.context["confirm_form"].errors
    assert not Lead.objects.exists()


def test_without_add_permission_or_without_a_client_there_is_no_import(client, harbour):
    client.force_login(StaffUserFactory(clients=[harbour], permissions=["view_lead"]))
    assert client.get(IMPORT).status_code == 403
    assert IMPORT not in client.get(CHANGELIST).content.decode()

    client.force_login(StaffUserFactory(clients=[]))
    assert client.get(IMPORT).status_code == 403


def test_updating_duplicates_needs_the_change_permission(client, harbour):
    client.force_login(StaffUserFactory(clients=[harbour], permissions=["add_lead", "view_lead"]))
    lead = LeadFactory(client=harbour, email="sam@clinic.example.com", company_name="Old")

    response = _upload(client, harbour, GOOD_CSV, on_duplicate="update")

    assert "on_duplicate" in response.context["form"].errors
    _confirm(client, _upload(client, harbour, GOOD_CSV, on_duplicate="skip"))
    lead.refresh_from_db()
    assert lead.company_name == "Old"
    assert harbour.leads.count() == 2


def test_a_superuser_may_import_into_any_client(admin_client):
    clients = [ClientFactory(), ClientFactory()]

    page = admin_client.get(IMPORT)

    assert set(page.context["form"].fields["client"].queryset) == set(clients)
    _confirm(admin_client, _upload(admin_client, clients[1], GOOD_CSV))
    assert clients[1].leads.count() == 2


def test_an_unreadable_file_is_reported_on_the_form(staff, harbour):
    response = _upload(staff, harbour, b"\x00\x01not a workbook", file_format=XLSX_FORMAT)

    assert "import_file" in response.context["form"].errors
