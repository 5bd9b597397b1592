"""Server-rendered pages for connections: the list with the connect form, one connection's status and
health, reconnect, and disconnect behind a confirmation page.

Everything that starts a consent or changes a connection is a POST (the CSRF token of the page's form
is checked for cookie requests, api/csrf.py); the GET routes only read.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from accounts import permissions
from api.activity_chart import last_week_chart
from api.connection_deps import IdentityDep, TokenStoreDep
from api.deps import OptionalUserDep, SessionDep, SettingsDep, TemporalClientDep
from api.routes.connections import load_owned_connection, owned_connection, request_disconnect
from api.routes.oauth import MICROSOFT_DOWN, problem_page
from api.schemas_connections import ConnectionPublic
from api.templating import signin_redirect, templates
from api.temporal_ui import TemporalUIDep
from connections import consent
from db.connections import Connection
from db.recipes import RecipeRow
from graph.identity_errors import IdentityError
from graph.scopes import MAIL_READ, MAIL_SEND, OIDC_SCOPES, USER_READ, reads_mail, short_scope
from payloads.connection import ConnectionStatus
from workflows.ids import connection_workflow_id

router = APIRouter(tags=["pages"], include_in_schema=False)

# What a granted Graph scope lets the service do, in the words the connect form uses.
PERMISSION_WORDS = {
    MAIL_READ.lower(): "Read incoming mail",
    MAIL_SEND.lower(): "Send mail",
    USER_READ.lower(): "See the mailbox's name and address",
}

# One sentence per status for the connection page: what the status means for the user.
STATUS_WORDS = {
    ConnectionStatus.CONNECTING.value: "Checking the mailbox and setting up its notifications.",
    ConnectionStatus.ACTIVE.value: "Working: the sign-in is renewed automatically before it expires.",
    ConnectionStatus.REVOKED.value: "Microsoft no longer accepts the sign-in: reconnect to grant it again.",
    ConnectionStatus.INVALID.value: "The mailbox cannot be used as it is: see the reason below.",
    ConnectionStatus.DISCONNECTED.value: "Disconnected: its subscription and stored tokens are deleted.",
}


def permission_words(granted: Iterable[str]) -> list[str]:
    """The granted scopes in words (Mail.Read -> "Read incoming mail"); MSAL's OpenID scopes left out."""
    words: list[str] = []
    for scope in granted:
        short = short_scope(scope)
        if short.lower() in OIDC_SCOPES:
            continue
        word = PERMISSION_WORDS.get(short.lower(), short)
        if word not in words:
            words.append(word)
    return words


def mail_permission_words(granted: Iterable[str]) -> list[str]:
    """`permission_words` without User.Read, which every connection has: what the list compares."""
    return [w for w in permission_words(granted) if w != PERMISSION_WORDS[USER_READ.lower()]]


@router.get("/connections", response_class=HTMLResponse)
def connections_page(request: Request, session: SessionDep, user: OptionalUserDep) -> Response:
    """The signed-in user's connections and a form to connect another mailbox."""
    if user is None:
        return signin_redirect()
    rows = session.scalars(
        select(Connection).where(Connection.owner_id == user.id).order_by(Connection.created_at.desc())
    ).all()
    # The Connect form is left out, and the page says why, for a user the account does not let connect.
    refused = permissions.refusal(session, user)
    return templates.TemplateResponse(
        request,
        "connections.html",
        {
            "user": user,
            "connections": [ConnectionPublic.of(r) for r in rows],
            "connect_refused": refused,
            "mail_permission_words": mail_permission_words,
        },
    )


@router.get("/connections/{connection_id}", response_class=HTMLResponse)
def connection_page(
    request: Request,
    connection_id: uuid.UUID,
    session: SessionDep,
    user: OptionalUserDep,
    temporal_ui: TemporalUIDep,
) -> Response:
    """One connection: status and reason, permissions, subscription health; reconnect and disconnect."""
    if user is None:
        return signin_redirect()
    row = owned_connection(session, user, connection_id)
    return templates.TemplateResponse(
        request,
        "connection.html",
        {
            "user": user,
            "c": ConnectionPublic.of(row),
            "permissions": permission_words(row.scope_list),
            "status_words": STATUS_WORDS.get(row.status, ""),
            # A send-only connection has no subscription: nothing to expire.
            "incoming": reads_mail(row.scope_list),
            "workflow_id": connection_workflow_id(row.id),
            "temporal_ui_url": temporal_ui.url,
            "namespace": temporal_ui.namespace,
            "reconnect_refused": permissions.refusal(session, user),
            "chart": last_week_chart(session, row.id, row.mailbox),
        },
    )


@router.post("/connections/{connection_id}/reconnect")
async def reconnect_page(
    request: Request,
    connection_id: uuid.UUID,
    session: SessionDep,
    settings: SettingsDep,
    identity: IdentityDep,
    tokens: TokenStoreDep,
    user: OptionalUserDep,
) -> Response:
    """Starts a new consent for the same connection: sends the browser to Microsoft's consent page."""
    if user is None:
        return signin_redirect()
    # Ownership first (404 for anyone else's), then the account's permission: nothing leaks.
    row = await load_owned_connection(session, user, connection_id)
    if row.status == ConnectionStatus.DISCONNECTED.value:
        return problem_page(
            request, "a disconnected connection cannot be reconnected: connect the mailbox again", 409, user
        )
    refused = await asyncio.to_thread(permissions.refusal, session, user)
    if refused is not None:
        return problem_page(request, refused, 403, user)
    try:
        url = await consent.begin(
            session,
            identity,
            user,
            consent.requestable(row.scope_list),
            settings.oauth_redirect_uri,
            row,
            flows=tokens,
        )
    except IdentityError:
        return problem_page(request, MICROSOFT_DOWN, 502, user)
    return RedirectResponse(url, status_code=303)


@router.get("/connections/{connection_id}/disconnect", response_class=HTMLResponse)
def disconnect_confirmation(
    request: Request, connection_id: uuid.UUID, session: SessionDep, user: OptionalUserDep
) -> Response:
    """Says what disconnecting deletes and what stays; its form posts the disconnect."""
    if user is None:
        return signin_redirect()
    row = owned_connection(session, user, connection_id)
    if row.status == ConnectionStatus.DISCONNECTED.value:
        return RedirectResponse(f"/connections/{connection_id}", status_code=303)
    recipes = session.scalars(
        select(RecipeRow.name).where(RecipeRow.connection_id == row.id).order_by(RecipeRow.name)
    ).all()
    return templates.TemplateResponse(
        request,
        "connection_disconnect.html",
        {"user": user, "c": ConnectionPublic.of(row), "recipes": list(recipes)},
    )


@router.post("/connections/{connection_id}/disconnect")
async def disconnect_page(
    connection_id: uuid.UUID,
    session: SessionDep,
    settings: SettingsDep,
    temporal: TemporalClientDep,
    user: OptionalUserDep,
) -> Response:
    """Disconnects and returns to the connection's page, which shows the progress."""
    if user is None:
        return signin_redirect()
    row = await load_owned_connection(session, user, connection_id)
    if row.status != ConnectionStatus.DISCONNECTED.value:
        await request_disconnect(temporal, settings.temporal_task_queue, row)
    return RedirectResponse(f"/connections/{connection_id}", status_code=303)
