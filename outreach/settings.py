"""Settings, all read from the environment.

`DJANGO_ENV=production` turns on the strict checks: every setting that has no
safe default must then be given, and development values that are unsafe in
production (the development SECRET_KEY, a localhost PUBLIC_BASE_URL, an email
backend or SMS provider that sends nothing) are refused.

A value that cannot be used stops start-up with one line per problem on
stderr, each naming its variable, and exit status 2: no traceback, whatever
starts Django (manage.py, the WSGI server, a worker).
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from importlib.util import find_spec
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url
from django.core.exceptions import AppRegistryNotReady
from django.utils.module_loading import import_string

BASE_DIR = Path(__file__).resolve().parent.parent

TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
DEV_SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"
DEV_WEBHOOK_SECRET = "dev-user:dev-password"
# Backends that accept a message and deliver nothing.
NON_DELIVERING_EMAIL_BACKENDS = frozenset(
    {
        "django.core.mail.backends.console.EmailBackend",
        "django.core.mail.backends.locmem.EmailBackend",
        "django.core.mail.backends.filebased.EmailBackend",
        "django.core.mail.backends.dummy.EmailBackend",
        "anymail.backends.test.EmailBackend",
    }
)
POSTGRESQL_ENGINES = frozenset({"django.db.backends.postgresql", "django.contrib.gis.db.backends.postgis"})
# Each half of ANYMAIL_WEBHOOK_SECRET: the only thing between the internet and a forged bounce or complaint.
MIN_WEBHOOK_SECRET_PART = 16

# Every unusable value found; start-up stops after all settings were read, so one run names them all.
_problems: list[str] = []


def refuse(message: str) -> None:
    _problems.append(message)


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    """A yes/no variable; a spelling that is neither (DEBUG=ture) is refused, not read as False."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS or word in FALSE_WORDS:
        return word in TRUE_WORDS
    refuse(f"{name} must be one of {'/'.join(TRUE_WORDS)} or {'/'.join(FALSE_WORDS)}, got {raw!r}")
    return default


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        refuse(f"{name} must be a whole number, got {raw!r}")
        return default


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


DJANGO_ENV = env_str("DJANGO_ENV", "development").strip().lower()
if DJANGO_ENV not in {"development", "production"}:
    refuse(f"DJANGO_ENV must be 'development' or 'production', got {DJANGO_ENV!r}")
PRODUCTION = DJANGO_ENV == "production"

REQUIRED_IN_PRODUCTION = (
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DATABASE_URL",
    "EMAIL_BACKEND",
    "PUBLIC_BASE_URL",
    "ANYMAIL_WEBHOOK_SECRET",
)
_missing = [name for name in REQUIRED_IN_PRODUCTION if PRODUCTION and not os.environ.get(name, "").strip()]
if _missing:
    refuse("DJANGO_ENV=production needs these environment variables: " + ", ".join(_missing))

DEBUG = env_bool("DEBUG", default=not PRODUCTION)
if PRODUCTION and DEBUG:
    refuse("DEBUG must be off when DJANGO_ENV=production")

SECRET_KEY = env_str("SECRET_KEY", DEV_SECRET_KEY)
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
    "import_export",
    "outreach.apps.OutreachConfig",
    "engines.apps.EnginesConfig",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Provider callbacks (anymail, Twilio, Cal.com) are answered here, skipping the browser middleware below.
    "engines.webhooks.middleware.ProviderCallbackMiddleware",
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

_SQLITE_URL = f"sqlite:///{BASE_DIR / 'var' / 'outreach.sqlite3'}"
try:
    _database = dj_database_url.parse(env_str("DATABASE_URL", _SQLITE_URL), conn_max_age=env_int("DB_CONN_MAX_AGE", 0))
except ValueError as exc:
    refuse(f"DATABASE_URL cannot be read: {str(exc).split('. ')[0]}")
    _database = dj_database_url.parse(_SQLITE_URL)
else:
    # The SQLite file serves one machine's development: its write lock stalls webhooks behind the dispatcher.
    if PRODUCTION and os.environ.get("DATABASE_URL", "").strip() and _database["ENGINE"] not in POSTGRESQL_ENGINES:
        refuse(f"DATABASE_URL must be a PostgreSQL database (postgres://...), got engine {_database['ENGINE']}")
DATABASES = {"default": _database}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Parent folder of the zero-setup database file.
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The ORM broker and the web process share the file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 20
    # Write-ahead log: readers never block the writer (web, worker and dispatcher share the file), and a
    # commit needs no fsync of its own (synchronous=NORMAL is durable across crashes of the process).
    DATABASES["default"]["OPTIONS"]["init_command"] = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
elif "postgresql" in DATABASES["default"]["ENGINE"] and env_bool("DB_PREPARED_STATEMENTS", default=True):
    # psycopg may prepare what a server-binding cursor runs again and again (the tracking webhooks' INSERT; the
    # ORM's client-side cursors never prepare). Set false behind PgBouncer older than 1.21 in transaction mode.
    DATABASES["default"].setdefault("OPTIONS", {})["prepare_threshold"] = 5

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
    "WEBHOOK_SECRET": env_str("ANYMAIL_WEBHOOK_SECRET", "" if PRODUCTION else DEV_WEBHOOK_SECRET),
}
for _key in ("RESEND_API_KEY", "SENDGRID_API_KEY", "POSTMARK_SERVER_TOKEN", "MAILGUN_API_KEY"):
    if os.environ.get(_key):
        ANYMAIL[_key] = os.environ[_key]
if (
    PRODUCTION
    and EMAIL_BACKEND.startswith("anymail.")
    and not any(key.endswith(("_API_KEY", "_TOKEN")) for key in ANYMAIL)
):
    refuse("EMAIL_BACKEND is an anymail ESP but no ESP API key is set")

# The setting with which anymail verifies each supported ESP's webhook signatures (anymail/webhooks/<esp>.py).
# Postmark signs nothing: its webhooks are checked by ANYMAIL_WEBHOOK_SECRET alone, as every ESP's also are.
ESP_WEBHOOK_KEYS = {
    "mailgun": "MAILGUN_WEBHOOK_SIGNING_KEY",
    "resend": "RESEND_SIGNING_SECRET",
    "sendgrid": "SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY",
}
# Resend gives each webhook endpoint its own secret, and anymail (15+) checks the inbound one under its own name:
# with RESEND_SIGNING_SECRET alone, replies posted to /anymail/resend/inbound/ are checked by basic auth only.
ESP_INBOUND_KEYS = {"resend": "RESEND_INBOUND_SECRET"}
# ESPs that sign every webhook. Without its key anymail checks Mailgun's signature against the API key (a
# different secret on current Mailgun accounts: every event refused with "incorrect signature"), and skips
# Resend's.
# SendGrid signs only once "Signed Event Webhook" is turned on in its console, so its key stays optional.
ESPS_THAT_SIGN = frozenset({"mailgun", "resend"})
# The package (and the pip extra that brings it) anymail verifies a key's signatures with: with the key set
# but the package missing, anymail answers each of that ESP's webhooks with an error.
VERIFIER_PACKAGES = {
    "RESEND_SIGNING_SECRET": ("svix", "django-anymail[resend]"),
    "RESEND_INBOUND_SECRET": ("svix", "django-anymail[resend]"),
    "SENDGRID_TRACKING_WEBHOOK_VERIFICATION_KEY": ("cryptography", "django-anymail[sendgrid]"),
}


def env_anymail(name: str) -> str:
    """An anymail setting given as NAME or ANYMAIL_NAME (anymail's own two spellings); two values are refused."""
    bare, prefixed = env_str(name).strip(), env_str(f"ANYMAIL_{name}").strip()
    if bare and prefixed and bare != prefixed:
        refuse(f"{name} and ANYMAIL_{name} are both set, to different values; set one")
    return prefixed or bare


for _key in (*ESP_WEBHOOK_KEYS.values(), *ESP_INBOUND_KEYS.values()):
    if _value := env_anymail(_key):
        ANYMAIL[_key] = _value
        _package, _extra = VERIFIER_PACKAGES.get(_key, ("", ""))
        if _package and find_spec(_package) is None:
            refuse(f"{_key} is set but {_package} is not installed to check it: pip install '{_extra}'")
# "anymail.backends.mailgun.EmailBackend" -> "mailgun".
_esp = EMAIL_BACKEND.split(".")[2] if EMAIL_BACKEND.startswith("anymail.backends.") else ""
if PRODUCTION and _esp in ESPS_THAT_SIGN and ESP_WEBHOOK_KEYS[_esp] not in ANYMAIL:
    refuse(f"EMAIL_BACKEND is {_esp}, which signs its webhooks: {ESP_WEBHOOK_KEYS[_esp]} is required to check them")


# --- Sending mailboxes' ESP accounts (Mailbox.account): a JSON object, name -> {"backend": an email backend's
# dotted path, "options": its keyword arguments}. A secret is never written here: an option named "<name>_env"
# names the environment variable that holds <name> (e.g. {"api_key_env": "MAILGUN_KEY_2"}), read when it is used.
def mailbox_accounts(raw: str) -> dict[str, dict[str, object]]:
    try:
        accounts = json.loads(raw or "{}")
    except ValueError as error:
        refuse(f"OUTREACH_MAILBOX_ACCOUNTS is not JSON: {error}")
        return {}
    if not isinstance(accounts, dict) or not all(
        isinstance(name, str) and name and isinstance(account, dict) and isinstance(account.get("backend"), str)
        and isinstance(account.get("options", {}), dict)
        for name, account in accounts.items()
    ):  # fmt: skip
        refuse('OUTREACH_MAILBOX_ACCOUNTS must be {"name": {"backend": "dotted.path", "options": {...}}, ...}')
        return {}
    return accounts


OUTREACH_MAILBOX_ACCOUNTS = mailbox_accounts(env_str("OUTREACH_MAILBOX_ACCOUNTS"))

# --- SMS and voice: Twilio.
TWILIO_ACCOUNT_SID = env_str("TWILIO_ACCOUNT_SID")
TWILIO_AUTH_TOKEN = env_str("TWILIO_AUTH_TOKEN")
# Development records SMS instead of sending them (no Twilio account needed); production requires Twilio.
SMS_PROVIDER = env_str(
    "SMS_PROVIDER",
    "engines.providers.sms.TwilioSmsProvider" if PRODUCTION else "engines.providers.sms.RecordingSmsProvider",
)
if PRODUCTION and SMS_PROVIDER.endswith("TwilioSmsProvider") and not (TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN):
    refuse("SMS_PROVIDER is Twilio: TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are required")

# --- Bookings: Cal.com signs each webhook with this secret; without it every booking webhook is refused.
CAL_COM_WEBHOOK_SECRET = env_str("CAL_COM_WEBHOOK_SECRET")

# --- LinkedIn: no public messaging API, so the default backend queues a manual task.
LINKEDIN_BACKEND = env_str("LINKEDIN_BACKEND", "engines.providers.linkedin.ManualTaskBackend")

# --- Background work: django-q2 on the ORM broker. retry > timeout + margin so a
# long task is never handed out twice; catch_up off so a stopped cluster does not
# replay every missed schedule at start.
_Q_TIMEOUT, _Q_RETRY = env_int("Q_TIMEOUT", 300), env_int("Q_RETRY", 420)
Q_CLUSTER = {
    "name": "outreach",
    "orm": "default",
    "workers": env_int("Q_WORKERS", 2),
    "timeout": _Q_TIMEOUT,
    "retry": _Q_RETRY,
    "max_attempts": env_int("Q_MAX_ATTEMPTS", 3),
    "catch_up": False,
    "ack_failures": True,
    "save_limit": 1000,
    "sync": env_bool("Q_SYNC", default=False),
}
if _Q_RETRY <= _Q_TIMEOUT:
    refuse("Q_RETRY must be greater than Q_TIMEOUT, or long tasks run twice")
# Threads per dispatcher run that make the provider calls, overlapping their round-trips. They hold no
# database connection (a run uses two on PostgreSQL: its own and its recorder's).
DISPATCH_THREADS = env_int("DISPATCH_THREADS", 32)
# What one lead import may hold (engines.services.intake.lead_import), so reading and checking a file keeps
# memory bounded: its size, its data rows (counted while streaming), and an .xlsx's unpacked size.
LEAD_IMPORT_MAX_BYTES = env_int("LEAD_IMPORT_MAX_BYTES", 20_000_000)
LEAD_IMPORT_MAX_ROWS = env_int("LEAD_IMPORT_MAX_ROWS", 100_000)
LEAD_IMPORT_MAX_UNPACKED_BYTES = env_int("LEAD_IMPORT_MAX_UNPACKED_BYTES", 400_000_000)
if min(LEAD_IMPORT_MAX_BYTES, LEAD_IMPORT_MAX_ROWS, LEAD_IMPORT_MAX_UNPACKED_BYTES) < 1:
    refuse("LEAD_IMPORT_MAX_BYTES, LEAD_IMPORT_MAX_ROWS and LEAD_IMPORT_MAX_UNPACKED_BYTES must be at least 1")
# A confirmed admin import of more data rows than this answers with a page that shows its progress while it runs
# (outreach.admin.imports); a smaller one redirects to the lead list with a message. 0: every import shows it.
LEAD_IMPORT_PROGRESS_ROWS = env_int("LEAD_IMPORT_PROGRESS_ROWS", 2_000)
if LEAD_IMPORT_PROGRESS_ROWS < 0:
    refuse("LEAD_IMPORT_PROGRESS_ROWS must be 0 or more")

# --- Sending-domain checks (SPF, DKIM, DMARC; engines.services.deliverability). The resolver class looks up TXT
# records (tests name an in-memory one); DNS_TIMEOUT bounds one name's lookup, in seconds. A client without a
# DKIM selector of its own is checked at each of these selectors (Google Workspace, Microsoft 365, SendGrid,
# Mailgun, Postmark, Resend, Mandrill, Mailchimp's, cPanel's default).
DNS_RESOLVER = env_str("DNS_RESOLVER").strip() or "engines.providers.dns.DnsPythonResolver"
DNS_TIMEOUT = env_int("DNS_TIMEOUT", 5)
if DNS_TIMEOUT < 1:
    refuse("DNS_TIMEOUT must be at least 1 (seconds)")
DEFAULT_DKIM_SELECTORS = env_list(
    "DEFAULT_DKIM_SELECTORS", "default,google,selector1,selector2,s1,s2,k1,k2,smtp,pm,resend,mandrill,mte1"
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "engines": {"handlers": ["console"], "level": env_str("ENGINES_LOG_LEVEL", "INFO")},
    },
}

# --- HTTPS. Production sends HSTS and secure cookies and redirects http to https (what
# `manage.py check --deploy` asks for). Behind a proxy that ends TLS, set
# TRUST_X_FORWARDED_PROTO=true so Django sees the original scheme.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=PRODUCTION)
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
if env_bool("TRUST_X_FORWARDED_PROTO"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


def is_public_https_url(url: str) -> bool:
    """An https:// URL whose host the internet can reach: a dotted name, or a global IP address."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port that is not a number
    except ValueError:  # "https://[bad"
        return False
    host = (parts.hostname or "").rstrip(".")  # "localhost." is localhost
    if parts.scheme != "https" or not host:
        return False
    try:
        return ipaddress.ip_address(host).is_global  # not private, loopback, link-local, reserved, ...
    except ValueError:
        pass
    # A name with no dot is a local one (intranet, container); "x.localhost" is loopback (RFC 6761); a
    # numeric last label ("127.1", "10.1") is an IP address that ipaddress does not read, never a name.
    return "." in host and not host.endswith(".localhost") and not host.rsplit(".", 1)[1].isdigit()


def _unsafe_in_production() -> list[str]:
    """Development values that would start a production site unsafely (missing ones are reported above)."""
    unsafe = []
    if SECRET_KEY == DEV_SECRET_KEY:
        unsafe.append("SECRET_KEY is the development default; set a long random value")
    elif SECRET_KEY.strip() and (len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5):
        unsafe.append("SECRET_KEY is too weak: use at least 50 random characters")
    given_url = os.environ.get("PUBLIC_BASE_URL", "")  # as given: "https://" is not PUBLIC_BASE_URL's "https:"
    if given_url and not is_public_https_url(given_url):
        unsafe.append(f"PUBLIC_BASE_URL must be the site's public https:// address, got {given_url!r}")
    if EMAIL_BACKEND in NON_DELIVERING_EMAIL_BACKENDS:
        unsafe.append(f"EMAIL_BACKEND {EMAIL_BACKEND} delivers nothing; name an ESP backend (anymail.backends...)")
    if SMS_PROVIDER.rsplit(".", 1)[-1].startswith("Recording"):
        unsafe.append(f"SMS_PROVIDER {SMS_PROVIDER} only records messages; use engines.providers.sms.TwilioSmsProvider")
    if LINKEDIN_BACKEND.rsplit(".", 1)[-1].startswith("Recording"):
        unsafe.append(f"LINKEDIN_BACKEND {LINKEDIN_BACKEND} only records messages")
    secret = ANYMAIL["WEBHOOK_SECRET"]
    user, _, password = secret.partition(":")  # basic auth: the user name ends at the first colon
    if secret == DEV_WEBHOOK_SECRET:
        unsafe.append("ANYMAIL_WEBHOOK_SECRET must be your own random user:password, not the development one")
    elif secret and (len(user) < MIN_WEBHOOK_SECRET_PART or len(password) < MIN_WEBHOOK_SECRET_PART):
        unsafe.append(
            f"ANYMAIL_WEBHOOK_SECRET must be user:password with a user and a password of at least "
            f"{MIN_WEBHOOK_SECRET_PART} random characters each"
        )
    for name, dotted_path in (("EMAIL_BACKEND", EMAIL_BACKEND), ("SMS_PROVIDER", SMS_PROVIDER)):
        # Found now rather than at the first send: anymail's backends and engines.providers.sms import without
        # configured settings or apps.
        try:
            import_string(dotted_path)
        except ImportError as exc:
            unsafe.append(f"{name} {dotted_path!r} cannot be imported: {exc}")
        except AppRegistryNotReady:
            pass  # a module that imports models cannot be imported before the apps: it is at its first use
    return unsafe


if PRODUCTION:
    _problems.extend(_unsafe_in_production())
if _problems:
    # One line per problem, no traceback: the message is the whole story.
    sys.stderr.write("".join(f"Refusing to start: {problem}\n" for problem in _problems))
    sys.exit(2)
