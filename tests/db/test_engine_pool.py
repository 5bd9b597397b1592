"""Each process keeps a pool of database connections big enough for its I/O threads, and on PostgreSQL
small enough that the processes of a deployment stay under its default max_connections."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.pool import QueuePool

from db.engine import POOL_SIZE, POSTGRES_POOL_SIZE, create_db_engine


def pool_of(url: str) -> QueuePool:
    engine = create_db_engine(url)  # connects to nothing until first used
    try:
        pool = engine.pool
        assert isinstance(pool, QueuePool)
        return pool
    finally:
        engine.dispose()


def test_sqlite_keeps_a_connection_per_io_thread(tmp_path: Path) -> None:
    pool = pool_of(f"sqlite:///{tmp_path / 'app.db'}")
    assert pool.size() == POOL_SIZE
    assert pool._max_overflow == POOL_SIZE  # QueuePool has no public reader for it
    assert POOL_SIZE * 2 >= 32  # the API's and the worker's I/O threads


def test_postgresql_keeps_more_than_sqlalchemys_default_but_within_max_connections() -> None:
    pool = pool_of("postgresql://u@127.0.0.1:1/app")
    assert pool.size() == POSTGRES_POOL_SIZE > 5
    assert pool._max_overflow == POSTGRES_POOL_SIZE
    # Two API processes, a worker and a migration: under PostgreSQL's default max_connections of 100.
    assert 4 * POSTGRES_POOL_SIZE * 2 < 100
