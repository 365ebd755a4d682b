"""The admin import of a large file answers with a page that shows its progress while it runs.

More data rows than LEAD_IMPORT_PROGRESS_ROWS: the confirm step streams the admin page, a line each time about 2%
more rows are checked, then imported, then the message a smaller import leaves on the lead list (or why nothing was
imported) and a link to the lead list. Smaller files keep the redirect and the message.
"""

from __future__ import annotations

import html
import http.client
import os
import re
import tempfile
import threading
from urllib.parse import urlencode, urlsplit

import pytest
from django.contrib.messages import get_messages
from django.core import signing
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import IntegrityError, connection
from django.http import StreamingHttpResponse
from django.urls import reverse
from django.utils.crypto import get_random_string

from engines.db.copy import insert_returning_ids
from engines.services.intake import lead_import
from outreach.models import Lead
from tests.factories import ClientFactory, LeadFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

IMPORT = reverse("admin:outreach_lead_import")
PROCESS = reverse("admin:outreach_lead_process_import")
CHANGELIST = reverse("admin:outreach_lead_changelist")
STEP = re.compile(r'data-phase="(checked|imported)" data-rows="(\d+)"')
IMPORTED_LINE = re.compile(r"Writing the leads: ([\d,]+) of ([\d,]+) rows imported")


def leads_csv(rows: int, *, extra: str = "") -> str:
    lines = ["First name,E-mail,Company,Country"]
    lines += [f"Lead{i},lead{i}@clinic{i}.example.com,Clinic {i},Australia" for i in range(rows)]
    return "\n".join(lines) + "\n" + extra


@pytest.fixture
def harbour():
    return ClientFactory(name="Harbour Dental", country="AU")


@pytest.fixture
def staff(client, harbour):
    """A staff member of Harbour Dental only, logged in."""
    client.force_login(StaffUserFactory(clients=[harbour]))
    return client


@pytest.fixture
def small_batches(settings, monkeypatch):
    """A file of 30 rows shows its progress, checked and written 5 rows at a time (the service's batches)."""
    settings.LEAD_IMPORT_PROGRESS_ROWS = 10
    monkeypatch.setattr(lead_import, "PROGRESS_EVERY", 5)
    monkeypatch.setattr(lead_import, "WRITE_BATCH_SIZE", 5)


def _upload(http, agency_client, text, *, name="leads.csv", on_duplicate="skip"):
    return http.post(
        IMPORT,
        {
            "client": agency_client.pk,
            "import_file": SimpleUploadedFile(name, text.encode()),
            "format": "0",
            "on_duplicate": on_duplicate,
            "resource": "0",
        },
    )


def _confirm_data(http, agency_client, text, **kwargs):
    return _upload(http, agency_client, text, **kwargs).context["confirm_form"].initial


def _page(response):
    assert isinstance(response, StreamingHttpResponse)
    return b"".join(response.streaming_content).decode()


def _kept_file(http, confirm_data) -> str:
    """Where import-export keeps the uploaded file between the preview and the confirm step."""
    salt = f"outreach.lead-import.file:{http.session['_auth_user_id']}"
    return os.path.join(tempfile.gettempdir(), signing.loads(confirm_data["import_file_name"], salt=salt))


def test_a_large_file_streams_its_progress_then_the_counts_and_the_link(staff, harbour, small_batches):
    LeadFactory(client=harbour, email="lead0@clinic0.example.com")
    confirm = _confirm_data(staff, harbour, leads_csv(30))
    kept = _kept_file(staff, confirm)
    assert os.path.exists(kept)

    response = staff.post(PROCESS, confirm)

    assert response.status_code == 200 and response["Content-Type"] == "text/html; charset=utf-8"
    chunks = [chunk.decode() for chunk in response.streaming_content]
    page = "".join(chunks)
    assert len(chunks) > 5  # written as the import runs, not in one piece
    assert '<link rel="stylesheet" href="/static/admin/css/base.css">' in page  # the admin's look
    assert "30 rows of leads.csv into Harbour Dental:" in " ".join(page.split())
    steps = [(phase, int(rows)) for phase, rows in STEP.findall(page)]
    checked = [rows for phase, rows in steps if phase == "checked"]
    imported = [rows for phase, rows in steps if phase == "imported"]
    assert checked == sorted(checked) and checked[0] == 0 and checked[-1] == 30 and len(checked) > 3
    assert imported == sorted(imported) and imported[0] == 0 and imported[-1] == 30 and len(imported) > 3
    assert page.index('data-phase="checked" data-rows="30"') < page.index('data-phase="imported" data-rows="5"')
    assert [int(done.replace(",", "")) for done, _total in IMPORTED_LINE.findall(page)] == imported
    assert "Writing the leads: 10 of 30 rows imported" in page
    message = "Import finished: 29 new, 0 updated and 1 skipped leads. They are being scored and planned"
    assert page.index(message) > page.index('data-rows="30"')
    assert re.search(r"New leads</th><td>29<.*Rows skipped</th><td>1<", page, re.S)
    assert f'<meta http-equiv="refresh" content="10; url={CHANGELIST}">' in page
    assert page.rstrip().endswith("</html>")
    assert harbour.leads.count() == 30
    assert not os.path.exists(kept)  # removed once imported, as after a smaller import
    link = re.search(r'<a class="button import-lead-list" href="([^"]+)">Go to the lead list</a>', page)
    assert link and html.unescape(link[1]) == CHANGELIST
    lead_list = staff.get(html.unescape(link[1]))
    assert lead_list.status_code == 200 and lead_list.context["cl"].result_count == 30


def test_importing_only_the_valid_rows_shows_its_progress_and_the_rejected_count(staff, harbour, small_batches):
    confirm = _confirm_data(staff, harbour, leads_csv(30, extra="Al,al-at-nowhere,Co,Australia\n"))

    page = _page(staff.post(PROCESS, confirm))

    assert "Import finished: 30 new, 0 updated and 0 skipped leads; 1 rejected row left out." in page
    assert [int(rows) for phase, rows in STEP.findall(page) if phase == "imported"][-1] == 31
    assert re.search(r"Rejected rows left out</th><td>1<", page)
    assert harbour.leads.count() == 30


def test_updating_duplicates_shows_its_progress(staff, harbour, small_batches):
    LeadFactory(client=harbour, email="lead3@clinic3.example.com", company_name="Old")

    page = _page(staff.post(PROCESS, _confirm_data(staff, harbour, leads_csv(30), on_duplicate="update")))

    assert "Import finished: 29 new, 1 updated and 0 skipped leads." in page
    assert harbour.leads.get(email="lead3@clinic3.example.com").company_name == "Clinic 3"


def test_the_import_runs_to_its_end_when_the_browser_leaves(staff, harbour, small_batches, monkeypatch):
    confirm = _confirm_data(staff, harbour, leads_csv(30))
    response = staff.post(PROCESS, confirm)

    assert "Checking the rows: 0 of 30 rows checked" in next(response.streaming_content).decode()
    # The browser went away: the server closes the response. As without the page, the import is not cut off
    # half-way. (The end of the request would close the connection that holds the test's transaction: kept.)
    monkeypatch.setattr(connection, "close_if_unusable_or_obsolete", lambda: None)
    response.close()

    assert harbour.leads.count() == 30
    assert not os.path.exists(_kept_file(staff, confirm))


def test_a_file_at_the_threshold_keeps_the_redirect_and_the_message(staff, harbour, settings):
    settings.LEAD_IMPORT_PROGRESS_ROWS = 30
    confirm = _confirm_data(staff, harbour, leads_csv(30))

    response = staff.post(PROCESS, confirm)

    assert response.status_code == 302 and response.url == CHANGELIST
    messages = [str(message) for message in get_messages(response.wsgi_request)]
    assert messages == [
        "Import finished: 30 new, 0 updated and 0 skipped leads. They are being scored and planned in the background."
    ]
    assert harbour.leads.count() == 30
    assert not os.path.exists(_kept_file(staff, confirm))


def test_the_threshold_is_two_thousand_rows_unless_set(staff, harbour, settings):
    assert settings.LEAD_IMPORT_PROGRESS_ROWS == 2000
    del settings.LEAD_IMPORT_PROGRESS_ROWS  # the same default without the setting
    assert staff.post(PROCESS, _confirm_data(staff, harbour, leads_csv(50))).status_code == 302


def _refuse_after(rows, error, monkeypatch):
    """The database refuses the new leads once `rows` of them have been written (in the import's batches)."""
    insert = insert_returning_ids
    written = []

    def insert_until(model, batch, **kwargs):
        if sum(written) >= rows:
            raise error
        written.append(len(batch))
        return insert(model, batch, **kwargs)

    monkeypatch.setattr(lead_import, "insert_returning_ids", insert_until)


def test_a_failure_midway_is_reported_and_leaves_no_lead(staff, harbour, small_batches, monkeypatch):
    existing = LeadFactory(client=harbour, email="lead3@clinic3.example.com", company_name="Old")
    confirm = _confirm_data(staff, harbour, leads_csv(30), on_duplicate="update")
    _refuse_after(15, IntegrityError("disk full"), monkeypatch)

    page = _page(staff.post(PROCESS, confirm))

    assert "Writing the leads: 16 of 30 rows imported" in page  # the update first, then 3 batches of new leads
    assert "Writing the leads: 21 of 30" not in page and "Writing the leads: 30 of 30" not in page
    assert "Stopped: nothing was imported." in page
    assert "Nothing was imported: Nothing was imported: the database refused the rows (disk full)." in page
    assert "Import finished" not in page and "http-equiv" not in page
    assert f'href="{IMPORT}">Upload the file again</a>' in page
    assert list(Lead.objects.all()) == [existing]
    existing.refresh_from_db()
    assert existing.company_name == "Old"  # the update, written before the failure, rolled back with the rest
    assert not os.path.exists(_kept_file(staff, confirm))  # as after a smaller import that failed


def test_an_unexpected_error_midway_is_reported_logged_and_leaves_no_lead(
    staff, harbour, small_batches, monkeypatch, caplog
):
    confirm = _confirm_data(staff, harbour, leads_csv(30))
    _refuse_after(10, RuntimeError("connection lost"), monkeypatch)

    page = _page(staff.post(PROCESS, confirm))

    assert "Writing the leads: 10 of 30 rows imported" in page
    assert "Nothing was imported: the import stopped on an unexpected error" in page
    assert "connection lost" not in page
    assert not Lead.objects.exists()
    assert any(record.name == "django.request" and record.exc_info for record in caplog.records)
    kept = _kept_file(staff, confirm)
    assert os.path.exists(kept)  # kept, as when the request ended in a server error
    os.remove(kept)


def test_what_the_page_writes_is_escaped(staff, settings):
    settings.LEAD_IMPORT_PROGRESS_ROWS = 1
    marker = "<b>Bold & Co</b>"
    agency_client = ClientFactory(name=marker, country="AU")
    staff.force_login(StaffUserFactory(clients=[agency_client]))
    # The name is posted back at the confirm step (only the kept file's own name is signed).
    confirm = {
        **_confirm_data(staff, agency_client, leads_csv(3)),
        "original_file_name": "<script>alert(1)</script>.csv",
    }

    page = _page(staff.post(PROCESS, confirm))

    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;.csv" in page
    assert marker not in page and "&lt;b&gt;Bold &amp; Co&lt;/b&gt;" in page
    assert agency_client.leads.count() == 3


def test_a_failure_message_is_escaped(staff, harbour, settings, monkeypatch):
    settings.LEAD_IMPORT_PROGRESS_ROWS = 1
    confirm = _confirm_data(staff, harbour, leads_csv(3))
    _refuse_after(0, IntegrityError("<img src=x onerror=alert(1)>"), monkeypatch)

    page = _page(staff.post(PROCESS, confirm))

    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_a_staff_member_cannot_import_a_large_file_into_another_client(staff, harbour, small_batches):
    other = ClientFactory(name="Not Mine")
    confirm = {**_confirm_data(staff, harbour, leads_csv(30)), "client": other.pk}

    response = staff.post(PROCESS, confirm)

    assert not isinstance(response, StreamingHttpResponse) and response.status_code == 200
    assert "client" in response.context["confirm_form"].errors
    assert not Lead.objects.exists()
    assert _upload(staff, other, leads_csv(30)).context["form"].errors["client"]


def test_without_the_add_permission_nothing_is_streamed(client, harbour, small_batches):
    client.force_login(StaffUserFactory(clients=[harbour]))
    confirm = _confirm_data(client, harbour, leads_csv(30))
    client.force_login(StaffUserFactory(clients=[harbour], permissions=["view_lead"]))

    assert client.post(PROCESS, confirm).status_code == 403
    assert not Lead.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_dev_server_sends_each_line_while_the_import_runs(live_server, client, small_batches, monkeypatch):
    """Through a real WSGI server (runserver's): a line is in the browser while the import is held mid-way."""
    harbour = ClientFactory(name="Harbour Dental", country="AU")
    client.force_login(StaffUserFactory(clients=[harbour]))
    confirm = _confirm_data(client, harbour, leads_csv(30))
    held, release, resumed = threading.Event(), threading.Event(), threading.Event()
    insert = insert_returning_ids
    calls = []

    def insert_held(model, batch, **kwargs):
        calls.append(len(batch))
        if len(calls) == 2:  # the first 5 leads are written and reported; hold the next batch
            held.set()
            release.wait(timeout=15)  # a server that buffers the page sends nothing before this
            resumed.set()
        return insert(model, batch, **kwargs)

    monkeypatch.setattr(lead_import, "insert_returning_ids", insert_held)
    token = get_random_string(32)
    server = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(server.hostname, server.port, timeout=30)
    body = urlencode({**confirm, "csrfmiddlewaretoken": token})
    cookies = f"sessionid={client.cookies['sessionid'].value}; csrftoken={token}"
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookies}
    try:
        connection.request("POST", PROCESS, body=body, headers=headers)
        response = connection.getresponse()
        assert response.status == 200
        received = ""
        while "Writing the leads: 5 of 30 rows imported" not in received:
            line = response.readline().decode()
            assert line, f"the page ended before its progress arrived: {received[-500:]}"
            received += line
        assert held.wait(timeout=10) and not resumed.is_set()  # the line came while the import was held mid-way
        assert "Import finished" not in received
        release.set()
        received += response.read().decode()
    finally:
        release.set()
        connection.close()

    assert "Import finished: 30 new, 0 updated and 0 skipped leads." in received
    assert harbour.leads.count() == 30
