"""An email's attachments -> the files an item gets: file attachments only, inline images skipped, each
under a size cap, names made safe to store and to offer for download."""

from __future__ import annotations

import re
import unicodedata

from boards.destination import FileDraft
from graph.attachments import Attachment

# Per file; a board item holds at most a few of these (the board store caps the total).
MAX_FILE_BYTES = 10 * 1024 * 1024
NAME_MAX = 200
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


def safe_name(name: str | None) -> str:
    """No path separators, control or reserved characters, no leading dots; at most NAME_MAX characters
    with the extension kept; "attachment" when nothing is left."""
    text = unicodedata.normalize("NFC", name or "")
    text = _UNSAFE.sub("_", text).strip().lstrip(".").strip()
    if len(text) > NAME_MAX:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            text = stem[: NAME_MAX - len(ext) - 1] + "." + ext
        else:
            text = text[:NAME_MAX]
    return text or "attachment"


def file_drafts(attachments: list[Attachment]) -> tuple[list[FileDraft], int]:
    """(the files to store, how many were skipped: inline, not a file, over the cap). Repeated names
    get a numbered suffix so each file keeps its own."""
    files: list[FileDraft] = []
    skipped = 0
    names: set[str] = set()
    for attachment in attachments:
        if attachment.is_inline or not attachment.is_file or attachment.size > MAX_FILE_BYTES:
            skipped += 1
            continue
        content = attachment.content()
        if len(content) > MAX_FILE_BYTES:
            skipped += 1
            continue
        name = safe_name(attachment.name)
        stem, dot, ext = name.rpartition(".") if "." in name else (name, "", "")
        n = 1
        while name.lower() in names:
            n += 1
            name = f"{stem} ({n}){dot}{ext}"
        names.add(name.lower())
        files.append(
            FileDraft(
                name=name,
                content_type=(attachment.content_type or "application/octet-stream")[:200],
                content=content,
            )
        )
    return files, skipped
