"""Migration 0003_boards_recipes goes down and up again cleanly on SQLite."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import inspect

from db.migrate import alembic_config, upgrade_to_head
from tests.support.appdb import make_settings, migrated_engine

TABLES = {
    "boards",
    "board_groups",
    "board_columns",
    "board_items",
    "item_updates",
    "recipe_ledger",
    "recipes",
    "message_outcomes",
}


def test_down_to_0002_and_up_again(tmp_path: Path) -> None:
    engine = migrated_engine(make_settings(tmp_path))
    try:
        assert TABLES <= set(inspect(engine).get_table_names())
        config = alembic_config()
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0002_connections")
        assert not TABLES & set(inspect(engine).get_table_names())
        upgrade_to_head(engine)
        assert TABLES <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
