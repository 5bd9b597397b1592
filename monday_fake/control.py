"""The fake's control API (/_fake/...): tokens, boards, faults, the request log, and a look at the items.

POST   /_fake/tokens           {"token"}                  a token the API accepts
POST   /_fake/boards           {"name", "groups": [...], "columns": [{"title", "type", "labels"?}]}
GET    /_fake/boards/{id}      the board with its items (column values by title) and their updates
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
from pydantic import BaseModel, Field

from monday_fake.faults import Fault, Faults
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
