"""Export leads and activities to CSV and XLSX from their change lists: the list's rows as filtered and searched (or
the rows selected), only the user's clients, formula cells escaped, view permission required."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from django.urls import reverse
from openpyxl import load_workbook  # type: ignore[import-untyped]

from outreach.admin import exports
from tests.factories import ActivityFactory, ClientFactory, LeadFactory, StaffUserFactory

pytestmark = pytest.mark.django_db

LEAD_LIST = reverse("admin:outreach_lead_changelist")
ACTIVITY_LIST = reverse("admin:outreach_activity_changelist")


def _export_url(model: str, fmt: str) -> str:
    return reverse(f"admin:outreach_{model}_export", args=[fmt])


def _csv_rows(response) -> list[dict[str, str]]:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith("attachment; filename=")
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def _xlsx_sheets(response) -> dict[str, list[dict]]:
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == exports.XLSX_CONTENT_TYPE
    assert ".xlsx" in response["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheets = {}
    for sheet in workbook.worksheets:
        header, *rows = list(sheet.iter_rows(values_only=True))
        sheets[sheet.title] = [dict(zip(header, row, strict=True)) for row in rows]
    return sheets


def _xlsx_rows(response) -> list[dict]:
    (rows,) = _xlsx_sheets(response).values()
    return rows


def _export(http, model: str, fmt: str, params: dict | None = None) -> list[dict]:
    response = http.get(_export_url(model, fmt), params or {})
    return _csv_rows(response) if fmt == "csv" else _xlsx_rows(response)


@pytest.fixture
def harbour():
    return ClientFactory(name="Harbour Dental")


@pytest.fixture
def rival():
    return ClientFactory(name="Rival Legal")


@pytest.fixture
def world(harbour, rival):
    """A lead and an activity in each client."""
    created = datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)
    rows = {}
    for name, client in (("mine", harbour), ("theirs", rival)):
        lead = LeadFactory(client=client, first_name=name.title(), last_name="Lee", als_score=85, status="in_sequence")
        activity = ActivityFactory(
            lead=lead,
            created_at=created,
            provider="postmark",
            provider_message_id=f"msg-{name}",
            content_snapshot={"subject": f"Hello {name}", "body": "Open to a quick chat?"},
            metadata={"api_key": "never-exported"},
        )
        rows[name] = {"lead": lead, "activity": activity}
    return rows


@pytest.fixture
def staff(client, harbour):
    """A member of Harbour Dental only, with every outreach permission, logged in."""
    client.force_login(StaffUserFactory(clients=[harbour]))
    return client


# ----------------------------------------------------------------------------- leads and activities download


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_leads_download_with_their_identity_contact_and_state(admin_client, world, fmt):
    rows = _export(admin_client, "lead", fmt)
    assert {row["first_name"] for row in rows} == {"Mine", "Theirs"}
    mine = next(row for row in rows if row["first_name"] == "Mine")
    lead = world["mine"]["lead"]
    assert mine["client"] == "Harbour Dental"
    assert mine["email"] == lead.email
    assert mine["company_name"] == lead.company_name
    assert mine["status"] == "in_sequence"
    assert mine["tier"] == "hot"
    created = lead.created_at.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    if fmt == "csv":
        assert mine["id"] == str(lead.pk)
        assert mine["score"] == "85"
        assert mine["do_not_contact"] == "false"
        assert mine["created_at (UTC)"] == created.isoformat() + "Z"
        assert mine["converted_at (UTC)"] == ""
    else:
        assert mine["id"] == lead.pk
        assert mine["score"] == 85
        assert mine["do_not_contact"] is False
        assert mine["created_at (UTC)"] == created
        assert mine["converted_at (UTC)"] is None


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_activities_download_with_lead_touch_time_and_snapshot_text(admin_client, world, fmt):
    rows = _export(admin_client, "activity", fmt)
    assert {row["provider_message_id"] for row in rows} == {"msg-mine", "msg-theirs"}
    mine = next(row for row in rows if row["provider_message_id"] == "msg-mine")
    activity = world["mine"]["activity"]
    assert mine["id"] == str(activity.pk)
    assert mine["client"] == "Harbour Dental"
    assert mine["lead_email"] == activity.lead.email
    assert mine["lead_name"] == "Mine Lee"
    assert (mine["action"], mine["channel"]) == ("email_sent", "email")
    assert mine["subject"] == "Hello mine"
    assert mine["body"] == "Open to a quick chat?"
    if fmt == "csv":
        assert mine["touch_number"] == "1"
        assert mine["created_at (UTC)"] == "2026-03-04T05:06:07Z"
    else:
        assert mine["touch_number"] == 1
        assert mine["created_at (UTC)"] == datetime(2026, 3, 4, 5, 6, 7)
    # Only the listed columns leave: no metadata (which may hold provider payloads), nothing secret.
    assert "never-exported" not in str(rows)
    assert set(mine) == {col.header for col in exports.ACTIVITY_EXPORT.columns}


def test_an_activity_without_subject_or_body_exports_empty_text(admin_client):
    ActivityFactory(action="linkedin_sent", channel="linkedin", content_snapshot={})
    (row,) = _export(admin_client, "activity", "csv")
    assert (row["subject"], row["body"]) == ("", "")


def test_the_csv_is_streamed(admin_client, world):
    response = admin_client.get(_export_url("lead", "csv"))
    assert response.streaming


# ----------------------------------------------------------------------------- who sees what


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("model", ["lead", "activity"])
def test_a_member_exports_only_their_clients_rows(staff, world, model, fmt):
    rows = _export(staff, model, fmt)
    assert [row["client"] for row in rows] == ["Harbour Dental"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("model", ["lead", "activity"])
def test_another_clients_filter_in_the_url_never_reaches_its_rows(client, staff, world, harbour, rival, model, fmt):
    # A member of one client has no client filter (one choice): the parameter is ignored, as on the list.
    assert [row["client"] for row in _export(staff, model, fmt, {"client__id__exact": rival.pk})] == ["Harbour Dental"]
    # A member of two clients has the filter: another client's id in it finds nothing.
    client.force_login(StaffUserFactory(clients=[harbour, ClientFactory(name="Third")]))
    assert _export(client, model, fmt, {"client__id__exact": rival.pk}) == []
    assert [row["client"] for row in _export(client, model, fmt, {"client__id__exact": harbour.pk})] == [
        "Harbour Dental"
    ]


@pytest.mark.parametrize("model", ["lead", "activity"])
def test_another_clients_rows_selected_for_the_action_are_not_exported(staff, world, model):
    ids = [str(world["mine"][model].pk), str(world["theirs"][model].pk)]
    response = staff.post(
        reverse(f"admin:outreach_{model}_changelist"), {"action": "export_selected_csv", "_selected_action": ids}
    )
    assert [row["client"] for row in _csv_rows(response)] == ["Harbour Dental"]


@pytest.mark.parametrize("model", ["lead", "activity"])
def test_exporting_needs_the_view_permission(client, harbour, world, model):
    other = "activity" if model == "lead" else "lead"
    client.force_login(StaffUserFactory(clients=[harbour], permissions=[f"view_{other}"]))
    for fmt in ("csv", "xlsx"):
        assert client.get(_export_url(model, fmt)).status_code == 403
    assert client.get(_export_url(other, "csv")).status_code == 200


def test_a_view_only_member_may_export(client, harbour, world):
    client.force_login(StaffUserFactory(clients=[harbour], permissions=["view_lead"]))
    assert [row["first_name"] for row in _export(client, "lead", "csv")] == ["Mine"]
    response = client.post(
        LEAD_LIST, {"action": "export_selected_xlsx", "_selected_action": [str(world["mine"]["lead"].pk)]}
    )
    assert [row["first_name"] for row in _xlsx_rows(response)] == ["Mine"]


def test_anonymous_users_are_sent_to_the_login_page(client, world):
    response = client.get(_export_url("lead", "csv"))
    assert response.status_code == 302
    assert "/login/" in response["Location"]


# ----------------------------------------------------------------------------- the change list's rows


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_filter_and_a_search_narrow_the_lead_export(admin_client, harbour, fmt):
    LeadFactory(client=harbour, first_name="Ann", last_name="Smith", status="new")
    LeadFactory(client=harbour, first_name="Bob", last_name="Smith", status="in_sequence")
    LeadFactory(client=harbour, first_name="Cat", last_name="Jones", status="in_sequence")
    assert {row["first_name"] for row in _export(admin_client, "lead", fmt, {"status__exact": "in_sequence"})} == {
        "Bob",
        "Cat",
    }
    assert {row["first_name"] for row in _export(admin_client, "lead", fmt, {"q": "Smith"})} == {"Ann", "Bob"}
    both = {"q": "Smith", "status__exact": "in_sequence"}
    assert [row["first_name"] for row in _export(admin_client, "lead", fmt, both)] == ["Bob"]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_a_filter_and_a_search_narrow_the_activity_export(admin_client, harbour, fmt):
    lead = LeadFactory(client=harbour)
    ActivityFactory(lead=lead, provider_message_id="a", content_snapshot={"body": "Quarterly review?"})
    ActivityFactory(lead=lead, provider_message_id="b", content_snapshot={"body": "Coffee next week?"})
    ActivityFactory(lead=lead, provider_message_id="c", action="sms_sent", channel="sms")
    by_channel = _export(admin_client, "activity", fmt, {"channel__exact": "sms"})
    assert [row["provider_message_id"] for row in by_channel] == ["c"]
    by_body = _export(admin_client, "activity", fmt, {"q": "coffee"})
    assert [row["provider_message_id"] for row in by_body] == ["b"]


def test_the_export_keeps_the_lists_ordering_and_covers_every_page(admin_client, harbour):
    leads = [LeadFactory(client=harbour, als_score=score) for score in (10, 90, 50)]
    assert [row["score"] for row in _export(admin_client, "lead", "csv")] == ["50", "90", "10"]  # newest first
    by_score = _export(admin_client, "lead", "csv", {"o": "3", "p": "1"})  # column 3 is the score; any page
    assert [row["score"] for row in by_score] == ["10", "50", "90"]
    assert len(leads) == 3


def test_the_action_exports_only_the_selected_rows(admin_client, world):
    lead = world["theirs"]["lead"]
    response = admin_client.post(LEAD_LIST, {"action": "export_selected_xlsx", "_selected_action": [str(lead.pk)]})
    assert [row["email"] for row in _xlsx_rows(response)] == [lead.email]
    activity = world["mine"]["activity"]
    response = admin_client.post(
        ACTIVITY_LIST, {"action": "export_selected_csv", "_selected_action": [str(activity.pk)]}
    )
    assert [row["id"] for row in _csv_rows(response)] == [str(activity.pk)]


def test_select_all_exports_every_row_of_the_search(admin_client, harbour):
    LeadFactory(client=harbour, last_name="Smith")
    LeadFactory(client=harbour, last_name="Smith")
    other = LeadFactory(client=harbour, last_name="Jones")
    response = admin_client.post(
        f"{LEAD_LIST}?q=Smith",
        {"action": "export_selected_csv", "_selected_action": [str(other.pk)], "select_across": "1"},
    )
    assert [row["last_name"] for row in _csv_rows(response)] == ["Smith", "Smith"]


@pytest.mark.parametrize("model", ["lead", "activity"])
def test_the_change_list_links_its_query_string_to_the_export(staff, world, model):
    page = staff.get(reverse(f"admin:outreach_{model}_changelist"), {"q": "Lee"}).content.decode()
    assert f'href="{_export_url(model, "csv")}?q=Lee"' in page
    assert f'href="{_export_url(model, "xlsx")}?q=Lee"' in page


def test_the_lead_list_keeps_its_import_button(staff):
    page = staff.get(LEAD_LIST).content.decode()
    assert reverse("admin:outreach_lead_import") in page
    assert "Export CSV" in page


def test_wrong_filters_go_back_to_the_list_saying_so(admin_client, world):
    response = admin_client.get(_export_url("lead", "csv"), {"als_score__gte": "many"})
    assert response.status_code == 302
    assert response["Location"] == f"{LEAD_LIST}?e=1"


def test_an_unknown_format_is_not_found(admin_client):
    assert admin_client.get(_export_url("lead", "pdf")).status_code == 404


# ----------------------------------------------------------------------------- formula cells


FORMULAS = {
    "first_name": '=HYPERLINK("http://evil.example","x")',
    "last_name": "+cmd|' /C calc'!A0",
    "company_name": "-2+3",
    "title": "@SUM(1+1)",
    "industry": "\tDental",
    "region": "\rNSW",
}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_formula_cells_are_escaped_in_lead_exports(admin_client, harbour, fmt):
    LeadFactory(client=harbour, phone="+61412345678", **FORMULAS)
    (row,) = _export(admin_client, "lead", fmt)
    for name, text in FORMULAS.items():
        expected = "'" + text
        # XML reads a carriage return back as a line feed; the quote in front is what matters.
        assert row[name] == (expected.replace("\r", "\n") if fmt == "xlsx" else expected), name
    assert row["phone"] == "'+61412345678"  # any text cell, a phone number too
    assert row["country"] == "Australia"  # nothing else is touched


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_formula_cells_are_escaped_in_activity_exports(admin_client, harbour, fmt):
    lead = LeadFactory(client=harbour, email="=1+1@example.com")
    ActivityFactory(lead=lead, content_snapshot={"subject": "=IMPORTXML(A1)", "body": "@evil"})
    (row,) = _export(admin_client, "activity", fmt)
    assert (row["lead_email"], row["subject"], row["body"]) == ("'=1+1@example.com", "'=IMPORTXML(A1)", "'@evil")


def test_xlsx_holds_formula_text_as_text_and_drops_control_characters(admin_client, harbour):
    LeadFactory(client=harbour, first_name="\x01=1+1", last_name="Lee\x0b")
    response = admin_client.get(_export_url("lead", "xlsx"))
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    headers = [cell.value for cell in sheet[1]]
    first, last = sheet.cell(2, headers.index("first_name") + 1), sheet.cell(2, headers.index("last_name") + 1)
    assert (first.value, first.data_type) == ("'=1+1", "s")
    assert last.value == "Lee"
    assert not any(cell.data_type == "f" for row in sheet.iter_rows() for cell in row)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [("=A1", "'=A1"), ("+1", "'+1"), ("-1", "'-1"), ("@A", "'@A"), ("\tA", "'\tA"), ("\rA", "'\rA"), ("A=1", "A=1")],
)
def test_escape_formula(cell, expected):
    assert exports.escape_formula(cell) == expected
    assert exports.csv_cell(cell) == expected
    assert exports.xlsx_cell(cell) == expected


def test_numbers_are_not_escaped():
    assert exports.csv_cell(-3) == -3
    assert exports.xlsx_cell(-3) == -3


# ----------------------------------------------------------------------------- large exports


def test_a_full_xlsx_sheet_goes_on_in_another(admin_client, harbour, monkeypatch):
    monkeypatch.setattr(exports, "XLSX_MAX_ROWS", 3)  # the header and two rows per sheet
    for _ in range(5):
        LeadFactory(client=harbour)
    sheets = _xlsx_sheets(admin_client.get(_export_url("lead", "xlsx")))
    assert [(title, len(rows)) for title, rows in sheets.items()] == [("Leads", 2), ("Leads (2)", 2), ("Leads (3)", 1)]


def test_rows_are_read_in_chunks_as_they_are_written(admin_client, harbour, monkeypatch):
    monkeypatch.setattr(exports, "CHUNK_SIZE", 2)
    monkeypatch.setattr(exports, "CSV_ROWS_PER_CHUNK", 2)
    for _ in range(5):
        LeadFactory(client=harbour)
    response = admin_client.get(_export_url("lead", "csv"))
    chunks = list(response.streaming_content)
    assert len(chunks) == 3  # the header with two rows, two rows, the last row
    assert len(list(csv.reader(io.StringIO(b"".join(chunks).decode())))) == 6
