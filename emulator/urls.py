"""URL helpers shared by subscriptions and the notifier."""

from __future__ import annotations

from urllib.parse import urlsplit


def loggable(url: str) -> str:
    """A URL for logs: without query string or credentials (they may carry secrets)."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.hostname}:{parts.port or ''}{parts.path}"
    except ValueError:
        return "<invalid url>"
