"""Lead import: header mapping, per-row checks, duplicates, all-or-nothing writes and the one score-and-plan task."""

from __future__ import annotations

import io
import zipfile

import pytest
import tablib
from django.db import IntegrityError, connection
from django_q.conf import Conf
from django_q.models import Task

from engines import tasks
from engines.services.intake import lead_import
from engines.services.intake.lead_import import (
    InvalidImport,
    LeadImportError,
    OnDuplicate,
    RowAction,
    apply_import,
    load_table,
    map_columns,
    preview_import,
)
from engines.services.journey.triggers import score_and_plan_leads
from outreach.models import Lead, ScheduledTouch
from tests.factories import ClientFactory, LeadFactory

pytestmark = pytest.mark.django_db

HEADERS = ["First Name", "Surname", "E-mail", "Mobile", "Company", "Job Title", "Country", "Time Zone", "LinkedIn URL"]


def _row(n: int, **overrides: str) -> list[str]:
    values = {
        "first": f"Sam{n}",
        "last": "Lee",
        "email": f"sam{n}@clinic{n}.example.com",
        "phone": "0412 345 678",
        "company": f"Clinic {n}",
        "title": "Practice Manager",
        "country": "Australia",
        "tz": "australia/sydney",
        "linkedin": f"linkedin.com/in/sam-{n}",
    }
    values.update(overrides)
    return list(values.values())


@pytest.fixture
def client():
    return ClientFactory(country="AU")


@pytest.fixture
def sync_queue(monkeypatch):
    """Run enqueued tasks inline, through django-q2's own worker (Q_CLUSTER is read once, at import)."""
    monkeypatch.setattr(Conf, "SYNC", True)


def test_headers_are_mapped_by_their_common_spellings():
    columns, ignored, errors = map_columns(
        ["first_name", "Last Name", "Email Address", "Phone Number", "Organisation", "Title", "Industry",
         "# Employees", "Country", "State", "Timezone", "LinkedIn Profile", "Favourite colour"]
    )  # fmt: skip

    assert list(columns.values()) == [
        "first_name", "last_name", "email", "phone", "company_name", "title", "industry",
        "employee_count", "country", "region", "timezone", "linkedin_url",
    ]  # fmt: skip
    assert ignored == ["Favourite colour"]
    assert errors == []


def test_a_file_without_a_contact_column_or_with_two_columns_for_one_field_is_refused():
    assert "No email, phone or LinkedIn column" in map_columns(["Name", "Company"])[2][0]
    assert "'Mobile' and 'Phone' both give the phone" in map_columns(["Email", "Mobile", "Phone"])[2][0]


def test_a_valid_row_is_normalised(client):
    preview = preview_import(client, [*HEADERS, "Employees"], [[*_row(1), "11-50"]])

    assert preview.is_valid
    assert preview.rows[0].values == {
        "first_name": "Sam1",
        "last_name": "Lee",
        "email": "sam1@clinic1.example.com",
        "phone": "+61412345678",
        "company_name": "Clinic 1",
        "title": "Practice Manager",
        "country": "AU",
        "timezone": "Australia/Sydney",
        "linkedin_url": "https://linkedin.com/in/sam-1",
        "employee_count": 30,
    }


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"email": "sam at clinic"}, "email", "is not an email address"),
        ({"phone": "12345"}, "phone", "is not a phone number we can dial"),
        ({"tz": "Sydney time"}, "timezone", "Unknown time zone 'Sydney time'"),
        ({"country": "Atlantis"}, "country", "Unknown country 'Atlantis'"),
        ({"email": "", "phone": "", "linkedin": ""}, "email", "nothing to reach this lead by"),
    ],
)
def test_each_bad_row_is_reported_with_its_line_and_field(client, overrides, field, message):
    preview = preview_import(client, HEADERS, [_row(1), _row(2, **overrides)])

    assert not preview.is_valid
    bad = preview.rows[1]
    assert (bad.line, bad.action) == (3, RowAction.INVALID)
    assert message in " ".join(bad.errors[field])
    assert preview.rows[0].action == RowAction.NEW


def test_a_national_phone_number_is_read_with_the_client_s_country_when_the_row_has_none(client):
    preview = preview_import(client, ["Email", "Phone"], [["a@b.example.com", "(02) 9123 4567"]])

    assert preview.rows[0].values["phone"] == "+61291234567"


def test_preview_writes_nothing(client):
    preview_import(client, HEADERS, [_row(1)])

    assert not Lead.objects.exists()


def test_an_invalid_preview_cannot_be_applied_and_writes_nothing(client):
    preview = preview_import(client, HEADERS, [_row(1), _row(2, email="nope")])

    with pytest.raises(InvalidImport, match="1 row"):
        apply_import(preview)
    assert not Lead.objects.exists()


def test_new_rows_are_created_in_the_client(client):
    preview = preview_import(client, HEADERS, [_row(1), _row(2)])

    result = apply_import(preview)

    assert (result.created, result.updated, result.skipped) == (2, 0, 0)
    assert set(Lead.objects.filter(client=client).values_list("email", flat=True)) == {
        "sam1@clinic1.example.com",
        "sam2@clinic2.example.com",
    }
    assert set(result.lead_ids) == set(Lead.objects.values_list("pk", flat=True))


def test_an_existing_email_in_any_case_is_skipped_when_the_user_says_skip(client):
    lead = LeadFactory(client=client, email="Sam1@Clinic1.example.com", title="Owner")

    preview = preview_import(client, HEADERS, [_row(1), _row(2)], on_duplicate=OnDuplicate.SKIP)
    result = apply_import(preview)

    assert [row.action for row in preview.rows] == [RowAction.SKIP, RowAction.NEW]
    assert (result.created, result.updated, result.skipped) == (1, 0, 1)
    lead.refresh_from_db()
    assert lead.title == "Owner"


def test_an_existing_email_is_updated_when_the_user_says_update(client):
    lead = LeadFactory(
        client=client, email="Sam1@Clinic1.example.com", industry="Dental", als_score=77, phone="+61298765432"
    )
    lead.phone_unusable = True
    lead.save()

    preview = preview_import(client, HEADERS, [_row(1, title="Owner")], on_duplicate="update")
    result = apply_import(preview)

    assert (result.created, result.updated) == (0, 1)
    lead.refresh_from_db()
    assert (lead.title, lead.phone, lead.phone_unusable) == ("Owner", "+61412345678", False)
    # The stored spelling of the email, a column the file lacks, and the score are kept.
    assert (lead.email, lead.industry, lead.als_score) == ("Sam1@Clinic1.example.com", "Dental", 77)


def test_a_lead_of_another_client_with_the_same_email_is_not_a_duplicate(client):
    other = LeadFactory(email="sam1@clinic1.example.com")

    result = apply_import(preview_import(client, HEADERS, [_row(1)], on_duplicate="update"))

    assert result.created == 1
    assert Lead.objects.filter(email="sam1@clinic1.example.com").count() == 2
    other.refresh_from_db()
    assert other.client_id != client.pk


@pytest.mark.parametrize(("choice", "title"), [("skip", "First"), ("update", "Second")])
def test_the_same_email_twice_in_the_file_makes_one_lead(client, choice, title):
    rows = [_row(1, title="First"), _row(1, email="SAM1@clinic1.example.com", title="Second")]

    preview = preview_import(client, HEADERS, rows, on_duplicate=choice)
    apply_import(preview)

    assert "line 2" in preview.rows[1].note
    assert list(Lead.objects.values_list("title", flat=True)) == [title]


def refuse_new_leads(execute, sql, params, many, context):
    """A database that refuses to add leads (ids drawn for COPY on PostgreSQL, INSERT elsewhere)."""
    if 'INSERT INTO "outreach_lead"' in sql or "nextval" in sql:
        raise IntegrityError("disk full")
    return execute(sql, params, many, context)


def test_a_database_failure_midway_leaves_nothing_half_imported(client, django_capture_on_commit_callbacks):
    lead = LeadFactory(client=client, email="sam1@clinic1.example.com", title="Owner")
    preview = preview_import(client, HEADERS, [_row(1), _row(2)], on_duplicate="update")

    # Updates are written first, then the new leads: the insert fails after the update went through.
    with (
        connection.execute_wrapper(refuse_new_leads),
        django_capture_on_commit_callbacks() as callbacks,
        pytest.raises(LeadImportError, match="Nothing was imported"),
    ):
        apply_import(preview)

    lead.refresh_from_db()
    assert lead.title == "Owner"
    assert not Lead.objects.filter(email="sam2@clinic2.example.com").exists()
    assert callbacks == []


def test_a_row_added_since_the_preview_is_treated_as_a_duplicate_not_inserted_twice(client):
    preview = preview_import(client, HEADERS, [_row(1)], on_duplicate="skip")
    LeadFactory(client=client, email="sam1@clinic1.example.com")

    result = apply_import(preview)

    assert (result.created, result.skipped) == (0, 1)


def test_imported_leads_are_scored_and_planned_by_one_task(client, sync_queue, django_capture_on_commit_callbacks):
    preview = preview_import(client, HEADERS, [_row(n) for n in range(1, 6)])

    with django_capture_on_commit_callbacks(execute=True):
        apply_import(preview)

    assert Task.objects.filter(group="lead_import").count() == 1
    assert not Lead.objects.filter(als_score__isnull=True).exists()
    assert set(ScheduledTouch.objects.values_list("lead_id", flat=True)) == set(
        Lead.objects.values_list("pk", flat=True)
    )


def test_score_and_plan_leaves_out_leads_of_other_clients(client):
    mine, theirs = LeadFactory(client=client), LeadFactory()

    counts = score_and_plan_leads(client, [mine.pk, theirs.pk])

    assert counts["scored"] == 1
    theirs.refresh_from_db()
    assert theirs.als_score is None
    assert not ScheduledTouch.objects.filter(lead=theirs).exists()


def test_the_task_skips_a_deleted_client(client):
    client_id = client.pk
    client.delete()

    assert tasks.score_and_plan_imported_leads(client_id, [1, 2]) is None


def test_csv_with_a_byte_order_mark_and_xlsx_files_are_read(tmp_path):
    csv_path = tmp_path / "leads.csv"
    csv_path.write_bytes("\ufeffEmail,First name\nsam@x.example.com,Sam\n".encode())
    data = tablib.Dataset(["sam@x.example.com", "Sam"], headers=["Email", "First name"])
    xlsx_path = tmp_path / "leads.xlsx"
    xlsx_path.write_bytes(data.export("xlsx"))

    assert load_table(csv_path) == (["Email", "First name"], [("sam@x.example.com", "Sam")])
    assert load_table(xlsx_path) == (["Email", "First name"], [("sam@x.example.com", "Sam")])
    with pytest.raises(LeadImportError, match="csv or .xlsx"):
        load_table(tmp_path / "leads.txt")


def _zip_without_a_workbook() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("notes.txt", "not a workbook")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("latin1.csv", "First name,Email\nJosé,jose@x.example.com\n".encode("latin-1"), "not UTF-8 text"),
        ("binary.csv", bytes(range(128, 256)) * 3, "not UTF-8 text"),
        ("empty.xlsx", b"", "not an Excel workbook"),
        ("text.xlsx", b"first name,email\n", "not an Excel workbook"),
        ("nobook.xlsx", _zip_without_a_workbook(), "not an Excel workbook"),
    ],
)
def test_a_file_that_is_not_what_its_name_says_is_refused_with_what_to_do(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LeadImportError, match=message) as refused:
        load_table(path)
    assert "import it again" in str(refused.value)


def test_large_files_are_looked_up_in_batches(client, monkeypatch):
    monkeypatch.setattr(lead_import, "LOOKUP_BATCH_SIZE", 2)
    LeadFactory(client=client, email="sam5@clinic5.example.com")

    preview = preview_import(client, HEADERS, [_row(n) for n in range(1, 8)])

    assert [row.action for row in preview.rows].count(RowAction.SKIP) == 1
