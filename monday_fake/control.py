"""The fake's control API (/_fake/...): tokens, boards, faults, the request log, and a look at the items.

POST   /_fake/tokens           {"token"}                  a token the API accepts
POST   /_fake/boards           {"name", "groups": [...], "columns": [{"title", "type", "labels"?}]}
GET    /_fake/boards/{id}      the board with its items (column values by title) and their updates
POST   /_fake/items/{id}/columns {"columns": {"<title>": "<text>"}}  a person changes values in monday.com
                               (status: a label; email: an address); the board's webhooks get the events
GET    /_fake/webhooks         the registered webhooks (board, event, config; never the URL, its secret)
GET    /_fake/deliveries       the events delivered to webhooks, with the receiver's HTTP status
POST   /_fake/faults           {"kind", "retry_in_seconds"?, "field"?, "count"?, "after"?}  (faults.py)
DELETE /_fake/faults           forget the queued faults
GET    /_fake/requests         the request log (never the token), oldest first; DELETE clears it
POST   /_fake/reset            boards, items, faults and the log forgotten (tokens kept)
GET    /_fake/health
"""

from __future__ import annotations

import threading
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from graphql import GraphQLError
from pydantic import BaseModel, Field

from monday_fake.faults import Fault, Faults
from monday_fake.resolvers import write_values
from monday_fake.state import FakeState

ColumnKind = Literal["text", "long_text", "email", "date", "status", "numbers", "link", "file"]


class TokenIn(BaseModel):
    token: str = Field(min_length=1, max_length=2000)


class ColumnIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    type: ColumnKind
    labels: list[str] = Field(default_factory=list)


class BoardIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    groups: list[str] = Field(min_length=1)
    columns: list[ColumnIn] = Field(default_factory=list)


class ColumnsIn(BaseModel):
    # Column title -> the text a person would pick or type.
    columns: dict[str, str] = Field(min_length=1, max_length=50)


class FakeServer:
    def __init__(self) -> None:
        self.state = FakeState()
        self.faults = Faults()
        self._log: list[dict[str, Any]] = []
        self._log_lock = threading.Lock()

    def log(self, entry: dict[str, Any]) -> None:
        with self._log_lock:
            self._log.append(entry)

    def requests(self) -> list[dict[str, Any]]:
        with self._log_lock:
            return list(self._log)

    def clear_log(self) -> None:
        with self._log_lock:
            self._log.clear()


def control_router(server: FakeServer) -> APIRouter:
    router = APIRouter(prefix="/_fake")
    state = server.state

    @router.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @router.post("/tokens", status_code=201)
    def add_token(body: TokenIn) -> dict[str, str]:
        with state.lock:
            state.tokens.add(body.token)
        return {"status": "added"}

    @router.post("/boards", status_code=201)
    def add_board(body: BoardIn) -> dict[str, Any]:
        board = state.add_board(body.name, body.groups, [(c.title, c.type, c.labels) for c in body.columns])
        return board_view(board.id)

    @router.get("/boards/{board_id}")
    def board_view(board_id: str) -> dict[str, Any]:
        with state.lock:
            board = state.boards.get(board_id)
            if board is None:
                raise HTTPException(404, "no such board")
            titles = {c.id: c.title for c in board.columns}
            groups = {g.id: g.title for g in board.groups}
            return {
                "id": board.id,
                "name": board.name,
                "groups": [{"id": g.id, "title": g.title} for g in board.groups],
                "columns": [{"id": c.id, "title": c.title, "type": c.type} for c in board.columns],
                "items": [
                    {
                        "id": item.id,
                        "name": item.name,
                        "group": groups[item.group_id],
                        "columns": {titles[k]: text for k, (_raw, text) in item.values.items()},
                        "updates": [{"id": u.id, "body": u.body} for u in item.updates],
                    }
                    for item in board.items
                ],
            }

    @router.post("/items/{item_id}/columns")
    def change_columns(item_id: str, body: ColumnsIn) -> dict[str, Any]:
        with state.lock:
            item = state.items.get(item_id)
            if item is None:
                raise HTTPException(404, "no such item")
            board = state.boards[item.board_id]
            values: dict[str, Any] = {}
            for title, text in body.columns.items():
                column = next((c for c in board.columns if c.title == title), None)
                if column is None:
                    raise HTTPException(422, f"no column {title!r}")
                # The JSON monday.com's UI writes for each type, as change_multiple_column_values takes it.
                if column.type == "status":
                    values[column.id] = {"label": text}
                elif column.type == "email":
                    values[column.id] = {"email": text, "text": text}
                else:
                    values[column.id] = text
            try:
                write_values(state, board, item, values, create_labels=False)
            except GraphQLError as err:
                raise HTTPException(422, err.message) from None
        return board_view(board.id)

    @router.get("/webhooks")
    def list_webhooks() -> list[dict[str, Any]]:
        with state.lock:
            return [
                {"id": w.id, "board_id": w.board_id, "event": w.event, "config": w.config}
                for w in state.webhooks.values()
            ]

    @router.get("/deliveries")
    def deliveries() -> list[dict[str, Any]]:
        return state.deliverer.deliveries()

    @router.post("/faults", status_code=201)
    def add_fault(fault: Fault) -> Fault:
        server.faults.add(fault)
        return fault

    @router.delete("/faults", status_code=204)
    def clear_faults() -> None:
        server.faults.clear()

    @router.get("/requests")
    def requests() -> list[dict[str, Any]]:
        return server.requests()

    @router.delete("/requests", status_code=204)
    def clear_requests() -> None:
        server.clear_log()

    @router.post("/reset", status_code=204)
    def reset() -> None:
        state.reset()
        server.faults.clear()
        server.clear_log()

    return router
