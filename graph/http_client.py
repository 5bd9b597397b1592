"""The one httpx.AsyncClient per process that talks to Graph (connection pool shared by all mailboxes)."""

from __future__ import annotations

import httpx

from config.settings import Settings


def build_http_client(settings: Settings, *, timeout: float = 30.0) -> httpx.AsyncClient:
    verify: str | bool = str(settings.ms_ca_bundle) if settings.ms_ca_bundle else True
    return httpx.AsyncClient(
        verify=verify,
        timeout=httpx.Timeout(timeout, connect=10.0),
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        headers={"Accept": "application/json"},
        follow_redirects=False,  # a redirect must never carry our bearer token to another host
    )
