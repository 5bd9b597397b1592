"""The board event forwarder with monday.com events (stored by boards/monday/inbound.py, as the webhook
route does): only the recipe whose webhook delivered an event may act on it; its column title and label
text are compared ignoring case and surrounding spaces; an event nothing matches is marked forwarded
without a signal. A real migrated SQLite database and a real Temporal (for the forwarder's client)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from sqlalchemy import Engine

from api.board_event_forwarder import BoardEventForwarder, plan_round
from boards.monday import inbound
from boards.monday.webhook_events import MondayDelivery
from tests.monday.webhook_support import (
    MONDAY_BOARD,
    add_recipe,
    add_webhook_row,
    board_events,
    created_event,
    outgoing_spec,
    status_event,
)
from tests.support.appdb import add_user


@pytest.fixture
def user(monday_engine: Engine) -> uuid.UUID:
    user_id, _token = add_user(monday_engine, account_name=f"acme-{uuid.uuid4().hex[:6]}")
    result: uuid.UUID = user_id
    return result


def deliver(engine: Engine, secret: str, delivery: dict[str, Any]) -> str:
    event = MondayDelivery.model_validate(delivery).event
    assert event is not None
    return inbound.store(engine, secret, event)


def targets(engine: Engine) -> dict[uuid.UUID, list[str]]:
    return {plan.event_id: [t.recipe_id for t in plan.targets] for plan in plan_round(engine, 100)}


def hooked(engine: Engine, user: uuid.UUID, **spec: Any) -> tuple[str, str]:
    enabled = spec.pop("enabled", True)
    recipe_id = add_recipe(engine, user, outgoing_spec(**spec), enabled=enabled)
    return str(recipe_id), add_webhook_row(engine, user, recipe_id)


def test_only_the_recipe_whose_webhook_delivered_the_event_is_targeted(monday_engine, user):
    a, secret_a = hooked(monday_engine, user)
    b, secret_b = hooked(monday_engine, user)
    assert deliver(monday_engine, secret_a, status_event()) == "stored"
    [event] = board_events(monday_engine)
    assert targets(monday_engine) == {event.id: [a]}
    # The same change through B's webhook is B's own event.
    assert deliver(monday_engine, secret_b, status_event()) == "stored"
    assert sorted(map(sorted, targets(monday_engine).values())) == sorted([[a], [b]])


@pytest.mark.parametrize(
    ("title", "label", "matches"),
    [
        ("Status", "Done", True),
        ("status", "done", True),
        (" STATUS ", " DONE ", True),
        ("Status", "Done!", False),
        ("Status", "Working on it", False),
        ("Status", None, False),  # cleared
        ("Status 2", "Done", False),
        ("Stat", "Done", False),
    ],
)
def test_column_title_and_label_text_ignore_case_and_spaces(monday_engine, user, title, label, matches):
    recipe_id, secret = hooked(monday_engine, user)
    delivery = status_event(title=title, label=label) if label else status_event(title=title)
    if label is None:
        delivery["event"]["value"] = None
    assert deliver(monday_engine, secret, delivery) == "stored"
    assert list(targets(monday_engine).values()) == [[recipe_id] if matches else []]


def test_without_to_any_value_of_the_column_matches(monday_engine, user):
    recipe_id, secret = hooked(monday_engine, user, to=None)
    deliver(monday_engine, secret, status_event(label="Working on it"))
    deliver(monday_engine, secret, status_event(label="Stuck", title="Priority"))
    assert sorted(targets(monday_engine).values()) == [[], [recipe_id]]


def test_item_created_matches_created_items_only(monday_engine, user):
    recipe_id, secret = hooked(monday_engine, user, column=None)
    deliver(monday_engine, secret, created_event())
    deliver(monday_engine, secret, status_event())
    by_kind = {e.kind: targets(monday_engine)[e.id] for e in board_events(monday_engine)}
    assert by_kind == {"item_created": [recipe_id], "column_changed": []}


def test_a_disabled_or_moved_recipe_gets_nothing(monday_engine, user):
    _disabled, secret = hooked(monday_engine, user, enabled=False)
    deliver(monday_engine, secret, status_event())
    # A recipe moved to another board whose old webhook (on MONDAY_BOARD) still delivers.
    _moved, old_secret = hooked(monday_engine, user, board_id="1000000777")
    deliver(monday_engine, old_secret, status_event(board_id=MONDAY_BOARD))
    assert list(targets(monday_engine).values()) == [[], []]


async def test_a_non_matching_event_is_marked_forwarded_without_a_send(monday_engine, user, temporal_env):
    _recipe, secret = await asyncio.to_thread(hooked, monday_engine, user)
    await asyncio.to_thread(deliver, monday_engine, secret, status_event(label="Working on it"))
    forwarder = BoardEventForwarder(monday_engine, temporal_env.client)
    result = await forwarder.forward_once()
    assert (result.events, result.forwarded, result.signals, result.kept) == (1, 1, 0, 0)
    assert not forwarder.totals
    [event] = await asyncio.to_thread(board_events, monday_engine)
    assert event.forwarded_at is not None
    assert (await forwarder.forward_once()).events == 0
