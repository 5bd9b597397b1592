"""The operations MondayBoards needs, typed: each sends one document of queries.py through the client."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from boards.monday import queries
from boards.monday.client import MondayClient
from boards.monday.errors import MondayError
from boards.monday.wire import RemoteBoard, RemoteItem, RemoteItemFacts, RemoteItemsPage, RemoteUpdate

M = TypeVar("M", bound=BaseModel)

# items_page_by_column_values answers at most 500 per page; a key or find_item value rarely has many.
PAGE_SIZE = 100
MAX_PAGES = 10


class MondayApi:
    def __init__(self, client: MondayClient) -> None:
        self._client = client

    async def me(self) -> str:
        data = await self._client.execute(queries.ME, {}, operation="verify token")
        me = data.get("me")
        if not isinstance(me, dict) or me.get("id") is None:
            raise MondayError("verify token: monday.com answered without a user")
        return str(me["id"])

    async def board(self, board_id: str) -> RemoteBoard | None:
        data = await self._client.execute(
            queries.BOARD_SHAPE, {"board_id": board_id}, operation=f"read board {board_id}"
        )
        boards = [b for b in data.get("boards") or [] if b is not None]
        return _model(RemoteBoard, boards[0], "read board") if boards else None

    async def create_item(
        self, board_id: str, group_id: str, name: str, column_values: dict[str, Any]
    ) -> str:
        data = await self._client.execute(
            queries.CREATE_ITEM,
            {
                "board_id": board_id,
                "group_id": group_id,
                "item_name": name,
                # monday.com's JSON scalar takes the object encoded as a string.
                "column_values": json.dumps(column_values),
                "create_labels_if_missing": True,
            },
            operation=f"create item on board {board_id}",
        )
        return _id_of(data.get("create_item"), "create item")

    async def create_update(self, item_id: str, body: str) -> str:
        data = await self._client.execute(
            queries.CREATE_UPDATE, {"item_id": item_id, "body": body}, operation=f"update item {item_id}"
        )
        return _id_of(data.get("create_update"), "create update")

    async def change_column_values(self, board_id: str, item_id: str, values: dict[str, Any]) -> str:
        data = await self._client.execute(
            queries.CHANGE_COLUMN_VALUES,
            {"board_id": board_id, "item_id": item_id, "column_values": json.dumps(values)},
            operation=f"change columns of item {item_id}",
        )
        return _id_of(data.get("change_multiple_column_values"), "change column values")

    async def items_by_column_values(
        self, board_id: str, column_id: str, values: list[str]
    ) -> list[RemoteItem]:
        """Every item of the board whose column holds one of the values (all pages, up to a bound)."""
        items: list[RemoteItem] = []
        cursor: str | None = None
        for _page in range(MAX_PAGES):
            data = await self._client.execute(
                queries.ITEMS_BY_COLUMN_VALUES,
                {
                    "board_id": board_id,
                    # Later pages: the cursor alone carries the search (monday.com refuses both at once).
                    "columns": None if cursor else [{"column_id": column_id, "column_values": values}],
                    "limit": PAGE_SIZE,
                    "cursor": cursor,
                },
                operation=f"search items of board {board_id}",
            )
            page = _model(RemoteItemsPage, data.get("items_page_by_column_values"), "search items")
            items.extend(page.items)
            cursor = page.cursor
            if not cursor:
                break
        return items

    async def item_updates(self, item_id: str, limit: int = 50) -> list[RemoteUpdate]:
        data = await self._client.execute(
            queries.ITEM_UPDATES, {"item_id": item_id, "limit": limit}, operation=f"read updates of {item_id}"
        )
        found = [i for i in data.get("items") or [] if i is not None]
        if not found:
            return []
        return [_model(RemoteUpdate, u, "read updates") for u in found[0].get("updates") or []]

    async def item_facts(self, item_id: str) -> RemoteItemFacts | None:
        """The item's name, board, group and column texts; None when it does not exist (any more)."""
        data = await self._client.execute(
            queries.ITEM_FACTS, {"item_id": item_id}, operation=f"read item {item_id}"
        )
        found = [i for i in data.get("items") or [] if i is not None]
        return _model(RemoteItemFacts, found[0], "read item") if found else None

    async def create_webhook(self, board_id: str, url: str, event: str, config: dict[str, Any] | None) -> str:
        """monday.com's id of the new webhook. The URL holds a secret: never in an operation's name."""
        data = await self._client.execute(
            queries.CREATE_WEBHOOK,
            {
                "board_id": board_id,
                "url": url,
                "event": event,
                "config": json.dumps(config) if config is not None else None,
            },
            operation=f"create a webhook on board {board_id}",
        )
        return _id_of(data.get("create_webhook"), "create webhook")

    async def delete_webhook(self, webhook_id: str) -> None:
        await self._client.execute(
            queries.DELETE_WEBHOOK, {"id": webhook_id}, operation=f"delete webhook {webhook_id}"
        )


def _model(kind: type[M], value: Any, operation: str) -> M:
    try:
        return kind.model_validate(value)
    except ValidationError:
        # The validation text could quote values from the answer: keep only what failed.
        raise MondayError(f"{operation}: monday.com answered in an unexpected shape") from None


def _id_of(value: Any, operation: str) -> str:
    if not isinstance(value, dict) or value.get("id") is None:
        raise MondayError(f"{operation}: monday.com answered without an id")
    return str(value["id"])
