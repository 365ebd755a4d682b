"""A real browser on the admin: Playwright's sync API driving the system's headless Chromium.

`.ci/run` installs Debian's chromium when /usr/bin/chromium is missing; never
`playwright install` (it downloads its own browsers and fails offline). Point
CHROMIUM_PATH elsewhere to use another build.

Each module gets one browser and each test a fresh context (its own cookies)
on pytest-django's `live_server`, which also serves the static files (admin
CSS) because django.contrib.staticfiles is installed. Tests using the live
server run in transactional mode, so the rows they create are visible to the
server's thread.

Screenshots go to $TEST_OUTPUT_DIR/screenshots/<database>/ (default
var/test-output/); the folder is printed in the pytest header. A failed test
also leaves a FAILED-<test>-<n>.png of each of its pages there.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Permission, User
from django.test import Client as DjangoTestClient
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from outreach.models import Client, ClientMembership

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "browser-test-password"
FAILED = pytest.StashKey[bool]()
# Long enough for a slow shared CI machine, short enough that a missing element fails the test quickly.
TIMEOUT_MS = 15_000


def screenshot_dir() -> Path:
    base = Path(os.environ.get("TEST_OUTPUT_DIR", REPO_ROOT / "var" / "test-output"))
    return base / "screenshots" / os.environ.get("TEST_DB", "sqlite").lower()


def pytest_report_header(config: pytest.Config) -> str:
    return f"browser screenshots: {screenshot_dir()}"


def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG of `page` as <screenshot_dir>/<name>.png and return its path."""
    path = screenshot_dir() / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


@pytest.fixture(scope="module")
def browser(django_db_setup) -> Iterator[Browser]:
    # django_db_setup first: the test database is created before Playwright's event loop exists.
    if not Path(CHROMIUM_PATH).exists():
        pytest.fail(
            f"No Chromium at {CHROMIUM_PATH}: install it with `apt-get install -y chromium` "
            "(.ci/run does) or set CHROMIUM_PATH. Do not run `playwright install`."
        )
    # Playwright's sync API keeps an event loop running in this thread, which makes
    # Django's ORM refuse to run here; the ORM calls in these tests are still synchronous.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM_PATH, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    # Lets the context fixture know, at teardown, that the test body failed.
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


@pytest.fixture
def context(request: pytest.FixtureRequest, browser: Browser, live_server) -> Iterator[BrowserContext]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    if request.node.stash.get(FAILED, False):
        # What the browser showed when the test failed: the first thing to look at on CI.
        for number, page in enumerate(context.pages):
            screenshot(page, f"FAILED-{request.node.name}-{number}")
    context.close()


@pytest.fixture(autouse=True)
def fast_password_hasher(settings) -> None:
    """Each login checks a password: the production hasher's deliberate slowness would cost a second per test."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def staff_user() -> Callable[..., User]:
    """Make a staff user (all outreach permissions) who is a member of `clients`; superuser=True for all clients."""

    def make(username: str, *clients: Client, superuser: bool = False) -> User:
        if superuser:
            return User.objects.create_superuser(username, f"{username}@agency.example.com", PASSWORD)
        user = User.objects.create_user(username, f"{username}@agency.example.com", PASSWORD, is_staff=True)
        user.user_permissions.set(Permission.objects.filter(content_type__app_label="outreach"))
        for client in clients:
            ClientMembership.objects.create(user=user, client=client)
        return user

    return make


@pytest.fixture
def admin_login(context: BrowserContext, live_server) -> Callable[..., Page]:
    """Log `user` in and return a page on the admin index.

    By default the session is made server-side and handed to the browser as its
    cookie (a second a test faster); via_form=True types the password into the
    admin's login form instead.
    """

    def login(user: User, *, via_form: bool = False) -> Page:
        page = context.new_page()
        if via_form:
            page.goto("/admin/login/?next=/admin/")
            page.fill("#id_username", user.get_username())
            page.fill("#id_password", PASSWORD)
            page.click("input[type=submit]")
        else:
            session = DjangoTestClient()
            session.force_login(user)
            cookie = session.cookies[django_settings.SESSION_COOKIE_NAME].value
            context.add_cookies(
                [{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
            )
            page.goto("/admin/")
        expect(page.locator("#user-tools")).to_contain_text(user.get_username())
        return page

    return login
