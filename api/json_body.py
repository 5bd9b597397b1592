"""The content type the webhooks accept: JSON, as Graph and monday.com send it; anything else is 415."""

from __future__ import annotations

from fastapi import HTTPException, Request, status

JSON_TYPES = frozenset({"application/json"})


def require_json(request: Request) -> None:
    """415 unless the request says its body is JSON (`application/json`, any charset parameter)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in JSON_TYPES:
        # The header is not echoed: nothing the caller sent comes back.
        raise HTTPException(
            status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail="the body must be JSON: send content-type: application/json",
        )
