"""`make run`: the web server and one qcluster worker on the same database, stopped together."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import CommandError, CommandParser

from outreach.management.base import OutreachCommand

DEMO_USERNAME = "admin"
# Where the generated demo password is kept, so a second `make run` prints the same login.
PASSWORD_FILE_NAME = "demo-admin-password.txt"


def ensure_demo_admin() -> tuple[str, str | None]:
    """The demo superuser's name and password; created when no superuser exists.

    The password is None when a superuser already existed that this command
    did not create (its password is its owner's business).
    """
    password_file = settings.BASE_DIR / "var" / PASSWORD_FILE_NAME
    users = get_user_model().objects
    if users.filter(is_superuser=True).exists():
        demo = users.filter(username=DEMO_USERNAME, is_superuser=True).exists()
        known = password_file.read_text().strip() if demo and password_file.exists() else None
        name = DEMO_USERNAME if demo else users.filter(is_superuser=True).values_list("username", flat=True)[0]
        return name, known
    password = secrets.token_urlsafe(12)
    users.create_superuser(DEMO_USERNAME, email="admin@example.com", password=password)
    password_file.parent.mkdir(parents=True, exist_ok=True)
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    return DEMO_USERNAME, password


class Command(OutreachCommand):
    help = (
        "Start the web server and one qcluster worker together on the configured database; Ctrl-C stops both. "
        "Creates a demo admin login when no superuser exists and prints it with the URL. Development only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000, help="port of the web server (default 8000)")
        parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")

    def handle(self, *args: Any, port: int, host: str, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("serve is for development; in production run a WSGI server and `manage.py qcluster`")
        if not 0 < port < 65536:
            raise CommandError(f"--port must be 1-65535, got {port}")
        username, password = ensure_demo_admin()
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        children = [
            subprocess.Popen([*manage, "runserver", "--noreload", f"{host}:{port}"], start_new_session=True),
            subprocess.Popen([*manage, "qcluster"], start_new_session=True),
        ]
        url = f"http://{host}:{port}/admin/"
        login = f"user {username!r}, password {password!r}" if password else f"user {username!r} (your password)"
        self.stdout.write(f"Outreach admin at {url}  ({login}); qcluster worker running. Ctrl-C stops both.")
        self.supervise(children)

    def supervise(self, children: list[subprocess.Popen[bytes]]) -> None:
        """Wait until Ctrl-C, SIGTERM or one child's exit, then stop every child's whole process group."""
        stopping = False

        def request_stop(signum: int, frame: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        while not stopping and all(child.poll() is None for child in children):
            time.sleep(0.2)
        for child in children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
        self.stdout.write("Stopped the web server and the qcluster worker.")
