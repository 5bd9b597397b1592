"""POST /webhooks/monday/{secret}: a real migrated SQLite database, a recipe and its webhook's row.

An unknown or malformed secret is a 404 whatever the body; the challenge is echoed only for a known
secret; an event is stored once per triggerUuid, in the transaction that decides the 200; the database
failing answers 503 and stores nothing; the secret is neither logged nor stored in clear.
Like the Graph endpoint (api/routes/webhooks.py), a body not declared application/json is a 415, and a
JSON body that is not monday.com's is a 400.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from api.routes.monday_webhooks import MAX_BODY_BYTES
from config.logging import RedactSecrets, redact
from db.engine import session_scope
from tests.monday.webhook_support import (
    MONDAY_BOARD,
    add_recipe,
    add_webhook_row,
    board_events,
    count_events,
    created_event,
    outgoing_spec,
    status_event,
)

PATH = "/webhooks/monday/"


@pytest.fixture
def hooked(engine: Engine, admin: tuple[uuid.UUID, str]) -> tuple[uuid.UUID, str]:
    """(recipe id, secret) of an outgoing recipe on MONDAY_BOARD with its webhook."""
    recipe_id = add_recipe(engine, admin[0], outgoing_spec())
    return recipe_id, add_webhook_row(engine, admin[0], recipe_id)


def unknown_secrets(secret: str) -> list[str]:
    return [
        "a" * 43,  # well formed, not ours
        secret[:-1],  # one short
        secret + "A",  # one long
        secret[:-1] + "!",  # outside the alphabet
        "short",
        "%2e%2e",
        secret.upper() if secret.upper() != secret else secret.lower(),
    ]


async def test_the_challenge_is_echoed_for_a_known_secret(client, hooked, engine):
    _recipe, secret = hooked
    r = await client.post(
        PATH + secret, json={"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    assert await asyncio.to_thread(count_events, engine) == 0


async def test_an_unknown_or_malformed_secret_is_404_whatever_the_body(client, hooked, engine):
    _recipe, secret = hooked
    bodies: list[dict[str, Any]] = [
        {"json": {"challenge": "echo-me-please"}},
        {"json": status_event()},
        {"json": {}},
        {"content": b"not json", "headers": {"content-type": "text/plain"}},
        {
            "content": b"challenge=echo-me-please",
            "headers": {"content-type": "application/x-www-form-urlencoded"},
        },
        {"content": b"x" * (MAX_BODY_BYTES + 10)},
    ]
    for wrong in unknown_secrets(secret):
        for body in bodies:
            r = await client.post(PATH + wrong, **body)
            assert r.status_code == 404, (wrong, r.status_code, r.text[:200])
            assert "echo-me-please" not in r.text
    assert await asyncio.to_thread(count_events, engine) == 0


async def test_a_known_secret_with_a_body_that_is_not_mondays_json_is_400(client, hooked, engine):
    _recipe, secret = hooked
    json_type = {"content-type": "application/json"}
    wrong: list[dict[str, Any]] = [
        {"content": b"not json", "headers": json_type},
        {"content": b'{"event": {"type": "update_column_value"', "headers": json_type},  # cut off
        {"content": b"\xff\xfe", "headers": json_type},  # not UTF-8
        {"json": []},
        {"json": {}},  # neither challenge nor event
        {"json": {"event": {"type": "update_column_value"}}},  # no board, no item
        {"json": {"challenge": 12}},
    ]
    for body in wrong:
        r = await client.post(PATH + secret, **body)
        assert r.status_code == 400, (body, r.status_code, r.text)
    assert await asyncio.to_thread(count_events, engine) == 0


async def test_a_body_not_declared_json_is_415_and_nothing_is_stored(client, hooked, engine):
    _recipe, secret = hooked
    challenge = b'{"challenge": "abc"}'
    for content_type in (None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        headers = {"content-type": content_type} if content_type else {}
        r = await client.post(PATH + secret, content=challenge, headers=headers)
        assert r.status_code == 415, (content_type, r.status_code, r.text)
        assert "application/json" in r.json()["detail"] and "abc" not in r.text
    with_charset = {"content-type": "application/json; charset=utf-8"}
    r = await client.post(PATH + secret, content=challenge, headers=with_charset)
    assert r.status_code == 200 and r.json() == {"challenge": "abc"}
    assert await asyncio.to_thread(count_events, engine) == 0


async def test_an_oversized_body_is_413_and_nothing_is_stored(client, hooked, engine):
    _recipe, secret = hooked
    big = status_event()
    big["event"]["padding"] = "x" * MAX_BODY_BYTES
    r = await client.post(PATH + secret, json=big)
    assert r.status_code == 413, r.text

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: the limit holds while reading
        for _ in range(MAX_BODY_BYTES // 10_000 + 2):
            yield b" " * 10_000

    r = await client.post(PATH + secret, content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413, r.text
    assert await asyncio.to_thread(count_events, engine) == 0


async def test_an_event_is_stored_once_per_trigger_uuid(client, hooked, engine):
    recipe_id, secret = hooked
    delivery = status_event(trigger_uuid="b5ab2b2a-0b25-4bd9-9bd3-7f3e1a8c9b10")
    first = await client.post(PATH + secret, json=delivery)
    again = await client.post(PATH + secret, json=delivery)  # our 200 was lost: monday.com retries
    assert (first.status_code, again.status_code) == (200, 200), (first.text, again.text)

    events = await asyncio.to_thread(board_events, engine)
    assert len(events) == 1
    event = events[0]
    assert (event.board_id, event.item_id) == (None, None)
    assert (event.monday_board_id, event.monday_item_id, event.monday_column_id) == (
        MONDAY_BOARD,
        "3000000001",
        "status",
    )
    assert (event.recipe_id, event.kind, event.column) == (recipe_id, "column_changed", "Status")
    assert (event.old_value, event.new_value) == ("Working on it", "Done")
    assert event.delivery_id == "b5ab2b2a-0b25-4bd9-9bd3-7f3e1a8c9b10"
    assert event.forwarded_at is None

    # Another delivery (a new triggerUuid) of the same change is another event.
    assert (await client.post(PATH + secret, json=status_event())).status_code == 200
    assert await asyncio.to_thread(count_events, engine) == 2


async def test_an_item_created_event_is_stored_without_a_column(client, hooked, engine):
    recipe_id, secret = hooked
    r = await client.post(PATH + secret, json=created_event())
    assert r.status_code == 200, r.text
    [event] = await asyncio.to_thread(board_events, engine)
    assert (event.kind, event.monday_item_id, event.column, event.monday_column_id) == (
        "item_created",
        "3000000002",
        None,
        None,
    )
    assert event.recipe_id == recipe_id


async def test_events_of_another_board_are_refused_and_unknown_types_ignored(client, hooked, engine):
    _recipe, secret = hooked
    r = await client.post(PATH + secret, json=status_event(board_id="1000000999"))
    assert r.status_code == 404, r.text
    other = status_event()
    other["event"]["type"] = "update_name"
    r = await client.post(PATH + secret, json=other)
    assert r.status_code == 200, r.text
    assert await asyncio.to_thread(count_events, engine) == 0


def _rename(engine: Engine, old: str, new: str) -> None:
    with session_scope(engine) as session:
        session.execute(text(f"ALTER TABLE {old} RENAME TO {new}"))


async def test_a_missing_table_is_503_and_stores_nothing(client, hooked, engine):
    _recipe, secret = hooked
    delivery = status_event()
    await asyncio.to_thread(_rename, engine, "board_events", "board_events_away")
    try:
        r = await client.post(PATH + secret, json=delivery)
        assert r.status_code == 503, r.text
    finally:
        await asyncio.to_thread(_rename, engine, "board_events_away", "board_events")
    assert await asyncio.to_thread(count_events, engine) == 0

    # The webhooks' table missing: nothing can say the secret is ours; 503, so monday.com retries.
    await asyncio.to_thread(_rename, engine, "monday_webhooks", "monday_webhooks_away")
    try:
        for body in (delivery, {"challenge": "abc"}):
            r = await client.post(PATH + secret, json=body)
            assert r.status_code == 503, r.text
            assert "abc" not in r.text
    finally:
        await asyncio.to_thread(_rename, engine, "monday_webhooks_away", "monday_webhooks")

    # monday.com's retry, once the database is back, is stored.
    assert (await client.post(PATH + secret, json=delivery)).status_code == 200
    assert await asyncio.to_thread(count_events, engine) == 1


@pytest.fixture
def write_lock(settings) -> Iterator[threading.Event]:
    """Set the event to hold the database's write lock (another process's long transaction) until the
    test ends."""
    path = Path(settings.effective_database_url.removeprefix("sqlite:///"))
    start, stop, held = threading.Event(), threading.Event(), threading.Event()

    def hold() -> None:
        start.wait()
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        held.set()
        stop.wait()
        connection.rollback()
        connection.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    yield start
    start.set()
    stop.set()
    thread.join(10)


async def test_a_locked_database_is_503_and_stores_nothing(client, hooked, engine, write_lock):
    _recipe, secret = hooked
    write_lock.set()
    await asyncio.sleep(0.2)
    r = await client.post(PATH + secret, json=status_event())  # waits out the busy timeout
    assert r.status_code == 503, r.text
    assert r.json()["detail"] == "cannot store the event now"


async def test_the_secret_is_neither_logged_nor_stored_in_clear(client, hooked, engine, settings, caplog):
    _recipe, secret = hooked
    caplog.set_level(logging.DEBUG)
    assert (await client.post(PATH + secret, json={"challenge": "abc"})).status_code == 200
    assert (await client.post(PATH + secret, json=status_event())).status_code == 200
    nope = await client.post(PATH + secret, content=b"nope", headers={"content-type": "application/json"})
    assert nope.status_code == 400
    assert (await client.post(PATH + secret + "x", json=status_event())).status_code == 404
    await asyncio.to_thread(_rename, engine, "board_events", "board_events_away")
    try:
        assert (await client.post(PATH + secret, json=status_event())).status_code == 503
    finally:
        await asyncio.to_thread(_rename, engine, "board_events_away", "board_events")
    # The test's own client (httpx) logs the URLs it calls; the service keeps httpx at WARNING.
    logged = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records if r.name != "httpx"
    )
    assert "monday.com event not stored" in logged
    assert secret not in logged

    database = Path(settings.effective_database_url.removeprefix("sqlite:///"))
    stored = b"".join(p.read_bytes() for p in database.parent.glob(database.name + "*"))
    assert secret.encode() not in stored

    # uvicorn's access log line for the URL, through the filter config/logging.py installs.
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:50000", "POST", f"{PATH}{secret}?x=1", "1.1", 200),
        None,
    )
    assert RedactSecrets().filter(record)
    assert secret not in record.getMessage()
    assert f"{PATH}[redacted]?x=1" in record.getMessage()
    assert secret not in redact(f"POST http://api.example{PATH}{secret} 404")
