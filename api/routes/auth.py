"""Browser sign-in with an API token (sets the session cookie) and sign-out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from accounts.service import authenticate_token
from accounts.sessions import SESSION_COOKIE, cookie_params, create_session, revoke_session
from api.deps import SessionDep, SettingsDep
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
    user = authenticate_token(session, token.strip())
    if user is None:
        # The submitted value is never echoed back into the page.
        return templates.TemplateResponse(
            request,
            "signin.html",
            {"error": "That token is not valid."},
            status_code=status.HTTP_401_UNAUTHORIZED,
        )
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
def signout(request: Request, session: SessionDep, settings: SettingsDep) -> Response:
    """Ends the browser session (server side too) and clears the cookie."""
    revoke_session(session, settings, request.cookies.get(SESSION_COOKIE, ""))
    session.commit()
    response = RedirectResponse("/", status_code=status.HTTP_303_SEE_OTHER)
    params = cookie_params(settings)
    response.delete_cookie(params.key, path=params.path, httponly=True, samesite="lax", secure=params.secure)
    return response
