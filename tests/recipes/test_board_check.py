"""spec_problems(): every recipe kind against a built-in board, each problem naming its field."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from boards.schemas import BoardPublic, ColumnPublic, GroupPublic
from recipes.board_check import spec_problems
from recipes.model import RecipeSpec

BOARD = BoardPublic(
    id=uuid.UUID(int=1),
    name="Billing",
    groups=[GroupPublic(id=uuid.uuid4(), title="New")],
    columns=[
        ColumnPublic(id=uuid.uuid4(), title="Email", type="email"),
        ColumnPublic(id=uuid.uuid4(), title="Status", type="status", labels=["New", "Done"]),
        ColumnPublic(id=uuid.uuid4(), title="Notes", type="text"),
    ],
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
)
BOARD_ID = str(BOARD.id)
INCOMING = {"type": "email_received"}


def spec(trigger: dict[str, Any], action: dict[str, Any]) -> RecipeSpec:
    return RecipeSpec.model_validate({"trigger": trigger, "action": action})


def item(**over: Any) -> RecipeSpec:
    return spec(INCOMING, {"type": "create_item", "board_id": BOARD_ID, "group": "New", **over})


def update(column: str) -> RecipeSpec:
    return spec(
        INCOMING,
        {"type": "create_update", "board_id": BOARD_ID, "find": {"column": column, "value": "{subject}"}},
    )


def send(trigger: dict[str, Any], **over: Any) -> RecipeSpec:
    action = {"type": "send_email", "to": "{column:Email}", "subject": "{name}", **over}
    return spec({"board_id": BOARD_ID, **trigger}, action)


CHANGED = {"type": "column_changed", "column": "Status", "to": "Done"}


@pytest.mark.parametrize(
    ("recipe", "problems"),
    [
        (item(columns={"Email": "{from.address}"}), []),
        (item(group="Done"), [(("action", "group"), "has no group 'Done'; its groups: New")]),
        (
            item(columns={"Owner": "{to}"}),
            [(("action", "columns", "Owner"), "has no column 'Owner'; its columns: Email, Status, Notes")],
        ),
        # Titles are exact: {column:...} and column mappings look them up as written.
        (item(columns={"email": "{to}"}), [(("action", "columns", "email"), "has no column 'email'")]),
        (update("Email"), []),
        (update("Owner"), [(("action", "find", "column"), "has no column 'Owner'")]),
        (send({"type": "item_created"}), []),
        (send(CHANGED), []),
        (send({**CHANGED, "column": "Stage"}), [(("trigger", "column"), "has no column 'Stage'")]),
        # A status column's `to` is one of its labels (any case); other columns take any value.
        (send({**CHANGED, "to": "done"}), []),
        (send({**CHANGED, "to": None}), []),
        (
            send({**CHANGED, "to": "Finished"}),
            [
                (
                    ("trigger", "to"),
                    "status column 'Status' of board 'Billing' has no label 'Finished'; "
                    "its labels: New, Done",
                )
            ],
        ),
        (send({**CHANGED, "column": "Notes", "to": "anything"}), []),
        (send({"type": "item_created"}, to="{column:Mail}"), [(("action", "to"), "has no column 'Mail'")]),
        (
            send({"type": "item_created"}, subject="{column:A} {column:A}", body="{column:B} {column:Email}"),
            [(("action", "subject"), "has no column 'A'"), (("action", "body"), "has no column 'B'")],
        ),
        # A monday.com destination is not a built-in board: nothing to check here.
        (
            spec(INCOMING, {"type": "create_item", "destination": "monday", "board_id": "123", "group": "x"}),
            [],
        ),
    ],
)
def test_problems(recipe, problems):
    found = spec_problems(recipe, BOARD)
    assert [p.loc for p in found] == [loc for loc, _ in problems]
    for problem, (_, says) in zip(found, problems, strict=True):
        assert says in problem.msg and "Billing" in problem.msg


@pytest.mark.parametrize(
    ("recipe", "loc"),
    [
        (item(), ("action", "board_id")),
        (update("Email"), ("action", "board_id")),
        (send({"type": "item_created"}), ("trigger", "board_id")),
        (send(CHANGED), ("trigger", "board_id")),
    ],
)
def test_a_board_not_in_the_account(recipe, loc):
    [problem] = spec_problems(recipe, None)
    assert problem.loc == loc and problem.msg.startswith(f"no board {BOARD_ID} in your account")
