"""Opens the audit context of every HTTP request (audit/context.py): an audit entry written while the
request runs (a read of a connection's tokens, say) names the request and its signed-in user."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from audit.context import begin_request, end_request


class AuditContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The path only: a query string may carry an OAuth code or state.
        token = begin_request(str(scope.get("method", "")), str(scope.get("path", "")))
        try:
            await self.app(scope, receive, send)
        finally:
            end_request(token)
