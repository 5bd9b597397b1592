"""Random credentials and the hashes they are stored as (the plain values are never stored)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

# A recognisable prefix lets secret scanners and people tell an API token from other strings.
API_TOKEN_PREFIX = "oit_"


def new_api_token() -> str:
    return API_TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_api_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


def hash_session_id(session_id: str, key: str) -> str:
    return hmac.new(key.encode("utf-8"), session_id.encode("utf-8"), hashlib.sha256).hexdigest()
