"""A throwaway PostgreSQL (Debian's binaries) on a free port in a tmp dir, for the PostgreSQL tests and
the benchmark's PostgreSQL column (bench/mail/app_database.py).

PostgreSQL refuses to run as root, so under root the server runs as the `postgres` system user.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

from tests.support.servers import free_port


def _as_server_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def available() -> bool:
    return all(shutil.which(tool) for tool in ("initdb", "pg_ctl"))


@contextmanager
def running_postgres(*, durable: bool = False) -> Iterator[str]:
    """Yields a postgresql:// URL to a fresh database; stops the server and removes its files afterwards.
    Tests run it with fsync off (nothing they write must survive a crash of the machine); `durable=True`
    keeps PostgreSQL's own settings, so a benchmark pays for each commit's flush as a deployment does."""
    # Not under pytest's tmp dir: that is private to root, and the server user must reach its directory.
    base = Path(tempfile.mkdtemp(prefix="app-pg-"))
    try:
        yield from _run(base, durable)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _run(base: Path, durable: bool) -> Iterator[str]:
    data, sockets = base / "pgdata", base / "sock"
    sockets.mkdir(parents=True)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()
    subprocess.run(
        _as_server_user(["initdb", "-D", str(data), "-U", "app", "--auth=trust", "-E", "UTF8"]),
        check=True,
        capture_output=True,
        timeout=120,
    )
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1" + ("" if durable else " -c fsync=off")
    subprocess.run(
        _as_server_user(["pg_ctl", "-D", str(data), "-o", options, "-l", str(base / "log"), "-w", "start"]),
        check=True,
        capture_output=True,
        timeout=120,
    )
    url = f"postgresql://app@127.0.0.1:{port}/postgres"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(url, connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield url
    finally:
        subprocess.run(
            _as_server_user(["pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop"]),
            capture_output=True,
            timeout=60,
        )
