"""The lead import in a real browser: rejected rows listed as text and downloaded as CSV, the valid rows imported,
then a file with unfamiliar headers mapped in the column form and imported."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import FilePayload, Page, expect

from outreach.models import Lead
from tests.browser.conftest import screenshot
from tests.factories import ClientFactory

pytestmark = pytest.mark.integration

GOOD_AND_BAD = (
    "First name,Last name,Email,Phone,Company,Country,Time zone\n"
    "Sam,Lee,sam@clinic.example.com,0412 345 678,Clinic,Australia,Australia/Sydney\n"
    "Al,Ng,al-at-nowhere,+61412000111,Co,Australia,Australia/Sydney\n"
    "Jo,Park,jo@dental.example.com,+61298765432,Dental,AU,Australia/Perth\n"
    "Bo,Chan,bo@smile.example.com,0413 222 333,Smile,Australia,Moon/Base\n"
    "Kim,Ito,kim@teeth.example.com,0414 555 666,Teeth,AU,Australia/Brisbane\n"
)
# Headers in Spanish: none is a spelling we know, so the file is refused until its columns are mapped.
UNFAMILIAR = (
    "Nombre,Correo electrónico,Móvil,Empresa,Notas\n"
    "Ana Ruiz,ana@sonrisa.example.com,0415 777 888,Sonrisa,llamar en marzo\n"
    "Luis Gil,luis@dientes.example.com,0416 999 000,Dientes,\n"
)


def _upload(page: Page, client_name: str, file_name: str, text: str) -> None:
    page.select_option("#id_client", label=client_name)
    upload = FilePayload(name=file_name, mimeType="text/csv", buffer=text.encode())
    page.set_input_files("#id_import_file", files=[upload])
    page.select_option("#id_format", value="0")
    page.check("input[name=on_duplicate][value=skip]")
    page.click("input[type=submit][value=Submit]")


def test_import_the_valid_rows_download_the_rejected_ones_then_map_a_file_s_columns(admin_login, staff_user):
    client = ClientFactory.create(name="Harbour Dental", country="AU")
    page = admin_login(staff_user("alex", client))
    page.goto("/admin/outreach/lead/")
    page.click("a.import_link")

    # 1. Good rows and bad rows: the bad ones are listed as text, row by row, with why.
    _upload(page, "Harbour Dental", "mixed.csv", GOOD_AND_BAD)
    expect(page.locator(".import-totals")).to_contain_text(
        "Into Harbour Dental: 5 rows: 3 new, 0 to update, 0 to skip, 2 with errors"
    )
    problems = page.locator("table.import-problems tbody tr")
    expect(problems.filter(has_text="'al-at-nowhere' is not an email address")).to_contain_text("3")
    expect(problems.filter(has_text="Unknown time zone 'Moon/Base'")).to_contain_text("5")
    expect(problems.filter(has_text="Unknown time zone 'Moon/Base'")).to_contain_text("Time zone")
    # Every header matched: the column mapping is there, folded.
    expect(page.locator("details.import-columns")).not_to_have_attribute("open", "")
    screenshot(page, "import_rows_rejected_listed")
    assert not Lead.objects.exists()

    # 2. The rejected rows as CSV: their own columns, their line and why (the kept file stays for the import).
    with page.expect_download() as download_info:
        page.click("input[type=submit][value='Download the rejected rows (CSV)']")
    download = download_info.value
    assert download.suggested_filename == "mixed-rejected.csv"
    table = list(csv.reader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
    assert table[0] == [
        "Line",
        "First name",
        "Last name",
        "Email",
        "Phone",
        "Company",
        "Country",
        "Time zone",
        "Rejected because",
    ]
    assert [row[:4] for row in table[1:]] == [
        ["3", "Al", "Ng", "al-at-nowhere"],
        ["5", "Bo", "Chan", "bo@smile.example.com"],
    ]
    assert "Email: 'al-at-nowhere' is not an email address" in table[1][-1]
    assert "Time zone: Unknown time zone 'Moon/Base'" in table[2][-1]

    # 3. Import the valid rows: the rejected ones are left out.
    page.click("input[type=submit][value='Import the 3 valid rows']")
    expect(page.locator(".messagelist")).to_contain_text(
        "Import finished: 3 new, 0 updated and 0 skipped leads; 2 rejected rows left out."
    )
    screenshot(page, "import_valid_rows_done")
    assert Lead.objects.filter(client=client).count() == 3
    assert set(client.leads.values_list("email", flat=True)) == {
        "sam@clinic.example.com",
        "jo@dental.example.com",
        "kim@teeth.example.com",
    }

    # 4. A file with unfamiliar headers: refused as spelt, the mapping form is open and says what each column holds.
    page.click("a.import_link")
    _upload(page, "Harbour Dental", "spanish.csv", UNFAMILIAR)
    mapping = page.locator("details.import-columns")
    expect(mapping).to_have_attribute("open", "")
    expect(page.locator("body")).to_contain_text("No email, phone or LinkedIn column")
    expect(mapping.locator("tr", has_text="Correo electrónico")).to_contain_text("ana@sonrisa.example.com")
    expect(page.get_by_label("Notas", exact=True)).to_have_value("")  # pre-filled: nothing matched
    screenshot(page, "import_mapping_form_open")

    page.get_by_label("Nombre", exact=True).select_option(label="Name")
    page.get_by_label("Correo electrónico", exact=True).select_option(label="Email")
    page.get_by_label("Móvil", exact=True).select_option(label="Phone")
    page.get_by_label("Empresa", exact=True).select_option(label="Company")
    page.get_by_label("Notas", exact=True).select_option(label="Email")  # a slip: two columns for the email
    page.click("input[type=submit][value='Preview with these columns']")

    # Shown back as a form error, the choices kept; fixed in place.
    expect(page.locator("details.import-columns .errornote")).to_contain_text("The column mapping has problems")
    expect(mapping.locator("tr.errors")).to_contain_text(
        "Columns 'Correo electrónico' and 'Notas' are both mapped to Email: keep one"
    )
    expect(page.get_by_label("Empresa", exact=True)).to_have_value("company_name")
    screenshot(page, "import_mapping_form_error")
    assert not Lead.objects.filter(email__endswith="sonrisa.example.com").exists()
    page.get_by_label("Notas", exact=True).select_option(label="Ignore this column")
    page.click("input[type=submit][value='Preview with these columns']")

    # The same kept file, read as mapped: no upload again, and the confirm step keeps the mapping.
    expect(page.locator(".import-totals")).to_contain_text("2 rows: 2 new, 0 to update, 0 to skip, 0 with errors")
    expect(page.locator(".import-ignored")).to_contain_text("ignored in the column mapping): Notas.")
    expect(page.locator("table.import-preview")).to_contain_text("+61415777888")
    expect(page.get_by_label("Correo electrónico", exact=True)).to_have_value("email")
    screenshot(page, "import_mapping_preview")
    page.click("input[type=submit][value='Confirm import']")

    expect(page.locator(".messagelist")).to_contain_text("Import finished: 2 new, 0 updated and 0 skipped leads.")
    expect(page.locator("#result_list")).to_contain_text("Ana Ruiz")
    screenshot(page, "import_mapping_done")
    assert Lead.objects.filter(client=client).count() == 5
    ana = client.leads.get(email="ana@sonrisa.example.com")
    assert (ana.first_name, ana.last_name, ana.phone, ana.company_name) == ("Ana", "Ruiz", "+61415777888", "Sonrisa")
