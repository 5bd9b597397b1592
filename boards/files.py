"""Files on built-in board items: caps and the clean-up of what is stored (names, content types).

The caps keep one email from filling the database: a file over FILE_MAX, or an item's files over
ITEM_FILES_MAX together, is refused as a whole. Messages name sizes and limits, never file names."""

from __future__ import annotations

import re
import unicodedata

from boards.errors import FilesTooLarge

FILE_MAX = 10 * 1024 * 1024
ITEM_FILES_MAX = 25 * 1024 * 1024
NAME_MAX = 200
CONTENT_TYPE_MAX = 200

_CONTENT_TYPE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+")


def clean_name(name: str) -> str:
    """No path separators, control characters or leading dots; at most NAME_MAX characters."""
    cleaned = "".join(
        "_" if c in '/\\:*?"<>|' or unicodedata.category(c).startswith("C") else c for c in name
    )
    cleaned = cleaned.strip().lstrip(".").strip()
    if len(cleaned) > NAME_MAX:
        stem, dot, ext = cleaned.rpartition(".")
        # Keep a short extension: it is what tells a reader what the file is.
        cleaned = (
            stem[: NAME_MAX - len(ext) - 1] + dot + ext if dot and len(ext) <= 10 else cleaned[:NAME_MAX]
        )
    return cleaned or "attachment"


def clean_content_type(content_type: str) -> str:
    """The media type without parameters; application/octet-stream when it is not one."""
    media = content_type.split(";", 1)[0].strip().lower()
    return (
        media
        if len(media) <= CONTENT_TYPE_MAX and _CONTENT_TYPE.fullmatch(media)
        else "application/octet-stream"
    )


def check_sizes(item_id: str, present: int, adding: list[int]) -> None:
    for size in adding:
        if size > FILE_MAX:
            raise FilesTooLarge(f"a file of {size} bytes is over the {FILE_MAX} bytes a file may have")
    if present + sum(adding) > ITEM_FILES_MAX:
        raise FilesTooLarge(
            f"item {item_id} would have {present + sum(adding)} bytes of files, over its {ITEM_FILES_MAX}"
        )
