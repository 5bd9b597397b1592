"""Helpers for tests of the app's database, accounts and API: settings and a migrated SQLite file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from accounts import service
from config.settings import Settings
from db.engine import create_db_engine, session_scope
from db.migrate import upgrade_to_head


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a test: nothing read from .env or the environment except what is passed."""
    values: dict[str, Any] = {"environment": "development", "data_dir": data_dir, "database_url": ""}
    values.update(overrides)
    return Settings(_env_file=None, **values)


def migrated_engine(settings: Settings) -> Engine:
    engine = create_db_engine(settings.effective_database_url)
    upgrade_to_head(engine)
    return engine


def add_user(
    engine: Engine, *, account_name: str = "acme", role: str = "admin", email: str = ""
) -> tuple[Any, str]:
    """A new account with one user and an API token; returns (user id, plain token)."""
    with session_scope(engine) as session:
        account = service.create_account(session, account_name)
        user = service.create_user(
            session,
            account,
            email=email or f"{role}@{account_name}.example",
            display_name=f"{role} of {account_name}",
            role=role,  # type: ignore[arg-type]
        )
        issued = service.issue_api_token(session, user, "test")
        return user.id, issued.plain
