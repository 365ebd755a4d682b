"""Lead import limits (size, rows, an .xlsx's unpacked size), importing only the valid rows, the rejected-rows CSV
and column mapping: the service, and `manage.py import_leads` which uses it."""

from __future__ import annotations

import csv
import io
import zipfile
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import Workbook  # type: ignore[import-untyped]

from engines.services.intake.lead_import import (
    ImportLimits,
    ImportTooLarge,
    InvalidImport,
    LeadImportError,
    RowAction,
    apply_import,
    load_table,
    map_columns,
    preview_import,
    write_rejected_rows,
)
from outreach.models import Lead
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db

HEADER = "Email,First name,Phone\n"


def _csv(tmp_path, rows: int, name: str = "leads.csv"):
    path = tmp_path / name
    path.write_text(HEADER + "".join(f"lead{i}@x.example.com,Lead{i},\n" for i in range(rows)), encoding="utf-8")
    return path


def _xlsx(tmp_path, rows, name: str = "leads.xlsx"):
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    for row in rows:
        sheet.append(row)
    path = tmp_path / name
    book.save(path)
    return path


@pytest.fixture
def client():
    return ClientFactory(name="Harbour Dental", country="AU")


def test_a_csv_at_the_row_limit_is_read_and_one_row_more_is_refused_naming_the_setting(tmp_path):
    limits = ImportLimits(max_rows=3)

    assert len(load_table(_csv(tmp_path, 3), limits)[1]) == 3
    with pytest.raises(ImportTooLarge, match=r"more than 3 rows.*LEAD_IMPORT_MAX_ROWS"):
        load_table(_csv(tmp_path, 4), limits)


def test_the_limits_come_from_the_settings(tmp_path, settings):
    settings.LEAD_IMPORT_MAX_ROWS = 2
    with pytest.raises(ImportTooLarge, match="LEAD_IMPORT_MAX_ROWS"):
        load_table(_csv(tmp_path, 3))
    settings.LEAD_IMPORT_MAX_BYTES = 10
    with pytest.raises(ImportTooLarge, match=r"more than the limit of 0.0 MB \(setting LEAD_IMPORT_MAX_BYTES\)"):
        load_table(_csv(tmp_path, 1))


def test_an_xlsx_is_counted_while_streamed_and_refused_past_the_row_limit(tmp_path):
    path = _xlsx(tmp_path, [["Email"], *([f"lead{i}@x.example.com"] for i in range(50))])

    with pytest.raises(ImportTooLarge, match="more than 10 rows"):
        load_table(path, ImportLimits(max_rows=10))
    assert len(load_table(path, ImportLimits(max_rows=50))[1]) == 50


def test_an_xlsx_whose_unpacked_size_is_over_the_limit_is_refused_before_it_is_parsed(tmp_path):
    path = _xlsx(tmp_path, [["Email"], ["sam@x.example.com"]])

    with pytest.raises(ImportTooLarge, match="unpacked.*LEAD_IMPORT_MAX_UNPACKED_BYTES"):
        load_table(path, ImportLimits(max_unpacked_bytes=1000))


def test_empty_rows_at_the_end_of_a_sheet_are_left_out_and_rows_are_padded_to_the_header(tmp_path):
    path = _xlsx(tmp_path, [["Email", "First name"], ["a@x.example.com"], [None, None], ["b@x.example.com", "B"], []])

    headers, rows = load_table(path)

    assert headers == ["Email", "First name"]
    assert rows == [("a@x.example.com", ""), ("", ""), ("b@x.example.com", "B")]


def test_a_latin_1_csv_names_the_first_byte_that_is_not_utf_8(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("Email,First name\njose@x.example.com,José\n".encode("latin-1"))

    with pytest.raises(LeadImportError, match="byte 40 is not"):
        load_table(path)


def _mixed_preview(client):
    rows = [
        ("sam@x.example.com", "Sam", ""),
        ("not-an-email", "=HYPERLINK(1)", "+61 12"),
        ("jo@x.example.com", "Jo", ""),
    ]
    return ["Email", "First name", "Phone"], rows, preview_import(client, ["Email", "First name", "Phone"], rows)


def test_the_valid_rows_can_be_imported_without_the_rejected_ones(client):
    _, _, preview = _mixed_preview(client)

    with pytest.raises(InvalidImport):
        apply_import(preview)
    result = apply_import(preview, skip_invalid=True)

    assert (result.created, result.rejected) == (2, 1)
    assert set(Lead.objects.values_list("email", flat=True)) == {"sam@x.example.com", "jo@x.example.com"}


def test_a_file_level_error_refuses_the_file_even_when_skipping_invalid_rows(client):
    preview = preview_import(client, ["Name"], [("Sam Lee",)])

    assert preview.importable == 0
    with pytest.raises(InvalidImport, match="No email, phone or LinkedIn column"):
        apply_import(preview, skip_invalid=True)


def test_the_rejected_rows_are_listed_as_text_and_written_as_csv_with_why_and_formulas_escaped(client):
    headers, rows, preview = _mixed_preview(client)

    problems = preview.problems()
    out = io.StringIO()
    written = write_rejected_rows(preview, headers, rows, out)

    assert [(p.line, p.field) for p in problems] == [(3, "Email"), (3, "Phone")]
    assert written == 1
    table = list(csv.reader(io.StringIO(out.getvalue())))
    assert table[0] == ["Line", "Email", "First name", "Phone", "Rejected because"]
    assert table[1][:4] == ["3", "not-an-email", "'=HYPERLINK(1)", "'+61 12"]
    assert table[1][4].startswith("Email: 'not-an-email' is not an email address; Phone:")


def test_a_cell_escaped_by_the_rejected_rows_file_is_imported_without_its_quote(client):
    preview = preview_import(client, ["Email", "Phone"], [("sam@x.example.com", "'+61412345678")])

    assert preview.rows[0].values["phone"] == "+61412345678"


def test_headers_are_matched_whatever_their_case_spacing_and_punctuation_and_others_can_be_mapped():
    columns, ignored, errors = map_columns([" E-MAIL ", "Company", "Cell no.", "Notes"], {"cell no": "phone"})

    assert columns == {"E-MAIL": "email", "Company": "company_name", "Cell no.": "phone"}
    assert (ignored, errors) == (["Notes"], [])
    assert map_columns(["Email", "Notes"], {"Notes": "favourite"})[2][0].startswith("'favourite' (for column")
    assert map_columns(["Email", "Mobile"], {"mobile": ""})[1] == ["Mobile"]


def test_an_unknown_header_is_named_with_the_field_it_may_mean(client):
    preview = preview_import(client, ["Emial", "Favourite colour", "Phone"], [("", "teal", "+61412345678")])

    assert preview.described_ignored_columns() == ["Emial (did you mean Email?)", "Favourite colour"]


def _run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_leads", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_obeys_the_row_limit(client, tmp_path, settings):
    settings.LEAD_IMPORT_MAX_ROWS = 2

    with pytest.raises(CommandError, match="LEAD_IMPORT_MAX_ROWS"):
        _run(str(client.pk), str(_csv(tmp_path, 3)))
    assert not Lead.objects.exists()


def test_the_command_imports_the_valid_rows_and_writes_the_rejected_ones(client, tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("E-mail,Cell\nsam@x.example.com,\nbroken,\njo@x.example.com,\n", encoding="utf-8")
    rejected = tmp_path / "rejected.csv"

    with pytest.raises(CommandError, match="--skip-invalid"):
        _run(str(client.pk), str(path))
    out, _ = _run(str(client.pk), str(path), "--skip-invalid", "--rejected", str(rejected), "--column", "Cell=phone")

    assert "2 new, 0 updated, 0 skipped, 1 invalid rows left out" in out
    assert client.leads.count() == 2
    assert rejected.read_text(encoding="utf-8").splitlines()[1].startswith("3,broken,,Email: 'broken' is not")


def test_the_command_refuses_a_badly_written_column_mapping(client, tmp_path):
    with pytest.raises(CommandError, match="HEADER=FIELD"):
        _run(str(client.pk), str(_csv(tmp_path, 1)), "--column", "phone")


def test_an_unknown_header_is_reported_by_the_command_with_a_suggestion(client, tmp_path):
    path = tmp_path / "leads.csv"
    path.write_text("Email,Compnay\nsam@x.example.com,Clinic\n", encoding="utf-8")

    out, _ = _run(str(client.pk), str(path), "--dry-run")

    assert "Compnay (did you mean Company?)" in out
    assert [row for row in preview_import(client, ["Email"], [("a@x.example.com",)]).rows][0].action == RowAction.NEW


def test_a_large_sheet_that_does_not_declare_its_size_is_refused_before_openpyxl_scans_it(tmp_path, monkeypatch):
    from engines.services.intake import lead_import

    path = tmp_path / "nodim.xlsx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(
            "xl/worksheets/sheet1.xml", "<worksheet><sheetData>" + "<row/>" * 100 + "</sheetData></worksheet>"
        )
    monkeypatch.setattr(lead_import, "UNSIZED_SHEET_MAX_BYTES", 100)

    with pytest.raises(ImportTooLarge, match="does not say how many rows it has"):
        load_table(path)
