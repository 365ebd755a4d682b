"""`manage.py check_domains [--client ID]`: a table of each sending domain's SPF, DKIM and DMARC, the results
saved, exit status 1 when a domain does not pass; bad input is one error line. The DNS is the in-memory zone of
tests/engines/providers/fake_dns.py, named by DNS_RESOLVER; the shell runs also forbid every socket."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from outreach.models import DomainCheck
from tests.factories import ClientFactory
from tests.outreach.test_settings import run

FAKE_DNS = "tests.engines.providers.fake_dns.FakeResolver"
# Runs a management command with every way to the network closed (a socket, a name looked up) and counts the tries.
WITHOUT_NETWORK = """
import atexit, socket, sys

import urllib3  # first: on import it opens a socket on ::1 to learn whether IPv6 works, which is no network use

attempts = []

def refuse(*args, **kwargs):
    attempts.append(args)
    raise RuntimeError("the network was used")

class ClosedSocket(socket.socket):
    def __init__(self, *args, **kwargs):
        refuse()

socket.socket = ClosedSocket
socket.create_connection = socket.getaddrinfo = socket.gethostbyname = socket.gethostbyname_ex = refuse
atexit.register(lambda: print(f"network attempts: {len(attempts)}"))
from django.core.management import execute_from_command_line
execute_from_command_line(["manage.py", *sys.argv[1:]])
"""
SEED = """
import json
import django
django.setup()
from tests.factories import ClientFactory
good = ClientFactory(name="Good Co", sending_email="sam@good.example", dkim_selector="google")
bad = ClientFactory(name="Bad Co", sending_email="sam@bad.example")
silent = ClientFactory(name="Silent Co", sending_email="")
print(json.dumps({"good": good.pk, "bad": bad.pk, "silent": silent.pk}))
"""


@pytest.fixture
def fake_dns(settings):
    settings.DNS_RESOLVER = FAKE_DNS
    settings.DEFAULT_DKIM_SELECTORS = ["default", "google", "pm"]


def check_domains(*args: str) -> str:
    out = StringIO()
    call_command("check_domains", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_a_domain_that_passes_is_a_table_of_its_records(fake_dns):
    client = ClientFactory(name="Good Co", sending_email="sam@good.example")

    out = check_domains("--client", str(client.pk))

    lines = out.splitlines()
    assert lines[0] == f"Good Co (id {client.pk}): good.example"
    assert lines[1].split() == ["check", "status", "record"]
    assert lines[2].split()[:3] == ["SPF", "pass", "v=spf1"]
    assert lines[3].startswith("  DKIM   pass    v=DKIM1; k=rsa; p=MIIB") and lines[3].endswith("…")
    assert lines[4] == "  DMARC  pass    v=DMARC1; p=reject; rua=mailto:dmarc-reports@good.example"
    assert lines[-1] == "1 sending domain checked: all pass."
    check = DomainCheck.objects.get()
    assert (check.client, check.trigger, check.triggered_by, check.passed) == (client, "command", None, True)


@pytest.mark.django_db
def test_every_client_by_default_and_a_failing_domain_ends_in_an_error(fake_dns):
    good = ClientFactory(name="Good Co", sending_email="sam@good.example")
    bad = ClientFactory(name="Bad Co", sending_email="sam@bad.example")
    slow = ClientFactory(name="Slow Co", sending_email="sam@slow.example")
    ClientFactory(name="Silent Co", sending_email="")
    out = StringIO()

    with pytest.raises(CommandError) as error:
        call_command("check_domains", stdout=out)

    shown = out.getvalue()
    assert shown.index("Bad Co") < shown.index("Good Co") < shown.index("Silent Co") < shown.index("Slow Co")
    assert "Silent Co (id " in shown and "no sending email, nothing to check" in shown
    assert "  SPF    FAIL    v=spf1 include:spf.protection.outlook.com -all\n" in shown
    assert "                 v=spf1 include:mailgun.org ~all\n" in shown  # the second record, under the first
    assert "-> 2 SPF records at bad.example" in shown
    assert "  DKIM   FAIL    v=DKIM1; k=rsa; p=\n" in shown and "is revoked (empty `p=`)" in shown
    assert "  DMARC  FAIL    -\n" in shown and "-> No DMARC record at _dmarc.bad.example" in shown
    assert "  SPF    ERROR   -\n" in shown and "-> Could not look up slow.example" in shown
    assert str(error.value) == (
        "3 sending domains checked, 2 did not pass: Bad Co (bad.example: SPF, DKIM, DMARC), "
        "Slow Co (slow.example: SPF, DKIM, DMARC). What to fix is shown above each."
    )
    assert sorted(DomainCheck.objects.values_list("client", flat=True)) == sorted([good.pk, bad.pk, slow.pk])


@pytest.mark.django_db
def test_bad_input_is_one_sentence(fake_dns):
    with pytest.raises(CommandError, match=r"^No client with id 999999\.$"):
        check_domains("--client", "999999")
    silent = ClientFactory(name="Silent Co", sending_email="")
    with pytest.raises(CommandError, match=r"^Client Silent Co \(id \d+\) has no sending email: give it one"):
        check_domains("--client", str(silent.pk))
    assert not DomainCheck.objects.exists()


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> dict[str, str]:
    """A migrated SQLite file with a client whose domain passes, one whose domain fails, one with no email."""
    folder = tmp_path_factory.mktemp("check_domains")
    url = f"sqlite:///{folder / 'db.sqlite3'}"
    migrated = run(["manage.py", "migrate", "--verbosity", "0"], DATABASE_URL=url)
    assert migrated.returncode == 0, migrated.stderr
    seeded = run(["-c", SEED], DATABASE_URL=url)
    assert seeded.returncode == 0, seeded.stderr
    return {"url": url, "unmigrated": f"sqlite:///{folder / 'never-migrated.sqlite3'}", **json.loads(seeded.stdout)}


def shell(database_url: str, *args: str, **env: str):
    """`manage.py check_domains args` without the network, on the fake DNS unless `env` names another."""
    return run(
        ["-c", WITHOUT_NETWORK, "check_domains", *args], DATABASE_URL=database_url, **{"DNS_RESOLVER": FAKE_DNS, **env}
    )


def test_from_a_shell_a_passing_domain_exits_0_without_the_network(database):
    result = shell(database["url"], "--client", str(database["good"]))

    assert result.returncode == 0, result.stderr
    assert "Good Co (id" in result.stdout and "1 sending domain checked: all pass." in result.stdout
    assert result.stdout.splitlines()[-1] == "network attempts: 0"
    assert result.stderr == ""


def test_from_a_shell_a_failing_domain_exits_1_with_one_error_line(database):
    result = shell(database["url"])

    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "Error: 2 sending domains checked, 1 did not pass: Bad Co (bad.example: SPF, DKIM, DMARC). "
        "What to fix is shown above each."
    ]
    assert "-> 2 SPF records at bad.example" in result.stdout
    assert result.stdout.splitlines()[-1] == "network attempts: 0"


@pytest.mark.skipif(not Path("/etc/resolv.conf").exists(), reason="no DNS server configured: dnspython would not try")
def test_the_closed_network_stops_the_real_resolver(database):
    """The control of the two tests above: the real resolver tries the network, and is stopped."""
    result = shell(database["url"], "--client", str(database["good"]), DNS_RESOLVER="", DNS_TIMEOUT="1")  # the default

    assert result.returncode == 1, result.stderr
    assert int(result.stdout.splitlines()[-1].removeprefix("network attempts: ")) > 0
    assert "  SPF    ERROR   -" in result.stdout and "Could not look up good.example" in result.stdout


@pytest.mark.parametrize(
    ("args", "status", "says"),
    [
        (("--client", "999999"), 1, "Error: No client with id 999999."),
        (("--client", "{silent}"), 1, "has no sending email"),
        (("--client", "abc"), 2, "manage.py check_domains: error: argument --client: invalid int value: 'abc'"),
        (("--bogus",), 2, "unrecognized arguments: --bogus"),
    ],
    ids=["unknown-client", "no-sending-email", "not-a-number", "unknown-option"],
)
def test_from_a_shell_bad_input_is_one_error_line(database, args, status, says):
    result = shell(database["url"], *(arg.format(**database) for arg in args))
    assert result.returncode == status, result.stderr
    assert "Traceback" not in result.stderr
    assert says in result.stderr.strip().splitlines()[-1]


def test_from_a_shell_an_unmigrated_database_says_to_migrate(database):
    result = shell(database["unmigrated"])
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("Error: the database is not migrated") and "python manage.py migrate" in line
