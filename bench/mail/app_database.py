"""The app database a mail benchmark run gives the service: the SQLite file of the default install, or a
throwaway PostgreSQL (tests/db/postgres_server.py: Debian's binaries, run as the postgres user) with its
own durability settings, as a deployment that sets DATABASE_URL has. Temporal is the dev server on its
SQLite file either way: the dev server cannot use PostgreSQL, so only the app's own tables move."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Literal

from tests.db.postgres_server import available, running_postgres

AppDatabase = Literal["sqlite", "postgresql"]
APP_DATABASES: tuple[AppDatabase, ...] = ("sqlite", "postgresql")

NOT_INSTALLED = "not run: PostgreSQL not installed"
TEMPORAL = "Temporal: the dev server on its SQLite file (the dev server cannot use PostgreSQL)"


def describe(kind: AppDatabase) -> str:
    """What the report and the output say the app database was."""
    if kind == "postgresql":
        return "PostgreSQL (throwaway server from Debian's binaries, fsync on; DATABASE_URL)"
    return "SQLite (the default install's file under DATA_DIR)"


def missing(kind: AppDatabase) -> str | None:
    """Why a run on `kind` cannot happen here (the server binaries are absent), or None."""
    return NOT_INSTALLED if kind == "postgresql" and not available() else None


@contextlib.asynccontextmanager
async def app_database(kind: AppDatabase) -> AsyncIterator[str]:
    """The DATABASE_URL the service's processes get: "" for SQLite (Settings then puts the file under
    DATA_DIR), else the URL of a fresh PostgreSQL, stopped and removed when the block ends. Async so it
    opens beside running_stack in one `async with`; its start and stop block the loop for seconds,
    before and after the measured phases, never during them."""
    if kind == "sqlite":
        yield ""
        return
    with running_postgres(durable=True) as url:
        yield url
