"""The OAuth 2.0 connect flow: consent at Microsoft, then the callback that completes the connection."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from temporalio.service import RPCError

from accounts import permissions
from api.connection_deps import IdentityDep, TokenStoreDep
from api.deps import OptionalUserDep, SessionDep, SettingsDep, TemporalClientDep
from api.templating import signin_redirect, templates
from connections import consent
from connections.consent import ConnectError
from db.accounts import User
from graph.identity_errors import ConsentDeclined, IdentityError, IdentityUnavailable, StateMismatch
from vault.errors import VaultStoreError

log = logging.getLogger("api.oauth")
MICROSOFT_DOWN = "Microsoft's sign-in service did not answer; try again shortly"
router = APIRouter(tags=["connect"], include_in_schema=False)


def problem_page(request: Request, message: str, status: int, user: User | None = None) -> Response:
    """The page that says why a mailbox was not (re)connected, with the HTTP status to answer."""
    return templates.TemplateResponse(
        request, "connect_error.html", {"message": message, "user": user}, status_code=status
    )


@router.get("/connect/outlook")
def connect_outlook_link() -> Response:
    """An old link or bookmark: connecting starts from the form on /connections. Writes nothing."""
    return RedirectResponse("/connections", status_code=303)


@router.post("/connect/outlook", response_class=HTMLResponse)
async def connect_outlook(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    identity: IdentityDep,
    tokens: TokenStoreDep,
    user: OptionalUserDep,
    scope: Annotated[
        list[str] | None, Form(description="repeated: incoming (Mail.Read), outgoing (Mail.Send)")
    ] = None,
    scopes: Annotated[str, Form(description="the same choices, comma-separated")] = "",
) -> Response:
    """Starts connecting an Outlook mailbox: redirects to Microsoft's consent page.

    A POST: it stores a sign-in in progress (oauth_flows), so a cookie request must carry the page's
    CSRF token (api/csrf.py), and another site cannot start a consent in the user's name."""
    if user is None:
        return signin_redirect()
    refused = await asyncio.to_thread(permissions.refusal, session, user)
    if refused is not None:
        return problem_page(request, refused, 403, user)
    chosen = [s.strip() for s in [*(scope or []), *scopes.split(",")] if s.strip()]
    if not chosen:
        return problem_page(
            request,
            "choose what the service may do with the mailbox: read incoming mail, send mail or both",
            400,
            user,
        )
    try:
        wanted = consent.graph_scopes(chosen)
        url = await consent.begin(session, identity, user, wanted, settings.oauth_redirect_uri, flows=tokens)
    except ConnectError as err:
        return problem_page(request, err.message, err.status, user)
    except IdentityError:
        return problem_page(request, MICROSOFT_DOWN, 502, user)
    return RedirectResponse(url, status_code=303)


@router.get("/oauth/callback", response_class=HTMLResponse)
async def oauth_callback(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    identity: IdentityDep,
    tokens: TokenStoreDep,
    temporal: TemporalClientDep,
    user: OptionalUserDep,
) -> Response:
    """Microsoft redirects here with a code (or an error); completes the connection."""
    if user is None:
        return problem_page(request, "sign in first, then connect the mailbox again", 401)
    # Checked again here, before the code is redeemed: the setting may have narrowed since the consent
    # began (the unused flow expires like any abandoned one).
    refused = await asyncio.to_thread(permissions.refusal, session, user)
    if refused is not None:
        return problem_page(request, refused, 403, user)
    params = dict(request.query_params)
    try:
        flow, reconnect_id = await consent.take_flow(session, user, params.get("state"), flows=tokens)
        if "error" in params:
            if params["error"] == "access_denied":
                raise ConsentDeclined()
            raise ConnectError(f"Microsoft refused the sign-in ({params['error'][:64]})")
        token_set = await identity.redeem(flow, params)
        connected = await consent.complete(
            session, tokens, temporal, settings.temporal_task_queue, user, token_set, reconnect_id
        )
    except ConnectError as err:
        return problem_page(request, err.message, err.status, user)
    except StateMismatch:
        return problem_page(
            request, "the sign-in response does not belong to this sign-in: connect again", 400, user
        )
    except IdentityUnavailable:
        return problem_page(request, MICROSOFT_DOWN, 502, user)
    except IdentityError as err:
        # Declined consent, a reused or expired code, a refused scope: nothing was stored.
        return problem_page(request, f"the mailbox was not connected: {err.reason}", 400, user)
    except (VaultStoreError, RPCError) as err:
        log.warning("connect failed while storing or starting: %s", type(err).__name__)
        return problem_page(
            request, "the service could not store the connection; nothing was kept, try again", 503, user
        )
    return RedirectResponse(f"/connections/{connected.connection.id}", status_code=303)
