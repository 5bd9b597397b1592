"""The OAuth 2.0 connect flow: consent at Microsoft, then the callback that completes the connection."""

from __future__ import annotations

import asyncio
import logging

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from temporalio.service import RPCError

from accounts import permissions
from api.connection_deps import IdentityDep, TokenStoreDep
from api.deps import OptionalUserDep, SessionDep, SettingsDep, TemporalClientDep
from api.templating import templates
from connections import consent
from connections.consent import ConnectError
from graph.identity_errors import ConsentDeclined, IdentityError, IdentityUnavailable, StateMismatch
from vault.errors import VaultStoreError

log = logging.getLogger("api.oauth")
router = APIRouter(tags=["connect"], include_in_schema=False)


def _problem(request: Request, message: str, status: int) -> Response:
    return templates.TemplateResponse(request, "connect_error.html", {"message": message}, status_code=status)


@router.get("/connect/outlook", response_class=HTMLResponse)
async def connect_outlook(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    identity: IdentityDep,
    tokens: TokenStoreDep,
    user: OptionalUserDep,
    scopes: str = Query(
        "incoming", description="comma-separated: incoming (Mail.Read), outgoing (Mail.Send)"
    ),
) -> Response:
    """Starts connecting an Outlook mailbox: redirects to Microsoft's consent page."""
    if user is None:
        return RedirectResponse("/signin", status_code=303)
    refused = await asyncio.to_thread(permissions.refusal, session, user)
    if refused is not None:
        return _problem(request, refused, 403)
    try:
        wanted = consent.graph_scopes([s.strip() for s in scopes.split(",") if s.strip()])
        url = await consent.begin(session, identity, user, wanted, settings.oauth_redirect_uri, flows=tokens)
    except ConnectError as err:
        return _problem(request, err.message, err.status)
    except IdentityError:
        return _problem(request, "Microsoft's sign-in service did not answer; try again shortly", 502)
    return RedirectResponse(url, status_code=302)


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
        return _problem(request, "sign in first, then connect the mailbox again", 401)
    # Checked again here, before the code is redeemed: the setting may have narrowed since the consent
    # began (the unused flow expires like any abandoned one).
    refused = await asyncio.to_thread(permissions.refusal, session, user)
    if refused is not None:
        return _problem(request, refused, 403)
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
        return _problem(request, err.message, err.status)
    except StateMismatch:
        return _problem(request, "the sign-in response does not belong to this sign-in: connect again", 400)
    except IdentityUnavailable:
        return _problem(request, "Microsoft's sign-in service did not answer; try again shortly", 502)
    except IdentityError as err:
        # Declined consent, a reused or expired code, a refused scope: nothing was stored.
        return _problem(request, f"the mailbox was not connected: {err.reason}", 400)
    except (VaultStoreError, RPCError) as err:
        log.warning("connect failed while storing or starting: %s", type(err).__name__)
        return _problem(
            request, "the service could not store the connection; nothing was kept, try again", 503
        )
    return RedirectResponse(f"/connections/{connected.connection.id}", status_code=303)
