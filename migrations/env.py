"""Alembic environment: runs on the connection db.migrate hands over, or builds one from the settings."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from config.settings import get_settings
from db import accounts, activity_log, boards, connections, outbox, recipes, sync_state  # noqa: F401  (registers the tables)
from db.base import Base
from db.engine import engine_from_settings

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: batch mode recreates tables instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = engine_from_settings(get_settings())
    try:
        with engine.connect() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (SQL script) migrations are not supported; run python -m db.migrate")
run_migrations_online()
