"""The same migrations on a real PostgreSQL through psycopg 3, from a plain postgresql:// URL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from accounts import service
from db.base import Base
from db.engine import create_db_engine, session_scope
from db.migrate import current_revision, upgrade_to_head
from tests.db.postgres_server import available, running_postgres
from tests.db.test_migrations import import_every_model_module

pytestmark = pytest.mark.skipif(
    not available(), reason="PostgreSQL server binaries (initdb, pg_ctl) not installed"
)


@pytest.fixture(scope="module")
def postgres_url():
    with running_postgres() as url:
        yield url


def test_migrations_on_postgresql(postgres_url):
    engine = create_db_engine(postgres_url)
    try:
        assert engine.dialect.driver == "psycopg"
        upgrade_to_head(engine)
        upgrade_to_head(engine)
        assert current_revision(engine) is not None
        assert {"accounts", "users", "api_tokens", "browser_sessions"} <= set(
            inspect(engine).get_table_names()
        )
        import_every_model_module()
        with engine.connect() as connection:
            assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
        with session_scope(engine) as session:
            account = service.create_account(session, "pg")
            user = service.create_user(session, account, email="a@pg.example", display_name="A", role="admin")
            plain = service.issue_api_token(session, user, "t").plain
        with session_scope(engine) as session:
            found = service.authenticate_token(session, plain)
            assert found is not None and found.email == "a@pg.example"
            assert found.created_at.tzinfo is not None
    finally:
        engine.dispose()
