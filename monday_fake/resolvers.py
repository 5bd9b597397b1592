"""The root fields the fake implements, as graphql-core resolvers over FakeState.

Errors are raised as GraphQLError with monday.com's `extensions.code`, so they reach the client in the
same shape as monday.com's application errors (HTTP 200, `errors[]`).
"""

from __future__ import annotations

import json
from typing import Any

from graphql import GraphQLError

from monday_fake import webhooks
from monday_fake.state import VALUE_TYPES, Board, ColumnValueRefused, FakeState, Item, Update

SUPPORTED = frozenset(
    {
        "me",
        "boards",
        "items",
        "items_page_by_column_values",
        "create_item",
        "create_update",
        "change_multiple_column_values",
        "create_webhook",
        "delete_webhook",
    }
)
MAX_PAGE = 500


def refused(message: str, code: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, "error_data": {}, "status_code": 200})


def _board_dict(board: Board) -> dict[str, Any]:
    return {
        "id": board.id,
        "name": board.name,
        "groups": [{"id": g.id, "title": g.title} for g in board.groups],
        "columns": [
            {"id": c.id, "title": c.title, "type": c.type, "settings_str": c.settings_str, "archived": False}
            for c in board.columns
        ],
    }


def _update_dict(update: Update) -> dict[str, Any]:
    return {
        "id": update.id,
        "body": update.body,
        "text_body": update.body,
        "created_at": update.created_at,
        "item_id": update.item_id,
    }


def _item_dict(board: Board, item: Item) -> dict[str, Any]:
    values = []
    for column in board.columns:
        raw, text = item.values.get(column.id, ("null", ""))
        values.append(
            {
                "__typename": VALUE_TYPES.get(column.type, "UnsupportedValue"),
                "id": column.id,
                "text": text,
                "value": raw,
                "type": column.type,
                "column": {"id": column.id, "title": column.title, "type": column.type},
            }
        )
    group = next((g for g in board.groups if g.id == item.group_id), None)
    return {
        "id": item.id,
        "name": item.name,
        "created_at": item.created_at,
        "board": {"id": board.id, "name": board.name},
        "group": {"id": item.group_id, "title": group.title if group else ""},
        "column_values": values,
        "updates": lambda info, limit=25, **_: [_update_dict(u) for u in reversed(item.updates)][:limit],
    }


def _parse_values(raw: Any) -> dict[str, Any]:
    if raw is None:
        return {}
    try:
        values = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        raise refused("column_values is not valid JSON", "JsonParseException") from None
    if not isinstance(values, dict):
        raise refused("column_values must be a JSON object", "ColumnValueException")
    return values


def write_values(
    state: FakeState, board: Board, item: Item, values: dict[str, Any], create_labels: bool
) -> None:
    """Writes the values (all or none) and sends the board's webhooks an event per changed column (a
    value written again unchanged is no change, for monday.com as here)."""
    before = dict(item.values)
    _write_values(board, item, values, create_labels)
    for column_id, (raw, text) in item.values.items():
        old_raw, old_text = before.get(column_id, ("null", ""))
        if text == old_text:
            continue
        column = board.column(column_id)
        assert column is not None
        wanted = [
            w
            for w in state.webhooks.values()
            if w.board_id == board.id and w.wants("update", column.id, column.type)
        ]
        if wanted:
            state.deliverer.send(
                wanted,
                webhooks.column_changed_event(
                    item.id,
                    item.name,
                    item.group_id,
                    (column.id, column.title, column.type),
                    webhooks.column_payload(column.type, column.labels, raw, text),
                    webhooks.column_payload(column.type, column.labels, old_raw, old_text),
                ),
            )


def _write_values(board: Board, item: Item, values: dict[str, Any], create_labels: bool) -> None:
    staged: dict[str, tuple[str, str]] = {}
    for column_id, value in values.items():
        column = board.column(column_id)
        if column is None:
            raise refused(
                f"column {column_id} does not exist on board {board.id}", "InvalidColumnIdException"
            )
        try:
            staged[column_id] = (json.dumps(value), column.text_of(value, create_labels))
        except ColumnValueRefused as err:
            raise refused(str(err), "ColumnValueException") from None
    item.values.update(staged)


def root(state: FakeState) -> dict[str, Any]:
    def board_of(board_id: str) -> Board:
        board = state.boards.get(str(board_id))
        if board is None:
            raise refused(f"board {board_id} does not exist", "InvalidBoardIdException")
        return board

    def me(info: Any) -> dict[str, Any]:
        return {"id": state.user_id, "name": "Fake User"}

    def boards(info: Any, ids: list[str] | None = None, **_: Any) -> list[dict[str, Any]]:
        with state.lock:
            chosen = [state.boards[i] for i in ids or state.boards if i in state.boards]
            return [_board_dict(b) for b in chosen]

    def items(info: Any, ids: list[str] | None = None, **_: Any) -> list[dict[str, Any]]:
        with state.lock:
            found = [state.items[i] for i in ids or [] if i in state.items]
            return [_item_dict(state.boards[i.board_id], i) for i in found]

    def items_page_by_column_values(
        info: Any,
        board_id: str,
        limit: int = 25,
        columns: list[dict[str, Any]] | None = None,
        cursor: str | None = None,
    ) -> dict[str, Any]:
        if limit < 1 or limit > MAX_PAGE:
            raise refused(f"limit must be between 1 and {MAX_PAGE}", "InvalidArgumentException")
        with state.lock:
            board = board_of(board_id)
            if cursor is not None:
                # The cursor carries the search: "<offset>:<json of columns>".
                offset_text, _, query = cursor.partition(":")
                offset, columns = int(offset_text), json.loads(query)
            elif not columns:
                raise refused("columns are required without a cursor", "InvalidArgumentException")
            else:
                offset = 0
            matched = [
                item
                for item in board.items
                if all(
                    item.values.get(c["column_id"], ("", ""))[1] in (c["column_values"] or [])
                    for c in columns or []
                )
            ]
            page = matched[offset : offset + limit]
            more = offset + limit < len(matched)
            return {
                "cursor": f"{offset + limit}:{json.dumps(columns)}" if more else None,
                "items": [_item_dict(board, i) for i in page],
            }

    def create_item(
        info: Any,
        board_id: str,
        item_name: str,
        group_id: str | None = None,
        column_values: Any = None,
        create_labels_if_missing: bool | None = None,
        **_: Any,
    ) -> dict[str, Any]:
        with state.lock:
            board = board_of(board_id)
            group = group_id or board.groups[0].id
            if not any(g.id == group for g in board.groups):
                raise refused(f"group {group_id} does not exist", "InvalidGroupIdException")
            if len(item_name) > 255:
                raise refused("item name too long", "ItemNameTooLongException")
            item = Item(id=state.next_id(), board_id=board.id, group_id=group, name=item_name)
            _write_values(board, item, _parse_values(column_values), bool(create_labels_if_missing))
            board.items.append(item)
            state.items[item.id] = item
            wanted = [
                w
                for w in state.webhooks.values()
                if w.board_id == board.id and w.wants("create_pulse", None, None)
            ]
            if wanted:
                title = next(g.title for g in board.groups if g.id == group)
                state.deliverer.send(wanted, webhooks.item_created_event(group, title, item.id, item.name))
            return _item_dict(board, item)

    def create_update(info: Any, body: str, item_id: str | None = None, **_: Any) -> dict[str, Any]:
        with state.lock:
            item = state.items.get(str(item_id))
            if item is None:
                raise refused(f"item {item_id} does not exist", "InvalidItemIdException")
            update = Update(id=state.next_id(), item_id=item.id, body=body)
            item.updates.append(update)
            return _update_dict(update)

    def change_multiple_column_values(
        info: Any,
        board_id: str,
        column_values: Any,
        item_id: str | None = None,
        create_labels_if_missing: bool | None = None,
    ) -> dict[str, Any]:
        with state.lock:
            board = board_of(board_id)
            item = state.items.get(str(item_id))
            if item is None or item.board_id != board.id:
                raise refused(f"item {item_id} does not exist on board {board_id}", "InvalidItemIdException")
            write_values(state, board, item, _parse_values(column_values), bool(create_labels_if_missing))
            return _item_dict(board, item)

    def create_webhook(info: Any, board_id: str, url: str, event: str, config: Any = None) -> dict[str, Any]:
        with state.lock:
            board_of(board_id)
        settings = _parse_values(config)
        if event == "change_specific_column_value" and not isinstance(settings.get("columnId"), str):
            raise refused("config.columnId is required for this event", "InvalidArgumentException")
        try:
            # As monday.com: the URL must echo the challenge before the webhook exists. Outside the
            # lock, since the receiver may call this API while it answers.
            webhooks.challenge(url)
        except webhooks.ChallengeFailed as err:
            raise refused(str(err), "InvalidArgumentException") from None
        with state.lock:
            hook = webhooks.Webhook(state.next_id(), str(board_id), url, event, settings)
            state.webhooks[hook.id] = hook
            return {"id": hook.id, "board_id": hook.board_id, "event": event, "config": json.dumps(settings)}

    def delete_webhook(info: Any, id: str) -> dict[str, Any]:
        with state.lock:
            hook = state.webhooks.pop(str(id), None)
            if hook is None:
                raise refused(f"webhook {id} does not exist", "ResourceNotFoundException")
            return {
                "id": hook.id,
                "board_id": hook.board_id,
                "event": hook.event,
                "config": json.dumps(hook.config),
            }

    return {
        "me": me,
        "boards": boards,
        "items": items,
        "items_page_by_column_values": items_page_by_column_values,
        "create_item": create_item,
        "create_update": create_update,
        "change_multiple_column_values": change_multiple_column_values,
        "create_webhook": create_webhook,
        "delete_webhook": delete_webhook,
    }
