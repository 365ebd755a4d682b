"""The admin import's column mapping: a select per header of the uploaded file, pre-filled with the automatic
match, re-running the preview on the kept file and carried to the confirm step and the rejected-rows download."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client as HttpClient
from django.urls import reverse

from engines.services.intake.lead_import import map_columns, match_header
from outreach.models import Client, Lead
from tests.factories import ClientFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

IMPORT = reverse("admin:outreach_lead_import")
PROCESS = reverse("admin:outreach_lead_process_import")
COLUMNS = reverse("admin:outreach_lead_import_columns")
REJECTED = reverse("admin:outreach_lead_import_rejected")
CHANGELIST = reverse("admin:outreach_lead_changelist")
# Two email columns and two phone columns: read by spelling alone the file is refused; the person says which.
TWO_OF_EACH = (
    "Name,Email,Work e-mail,Phone,Cell,Firma\n"
    "Sam Lee,sam.lee@home.example.com,sam@clinic.example.com,+61 2 9876 5432,0412 345 678,Clinic\n"
    "Jo Park,jo.park@home.example.com,jo@dental.example.com,+61 2 9876 0000,0413 222 333,Dental\n"
)
BY_HAND = {
    "Name": "full_name",
    "Email": "",
    "Work e-mail": "email",
    "Phone": "",
    "Cell": "phone",
    "Firma": "company_name",
}


@pytest.fixture
def harbour() -> Client:
    return ClientFactory.create(name="Harbour Dental", country="AU")


@pytest.fixture
def staff(client: HttpClient, harbour: Client) -> HttpClient:
    client.force_login(StaffUserFactory.create(clients=[harbour]))
    return client


def _upload(http: HttpClient, agency_client: Client, text: str) -> Any:
    return http.post(
        IMPORT,
        {
            "client": agency_client.pk,
            "import_file": SimpleUploadedFile("leads.csv", text.encode()),
            "format": "0",
            "on_duplicate": "skip",
            "resource": "0",
        },
    )


def _mapping_post(page: Any, mapping: dict[str, str]) -> dict[str, Any]:
    """What the page's mapping form posts: the kept file's hidden fields and one select per header."""
    kept = page.context["kept_form"]
    data = {kept.add_prefix(name): value for name, value in kept.initial.items() if name != "column_map"}
    for index, header in enumerate(page.context["mapping_form"].headers):
        data[f"column_{index}"] = mapping.get(header, "")
    return data


def _map(http: HttpClient, page: Any, mapping: dict[str, str]) -> Any:
    return http.post(COLUMNS, _mapping_post(page, mapping))


def _messages(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_unfamiliar_headers_open_the_mapping_form_pre_filled_with_the_automatic_match(staff, harbour):
    page = _upload(staff, harbour, TWO_OF_EACH)

    assert page.status_code == 200
    assert page.context["mapping_open"] is True
    form = page.context["mapping_form"]
    assert form.headers == ["Name", "Email", "Work e-mail", "Phone", "Cell", "Firma"]
    prefilled = [form[f"column_{index}"].value() for index in range(6)]
    assert prefilled == ["full_name", "email", "email", "phone", "phone", ""]
    html = page.content.decode()
    assert '<details class="import-columns module" id="import-columns" open>' in html
    assert '<option value="" selected>Ignore this column</option>' in html
    assert "sam@clinic.example.com" in html  # each column's first value, to tell them apart
    # Read by spelling alone the file is refused: nothing to confirm until the columns are mapped.
    assert page.context.get("confirm_form") is None
    assert "both give the email" in html


def test_headers_mapped_by_hand_are_imported_with_the_right_values(staff, harbour):
    preview = _map(staff, _upload(staff, harbour, TWO_OF_EACH), BY_HAND)

    assert preview.status_code == 200
    result = preview.context["result"]
    assert (result.totals["new"], result.totals["invalid"]) == (2, 0)
    assert result.ignored_columns == ["Email", "Phone"]
    assert "ignored in the column mapping" in preview.content.decode()
    assert preview.context["mapping_open"] is False  # every column now read as the person said
    assert not Lead.objects.exists()

    response = staff.post(PROCESS, preview.context["confirm_form"].initial)

    assert response.status_code == 302 and response.url == CHANGELIST
    assert "Import finished: 2 new" in _messages(response)[0]
    sam = harbour.leads.get(first_name="Sam")
    assert (sam.email, sam.phone, sam.company_name, sam.last_name) == (
        "sam@clinic.example.com",
        "+61412345678",
        "Clinic",
        "Lee",
    )
    assert set(harbour.leads.values_list("phone", flat=True)) == {"+61412345678", "+61413222333"}


def test_the_mapping_survives_from_preview_to_confirm_and_the_rejected_rows_download(staff, harbour):
    text = TWO_OF_EACH + "Al Ng,al@home.example.com,al-at-nowhere,+61 2 9876 1111,0414 555 666,Co\n"
    preview = _map(staff, _upload(staff, harbour, text), BY_HAND)
    confirm = preview.context["confirm_form"].initial

    assert json.loads(confirm["column_map"]) == BY_HAND
    assert 'name="column_map" value="{&quot;Name&quot;' in preview.content.decode()  # posted by the confirm form
    assert preview.context["result"].importable == 2

    download = staff.post(REJECTED, confirm)
    table = list(csv.reader(io.StringIO(download.content.decode())))
    assert table[0] == ["Line", "Name", "Email", "Work e-mail", "Phone", "Cell", "Firma", "Rejected because"]
    assert [row[0] for row in table[1:]] == ["4"]  # the work email is checked, the home one ignored
    assert "Email: 'al-at-nowhere' is not an email address" in table[1][-1]

    response = staff.post(PROCESS, confirm)

    assert "2 new, 0 updated and 0 skipped leads; 1 rejected row left out" in _messages(response)[0]
    assert set(harbour.leads.values_list("email", flat=True)) == {"sam@clinic.example.com", "jo@dental.example.com"}


def test_two_headers_mapped_to_one_field_is_a_form_error(staff, harbour):
    page = _upload(staff, harbour, TWO_OF_EACH)

    response = _map(staff, page, {**BY_HAND, "Email": "email"})

    assert response.status_code == 200
    form = response.context["mapping_form"]
    assert form.errors == {
        "column_2": ["Columns 'Email' and 'Work e-mail' are both mapped to Email: keep one"],
    }
    html = response.content.decode()
    assert "The column mapping has problems" in html
    assert "are both mapped to Email: keep one" in html
    assert response.context.get("confirm_form") is None and response.context.get("result") is None
    # The page can be fixed in place: the kept file's fields are there to post again.
    assert _map(staff, response, BY_HAND).context["result"].totals["new"] == 2
    assert not Lead.objects.exists()


def test_a_forged_field_name_is_a_form_error(staff, harbour):
    page = _upload(staff, harbour, TWO_OF_EACH)

    response = _map(staff, page, {**BY_HAND, "Firma": "is_superuser"})

    assert response.status_code == 200
    assert "column_5" in response.context["mapping_form"].errors
    assert "Select a valid choice" in response.content.decode()
    assert not Lead.objects.exists()


@pytest.mark.parametrize(
    ("forged", "message"),
    [
        (json.dumps({"Work e-mail": "is_staff"}), "&#x27;is_staff&#x27; (for column &#x27;Work e-mail&#x27;)"),
        (json.dumps({"Email": "email", "Work e-mail": "email"}), "are both mapped to Email"),
        ("{not json", "The column mapping cannot be read"),
        (json.dumps(["Email", "email"]), "The column mapping cannot be read"),
        (json.dumps({"Email": 3}), "The column mapping cannot be read"),
    ],
)
def test_a_forged_mapping_at_the_confirm_step_is_a_form_error(staff, harbour, forged, message):
    preview = _map(staff, _upload(staff, harbour, TWO_OF_EACH), BY_HAND)
    confirm = {**preview.context["confirm_form"].initial, "column_map": forged}

    response = staff.post(PROCESS, confirm)

    assert response.status_code == 200
    assert "column_map" in response.context["confirm_form"].errors
    assert message in response.content.decode()
    assert staff.post(REJECTED, confirm).status_code == 302
    assert not Lead.objects.exists()


def test_a_forged_format_is_refused_not_a_server_error(staff, harbour):
    preview = _upload(staff, harbour, TWO_OF_EACH)
    data = {**_mapping_post(preview, BY_HAND), "kept-format": "9"}

    response = staff.post(COLUMNS, data)

    assert response.status_code == 302 and response.url == IMPORT
    assert "no longer known" in _messages(response)[0]
    confirm = {**_map(staff, preview, BY_HAND).context["confirm_form"].initial, "format": "x"}
    assert "format" in staff.post(PROCESS, confirm).context["confirm_form"].errors


def test_the_mapping_form_names_only_a_file_this_user_uploaded_into_their_client(staff, harbour):
    page = _upload(staff, harbour, TWO_OF_EACH)
    other = ClientFactory.create(name="Not Mine")

    for forged in ({"kept-import_file_name": "passwd"}, {"kept-client": other.pk}, {"kept-column_map": "{"}):
        response = staff.post(COLUMNS, {**_mapping_post(page, BY_HAND), **forged})
        assert response.status_code == 302 and response.url == IMPORT
    assert not Lead.objects.exists()


def test_after_the_import_the_kept_file_is_gone_and_mapping_it_again_says_so(staff, harbour):
    page = _upload(staff, harbour, TWO_OF_EACH)
    staff.post(PROCESS, _map(staff, page, BY_HAND).context["confirm_form"].initial)

    response = _map(staff, page, BY_HAND)

    assert response.status_code == 302
    assert "The uploaded file is no longer known: upload it again." in _messages(response)
    assert harbour.leads.count() == 2


def test_a_file_whose_headers_all_match_shows_the_columns_folded_and_imports_as_before(staff, harbour):
    page = _upload(staff, harbour, "First name,E-mail,Mobile\nSam,sam@clinic.example.com,0412 345 678\n")

    assert page.context["mapping_open"] is False
    html = page.content.decode()
    assert '<details class="import-columns module" id="import-columns">' in html
    assert "The file's columns and the lead fields they are read as (change)" in html
    assert not page.context["confirm_form"].initial.get("column_map")  # headers read as spelt
    staff.post(PROCESS, page.context["confirm_form"].initial)
    assert harbour.leads.get().phone == "+61412345678"


def test_a_file_without_an_email_column_opens_the_mapping_form(staff, harbour):
    page = _upload(staff, harbour, "Name,Mobile\nSam Lee,0412 345 678\n")

    assert page.context["mapping_open"] is True
    assert page.context["confirm_form"] is not None  # phones alone can be imported: the form only asks


def test_the_mapping_is_the_one_import_leads_column_gives():
    """The admin's mapping and `--column` are read by the same service function: the exact header first."""
    mapping = {"Email": "", "E-mail": "email", "cell no": "phone"}

    assert [match_header(h, mapping) for h in ["Email", "E-mail", "Cell No.", "Company"]] == [
        None,
        "email",
        "phone",
        "company_name",
    ]
    columns, ignored, errors = map_columns(["Email", "E-mail", "Cell No."], mapping)
    assert (columns, ignored, errors) == ({"E-mail": "email", "Cell No.": "phone"}, ["Email"], [])
