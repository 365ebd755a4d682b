"""`manage.py demo`: refuses nonsense arguments with a clear error, says what it does, runs and reports."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.core.management.base import BaseCommand

from outreach.management.commands.demo import Command
from outreach.models import Client
from tests.factories import ClientFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--leads", "-5"], "--leads must be between"),
        (["--leads", "0"], "--leads must be between"),
        (["--weeks-before", "0"], "--weeks-before must be between 1 and 12"),
        (["--weeks-after", "13"], "--weeks-after must be between 1 and 12"),
        (["--seed", "-1"], "--seed must be 0 or more"),
    ],
)
def test_nonsense_arguments_are_refused_before_anything_is_touched(arguments, message, tmp_path):
    kept = ClientFactory(name="Harbour Growth Partners")
    with pytest.raises(CommandError, match=message):
        call_command("demo", *arguments, "--out", str(tmp_path))
    assert list(Client.objects.all()) == [kept]
    assert not any(tmp_path.iterdir())


def test_a_report_folder_that_cannot_be_written_is_refused_before_the_run(tmp_path):
    kept = ClientFactory(name="Harbour Growth Partners")
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # as root, permissions would not stop the write: a file in the way does
    with pytest.raises(CommandError, match="cannot write the report to .*choose another --out"):
        call_command("demo", "--leads", "20", "--out", str(blocker / "report"))
    assert list(Client.objects.all()) == [kept]


def test_help_says_what_the_demo_does():
    parser = Command().create_parser("manage.py", "demo")
    text = parser.format_help()
    assert "simulated weeks" in text
    for option in ("--leads", "--weeks-before", "--weeks-after", "--seed", "--out"):
        assert option in text
    assert isinstance(Command(), BaseCommand)


def test_a_tiny_run_reports_and_points_at_make_run(tmp_path):
    out = StringIO()
    call_command(
        "demo", "--leads", "20", "--weeks-before", "1", "--weeks-after", "1", "--out", str(tmp_path), stdout=out
    )
    text = out.getvalue()
    assert "Booking rate within 7 days of import" in text
    assert "before learning" in text and "after learning" in text
    assert f"Report with charts: {tmp_path / 'report.html'}" in text
    assert "make run" in text
    assert (tmp_path / "report.html").exists()
    assert Client.objects.filter(is_demo=True).count() == 2
