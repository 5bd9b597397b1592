"""Ids a log line names without the caller passing them: the API request being served."""

from __future__ import annotations

from contextvars import ContextVar

# Set by api/errors.py's middleware for the whole request (threads started with asyncio.to_thread and
# tasks created inside it inherit it).
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)
