"""Every product command answers a database it cannot use with one line saying what to do, from a real shell:
an unmigrated SQLite file, and a PostgreSQL server that is not there."""

import socket

import pytest

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
    assert line.startswith("CommandError: the database")
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
