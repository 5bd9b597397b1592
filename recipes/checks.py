"""What a recipe needs from the account before it is saved: its board fits, its connection was granted
what it does (Mail.Read to read, Mail.Send to send), and a monday.com destination has a linked account.

Returns Problems (recipes.board_check) that the API turns into one 422 listing them all. Blocking: it
reads the database through the given Session.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from boards import access
from db.accounts import User
from db.connections import Connection
from db.monday_accounts import MondayAccount
from graph.scopes import MAIL_READ, MAIL_SEND, reads_mail, sends_mail
from recipes.board_check import Problem, spec_problems
from recipes.model import CreateItemAction, CreateUpdateAction, RecipeSpec


def scope_problems(spec: RecipeSpec, connection: Connection) -> list[Problem]:
    granted = connection.scope_list
    if spec.incoming and not reads_mail(granted):
        return [
            Problem(
                loc=("connection_id",),
                msg=f"this recipe reads email, but connection {connection.mailbox} was not granted "
                f"{MAIL_READ}: reconnect it with incoming mail allowed",
            )
        ]
    if not spec.incoming and not sends_mail(granted):
        return [
            Problem(
                loc=("connection_id",),
                msg=f"this recipe sends email, but connection {connection.mailbox} was not granted "
                f"{MAIL_SEND}: reconnect it with outgoing mail allowed",
            )
        ]
    return []


def monday_problems(session: Session, spec: RecipeSpec, account_id: uuid.UUID) -> list[Problem]:
    """A recipe that writes to or watches a monday.com board needs the account's monday.com link."""
    action = spec.action
    if isinstance(action, CreateItemAction | CreateUpdateAction) and action.destination == "monday":
        loc, does = ("action", "destination"), "writes to"
    elif spec.monday_trigger() is not None:
        loc, does = ("trigger", "source"), "watches"
    else:
        return []
    if session.get(MondayAccount, account_id) is not None:
        return []
    return [
        Problem(
            loc=loc,
            msg=f"this recipe {does} a monday.com board, but your account has no monday.com link: "
            "link your monday.com account first",
        )
    ]


def save_problems(session: Session, spec: RecipeSpec, connection: Connection) -> list[Problem]:
    """Everything that keeps the recipe from being saved on this connection (the connection's owner is
    the recipe's: boards are looked up among those they see)."""
    problems = scope_problems(spec, connection)
    problems += monday_problems(session, spec, connection.account_id)
    board_id = spec.builtin_board_id()
    # Only a board the recipe's owner sees (their own, or one shared with the account): any other is
    # reported as not found, like one of another account.
    owner = session.get_one(User, connection.owner_id)
    board = access.visible_board(session, owner, uuid.UUID(board_id)) if board_id else None
    # A monday.com board is checked against monday.com itself (api/monday_triggers.py), not here.
    if board_id is not None or (not spec.incoming and spec.monday_trigger() is None):
        problems += spec_problems(spec, board)
    return problems
