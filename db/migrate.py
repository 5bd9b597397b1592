"""`python -m db.migrate`: bring the application database schema to the newest Alembic revision."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine

from config.settings import get_settings
from db.engine import engine_from_settings

REPO_ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = REPO_ROOT / "migrations"

log = logging.getLogger(__name__)


def alembic_config() -> Config:
    # Configured in code, so the database URL (and any password in it) never goes through an ini file.
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def upgrade_to_head(engine: Engine) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def main() -> None:
    settings = get_settings()
    logging.basicConfig(level=settings.log_level)
    engine = engine_from_settings(settings)
    try:
        upgrade_to_head(engine)
        # The backend name only: the URL may carry a password.
        print(f"database ({engine.dialect.name}) at revision {current_revision(engine)}")
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
