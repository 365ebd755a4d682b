"""The admin in a real browser: logging in (with the admin's own CSS served), importing leads, closing a task."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from outreach.models import Lead
from tests.browser.conftest import screenshot
from tests.factories import ClientFactory, LeadFactory, ManualTaskFactory

pytestmark = pytest.mark.integration


def test_login_shows_the_admin_with_its_stylesheet(admin_login, staff_user):
    client = ClientFactory(name="Harbour Dental")
    page = admin_login(staff_user("alex", client), via_form=True)
    # The stylesheet is served by the live server: the header gets the admin's colours, not the browser default.
    css = page.request.get(page.locator("link[rel=stylesheet]").first.get_attribute("href"))
    assert css.ok and "#header" in css.text()
    expect(page.locator("#header")).not_to_have_css("background-color", "rgba(0, 0, 0, 0)")
    screenshot(page, "login_admin_index")


GOOD_ROWS = (
    "First name,Last name,Email,Phone,Company,Country,Time zone\n"
    "Sam,Lee,sam@clinic.example.com,0412 345 678,Clinic,Australia,Australia/Sydney\n"
    "Jo,Park,jo@dental.example.com,+61298765432,Dental,AU,Australia/Perth\n"
)
BAD_ROW = "Al,Ng,al-at-nowhere,+61412345678,Co,Australia,Australia/Sydney\n"


def _upload(page, client_name: str, text: str) -> None:
    page.select_option("#id_client", label=client_name)
    page.set_input_files(
        "#id_import_file", files=[{"name": "leads.csv", "mimeType": "text/csv", "buffer": text.encode()}]
    )
    page.select_option("#id_format", value="0")
    page.check("input[name=on_duplicate][value=skip]")
    page.click("input[type=submit][value=Submit]")


def test_import_a_csv_with_one_bad_row_then_the_fixed_file(admin_login, staff_user):
    client = ClientFactory(name="Harbour Dental", country="AU")
    page = admin_login(staff_user("alex", client))
    page.goto("/admin/outreach/lead/")
    page.click("a.import_link")

    _upload(page, "Harbour Dental", GOOD_ROWS + BAD_ROW)
    errors = page.locator("table.import-preview")
    expect(errors).to_contain_text("'al-at-nowhere' is not an email address")
    expect(page.locator(".import-totals")).to_contain_text(
        "Into Harbour Dental: 3 rows: 2 new, 0 to update, 0 to skip, 1 with errors"
    )
    expect(page.locator("input[value='Confirm import']")).to_have_count(0)
    screenshot(page, "import_preview_with_bad_row")
    assert not Lead.objects.exists()

    _upload(page, "Harbour Dental", GOOD_ROWS)
    expect(page.locator("table.import-preview")).to_contain_text("+61412345678")
    screenshot(page, "import_preview_valid")
    page.click("input[value='Confirm import']")

    expect(page.locator(".messagelist")).to_contain_text("Import finished: 2 new, 0 updated and 0 skipped leads.")
    expect(page.locator("#result_list")).to_contain_text("Sam Lee")
    screenshot(page, "import_done_lead_list")
    assert set(client.leads.values_list("email", flat=True)) == {"sam@clinic.example.com", "jo@dental.example.com"}


def test_close_a_linkedin_task_from_the_queue(admin_login, staff_user):
    client = ClientFactory(name="Harbour Dental")
    task = ManualTaskFactory(
        lead=LeadFactory(client=client, first_name="Sam", last_name="Lee"), message="Hi Sam, quick question."
    )
    page = admin_login(staff_user("alex", client))
    page.goto("/admin/outreach/manualtask/")
    expect(page.locator("#result_list")).to_contain_text("Sam Lee")
    page.click("#result_list tbody tr a >> nth=0")

    expect(page.locator("#task-text")).to_have_value("Hi Sam, quick question.")
    page.fill("#id_done-sent_text", "Hi Sam, a quick question for you.")
    screenshot(page, "task_before_done")
    page.click("input[name=done]")

    expect(page.locator(".messagelist")).to_contain_text("Done:")
    expect(page.locator("#result_list")).to_have_count(0)  # the open queue is now empty
    screenshot(page, "task_queue_after_done")
    task.refresh_from_db()
    assert (task.status, task.sent_text) == ("done", "Hi Sam, a quick question for you.")
