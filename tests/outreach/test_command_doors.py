"""Every product command answers bad input from a real shell with one error line and a non-zero exit, never a
traceback: wrong arguments, unknown ids, files it cannot read, and a database that was never migrated.

Each case runs `python manage.py <command> ...` as a user would, against a temporary SQLite database migrated
and seeded once for the module (a client, a lead, one open task of each kind) or a never-migrated one. The
cases run a few at a time (each is a Django start-up of about a second); every case is still its own test.

Two answers count as one line: the product's `Error: ...` (exit 1, its own checks, raised as a CommandError and
shown by OutreachCommand) and argparse's `manage.py <command>: error: ...` after its usage lines (exit 2, a
malformed command line).

The unmigrated database is met here by the command lines test_management_base.py does not run (it runs each
command's plainest one, with the same one-line check). `demo` is walked for its arguments only: on an unmigrated
database it migrates it, as `make demo` does. `serve` is walked only where it refuses to start (it would
otherwise run a web server and a worker).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from tests.outreach.test_settings import run_under

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
# Root reads a file whatever its mode: its command then runs without the two capabilities that let it
# (util-linux's setpriv drops them from the bounding set before python starts), held to the mode like its owner.
SETPRIV = shutil.which("setpriv")
WITHOUT_ROOT_READS = (SETPRIV, "--bounding-set=-dac_override,-dac_read_search", "--") if SETPRIV else ()
ROOT_READS_ANYTHING = (
    "running as root without util-linux's setpriv: chmod 000 does not stop root from reading a file, so a file "
    "without read permission cannot be made here"
)
ARGPARSE_ERROR = re.compile(r"manage\.py [a-z_]+( [a-z_]+)?: error: ")

SEED = """
import json
import django
django.setup()
from tests.factories import ClientFactory, LeadFactory, ManualTaskFactory
client = ClientFactory(name="Door Co")
lead = LeadFactory(client=client, email="priya@door.example.com")
tasks = {kind: ManualTaskFactory(client=client, lead=lead, kind=kind).pk for kind in ("linkedin", "call", "follow_up")}
print(json.dumps({"client": client.pk, "lead": lead.pk, "lead_email": lead.email, **tasks}))
"""


@dataclass(frozen=True)
class Door:
    """One bad command line and what its one line must say."""

    id: str
    args: tuple[str, ...]
    says: str
    usage: bool = False  # argparse's usage error (exit 2) rather than a CommandError (exit 1)
    unmigrated: bool = False  # run against a database that was never migrated
    unreadable: bool = False  # needs a file without read permission (not possible as root)


def door(id: str, command: str, says: str, **kind: bool) -> Door:
    return Door(id, tuple(command.split("|")) if "|" in command else tuple(command.split()), says, **kind)


def usage(id: str, command: str, says: str) -> Door:
    return door(id, command, says, usage=True)


def unmigrated(id: str, command: str) -> Door:
    return door(id, command, "the database is not migrated", unmigrated=True)


DOORS = [
    # allocate_leads
    usage("allocate-unknown-option", "allocate_leads --all --bogus", "unrecognized arguments: --bogus"),
    usage("allocate-no-client-or-all", "allocate_leads", "one of the arguments --client --all is required"),
    usage("allocate-non-integer-id", "allocate_leads --client abc", "invalid int value: 'abc'"),
    door("allocate-unknown-client", "allocate_leads --client 999999", "no client with id 999999"),
    door("allocate-negative-days", "allocate_leads --all --reenroll --after-days -3", "--after-days N (0 or more)"),
    door("allocate-days-overflow", "allocate_leads --all --reenroll --after-days 99999999999", "at most 36500"),
    door("allocate-days-without-reenroll", "allocate_leads --all --after-days 3", "--after-days goes with --reenroll"),
    unmigrated("allocate-unmigrated", "allocate_leads --client 1 --reenroll --after-days 3"),
    # demo (only refusals: a valid command line would run the whole demo)
    usage("demo-unknown-option", "demo --bogus", "unrecognized arguments: --bogus"),
    usage("demo-non-integer", "demo --leads many", "invalid int value: 'many'"),
    door("demo-negative-leads", "demo --leads -5", "--leads must be between 20 and 20,000"),
    door("demo-out-is-a-file", "demo --leads 20 --out {a_file}", "cannot write the report to"),
    # detect_patterns
    usage("detect-unknown-option", "detect_patterns --bogus", "unrecognized arguments: --bogus"),
    usage("detect-non-integer-id", "detect_patterns --client 1.5", "invalid int value: '1.5'"),
    door("detect-unknown-client", "detect_patterns --client 999999", "No client with id 999999"),
    unmigrated("detect-unmigrated", "detect_patterns --client 1"),
    # dispatch_due_touches
    usage("dispatch-unknown-option", "dispatch_due_touches --bogus", "unrecognized arguments: --bogus"),
    usage("dispatch-non-integer", "dispatch_due_touches --limit ten", "invalid int value: 'ten'"),
    door("dispatch-negative-limit", "dispatch_due_touches --limit -5", "--limit must be at least 1"),
    door("dispatch-limit-overflow", "dispatch_due_touches --dry-run --limit 99999999999999999999", "at most"),
    # import_leads
    usage("import-no-arguments", "import_leads", "the following arguments are required: CLIENT, FILE"),
    usage("import-unknown-option", "import_leads {client} {leads_csv} --bogus", "unrecognized arguments: --bogus"),
    door("import-unknown-client", "import_leads 999999 {leads_csv}", "No client with id or name '999999'"),
    door("import-missing-file", "import_leads {client} {missing}", "{missing}"),
    door("import-directory", "import_leads {client} {folder}", "{folder}"),
    door("import-unreadable-file", "import_leads {client} {locked}", "Permission denied", unreadable=True),
    door(
        "import-rejected-into-a-directory",
        "import_leads {client} {leads_csv} --dry-run --rejected {folder}",
        "{folder}",
    ),
    unmigrated("import-unmigrated", "import_leads|Door Co|{leads_csv}"),
    # manual_tasks
    usage("tasks-unknown-option", "manual_tasks list --bogus", "unrecognized arguments: --bogus"),
    usage("tasks-non-integer-id", "manual_tasks done one", "invalid int value: 'one'"),
    usage(
        "tasks-skip-without-reason", "manual_tasks skip {linkedin}", "the following arguments are required: --reason"
    ),
    door("tasks-unknown-task", "manual_tasks done 999999", "No task with id 999999"),
    door("tasks-unknown-client", "manual_tasks list --client 999999", "No client with id 999999"),
    door("tasks-unknown-user", "manual_tasks done {linkedin} --user nobody", "No user named 'nobody'"),
    door("tasks-call-without-outcome", "manual_tasks done {call}", "a call task is done with its outcome"),
    door("tasks-negative-duration", "manual_tasks done {call} --outcome busy --duration -5", "--duration must be 0"),
    door("tasks-outcome-for-linkedin", "manual_tasks done {linkedin} --outcome busy", "--outcome cannot be given"),
    door("tasks-text-for-a-call", "manual_tasks done {call} --outcome busy --text Hi", "--text cannot be given"),
    door("tasks-blank-reason", "manual_tasks|skip|{linkedin}|--reason|   ", "say why the task is skipped"),
    unmigrated("tasks-unmigrated", "manual_tasks done 1 --outcome busy"),
    # record_booking
    usage("booking-unknown-option", "record_booking --bogus", "unrecognized arguments: --bogus"),
    usage("booking-non-integer-id", "record_booking --lead x", "invalid int value: 'x'"),
    door("booking-no-lead", "record_booking", "Name the lead"),
    door("booking-lead-and-email", "record_booking --lead {lead} --email {lead_email} --client {client}", "not both"),
    door("booking-unknown-lead", "record_booking --lead 999999", "No lead with id 999999"),
    door("booking-unknown-client", "record_booking --email {lead_email} --client 999999", "at client 999999"),
    door("booking-bad-time", "record_booking --lead {lead} --at yesterday", "--at must be an ISO 8601"),
    unmigrated("booking-unmigrated", "record_booking --email priya@door.example.com --client 1"),
    # score_leads
    usage("score-unknown-option", "score_leads --all --bogus", "unrecognized arguments: --bogus"),
    usage("score-no-client-or-all", "score_leads", "one of the arguments --client --all is required"),
    usage("score-non-integer-id", "score_leads --client abc", "invalid int value: 'abc'"),
    door("score-unknown-client", "score_leads --client 999999", "No client with id 999999"),
    # setup_schedules
    usage("schedules-unknown-option", "setup_schedules --bogus", "unrecognized arguments: --bogus"),
    # serve (only refusals: a valid command line would start a web server and a worker)
    usage("serve-unknown-option", "serve --bogus", "unrecognized arguments: --bogus"),
    usage("serve-non-integer-port", "serve --port http", "invalid int value: 'http'"),
    door("serve-port-zero", "serve --port 0", "--port must be 1-65535"),
    unmigrated("serve-unmigrated", "serve --port {free_port}"),
]


@pytest.fixture(scope="module")
def places(tmp_path_factory) -> dict[str, str]:
    """The migrated and seeded database, the never-migrated one, and the files the cases name."""
    folder = tmp_path_factory.mktemp("doors")
    migrated = f"sqlite:///{folder / 'migrated.sqlite3'}"
    pycache = str(folder / "pycache")
    done = shell(["manage.py", "migrate", "--verbosity", "0"], migrated, pycache)
    assert done.returncode == 0, done.stderr
    seeded = shell(["-c", SEED], migrated, pycache)
    assert seeded.returncode == 0, seeded.stderr
    ids = json.loads(seeded.stdout.strip().splitlines()[-1])
    leads_csv = folder / "leads.csv"
    leads_csv.write_text("first name,last name,email\nAda,Lovelace,ada@example.com\n")
    locked = folder / "locked.csv"
    locked.write_text(leads_csv.read_text())
    locked.chmod(0)
    a_file = folder / "notes.txt"
    a_file.write_text("not a folder\n")
    (folder / "a-folder.csv").mkdir()
    with socket.socket() as probe:  # a port nothing listens on, should serve ever get as far as listening
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    return {
        **{name: str(value) for name, value in ids.items()},
        "migrated": migrated,
        "migrated_file": str(folder / "migrated.sqlite3"),
        "unmigrated": f"sqlite:///{folder / 'never-migrated.sqlite3'}",
        "leads_csv": str(leads_csv),
        "locked": str(locked),
        "a_file": str(a_file),
        "folder": str(folder / "a-folder.csv"),
        "missing": str(folder / "missing.csv"),
        "free_port": str(free_port),
        "pycache": pycache,
    }


def shell(
    args: list[str], database_url: str, pycache: str, launcher: tuple[str, ...] = ()
) -> subprocess.CompletedProcess:
    """`python args` with this database. Its bytecode is cached in `pycache` (outside the working tree) even
    where PYTHONDONTWRITEBYTECODE is set: each start-up then compiles nothing, about a third faster."""
    return run_under(launcher, args, DATABASE_URL=database_url, PYTHONPYCACHEPREFIX=pycache, PYTHONDONTWRITEBYTECODE="")


def filled(text: str, places: dict[str, str]) -> str:
    """`text` with each {name} of `places` filled in (argparse's own braces, {list,done,skip}, stay)."""
    return re.sub(r"\{(\w+)\}", lambda name: places.get(name[1], name[0]), text)


def command_line(case: Door, places: dict[str, str]) -> list[str]:
    return ["manage.py", *(filled(arg, places) for arg in case.args)]


def answer(case: Door, places: dict[str, str]) -> subprocess.CompletedProcess:
    database = places["unmigrated" if case.unmigrated else "migrated"]
    launcher = WITHOUT_ROOT_READS if case.unreadable and AS_ROOT else ()
    return shell(command_line(case, places), database, places["pycache"], launcher)


@pytest.fixture(scope="module")
def answers(request, places) -> dict[str, subprocess.CompletedProcess]:
    """Each selected case's answer, run a few at a time (the database is only read: bad input changes nothing)."""
    selected = {
        item.callspec.params["case"].id
        for item in request.session.items
        if item.module is request.module and "case" in getattr(getattr(item, "callspec", None), "params", {})
    }
    runnable = [case for case in DOORS if case.id in selected and not (case.unreadable and AS_ROOT and not SETPRIV)]
    with ThreadPoolExecutor(max_workers=min(4, (os.cpu_count() or 1) + 1)) as pool:
        results = pool.map(lambda case: answer(case, places), runnable)
        return {case.id: result for case, result in zip(runnable, results, strict=True)}


@pytest.mark.parametrize("case", DOORS, ids=lambda case: case.id)
def test_bad_input_ends_in_one_error_line(case, answers, places):
    if case.unreadable and AS_ROOT and not SETPRIV:
        pytest.skip(ROOT_READS_ANYTHING)
    result = answers[case.id]
    shown = f"$ {' '.join(command_line(case, places))}\n--- stdout\n{result.stdout}--- stderr\n{result.stderr}"

    assert "Traceback" not in result.stdout + result.stderr, shown
    assert result.returncode == (2 if case.usage else 1), shown
    lines = result.stderr.strip().splitlines()
    assert lines, shown
    if case.usage:
        assert ARGPARSE_ERROR.match(lines[-1]), shown
    else:
        assert lines[-1].startswith("Error: "), shown
        assert not any(line.startswith("Error") for line in lines[:-1]), shown
        assert "CommandError" not in result.stderr, shown
    assert filled(case.says, places) in lines[-1], shown


def test_the_bad_input_changed_nothing(answers, places):
    """After every case above: no activity recorded, every task still open, no lead imported or converted."""
    with sqlite3.connect(places["migrated_file"]) as database:
        activities = database.execute("SELECT count(*) FROM outreach_activity").fetchone()[0]
        tasks = database.execute("SELECT status FROM outreach_manualtask").fetchall()
        leads = database.execute("SELECT email, status FROM outreach_lead").fetchall()
    assert activities == 0
    assert tasks == [("open",)] * 3
    assert [email for email, _ in leads] == [places["lead_email"]]
    assert leads[0][1] != "converted"
