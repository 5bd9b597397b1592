"""Opaque, case-sensitive ids shaped like Exchange's (URL-safe base64)."""

from __future__ import annotations

import secrets
import uuid


def folder_id() -> str:
    return "AQMkADAwATM0MDAAMS1" + secrets.token_urlsafe(30)


def immutable_id() -> str:
    # Exchange ids are base64 and often end in "=": clients must not mangle them in URLs.
    # About 152 characters, as Graph's (see rest_id).
    return "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A" + secrets.token_urlsafe(84) + "AAA="


def rest_id() -> str:
    # Graph's message ids are about 152 characters (a mailbox GUID, a folder and an item part): the same
    # length here, so what the service stores, signals and keeps per id is sized as in production.
    return "AAMkAGI2TG93AAA" + secrets.token_urlsafe(99) + "AAA="


def change_key() -> str:
    return "CQAAABYAAAD" + secrets.token_urlsafe(21)


def guid() -> str:
    return str(uuid.uuid4())


def opaque(prefix: str, nbytes: int = 48) -> str:
    return prefix + secrets.token_urlsafe(nbytes)
