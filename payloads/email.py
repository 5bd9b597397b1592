"""The facts of one email that recipes match and render: plain values only.

This is the one model that carries email content through Temporal (the fetch step's result, the
match and item steps' input), so it only ever travels encrypted by the payload codec (codec/). It is
built from a Graph message fetched with $select (recipes.email.facts_from_graph): a field that was not
requested is simply empty.

Recorded workflow histories carry this model's JSON: every field added later has a default, so an older
payload still validates.
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
    # Recipients' addresses; their display names separately (to_contains/cc_contains read both).
    to: list[str] = Field(default_factory=list)
    conversation_id: str = ""
    # Internet message headers, names lower-cased; a repeated header's values joined by ", ".
    headers: dict[str, str] = Field(default_factory=dict)
    cc: list[str] = Field(default_factory=list)
    to_names: list[str] = Field(default_factory=list)
    cc_names: list[str] = Field(default_factory=list)
    # Graph's hasAttachments (false when only inline images); None when it was not requested.
    has_attachments: bool | None = None
    # "low", "normal" or "high" as Graph says it; "" when not requested.
    importance: str = ""
    # The RFC 5322 Message-ID (reply threading matches In-Reply-To/References against it).
    internet_message_id: str = ""
    # Outlook on the web's link to the message.
    web_link: str = ""
