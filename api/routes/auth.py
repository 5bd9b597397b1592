"""Browser sign-in with an API token (sets the session cookie) and sign-out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from accounts.service import authenticate_token
from accounts.sessions import (
    SESSION_COOKIE,
    cookie_params,
    create_session,
    resolve_session,
    revoke_session,
)
from api.csrf import check_csrf, check_same_origin, submitted_csrf_token
from api.deps import SessionDep, SettingsDep
from api.signin_limit import client_key, refuse_if_limited, signin_limiter
from api.templating import templates

router = APIRouter(tags=["auth"])


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request) -> Response:
    """The sign-in page: paste an API token."""
    return templates.TemplateResponse(request, "signin.html", {"error": None})


@router.post("/signin", response_class=HTMLResponse)
def signin(
    request: Request, session: SessionDep, settings: SettingsDep, token: Annotated[str, Form()] = ""
) -> Response:
    """Exchanges an API token for a browser session cookie, then goes home."""
    check_same_origin(request, settings)
    limiter, client = signin_limiter(request), client_key(request)
    refuse_if_limited(limiter, client)
    user = authenticate_token(session, token.strip())
    if user is None:
        limiter.failed(client)
        # The submitted value is never echoed back into the page.
        return templates.TemplateResponse(
            request,
            "signin.html",
            {"error": "That token is not valid."},
            status_code=status.HTTP_401_UNAUTHORIZED,
        )
    limiter.succeeded(client)
    # A new session id at every sign-in, and the one this browser had is ended: a session id that
    # someone planted or saw before the sign-in is worth nothing after it.
    revoke_session(session, settings, request.cookies.get(SESSION_COOKIE, ""))
    session_id = create_session(session, settings, user)
    session.commit()
    response = RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)
    params = cookie_params(settings)
    response.set_cookie(
        params.key,
        session_id,
        max_age=params.max_age,
        httponly=params.httponly,
        samesite="lax",
        secure=params.secure,
        path=params.path,
    )
    return response


@router.post("/signout")
def signout(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    csrf: Annotated[str | None, Depends(submitted_csrf_token)],
) -> Response:
    """Ends the browser session (server side too) and clears the cookie."""
    session_id = request.cookies.get(SESSION_COOKIE, "")
    if session_id and resolve_session(session, settings, session_id) is not None:
        check_csrf(request, settings, session_id, csrf)
    revoke_session(session, settings, session_id)
    session.commit()
    response = RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)
    params = cookie_params(settings)
    response.delete_cookie(params.key, path=params.path, httponly=True, samesite="lax", secure=params.secure)
    return response
