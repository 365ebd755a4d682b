"""The admin import, forgiving: limits named on the form, rejected rows listed as text, "Import the valid rows"
from the file kept between preview and confirm, and the rejected rows downloaded as CSV."""

from __future__ import annotations

import csv
import io

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from outreach.models import Lead
from tests.factories import ClientFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

IMPORT = reverse("admin:outreach_lead_import")
PROCESS = reverse("admin:outreach_lead_process_import")
REJECTED = reverse("admin:outreach_lead_import_rejected")
CHANGELIST = reverse("admin:outreach_lead_changelist")
MIXED_CSV = (
    "First name,E-mail,Mobile,Country\n"
    "Sam,sam@clinic.example.com,0412 345 678,Australia\n"
    "=cmd,al-at-nowhere,12,Australia\n"
    "Jo,jo@dental.example.com,+61298765432,AU\n"
)


@pytest.fixture
def harbour():
    return ClientFactory(name="Harbour Dental", country="AU")


@pytest.fixture
def staff(client, harbour):
    client.force_login(StaffUserFactory(clients=[harbour]))
    return client


def _upload(http, agency_client, text, name="leads.csv", file_format="0"):
    return http.post(
        IMPORT,
        {
            "client": agency_client.pk,
            "import_file": SimpleUploadedFile(name, text.encode() if isinstance(text, str) else text),
            "format": file_format,
            "on_duplicate": "skip",
            "resource": "0",
        },
    )


def _messages(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_rejected_rows_are_listed_as_text_and_the_valid_rows_can_be_imported(staff, harbour):
    preview = _upload(staff, harbour, MIXED_CSV)

    page = preview.content.decode()
    assert "<td>3</td><td>Email</td><td>&#x27;al-at-nowhere&#x27; is not an email address</td>" in page
    assert "<td>3</td><td>Phone</td>" in page
    assert 'value="Import the 2 valid rows"' in page
    assert "Download the rejected rows (CSV)" in page
    assert not Lead.objects.exists()

    # The confirm step posts the kept file's signed name: nothing is uploaded again.
    confirm = preview.context["confirm_form"].initial
    assert "import_file" not in confirm
    response = staff.post(PROCESS, confirm)

    assert response.status_code == 302 and response.url == CHANGELIST
    assert set(harbour.leads.values_list("email", flat=True)) == {"sam@clinic.example.com", "jo@dental.example.com"}
    assert "2 new, 0 updated and 0 skipped leads; 1 rejected row left out" in _messages(response)[0]


def test_the_rejected_rows_download_says_why_escapes_formulas_and_keeps_the_file_for_the_confirm(staff, harbour):
    preview = _upload(staff, harbour, MIXED_CSV)
    confirm = preview.context["confirm_form"].initial

    download = staff.post(REJECTED, confirm)

    assert download["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="leads-rejected.csv"' in download["Content-Disposition"]
    table = list(csv.reader(io.StringIO(download.content.decode())))
    assert table[0] == ["Line", "First name", "E-mail", "Mobile", "Country", "Rejected because"]
    assert table[1][:4] == ["3", "'=cmd", "al-at-nowhere", "12"]
    assert "Email: 'al-at-nowhere' is not an email address" in table[1][5]
    assert staff.post(PROCESS, confirm).status_code == 302
    assert harbour.leads.count() == 2


def test_a_file_name_not_signed_for_this_user_is_refused(staff, harbour):
    confirm = {**_upload(staff, harbour, MIXED_CSV).context["confirm_form"].initial, "import_file_name": "passwd"}

    assert "import_file_name" in staff.post(PROCESS, confirm).context["confirm_form"].errors
    assert staff.post(REJECTED, confirm).status_code == 302
    assert not Lead.objects.exists()


def test_when_no_row_is_valid_nothing_can_be_confirmed_and_the_errors_are_listed(staff, harbour):
    response = _upload(staff, harbour, "Email\nnope\n")

    page = response.content.decode()
    assert response.context.get("confirm_form") is None
    assert "<td>2</td><td>Email</td>" in page
    assert "Nothing can be imported until these rows are fixed" in page


def test_a_file_over_the_size_limit_is_refused_on_the_form_naming_the_setting(staff, harbour, settings):
    settings.LEAD_IMPORT_MAX_BYTES = 50

    response = _upload(staff, harbour, MIXED_CSV)

    assert "LEAD_IMPORT_MAX_BYTES" in str(response.context["form"].errors["import_file"])


def test_a_file_over_the_row_limit_is_refused_on_the_form_naming_the_setting(staff, harbour, settings):
    settings.LEAD_IMPORT_MAX_ROWS = 2

    response = _upload(staff, harbour, MIXED_CSV)

    error = str(response.context["form"].errors["import_file"])
    assert "leads.csv" in error and "more than 2 rows" in error and "LEAD_IMPORT_MAX_ROWS" in error


def test_a_csv_that_is_not_utf_8_is_refused_with_what_to_do(staff, harbour):
    response = _upload(staff, harbour, "Email,Name\njose@x.example.com,José\n".encode("latin-1"))

    assert "save it from your spreadsheet as &quot;CSV UTF-8&quot;" in response.content.decode()


def test_headers_in_other_spellings_are_matched_and_unknown_ones_named_with_a_suggestion(staff, harbour):
    response = _upload(staff, harbour, "E-MAIL,company ,Compnay\nsam@clinic.example.com,Clinic,x\n")

    assert response.context["result"].totals["new"] == 1
    assert "Compnay (did you mean Company?)" in response.content.decode()
    staff.post(PROCESS, response.context["confirm_form"].initial)
    assert harbour.leads.get().company_name == "Clinic"
