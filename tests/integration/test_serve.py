"""`make run`'s process pair: the web server and a qcluster worker start together and stop together."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60
STOP_TIMEOUT = 15


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def descendants(pid: int) -> set[int]:
    """Every process below `pid`, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, stack = set(), [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def test_serve_starts_web_server_and_worker_then_ctrl_c_stops_both(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'run.sqlite3'}",
        "DJANGO_ENV": "development",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_SETTINGS_MODULE", None)
    manage = [sys.executable, str(REPO_ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], cwd=REPO_ROOT, env=env, check=True)
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        serve = subprocess.Popen(
            [*manage, "serve", "--port", str(port)], cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for(lambda: "Ctrl-C stops both" in log.read_text(), START_TIMEOUT, "the login banner")
        banner = log.read_text()
        assert f"http://127.0.0.1:{port}/admin/" in banner
        assert "user 'admin', password '" in banner

        def login_page():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=5) as response:
                    return response.status, response.read().decode()
            except OSError:
                return None

        status, page = wait_for(login_page, START_TIMEOUT, "the admin login page")
        assert status == 200 and "csrfmiddlewaretoken" in page

        # The web server and the cluster (with its worker processes) are all running below serve.
        def running_children():
            found = descendants(serve.pid)
            return found if len(found) >= 3 else None

        processes = wait_for(running_children, START_TIMEOUT, "the qcluster worker processes")

        serve.send_signal(signal.SIGINT)
        assert serve.wait(timeout=STOP_TIMEOUT) == 0
        wait_for(lambda: not any(alive(pid) for pid in processes), STOP_TIMEOUT, "every child to stop")
        assert "Stopped the web server and the qcluster worker." in log.read_text()
    finally:
        if serve.poll() is None:
            serve.kill()
        for pid in descendants(serve.pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.django_db
def test_the_demo_login_is_created_once_and_printed_again_on_the_next_run(tmp_path, settings):
    from django.contrib.auth import authenticate

    from outreach.management.commands.serve import ensure_demo_admin

    settings.BASE_DIR = tmp_path
    username, password = ensure_demo_admin()
    assert authenticate(username=username, password=password) is not None
    assert ensure_demo_admin() == (username, password)


@pytest.mark.django_db
def test_an_existing_superuser_is_named_but_its_password_is_not_invented(tmp_path, settings):
    from django.contrib.auth import get_user_model

    from outreach.management.commands.serve import ensure_demo_admin

    settings.BASE_DIR = tmp_path
    get_user_model().objects.create_superuser("owner", password="their own secret")
    assert ensure_demo_admin() == ("owner", None)
