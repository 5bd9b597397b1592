"""The one httpx.AsyncClient per process that talks to Graph (connection pool shared by all mailboxes).

http = build_http_client(settings.ms_ca_bundle)   # once, e.g. in worker.py; `await http.aclose()` at exit
"""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx


def build_http_client(ca_bundle: Path | None = None, *, timeout: float = 30.0) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        verify=ssl.create_default_context(cafile=str(ca_bundle)) if ca_bundle else True,
        timeout=httpx.Timeout(timeout, connect=10.0),
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        headers={"Accept": "application/json"},
        follow_redirects=False,  # a redirect must never carry our bearer token to another host
    )
