from pathlib import Path
from typing import Any

from django.core.management.base import CommandError

from engines.services.intake.lead_import import (
    ImportPreview,
    LeadImportError,
    OnDuplicate,
    RowAction,
    apply_import,
    load_table,
    preview_import,
    write_rejected_rows,
)
from outreach.management.base import OutreachCommand
from outreach.management.progress import progress_bar
from outreach.models import Client

ERRORS_SHOWN = 20


class Command(OutreachCommand):
    help = (
        "Import leads into one client from a .csv or .xlsx file whose header row names the columns (first name, "
        "last name, email, phone, company, title, industry, employees, country, region, time zone, LinkedIn URL; "
        "common spellings accepted; --column maps others). Files over LEAD_IMPORT_MAX_BYTES or with more than "
        "LEAD_IMPORT_MAX_ROWS rows are refused. Every row is checked first: if any row is invalid, the errors are "
        "listed and nothing is imported, unless --skip-invalid imports the valid rows (--rejected FILE writes the "
        "others, with why, as CSV). Leads whose email the client already has are skipped, or updated with "
        "--on-duplicate update. The import is all or nothing; the imported leads are then scored and planned by "
        "one background task."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("client", metavar="CLIENT", help="the client's id or exact name")
        parser.add_argument("file", metavar="FILE", type=Path, help="a .csv (UTF-8) or .xlsx file")
        parser.add_argument("--dry-run", action="store_true", help="check the file and report, import nothing")
        parser.add_argument(
            "--on-duplicate",
            choices=[choice.value for choice in OnDuplicate],
            default=OnDuplicate.SKIP.value,
            help="what to do with a row whose email the client already has (default: skip)",
        )
        parser.add_argument(
            "--skip-invalid", action="store_true", help="import the valid rows and leave out the invalid ones"
        )
        parser.add_argument(
            "--rejected",
            metavar="CSV",
            type=Path,
            help="write the invalid rows to this CSV file, with a column saying why each was rejected",
        )
        parser.add_argument(
            "--column",
            metavar="HEADER=FIELD",
            action="append",
            default=[],
            help="read the column HEADER as the lead field FIELD (e.g. 'Cell=phone'; 'Notes=' leaves it out); "
            "may be repeated",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        client = _find_client(options["client"])
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"No file at {path}.")
        try:
            headers, rows = load_table(path)
        except LeadImportError as exc:
            raise CommandError(str(exc)) from exc
        verbosity = options["verbosity"]
        with progress_bar(self, len(rows), verbosity=verbosity, unit="row", desc="checking") as bar:
            preview = preview_import(
                client,
                headers,
                rows,
                on_duplicate=options["on_duplicate"],
                column_map=_column_map(options["column"]),
                progress=bar.update,
            )
        self._report(preview)
        if options["rejected"] is not None:
            with options["rejected"].open("w", encoding="utf-8", newline="") as out:
                written = write_rejected_rows(preview, headers, rows, out)
            self.stdout.write(f"{written} rejected row(s) written to {options['rejected']}.")
        if preview.file_errors or not (preview.is_valid or options["skip_invalid"]):
            raise CommandError(
                "Nothing imported: fix the rows above and run the command again"
                + ("." if preview.file_errors else ", or give --skip-invalid to import the valid rows.")
            )
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing imported.")
            return
        with progress_bar(self, len(preview.rows), verbosity=verbosity, unit="row", desc="importing") as bar:
            try:
                result = apply_import(preview, skip_invalid=options["skip_invalid"], progress=bar.update)
            except LeadImportError as exc:
                raise CommandError(str(exc)) from exc
        self.stdout.write(
            self.style.SUCCESS(
                f"Imported into {client} (id {client.pk}): {result.created} new, {result.updated} updated, "
                f"{result.skipped} skipped"
                + (f", {result.rejected} invalid rows left out" if result.rejected else "")
                + f". Scoring and planning of {len(result.lead_ids)} leads is queued "
                "as one background task."
            )
        )

    def _report(self, preview: ImportPreview) -> None:
        for error in preview.file_errors:
            self.stderr.write(self.style.ERROR(error))
        invalid = [row for row in preview.rows if row.action == RowAction.INVALID]
        for row in invalid[:ERRORS_SHOWN]:
            problems = "; ".join(message for messages in row.errors.values() for message in messages)
            self.stderr.write(self.style.ERROR(f"line {row.line}: {problems}"))
        if len(invalid) > ERRORS_SHOWN:
            self.stderr.write(self.style.ERROR(f"... and {len(invalid) - ERRORS_SHOWN} more invalid rows"))
        if preview.ignored_columns:
            self.stdout.write(
                "Ignored columns (header not recognised; --column HEADER=FIELD maps one): "
                + ", ".join(preview.described_ignored_columns())
            )
        counts = preview.counts()
        self.stdout.write(
            f"{len(preview.rows)} rows: {counts[RowAction.NEW]} new, {counts[RowAction.UPDATE]} to update, "
            f"{counts[RowAction.SKIP]} to skip, {counts[RowAction.INVALID]} invalid."
        )


def _column_map(pairs: list[str]) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for pair in pairs:
        header, sep, field = pair.partition("=")
        if not sep or not header.strip():
            raise CommandError(f"--column {pair!r}: write it as HEADER=FIELD, e.g. 'Cell=phone'.")
        mapping[header.strip()] = field.strip()
    return mapping


def _find_client(identifier: str) -> Client:
    clients = Client.objects.filter(pk=int(identifier)) if identifier.isdigit() else None
    if not clients:
        clients = Client.objects.filter(name__iexact=identifier.strip())
    found = list(clients[:2])
    if len(found) != 1:
        problem = "No client" if not found else "More than one client"
        raise CommandError(f"{problem} with id or name {identifier!r}: give the client's id.")
    return found[0]
