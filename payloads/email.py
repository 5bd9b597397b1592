"""The facts of one email that recipes match and render: plain values only.

This is the one model that carries email content through Temporal (the fetch step's result, the
match and item steps' input), so it only ever travels encrypted by the payload codec (codec/). It is
built from a Graph message fetched with $select (recipes.email.facts_from_graph): a field that was not
requested is simply empty.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class EmailFacts(BaseModel):
    message_id: str = ""
    subject: str = ""
    from_address: str = ""
    from_name: str = ""
    received_at: datetime | None = None
    preview: str = ""
    body_text: str = ""
    to: list[str] = Field(default_factory=list)
    conversation_id: str = ""
    # Internet message headers, names lower-cased; a repeated header's values joined by ", ".
    headers: dict[str, str] = Field(default_factory=dict)
