"""CORS for the codec endpoints only: the Temporal UI (another origin) calls them from the browser.

Starlette's CORSMiddleware does the protocol; this wrapper keeps it to /codec and to the UI's origin.
The rest of the API stays closed to cross-origin scripts, and another origin gets no CORS headers at all
(its preflight falls through to the route, which has no OPTIONS: 405), so it learns nothing.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

CODEC_PREFIX = "/codec"


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL, as a browser sends it in Origin (no path, no trailing slash)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class CodecCORSMiddleware:
    def __init__(self, app: ASGIApp, *, ui_url: str) -> None:
        self.app = app
        self.origin = origin_of(ui_url)
        self.cors = CORSMiddleware(
            app,
            allow_origins=[self.origin],
            # The UI sends the API's session cookie only with "include cross-origin credentials" on,
            # and the browser hands the answer to the UI only if we allow credentials.
            allow_credentials=True,
            allow_methods=["POST", "OPTIONS"],
            # x-namespace: the UI names the namespace; authorization: a CLI or script with a token.
            allow_headers=["content-type", "x-namespace", "authorization"],
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._applies(scope):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def _applies(self, scope: Scope) -> bool:
        path: str = scope["path"]
        if path != CODEC_PREFIX and not path.startswith(CODEC_PREFIX + "/"):
            return False
        return Headers(scope=scope).get("origin", "").lower() == self.origin
