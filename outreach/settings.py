"""Settings, all read from the environment.

`DJANGO_ENV=production` turns on the strict checks: every setting that has no
safe default must then be given, and a missing one stops start-up with a
message naming it (instead of failing at the first send or request).
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from exc


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DJANGO_ENV = env_str("DJANGO_ENV", "development").lower()
if DJANGO_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be 'development' or 'production', got {DJANGO_ENV!r}")
PRODUCTION = DJANGO_ENV == "production"

_missing = [
    name
    for name in ("SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "EMAIL_BACKEND", "PUBLIC_BASE_URL")
    if PRODUCTION and not os.environ.get(name)
]
if _missing:
    raise ImproperlyConfigured("DJANGO_ENV=production needs these environment variables: " + ", ".join(_missing))

DEBUG = env_bool("DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured("DEBUG must be off when DJANGO_ENV=production")

SECRET_KEY = env_str("SECRET_KEY", "dev-only-insecure-key-do-not-use-in-production")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1],testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# Absolute base of links we put in messages (unsubscribe links, webhooks).
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://localhost:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "anymail",
    "django_q",
    "outreach.apps.OutreachConfig",
    "engines.apps.EnginesConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "outreach.urls"
WSGI_APPLICATION = "outreach.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "outreach" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'outreach.sqlite3'}"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Parent folder of the zero-setup database file.
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The ORM broker and the web process share the file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-au"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "static"

# --- Email: anymail. The console backend prints instead of sending; production
# names an ESP backend, e.g. "anymail.backends.resend.EmailBackend".
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "outreach@localhost")
ANYMAIL = {
    # Basic-auth "user:password" the ESP's webhooks must send; the development default is public, so
    # production must name its own.
    "WEBHOOK_SECRET": env_str("ANYMAIL_WEBHOOK_SECRET", "" if PRODUCTION else "dev-user:dev-password"),
}
if PRODUCTION and not ANYMAIL["WEBHOOK_SECRET"]:
    raise ImproperlyConfigured("DJANGO_ENV=production needs ANYMAIL_WEBHOOK_SECRET (user:password for ESP webhooks)")
for _key in ("RESEND_API_KEY", "SENDGRID_API_KEY", "POSTMARK_SERVER_TOKEN", "MAILGUN_API_KEY"):
    if os.environ.get(_key):
        ANYMAIL[_key] = os.environ[_key]
if (
    PRODUCTION
    and EMAIL_BACKEND.startswith("anymail.")
    and not any(key.endswith(("_API_KEY", "_TOKEN")) for key in ANYMAIL)
):
    raise ImproperlyConfigured("EMAIL_BACKEND is an anymail ESP but no ESP API key is set")

# --- SMS and voice: Twilio.
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN")
SMS_PROVIDER = env_str("SMS_PROVIDER", "engines.providers.sms.TwilioSmsProvider")
if PRODUCTION and SMS_PROVIDER.endswith("TwilioSmsProvider") and not (TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN):
    raise ImproperlyConfigured("SMS_PROVIDER is Twilio: TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are required")

# --- Bookings: Cal.com signs each webhook with this secret; without it every booking webhook is refused.
CAL_COM_WEBHOOK_SECRET = env_str("CAL_COM_WEBHOOK_SECRET")

# --- LinkedIn: no public messaging API, so the default backend queues a manual task.
LINKEDIN_BACKEND = env_str("LINKEDIN_BACKEND", "engines.providers.linkedin.ManualTaskBackend")

# --- Background work: django-q2 on the ORM broker. retry > timeout + margin so a
# long task is never handed out twice; catch_up off so a stopped cluster does not
# replay every missed schedule at start.
Q_CLUSTER = {
    "name": "outreach",
    "orm": "default",
    "workers": env_int("Q_WORKERS", 2),
    "timeout": env_int("Q_TIMEOUT", 300),
    "retry": env_int("Q_RETRY", 420),
    "max_attempts": env_int("Q_MAX_ATTEMPTS", 3),
    "catch_up": False,
    "ack_failures": True,
    "save_limit": 1000,
    "sync": env_bool("Q_SYNC", default=False),
}
if Q_CLUSTER["retry"] <= Q_CLUSTER["timeout"]:
    raise ImproperlyConfigured("Q_RETRY must be greater than Q_TIMEOUT, or long tasks run twice")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "engines": {"handlers": ["console"], "level": env_str("ENGINES_LOG_LEVEL", "INFO")},
    },
}
