"""Jinja2 templates (autoescaped) for the few server-rendered pages."""

from __future__ import annotations

from pathlib import Path

from fastapi import Request
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates

from accounts.sessions import SESSION_COOKIE
from api.csrf import csrf_token_for
from api.readable_time import when

templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")


def csrf_token(request: Request) -> str:
    """The CSRF token of the browser's session, for the page's forms (empty without a session)."""
    session_id = request.cookies.get(SESSION_COOKIE, "")
    return csrf_token_for(request.app.state.settings, session_id) if session_id else ""


templates.env.globals["csrf_token"] = csrf_token
templates.env.filters["when"] = when


def signin_redirect() -> RedirectResponse:
    """Where a page sends a browser that is not signed in."""
    return RedirectResponse("/signin", status_code=303)
