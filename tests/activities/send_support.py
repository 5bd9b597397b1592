"""What the outgoing-email tests share: a Billing board with an item and a board event, a recipe
"Status changes to Done -> email the item's Email column", and the recipient's emulated inbox."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from activities.send_email import SendEmailActivities
from db.board_events import BoardEvent
from db.boards import Board, BoardColumn, BoardGroup, BoardItem
from db.engine import session_scope
from payloads.sends import SendRequest
from recipes.model import RecipeSpec
from recipes.store import add_recipe
from tests.activities.support import Mailbox, World

SUBJECT = "Your invoice {name} is done"
BODY = "Hello, the status of {name} is now {column:Status}. Thanks for your patience!"


@dataclass
class Scenario:
    mailbox: Mailbox
    recipient: str
    board_id: str
    item_id: str
    recipe_id: str
    event_id: str
    item_name: str

    def request(self) -> SendRequest:
        return SendRequest(
            connection_id=self.mailbox.connection_id, event_id=self.event_id, recipe_id=self.recipe_id
        )


async def new_recipient(world: World) -> str:
    email = f"grace-{uuid.uuid4().hex[:10]}@customer.example"
    async with world.control() as c:
        r = await c.post("/users", json={"email": email, "display_name": "Grace Hopper"})
    assert r.status_code == 201, r.text
    return email


def add_event(
    world: World, board_id: str, item_id: str, new_value: str = "Done", old_value: str = "Working"
) -> str:
    with session_scope(world.engine) as session:
        event = BoardEvent(
            id=uuid.uuid4(),
            board_id=uuid.UUID(board_id),
            item_id=uuid.UUID(item_id),
            kind="column_changed",
            column="Status",
            old_value=old_value,
            new_value=new_value,
        )
        session.add(event)
        session.flush()
        return str(event.id)


async def scenario(
    world: World,
    *,
    choices: tuple[str, ...] = ("incoming", "outgoing"),
    recipient: str | None = None,
    to: str = "{column:Email}",
    to_self: bool = False,
) -> Scenario:
    """A connected mailbox (granted what `choices` ask), its Billing board with one item whose Email is
    the recipient and whose Status just changed to Done, and the recipe that emails on that."""
    mailbox = await world.connect(choices=choices)
    recipient = mailbox.email if to_self else recipient or await new_recipient(world)
    name = f"Invoice {uuid.uuid4().hex[:8]}"
    with session_scope(world.engine) as session:
        board = Board(id=uuid.uuid4(), account_id=mailbox.account_id, name="Billing")
        session.add(board)
        session.flush()
        group = BoardGroup(id=uuid.uuid4(), board_id=board.id, title="New", position=0)
        email_col = BoardColumn(id=uuid.uuid4(), board_id=board.id, title="Email", type="email", position=0)
        status_col = BoardColumn(
            id=uuid.uuid4(),
            board_id=board.id,
            title="Status",
            type="status",
            position=1,
            settings=json.dumps({"labels": ["Working", "Done"]}),
        )
        session.add_all([group, email_col, status_col])
        session.flush()
        item = BoardItem(
            id=uuid.uuid4(),
            board_id=board.id,
            group_id=group.id,
            name=name,
            column_values=json.dumps({str(email_col.id): recipient, str(status_col.id): "Done"}),
        )
        session.add(item)
        session.flush()
        board_id, item_id = str(board.id), str(item.id)
        spec = RecipeSpec.model_validate(
            {
                "trigger": {"type": "column_changed", "board_id": board_id, "column": "Status", "to": "done"},
                "action": {"type": "send_email", "to": to, "subject": SUBJECT, "body": BODY},
            }
        )
        recipe = add_recipe(
            session,
            connection_id=uuid.UUID(mailbox.connection_id),
            owner_id=mailbox.owner_id,
            name="Done -> email",
            enabled=True,
            spec=spec,
        )
        recipe_id = str(recipe.id)
    event_id = add_event(world, board_id, item_id)
    return Scenario(mailbox, recipient, board_id, item_id, recipe_id, event_id, name)


async def inbox(world: World, email: str) -> list[dict[str, Any]]:
    async with world.control() as c:
        r = await c.get(f"/users/{email}/messages")
    assert r.status_code == 200, r.text
    return [m for m in r.json() if m["folder"] == "inbox"]


async def sent_records(world: World, email: str) -> list[dict[str, Any]]:
    async with world.control() as c:
        r = await c.get(f"/users/{email}/sent")
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


def send_activities(world: World, **kwargs: Any) -> SendEmailActivities:
    return SendEmailActivities(world.access, world.engine, **kwargs)
