"""activitylog on a real SQLite database: upsert, which ids already have an outcome, refusals."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, func, select

import activitylog
from db.activity_log import MessageOutcome
from db.engine import session_scope
from tests.recipes.support import add_connection
from tests.support.appdb import add_user, make_settings, migrated_engine


@pytest.fixture
def engine(tmp_path):
    engine = migrated_engine(make_settings(tmp_path))
    yield engine
    engine.dispose()


@pytest.fixture
def connection_id(engine):
    user_id, _ = add_user(engine)
    return add_connection(engine, user_id)


def _rows(engine: Engine) -> list[MessageOutcome]:
    with session_scope(engine) as session:
        return list(session.scalars(select(MessageOutcome).order_by(MessageOutcome.message_id)).all())


def test_record_then_re_record_updates_the_one_row(engine, connection_id):
    activitylog.record_outcome(engine, connection_id, "m1", "failed", "graph unavailable", 0)
    activitylog.record_outcome(engine, connection_id, "m1", "processed", "1 recipe(s) matched", 1)
    [row] = _rows(engine)
    assert (row.outcome, row.reason, row.items_created) == ("processed", "1 recipe(s) matched", 1)


def test_reason_is_kept_short(engine, connection_id):
    activitylog.record_outcome(engine, connection_id, "m1", "skipped", "x" * 1000, 0)
    assert len(_rows(engine)[0].reason) == activitylog.log.REASON_MAX


def test_unknown_outcome_is_refused(engine, connection_id):
    with pytest.raises(ValueError, match="outcome must be one of processed, skipped, failed"):
        activitylog.record_outcome(engine, connection_id, "m1", "done", "", 0)
    assert _rows(engine) == []


def test_processed_message_ids_is_per_connection_and_any_outcome(engine, connection_id):
    user_id, _ = add_user(engine, account_name="other")
    other = add_connection(engine, user_id)
    activitylog.record_outcome(engine, connection_id, "a", "processed", "", 1)
    activitylog.record_outcome(engine, connection_id, "b", "skipped", "folder", 0)
    activitylog.record_outcome(engine, connection_id, "c", "failed", "x", 0)
    activitylog.record_outcome(engine, other, "d", "processed", "", 1)
    asked = ["a", "b", "c", "d", "e", "a"]
    assert activitylog.processed_message_ids(engine, connection_id, asked) == {"a", "b", "c"}
    assert activitylog.processed_message_ids(engine, other, iter(asked)) == {"d"}
    assert activitylog.processed_message_ids(engine, connection_id, []) == set()
    assert activitylog.processed_message_ids(engine, connection_id, asked, retry_failed=True) == {"a", "b"}


def test_processed_message_ids_beyond_one_chunk(engine, connection_id):
    ids = [f"m{n}" for n in range(1200)]
    for message_id in ids[::100]:
        activitylog.record_outcome(engine, connection_id, message_id, "processed", "", 1)
    assert activitylog.processed_message_ids(engine, connection_id, ids) == set(ids[::100])


def test_concurrent_records_of_one_message_leave_one_row(engine, connection_id):
    barrier = threading.Barrier(4)
    errors = []

    def record(n):
        try:
            barrier.wait()
            activitylog.record_outcome(engine, connection_id, "m1", "processed", f"run {n}", 1)
        except Exception as err:  # collected: a thread's exception would otherwise vanish
            errors.append(err)

    threads = [threading.Thread(target=record, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with session_scope(engine) as session:
        assert session.scalar(select(func.count()).select_from(MessageOutcome)) == 1


def test_outcomes_go_with_their_connection(engine, connection_id):
    from db.connections import Connection

    activitylog.record_outcome(engine, connection_id, "m1", "processed", "", 1)
    with session_scope(engine) as session:
        session.delete(session.scalars(select(Connection)).one())
    assert _rows(engine) == []
