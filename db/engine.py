"""Engine and session factory for SQLite (default, a file under DATA_DIR) or PostgreSQL (psycopg 3)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings


def normalise_url(url: str) -> str:
    """Map bare postgresql:// (and the legacy postgres://) URLs to the psycopg 3 driver that is installed."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


# Connections kept per process: the API's and the worker's I/O threads use up to ~32 at once, and a
# request waiting for a pooled connection waits in line (SQLAlchemy's default is 5 + 10 overflow).
POOL_SIZE = 16
# PostgreSQL counts every process's connections against its max_connections (100 by default): at up to
# 20 per process, four processes (two API processes, a worker, a migration) stay under it; more
# replicas need it raised (README, "Scaling out").
POSTGRES_POOL_SIZE = 10


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while the worker writes; SQLite leaves foreign keys off unless asked.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def create_db_engine(url: str) -> Engine:
    url = normalise_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:" and not database.startswith("file:"):
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        # Connections are kept, not opened per burst: opening one runs the pragmas below (WAL mode
        # needs a lock), and the API's and the worker's I/O threads use up to ~32 at once.
        engine = create_engine(
            url, connect_args={"check_same_thread": False}, pool_size=POOL_SIZE, max_overflow=POOL_SIZE
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=POSTGRES_POOL_SIZE, max_overflow=POSTGRES_POOL_SIZE
    )


def engine_from_settings(settings: Settings) -> Engine:
    return create_db_engine(settings.effective_database_url)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    # expire_on_commit=False: objects stay readable after commit when they are turned into responses.
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One transaction: commit on success, roll back on error."""
    with session_factory(engine)() as session, session.begin():
        yield session
