"""Start-up checks: a missing or unsafe setting stops the process with one line naming it, and no traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    "Q_SYNC",
    "Q_TIMEOUT",
    "Q_RETRY",
}


def production(tmp_path: Path, **overrides: str) -> dict[str, str]:
    """A safe production environment, with `overrides`."""
    return {
        "DJANGO_ENV": "production",
        "SECRET_KEY": "k3y-" + "".join(chr(ord("a") + i % 26) for i in range(60)),
        "ALLOWED_HOSTS": "outreach.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'outreach.sqlite3'}",
        "PUBLIC_BASE_URL": "https://outreach.example.com",
        "EMAIL_BACKEND": "anymail.backends.resend.EmailBackend",
        "RESEND_API_KEY": "re_test_key",
        "ANYMAIL_WEBHOOK_SECRET": "esp:Zq8w-31xHk9",
        "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "TWILIO_AUTH_TOKEN": "token",
        **overrides,
    }


def run(args: list[str], **env_overrides: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in READ_BY_SETTINGS}
    env.update(env_overrides, DJANGO_SETTINGS_MODULE="outreach.settings")
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


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


def test_a_safe_production_environment_starts(tmp_path):
    result = start_django(**production(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_check_deploy_passes_clean_in_production(tmp_path):
    result = run(["manage.py", "check", "--deploy", "--fail-level", "DEBUG"], **production(tmp_path))
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
    ],
)
def test_production_refuses_each_unsafe_value_in_one_line(tmp_path, overrides, fragment):
    result = start_django(**production(tmp_path, **overrides))
    assert_refused(result, fragment)
    assert len(result.stderr.splitlines()) == 1, result.stderr


def test_every_problem_is_named_in_one_run(tmp_path):
    result = start_django(
        **production(tmp_path, SECRET_KEY="dev-only-insecure-key-do-not-use-in-production", DEBUG="ture", Q_SYNC="?")
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


def test_production_with_twilio_sms_needs_twilio_credentials(tmp_path):
    env = production(tmp_path)
    del env["TWILIO_ACCOUNT_SID"], env["TWILIO_AUTH_TOKEN"]
    assert_refused(start_django(**env), "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are required")


def test_retry_not_above_timeout_is_refused():
    assert_refused(start_django(Q_TIMEOUT="300", Q_RETRY="300"), "Q_RETRY must be greater than Q_TIMEOUT")


def test_manage_py_reports_without_a_traceback():
    assert_refused(run(["manage.py", "check"], DJANGO_ENV="staging"), "DJANGO_ENV must be 'development' or")
