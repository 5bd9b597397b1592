"""The standard load each fault runs under: fresh connections (each with the issue's board and recipe; the
first also sends, with an outgoing recipe that emails on every item created on its board), matching
emails delivered to their inboxes at a steady rate, and a few matching emails delivered straight into
junk, deleted items and sent items, which must never become items."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bench.mail.drivers import CUSTOMER, Mailbox
from bench.mail.phases import connect_mailboxes
from db.connections import Connection
from db.engine import session_scope
from tests.e2e.conftest import Stack
from tests.e2e.helpers import api_call, connect, new_mailbox, wait_status
from tests.recipes.support import SUPPORT_BOARD as BOARD
from tests.recipes.support import recipe_body

# Matching mail put straight into these folders: read for its folder id only, never an item.
REFUSED_FOLDERS = ("junkemail", "deleteditems", "sentitems")
# Where the outgoing recipe sends (not an emulated mailbox: the sender's sent log counts the sends).
SEND_TO = "chaos-audit@elsewhere.example"
SEND_PREFIX = "Chaos: "


@dataclass
class Load:
    boxes: list[Mailbox]
    # The connection whose board also has the outgoing recipe (incoming and outgoing mail).
    sender: Mailbox
    # message id -> (mailbox, subject), inbox mail and mail in refused folders apart
    inbox: dict[str, tuple[Mailbox, str]] = field(default_factory=dict)
    refused: dict[str, tuple[Mailbox, str]] = field(default_factory=dict)
    delivered_at: dict[str, float] = field(default_factory=dict)
    # Message ids of the inbox mail in delivery order, and when the load started and ended.
    order: list[str] = field(default_factory=list)
    started: float = 0.0
    ended: float = 0.0

    def box(self, connection_id: str) -> Mailbox:
        return next(b for b in self.boxes if b.connection_id == connection_id)


async def _sending_mailbox(stack: Stack) -> Mailbox:
    """A connection with incoming and outgoing mail, the issue's board and recipe, and an outgoing recipe:
    every item created on that board sends one email."""
    email = await new_mailbox(stack)
    browser, token = await stack.signed_in_user(f"owner-{email}")
    async with contextlib.aclosing(browser):
        connection_id = await connect(stack, browser, email, scopes="incoming,outgoing")
    await wait_status(stack, token, connection_id, "active")
    board = await api_call(stack, token, "POST", "/api/boards", json=BOARD)
    board.raise_for_status()
    board_id = board.json()["id"]
    incoming = await api_call(stack, token, "POST", "/api/recipes", json=recipe_body(connection_id, board_id))
    incoming.raise_for_status()
    outgoing = {
        "connection_id": connection_id,
        "name": "Tell the audit mailbox",
        "trigger": {"type": "item_created", "board_id": board_id},
        "action": {
            "type": "send_email",
            "to": SEND_TO,
            "subject": SEND_PREFIX + "{name}",
            "body": "Item {name} was created.",
        },
    }
    answer = await api_call(stack, token, "POST", "/api/recipes", json=outgoing)
    answer.raise_for_status()
    return Mailbox(email, token, connection_id, board_id)


def _mailbox_of(stack: Stack, connection_id: str) -> str:
    with session_scope(stack.engine) as session:
        return session.get_one(Connection, uuid.UUID(connection_id)).mailbox


async def prepare(stack: Stack, connections: int) -> Load:
    sender = await _sending_mailbox(stack)
    others = await connect_mailboxes(stack, connections - 1) if connections > 1 else []
    # Connected concurrently, a mailbox's pre-answered consent can serve another's sign-in (the
    # emulator hands queued answers out oldest first): each connection's mailbox as the service has it.
    others = [
        Mailbox(_mailbox_of(stack, b.connection_id), b.token, b.connection_id, b.board_id) for b in others
    ]
    return Load(boxes=[sender, *others], sender=sender)


async def _deliver(control: Any, box: Mailbox, subject: str, folder: str = "inbox") -> tuple[str, float]:
    body: dict[str, Any] = {"from": CUSTOMER, "subject": subject, "body": subject, "folder": folder}
    at = time.time()
    for attempt in range(5):
        try:
            r = await control.post(f"/_emulator/users/{box.email}/messages", json=body)
            r.raise_for_status()
            return str(r.json()["id"]), at
        except Exception:
            # A fault can slow the emulator's answers (never its mail): try again, the load goes on.
            if attempt == 4:
                raise
            await asyncio.sleep(0.5)
    raise AssertionError("unreachable")


async def deliver(
    stack: Stack,
    load: Load,
    emails: int,
    rate: float,
    refused_per_folder: int = 2,
    progress: Callable[[int], None] | None = None,
) -> None:
    """`emails` matching emails round-robin over the connections' inboxes, `rate` a second on a fixed
    schedule; `refused_per_folder` matching emails into each refused folder, spread over the load.
    `progress(n)` after each inbox email."""
    tag = uuid.uuid4().hex[:6]
    refused_at = {
        int(emails * (k + 1) / (refused_per_folder * len(REFUSED_FOLDERS) + 1)): REFUSED_FOLDERS[
            k % len(REFUSED_FOLDERS)
        ]
        for k in range(refused_per_folder * len(REFUSED_FOLDERS))
    }
    load.started = time.time()
    start = time.monotonic()
    gate = asyncio.Semaphore(8)
    async with stack.emulator_control() as control:

        async def one(n: int) -> None:
            await asyncio.sleep(max(0.0, start + n / rate - time.monotonic()))
            box = load.boxes[n % len(load.boxes)]
            async with gate:
                folder = refused_at.get(n)
                if folder is not None:
                    subject = f"Need help ({folder}) {tag}-{n}"
                    mid, _ = await _deliver(control, load.boxes[(n + 1) % len(load.boxes)], subject, folder)
                    load.refused[mid] = (load.boxes[(n + 1) % len(load.boxes)], subject)
                subject = f"Need help #{tag}-{n}"
                mid, at = await _deliver(control, box, subject)
            load.inbox[mid] = (box, subject)
            load.delivered_at[mid] = at
            load.order.append(mid)
            if progress is not None:
                progress(len(load.order))

        await asyncio.gather(*(one(n) for n in range(emails)))
    load.ended = time.time()
