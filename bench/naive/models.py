"""Payloads of the naive design: everything passes through workflow history, as naive designs do."""

from __future__ import annotations

from pydantic import BaseModel

from boards.draft import ItemDraft
from graph.wire import Message


class NaiveStep(BaseModel):
    connection_id: str
    message_id: str


class FetchedMessage(BaseModel):
    step: NaiveStep
    message: Message | None


class MatchedItem(BaseModel):
    recipe_id: str
    board_id: str
    draft: ItemDraft


class ItemsToCreate(BaseModel):
    step: NaiveStep
    items: list[MatchedItem]


class NaiveOutcome(BaseModel):
    step: NaiveStep
    outcome: str
    reason: str
    items_created: int = 0
