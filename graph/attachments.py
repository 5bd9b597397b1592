"""A message's attachments as Graph lists them (GET /me/messages/{id}/attachments)."""

from __future__ import annotations

import base64
import binascii

from pydantic import Field

from graph.wire import GraphModel

FILE_ATTACHMENT = "#microsoft.graph.fileAttachment"


class Attachment(GraphModel):
    odata_type: str = Field("", alias="@odata.type")
    id: str = ""
    name: str | None = None
    content_type: str | None = None
    size: int = 0
    is_inline: bool = False
    content_bytes: str | None = None

    @property
    def is_file(self) -> bool:
        """Item and reference attachments (an attached email, a OneDrive link) carry no bytes."""
        return self.odata_type == FILE_ATTACHMENT and self.content_bytes is not None

    def content(self) -> bytes:
        try:
            return base64.b64decode(self.content_bytes or "", validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("attachment contentBytes is not base64") from None
