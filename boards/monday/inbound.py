"""A monday.com webhook delivery into the database: find the webhook by its URL secret's hash, and store
the event as a board event in one transaction, so that the 200 monday.com gets means it is stored.

Sync (SQLAlchemy): the route calls these in a thread. The secret is hashed at once and never kept.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from typing import Literal

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from boards.monday.webhook_events import KINDS, MondayEvent, digits, value_text
from db.board_events import BoardEvent
from db.engine import session_scope
from db.monday_webhooks import MondayWebhook

# secrets.token_urlsafe(32): 43 characters of the URL-safe alphabet.
_SECRET = re.compile(r"^[A-Za-z0-9_-]{43}$")
Stored = Literal["stored", "duplicate", "ignored", "unknown"]


def well_formed(secret: str) -> bool:
    return _SECRET.fullmatch(secret) is not None


def secret_hash(secret: str) -> str:
    # A 256-bit random secret needs no slow hash: SHA-256 cannot be reversed to it.
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def _webhook(session: Session, secret: str) -> MondayWebhook | None:
    return session.scalars(
        select(MondayWebhook).where(MondayWebhook.secret_hash == secret_hash(secret))
    ).first()


def known(engine: Engine, secret: str) -> bool:
    """Whether the secret is one of our webhooks' (the challenge is answered only for those)."""
    with session_scope(engine) as session:
        return _webhook(session, secret) is not None


def store(engine: Engine, secret: str, event: MondayEvent) -> Stored:
    """`unknown`: no webhook has this secret, or the event is for another board (refuse it);
    `ignored`: an event type no recipe acts on; `duplicate`: monday.com delivered it again."""
    kind = KINDS.get(event.type)
    board_id, item_id = digits(event.board_id), digits(event.item_id)
    try:
        with session_scope(engine) as session:
            webhook = _webhook(session, secret)
            if webhook is None or board_id != webhook.monday_board_id:
                return "unknown"
            if kind is None or item_id is None:
                return "ignored"
            session.add(
                BoardEvent(
                    id=uuid.uuid4(),
                    monday_board_id=board_id,
                    monday_item_id=item_id,
                    monday_column_id=event.column_id if kind == "column_changed" else None,
                    recipe_id=webhook.recipe_id,
                    kind=kind,
                    column=event.column_title if kind == "column_changed" else None,
                    old_value=value_text(event.previous_value),
                    new_value=value_text(event.value),
                    delivery_id=event.trigger_uuid,
                )
            )
    except IntegrityError:
        # The unique triggerUuid: this delivery was stored before (our 200 did not reach monday.com).
        # A recipe deleted meanwhile fails its foreign key the same way: nothing to act on either.
        return "duplicate"
    return "stored"
