"""Every product command answers a database it cannot use with one line saying what to do, from a real shell:
an unmigrated SQLite file, and a PostgreSQL server that is not there.

Every product command shows a CommandError from a shell as one `Error: <message>` line (not Django's
`CommandError: <message>`) and exits with its returncode; --traceback still shows the traceback, and
call_command still raises the CommandError."""

import io
import socket
from importlib import import_module
from pathlib import Path

import pytest
from django.core.management import call_command, get_commands
from django.core.management.base import CommandError

from outreach.management.base import OutreachCommand
from tests.outreach.test_settings import run

COMMANDS = [
    ["score_leads", "--all"],
    ["allocate_leads", "--all"],
    ["dispatch_due_touches"],
    ["detect_patterns"],
    ["manual_tasks", "list"],
    ["record_booking", "--lead", "1"],
    ["import_leads", "1", "manage.py"],
    ["setup_schedules"],
]


def assert_one_line(result, *fragments: str) -> None:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: the database")
    for fragment in fragments:
        assert fragment in line


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: command[0])
def test_an_unmigrated_database_is_named_with_the_command_to_run(tmp_path, command):
    empty = tmp_path / "never-migrated.sqlite3"
    result = run(["manage.py", *command], DATABASE_URL=f"sqlite:///{empty}")
    assert_one_line(result, "not migrated", "python manage.py migrate")


def test_an_unreachable_database_says_to_check_database_url():
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run(["manage.py", "score_leads", "--all"], DATABASE_URL=f"postgres://nobody@127.0.0.1:{port}/outreach")
    assert_one_line(result, "cannot be reached", "DATABASE_URL")


def test_every_product_command_derives_from_the_base():
    folder = Path(__file__).resolve().parents[2] / "outreach" / "management" / "commands"
    names = sorted(path.stem for path in folder.glob("*.py") if path.stem != "__init__")
    assert names
    for name in names:
        assert get_commands()[name] == "outreach", name
        module = import_module(f"outreach.management.commands.{name}")
        assert issubclass(module.Command, OutreachCommand), name


def test_a_bad_value_from_a_shell_is_one_error_line_and_exit_1(tmp_path):
    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    result = run(["manage.py", "dispatch_due_touches", "--limit", "-5"], DATABASE_URL=database)
    assert result.returncode == 1, result
    assert result.stderr.splitlines() == ["Error: --limit must be at least 1"], result.stderr
    assert result.stdout == ""


def test_traceback_still_shows_the_traceback(tmp_path):
    database = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    result = run(["manage.py", "dispatch_due_touches", "--limit", "-5", "--traceback"], DATABASE_URL=database)
    assert result.returncode == 1, result
    assert "Traceback (most recent call last):" in result.stderr, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "django.core.management.base.CommandError: --limit must be at least 1"
    ), result.stderr
    assert not any(line.startswith("Error: ") for line in result.stderr.splitlines()), result.stderr


def test_call_command_still_raises_the_command_error():
    with pytest.raises(CommandError, match="^--limit must be at least 1$"):
        call_command("dispatch_due_touches", limit=-5)


class Refusing(OutreachCommand):
    """A command that only refuses, with the returncode it is given."""

    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--returncode", type=int, default=1)

    def handle(self, *args, returncode, **options):
        raise CommandError("no, not today", returncode=returncode)


@pytest.mark.parametrize("returncode", [1, 3])
def test_the_error_line_exits_with_the_command_errors_returncode(returncode):
    stderr = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        Refusing(stderr=stderr, no_color=True).run_from_argv(["manage.py", "refusing", "--returncode", str(returncode)])
    assert exited.value.code == returncode
    assert stderr.getvalue() == "Error: no, not today\n"


def test_the_error_is_raised_with_traceback_in_process():
    stderr = io.StringIO()
    with pytest.raises(CommandError, match="no, not today"):
        Refusing(stderr=stderr, no_color=True).run_from_argv(["manage.py", "refusing", "--traceback"])
    assert stderr.getvalue() == ""


@pytest.mark.parametrize(
    "message",
    [
        "no such column: outreach_client.dkim_selector",  # SQLite, migrated before the column was added
        'column outreach_client.dkim_selector does not exist\nLINE 1: SELECT "outreach_client"."id", ...',  # PostgreSQL
    ],
)
def test_a_database_behind_the_code_is_named_not_migrated(message):
    from django.db import OperationalError, ProgrammingError

    from outreach.management.base import database_problem

    for error in (OperationalError(message), ProgrammingError(message)):
        answer = database_problem(error)
        assert answer.startswith("the database is not migrated (") and "python manage.py migrate" in answer
        assert "LINE 1" not in answer
