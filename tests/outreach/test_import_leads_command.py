"""`manage.py import_leads CLIENT FILE`: the same checks and writes as the admin import, from a shell."""

from __future__ import annotations

from io import StringIO

import pytest
import tablib
from django.core.management import call_command
from django.core.management.base import CommandError

from outreach.models import Lead
from tests.factories import ClientFactory, LeadFactory

pytestmark = pytest.mark.django_db

CSV = (
    "First name,Last name,Email,Phone,Company,Time zone\n"
    "Sam,Lee,sam@clinic.example.com,+61412345678,Clinic,Australia/Sydney\n"
    "Jo,Park,jo@dental.example.com,0298765432,Dental,Australia/Perth\n"
)


@pytest.fixture
def client():
    return ClientFactory(name="Harbour Dental", country="AU")


def _run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_leads", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def _write(tmp_path, text: str, name: str = "leads.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_imports_a_csv_into_the_client_named_by_id(client, tmp_path):
    out, err = _run(str(client.pk), str(_write(tmp_path, CSV)))

    assert "2 new, 0 updated, 0 skipped" in out
    assert set(client.leads.values_list("phone", flat=True)) == {"+61412345678", "+61298765432"}
    assert "checking" in err and "importing" in err  # the progress bars


def test_the_client_can_be_named_and_an_unknown_one_is_refused(client, tmp_path):
    path = str(_write(tmp_path, CSV))

    _run("harbour dental", path)
    assert client.leads.count() == 2
    with pytest.raises(CommandError, match="No client with id or name 'Nobody'"):
        _run("Nobody", path)


def test_dry_run_reports_and_imports_nothing(client, tmp_path):
    out, _ = _run(str(client.pk), str(_write(tmp_path, CSV)), "--dry-run")

    assert "2 rows: 2 new, 0 to update, 0 to skip, 0 invalid." in out
    assert "Dry run" in out
    assert not Lead.objects.exists()


def test_a_bad_row_lists_its_line_and_imports_nothing(client, tmp_path):
    bad = CSV + "Al,Ng,not-an-email,+61412345678,Co,Mars/Olympus\n"

    with pytest.raises(CommandError, match="Nothing imported"):
        _run(str(client.pk), str(_write(tmp_path, bad)), "--verbosity", "0")

    assert not Lead.objects.exists()


def test_bad_rows_are_printed_with_their_line_numbers(client, tmp_path):
    bad = CSV + "Al,Ng,not-an-email,+61412345678,Co,Mars/Olympus\n"
    err = StringIO()

    with pytest.raises(CommandError):
        call_command("import_leads", str(client.pk), str(_write(tmp_path, bad)), stdout=StringIO(), stderr=err)

    assert "line 4: 'not-an-email' is not an email address; Unknown time zone 'Mars/Olympus'" in err.getvalue()


def test_duplicates_are_skipped_by_default_and_updated_on_request(client, tmp_path):
    lead = LeadFactory(client=client, email="SAM@clinic.example.com", company_name="Old name")
    path = str(_write(tmp_path, CSV))

    out, _ = _run(str(client.pk), path)
    assert "1 new, 0 updated, 1 skipped" in out
    lead.refresh_from_db()
    assert lead.company_name == "Old name"

    out, _ = _run(str(client.pk), path, "--on-duplicate", "update")
    assert "0 new, 2 updated, 0 skipped" in out
    lead.refresh_from_db()
    assert lead.company_name == "Clinic"


def test_xlsx_files_are_read(client, tmp_path):
    data = tablib.Dataset(["sam@clinic.example.com", "Sam"], headers=["E-mail", "First Name"])
    path = tmp_path / "leads.xlsx"
    path.write_bytes(data.export("xlsx"))

    _run(str(client.pk), str(path))

    assert client.leads.get().first_name == "Sam"


def test_a_missing_or_unreadable_file_is_refused(client, tmp_path):
    with pytest.raises(CommandError, match="No file at"):
        _run(str(client.pk), str(tmp_path / "missing.csv"))
    with pytest.raises(CommandError, match="give a .csv or .xlsx file"):
        _run(str(client.pk), str(_write(tmp_path, "x", name="leads.txt")))


def test_a_latin_1_csv_or_a_broken_workbook_is_refused_in_one_line_and_imports_nothing(client, tmp_path):
    latin1 = tmp_path / "leads.csv"
    latin1.write_bytes(CSV.replace("Sam", "José").encode("latin-1"))
    with pytest.raises(CommandError, match='not UTF-8 text.*"CSV UTF-8"'):
        _run(str(client.pk), str(latin1))
    broken = tmp_path / "leads.xlsx"
    broken.write_bytes(b"")
    with pytest.raises(CommandError, match="not an Excel workbook"):
        _run(str(client.pk), str(broken))
    assert not Lead.objects.exists()


def test_a_cell_with_a_nul_character_is_a_row_error_on_both_databases(client, tmp_path):
    bad = CSV + "Al\x00,Ng,al@co.example.com,+61412345678,Co,Australia/Sydney\n"
    err = StringIO()
    with pytest.raises(CommandError, match="Nothing imported"):
        call_command("import_leads", str(client.pk), str(_write(tmp_path, bad)), stdout=StringIO(), stderr=err)
    assert "line 4: Contains a NUL character" in err.getvalue()
    assert not Lead.objects.exists()
