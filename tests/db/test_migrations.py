"""Schema through Alembic on a real SQLite file: head revision, models match, pragmas, the CLI."""

from __future__ import annotations

import importlib
import os
import pkgutil
import subprocess
import sys
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

import db
from db.base import Base
from db.engine import create_db_engine, normalise_url
from db.migrate import REPO_ROOT, alembic_config, current_revision, upgrade_to_head
from tests.support.appdb import make_settings, migrated_engine


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def test_upgrade_creates_the_tables_at_head(tmp_path):
    engine = migrated_engine(make_settings(tmp_path))
    try:
        assert current_revision(engine) == head_revision()
        tables = set(inspect(engine).get_table_names())
        assert {"accounts", "users", "api_tokens", "browser_sessions", "alembic_version"} <= tables
        # Credentials only as hashes: no column could hold a plain token or session id.
        token_columns = {c["name"] for c in inspect(engine).get_columns("api_tokens")}
        assert "token_hash" in token_columns and "token" not in token_columns
    finally:
        engine.dispose()


def import_every_model_module() -> None:
    """Tables register on Base.metadata when their module is imported: import them all."""
    for module in pkgutil.iter_modules(db.__path__):
        importlib.import_module(f"db.{module.name}")


def test_models_and_migrations_agree(tmp_path):
    import_every_model_module()
    engine = migrated_engine(make_settings(tmp_path))
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert diff == [], f"models differ from migrations; write a migration: {diff}"
    finally:
        engine.dispose()


def test_upgrade_twice_is_harmless(tmp_path):
    engine = migrated_engine(make_settings(tmp_path))
    try:
        upgrade_to_head(engine)
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_sqlite_runs_in_wal_mode_and_enforces_foreign_keys(tmp_path):
    engine = migrated_engine(make_settings(tmp_path))
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        with pytest.raises(IntegrityError), engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO api_tokens (id, user_id, name, token_hash, created_at) "
                    "VALUES (:id, :user_id, 'x', 'h', '2026-01-01 00:00:00')"
                ),
                {"id": uuid.uuid4().hex, "user_id": uuid.uuid4().hex},
            )
    finally:
        engine.dispose()


def test_default_database_is_a_sqlite_file_under_data_dir(tmp_path):
    settings = make_settings(tmp_path / "data")
    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'data' / 'app.db'}"
    engine = create_db_engine(settings.effective_database_url)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        assert (tmp_path / "data" / "app.db").exists()
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db:5432/app", "postgresql+psycopg://u:p@db:5432/app"),
        ("postgres://u:p@db/app", "postgresql+psycopg://u:p@db/app"),
        ("postgresql+psycopg://u@db/app", "postgresql+psycopg://u@db/app"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_postgres_urls_use_psycopg3(given, expected):
    assert normalise_url(given) == expected


def test_migrate_command_upgrades_a_fresh_data_dir(tmp_path):
    env = {**os.environ, "DATA_DIR": str(tmp_path), "DATABASE_URL": ""}
    run = subprocess.run(
        [sys.executable, "-m", "db.migrate"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert f"at revision {head_revision()}" in run.stdout
    assert (tmp_path / "app.db").exists()
