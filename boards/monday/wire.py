"""monday.com's answers as typed models (only the fields queries.py asks for)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RemoteGroup(BaseModel):
    id: str
    title: str


class RemoteColumn(BaseModel):
    id: str
    title: str
    # monday.com's ColumnType: text, long_text, email, date, status, numbers, link, ...
    type: str
    settings_str: str = "{}"


class RemoteBoard(BaseModel):
    id: str
    name: str
    groups: list[RemoteGroup] = Field(default_factory=list)
    columns: list[RemoteColumn] = Field(default_factory=list)


class RemoteColumnValue(BaseModel):
    id: str
    text: str | None = None


class RemoteItem(BaseModel):
    id: str
    created_at: str | None = None
    column_values: list[RemoteColumnValue] = Field(default_factory=list)

    def text_of(self, column_id: str) -> str:
        for value in self.column_values:
            if value.id == column_id:
                return value.text or ""
        return ""

    def age_key(self) -> tuple[str, int]:
        """Oldest first: creation time, then the id (monday.com's ids grow)."""
        return (self.created_at or "", int(self.id) if self.id.isdigit() else 0)


class RemoteItemsPage(BaseModel):
    cursor: str | None = None
    items: list[RemoteItem] = Field(default_factory=list)


class RemoteUpdate(BaseModel):
    id: str
    body: str = ""
    text_body: str | None = None
    created_at: str | None = None


class RemoteNamed(BaseModel):
    id: str
    name: str = ""


class RemoteTitled(BaseModel):
    title: str = ""


class RemoteFactValue(BaseModel):
    id: str
    text: str | None = None
    column: RemoteTitled = Field(default_factory=RemoteTitled)


class RemoteItemFacts(BaseModel):
    """An item with what an outgoing recipe's templates read (ITEM_FACTS)."""

    id: str
    name: str = ""
    board: RemoteNamed | None = None
    group: RemoteTitled | None = None
    column_values: list[RemoteFactValue] = Field(default_factory=list)
