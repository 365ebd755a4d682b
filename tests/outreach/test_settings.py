"""Start-up checks: a missing or unsafe setting stops the process with one line naming it, and no traceback."""

import hashlib
import hmac
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.urls import reverse

from outreach.settings import ESP_INBOUND_KEYS, ESP_WEBHOOK_KEYS
from tests.engines.webhook_support import WEBHOOK_SECRET, basic_auth, outcome_rows, post_json, sequence

ROOT = Path(__file__).resolve().parents[2]
# Variables the settings read: none of the test runner's own may leak into a start-up under test.
READ_BY_SETTINGS = {
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "DJANGO_ENV",
    "DEBUG",
    "EMAIL_BACKEND",
    "PUBLIC_BASE_URL",
    "ANYMAIL_WEBHOOK_SECRET",
    "SMS_PROVIDER",
    "LINKEDIN_BACKEND",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "RESEND_API_KEY",
    "SENDGRID_API_KEY",
    "POSTMARK_SERVER_TOKEN",
    "MAILGUN_API_KEY",
    *(f"{prefix}{key}" for key in ESP_WEBHOOK_KEYS.values() for prefix in ("", "ANYMAIL_")),
    *(f"{prefix}{key}" for key in ESP_INBOUND_KEYS.values() for prefix in ("", "ANYMAIL_")),
    "Q_SYNC",
    "Q_TIMEOUT",
    "Q_RETRY",
}
MAILGUN_SIGNING_KEY = "mailgun-signing-key-0123456789abcdef"


def production(**overrides: str) -> dict[str, str]:
    """A safe production environment, with `overrides`."""
    return {
        "DJANGO_ENV": "production",
        "SECRET_KEY": "k3y-" + "".join(chr(ord("a") + i % 26) for i in range(60)),
        "ALLOWED_HOSTS": "outreach.example.com",
        # Never connected to: starting Django and `check --deploy` open no database connection.
        "DATABASE_URL": "postgres://outreach:db-password@db.example.com:5432/outreach",
        "PUBLIC_BASE_URL": "https://outreach.example.com",
        "EMAIL_BACKEND": "anymail.backends.mailgun.EmailBackend",
        "MAILGUN_API_KEY": "key-mailgun-api",
        "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_SIGNING_KEY,
        "ANYMAIL_WEBHOOK_SECRET": "esp-hooks-7Kq2vX9p:Zq8w-31xHk9-mT4rBn6",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "token",
        **overrides,
    }


def run(args: list[str], **env_overrides: str) -> subprocess.CompletedProcess:
    """`python args` in a clean environment."""
    return run_under((), args, **env_overrides)


def run_under(launcher: tuple[str, ...], args: list[str], **env_overrides: str) -> subprocess.CompletedProcess:
    """`python args` in a clean environment, started by `launcher` (e.g. setpriv ... --), if any."""
    env = {k: v for k, v in os.environ.items() if k not in READ_BY_SETTINGS}
    env.update(env_overrides, DJANGO_SETTINGS_MODULE="outreach.settings")
    return subprocess.run(
        [*launcher, sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip


def start_django(**env_overrides: str) -> subprocess.CompletedProcess:
    return run(["-c", "import django; django.setup(); print('started')"], **env_overrides)


def assert_refused(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    for fragment in fragments:
        assert any(line.startswith("Refusing to start: ") and fragment in line for line in lines), result.stderr


def test_development_starts_with_no_settings_at_all():
    result = start_django()
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_a_safe_production_environment_starts():
    result = start_django(**production())
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_check_deploy_passes_clean_in_production():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "DEBUG"], **production())
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues" in result.stdout


def test_production_names_every_missing_setting():
    result = start_django(DJANGO_ENV="production")
    assert_refused(
        result,
        "DJANGO_ENV=production needs these environment variables: SECRET_KEY, ALLOWED_HOSTS, DATABASE_URL, "
        "EMAIL_BACKEND, PUBLIC_BASE_URL, ANYMAIL_WEBHOOK_SECRET",
    )


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"SECRET_KEY": "dev-only-insecure-key-do-not-use-in-production"}, "SECRET_KEY is the development default"),
        ({"SECRET_KEY": "s" * 50}, "SECRET_KEY is too weak"),
        ({"SECRET_KEY": "   "}, "needs these environment variables: SECRET_KEY"),
        ({"PUBLIC_BASE_URL": "http://localhost:8000"}, "PUBLIC_BASE_URL must be the site's public https:// address"),
        ({"PUBLIC_BASE_URL": "https://127.0.0.1"}, "PUBLIC_BASE_URL"),
        ({"PUBLIC_BASE_URL": "http://outreach.example.com"}, "PUBLIC_BASE_URL"),
        ({"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}, "EMAIL_BACKEND django.core.mail"),
        ({"SMS_PROVIDER": "engines.providers.sms.RecordingSmsProvider"}, "SMS_PROVIDER engines.providers.sms.Rec"),
        ({"LINKEDIN_BACKEND": "engines.providers.linkedin.RecordingLinkedInBackend"}, "LINKEDIN_BACKEND"),
        ({"ANYMAIL_WEBHOOK_SECRET": "dev-user:dev-password"}, "ANYMAIL_WEBHOOK_SECRET must be your own"),
        ({"ANYMAIL_WEBHOOK_SECRET": "no-colon"}, "ANYMAIL_WEBHOOK_SECRET"),
        ({"ANYMAIL_WEBHOOK_SECRET": ""}, "needs these environment variables: ANYMAIL_WEBHOOK_SECRET"),
        ({"DEBUG": "true"}, "DEBUG must be off when DJANGO_ENV=production"),
        ({"TWILIO_AUTH_TOKEN": ""}, "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are required"),
        ({"DATABASE_URL": "postgress://db/outreach"}, "DATABASE_URL cannot be read"),
        ({"DATABASE_URL": "sqlite:///var/outreach.sqlite3"}, "DATABASE_URL must be a PostgreSQL database"),
        ({"DATABASE_URL": "mysql://outreach:pw@db.example.com/outreach"}, "DATABASE_URL must be a PostgreSQL"),
        # Basic auth "user:password": an empty pair (what `Authorization: Basic Og==` matches) or a short half.
        ({"ANYMAIL_WEBHOOK_SECRET": ":"}, "ANYMAIL_WEBHOOK_SECRET must be user:password with a user and a password"),
        ({"ANYMAIL_WEBHOOK_SECRET": "esp:Zq8w-31xHk9-mT4rBn6"}, "of at least 16 random characters each"),
        ({"ANYMAIL_WEBHOOK_SECRET": "esp-hooks-7Kq2vX9p:Zq8w-31xHk9"}, "of at least 16 random characters each"),
        ({"ANYMAIL_WEBHOOK_SECRET": "esp-hooks-7Kq2vX9p-Zq8w-31xHk9-mT4rBn6"}, "ANYMAIL_WEBHOOK_SECRET must be user"),
        ({"EMAIL_BACKEND": "anymail.backends.nosuchesp.EmailBackend"}, "EMAIL_BACKEND 'anymail.backends.nosuchesp"),
        ({"EMAIL_BACKEND": "anymail.backends.mailgun.NoSuchBackend"}, "cannot be imported: Module"),
        ({"EMAIL_BACKEND": "EmailBackend"}, "EMAIL_BACKEND 'EmailBackend' cannot be imported"),
        (
            {"SMS_PROVIDER": "engines.providers.sms.NoSuchProvider"},
            "SMS_PROVIDER 'engines.providers.sms.NoSuchProvider",
        ),
        ({"SMS_PROVIDER": "nosuchpackage.sms.Provider"}, "cannot be imported: No module named 'nosuchpackage'"),
        (
            {"MAILGUN_WEBHOOK_SIGNING_KEY": ""},
            "EMAIL_BACKEND is mailgun, which signs its webhooks: MAILGUN_WEBHOOK_SIGNING_KEY is required to check them",
        ),
        (
            {"EMAIL_BACKEND": "anymail.backends.resend.EmailBackend", "RESEND_API_KEY": "re_test_key"},
            "EMAIL_BACKEND is resend, which signs its webhooks: RESEND_SIGNING_SECRET is required",
        ),
        (
            {"ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY": "another-key"},
            "MAILGUN_WEBHOOK_SIGNING_KEY and ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY are both set, to different values",
        ),
    ],
)
def test_production_refuses_each_unsafe_value_in_one_line(overrides, fragment):
    result = start_django(**production(**overrides))
    assert_refused(result, fragment)
    assert len(result.stderr.splitlines()) == 1, result.stderr


def test_every_problem_is_named_in_one_run():
    result = start_django(
        **production(SECRET_KEY="dev-only-insecure-key-do-not-use-in-production", DEBUG="ture", Q_SYNC="?")
    )
    assert_refused(result, "SECRET_KEY", "DEBUG", "Q_SYNC")
    assert len(result.stderr.splitlines()) == 3


@pytest.mark.parametrize("name", ["DEBUG", "Q_SYNC"])
def test_an_unrecognised_boolean_is_a_start_up_error(name):
    result = start_django(**{name: "ture"})
    assert_refused(result, f"{name} must be one of 1/true/yes/on or 0/false/no/off, got 'ture'")


@pytest.mark.parametrize("spelling", ["1", "TRUE", " yes ", "On", "0", "false", "NO", "off", ""])
def test_recognised_boolean_spellings_start(spelling):
    result = start_django(DEBUG=spelling)
    assert result.returncode == 0, result.stderr


def test_a_number_that_is_not_one_is_a_start_up_error():
    assert_refused(start_django(Q_TIMEOUT="5m"), "Q_TIMEOUT must be a whole number, got '5m'")


def test_production_with_twilio_sms_needs_twilio_credentials():
    env = production()
    del env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"]
    assert_refused(start_django(**env), "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are required")


def test_retry_not_above_timeout_is_refused():
    assert_refused(start_django(Q_TIMEOUT="300", Q_RETRY="300"), "Q_RETRY must be greater than Q_TIMEOUT")


def test_manage_py_reports_without_a_traceback():
    assert_refused(run(["manage.py", "check"], DJANGO_ENV="staging"), "DJANGO_ENV must be 'development' or")


@pytest.mark.parametrize(
    "url",
    [
        "https://",
        "https://[bad",
        "https://outreach.example.com:port",
        "https://10.1.2.3",
        "https://192.168.0.10",
        "https://172.16.5.4",
        "https://169.254.169.254",
        "https://240.0.0.1",
        "https://0.0.0.0",
        "https://[::1]",
        "https://[fe80::1]",
        "https://[fd00::1]",
        "https://localhost",
        "https://localhost.",
        "https://app.localhost",
        "https://outreach",
        "https://127.1",
        "ftp://outreach.example.com",
    ],
)
def test_production_refuses_a_base_url_the_internet_cannot_reach(url):
    result = start_django(**production(PUBLIC_BASE_URL=url))
    assert_refused(result, f"PUBLIC_BASE_URL must be the site's public https:// address, got {url!r}")
    assert len(result.stderr.splitlines()) == 1, result.stderr


@pytest.mark.parametrize(
    "url",
    [
        "https://outreach.example.com:8443/crm",
        "https://203.0.113.7.nip.io",
        "https://8.8.8.8",
        "https://[2606:4700::1111]",
    ],
)
def test_production_accepts_a_public_base_url(url):
    result = start_django(**production(PUBLIC_BASE_URL=url))
    assert result.returncode == 0, result.stderr


# A sitecustomize that makes svix look uninstalled to the settings (requirements install it).
WITHOUT_SVIX = """
import importlib.util
_find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, package=None: None if name == "svix" else _find_spec(name, package)
"""


def test_a_resend_signing_secret_without_svix_is_refused(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(WITHOUT_SVIX)
    env = production(EMAIL_BACKEND="anymail.backends.resend.EmailBackend", RESEND_API_KEY="re_test_key")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH", "")]))
    result = start_django(**env, RESEND_SIGNING_SECRET="whsec_c2VjcmV0")
    assert_refused(result, "RESEND_SIGNING_SECRET is set but svix is not installed to check it")
    assert len(result.stderr.splitlines()) == 1, result.stderr


def test_the_resend_inbound_secret_reaches_anymail():
    """anymail 15 checks Resend's inbound webhook with its own secret, not RESEND_SIGNING_SECRET."""
    env = production(EMAIL_BACKEND="anymail.backends.resend.EmailBackend", RESEND_API_KEY="re_test_key")
    env.update(RESEND_SIGNING_SECRET="whsec_c2VjcmV0", RESEND_INBOUND_SECRET="whsec_aW5ib3VuZA==")
    result = run(["-c", PRINT_MAILGUN_KEY.format("RESEND_INBOUND_SECRET")], **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "whsec_aW5ib3VuZA=="


PRINT_MAILGUN_KEY = "import django; django.setup(); from django.conf import settings; print(settings.ANYMAIL[{!r}])"


@pytest.mark.parametrize("name", ["MAILGUN_WEBHOOK_SIGNING_KEY", "ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY"])
def test_the_mailgun_signing_key_reaches_anymail_from_either_name(name):
    env = production()
    del env["MAILGUN_WEBHOOK_SIGNING_KEY"]
    env[name] = MAILGUN_SIGNING_KEY
    result = run(["-c", PRINT_MAILGUN_KEY.format("MAILGUN_WEBHOOK_SIGNING_KEY")], **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == MAILGUN_SIGNING_KEY


def mailgun_delivered(message_id: str, signing_key: str) -> dict:
    """A Mailgun tracking webhook body, signed as Mailgun signs it: HMAC-SHA256 of timestamp + token."""
    timestamp, token = "1765077600", "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0"
    signature = hmac.new(signing_key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": {
            "event": "delivered",
            "timestamp": 1765077600.25,
            "id": "CPgfbmQMTCKtHW6uIWtuVe",
            "recipient": "pat@example.com",
            "message": {"headers": {"message-id": message_id.strip("<>")}},
            "delivery-status": {"code": 250, "message": "OK"},
            "user-variables": {},
        },
    }


@pytest.mark.django_db
@pytest.mark.parametrize("signed_with, status", [(MAILGUN_SIGNING_KEY, 200), ("key-mailgun-api", 400)])
def test_a_mailgun_webhook_signed_with_the_signing_key_is_accepted(settings, client, signed_with, status):
    settings.ANYMAIL = {
        "WEBHOOK_SECRET": WEBHOOK_SECRET,
        "MAILGUN_API_KEY": "key-mailgun-api",
        "MAILGUN_WEBHOOK_SIGNING_KEY": MAILGUN_SIGNING_KEY,
    }
    sent = sequence(message_id="<20261207033000.1.ABCDEF@mg.example.com>")
    url = reverse("anymail:mailgun_tracking_webhook")

    response = post_json(client, url, mailgun_delivered(sent.sent.provider_message_id, signed_with), **basic_auth())

    assert response.status_code == status, response.content
    assert len(outcome_rows(sent.lead, "email_delivered")) == (1 if status == 200 else 0)


def test_a_provider_whose_module_needs_the_apps_is_not_imported_early():
    env = production(SMS_PROVIDER="tests.outreach.provider_needing_apps.ModelsSmsProvider")
    result = start_django(**env)
    assert result.returncode == 0, result.stderr
