"""Start-up checks: a missing production setting stops the process with a message naming it."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def start_django(**env_overrides: str) -> subprocess.CompletedProcess:
    env = {
        k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "DJANGO_ENV"}
    }
    env.update(env_overrides, DJANGO_SETTINGS_MODULE="outreach.settings")
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_development_starts_with_no_settings_at_all():
    result = start_django()
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_production_names_every_missing_setting():
    result = start_django(DJANGO_ENV="production")
    assert result.returncode != 0
    assert "DJANGO_ENV=production needs these environment variables: SECRET_KEY, ALLOWED_HOSTS" in result.stderr


def test_production_with_twilio_sms_needs_twilio_credentials():
    result = start_django(
        DJANGO_ENV="production",
        SECRET_KEY="s" * 50,
        ALLOWED_HOSTS="outreach.example.com",
        DATABASE_URL="sqlite:////tmp/outreach-settings-test.sqlite3",
        PUBLIC_BASE_URL="https://outreach.example.com",
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
    )
    assert result.returncode != 0
    assert "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are required" in result.stderr


def test_retry_not_above_timeout_is_refused():
    result = start_django(Q_TIMEOUT="300", Q_RETRY="300")
    assert result.returncode != 0
    assert "Q_RETRY must be greater than Q_TIMEOUT" in result.stderr
