"""Opaque, case-sensitive ids shaped like Exchange's (URL-safe base64)."""

from __future__ import annotations

import secrets
import uuid


def folder_id() -> str:
    return "AQMkADAwATM0MDAAMS1" + secrets.token_urlsafe(30)


def immutable_id() -> str:
    # Exchange ids are base64 and often end in "=": clients must not mangle them in URLs.
    return "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A" + secrets.token_urlsafe(33) + "AAA="


def rest_id() -> str:
    return "AAMkAGI2TG93AAA" + secrets.token_urlsafe(39) + "AAA="


def change_key() -> str:
    return "CQAAABYAAAD" + secrets.token_urlsafe(21)


def guid() -> str:
    return str(uuid.uuid4())


def opaque(prefix: str, nbytes: int = 48) -> str:
    return prefix + secrets.token_urlsafe(nbytes)
