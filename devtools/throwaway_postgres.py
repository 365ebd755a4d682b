"""Start a private PostgreSQL cluster for one test or benchmark run, and remove it after.

initdb and pg_ctl refuse to run as root, so as root they run as the `postgres`
system user. The cluster listens on a unix socket only, with durability off (fsync,
synchronous_commit and full-page writes): it lives for one run.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Cluster:
    host: str  # the socket directory
    port: int
    user: str = "postgres"
    name: str = "postgres"

    @property
    def url(self) -> str:
        return f"postgres://{self.user}@/{self.name}?host={self.host}&port={self.port}"


def postgres_bin_dir() -> str | None:
    """The folder holding initdb and pg_ctl, or None when PostgreSQL is not installed."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return os.path.dirname(os.path.realpath(found))
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return os.path.dirname(candidates[0]) if candidates else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_cluster_owner(command: list[str]) -> list[str]:
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *command]
    return command


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[Cluster]:
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) were not found")
    root = tempfile.mkdtemp(prefix="outreach-pg-")
    data_dir = os.path.join(root, "data")
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = _free_port()

    def run(*args: str) -> None:
        subprocess.run(_as_cluster_owner(list(args)), check=True, capture_output=True, text=True)

    try:
        run(
            os.path.join(bin_dir, "initdb"),
            "-D",
            data_dir,
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        )
        options = (
            f"-p {port} -k {root} -c listen_addresses='' -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50"
        )
        run(
            os.path.join(bin_dir, "pg_ctl"),
            "-D",
            data_dir,
            "-w",
            "-l",
            os.path.join(root, "log"),
            "start",
            "-o",
            options,
        )
        try:
            yield Cluster(host=root, port=port)
        finally:
            subprocess.run(
                _as_cluster_owner([os.path.join(bin_dir, "pg_ctl"), "-D", data_dir, "-m", "fast", "stop"]),
                capture_output=True,
            )
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"could not start PostgreSQL: {exc.stderr or exc.stdout}") from exc
    finally:
        shutil.rmtree(root, ignore_errors=True)
