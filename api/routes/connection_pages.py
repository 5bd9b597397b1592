"""Server-rendered pages for connections: list, connect form, status, reconnect and disconnect buttons."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from accounts import permissions
from api.connection_deps import IdentityDep, TokenStoreDep
from api.deps import OptionalUserDep, SessionDep, SettingsDep, TemporalClientDep
from api.permission_deps import check_integration_creator
from api.routes.connections import load_owned_connection, owned_connection, request_disconnect
from api.schemas_connections import ConnectionPublic
from api.templating import templates
from connections import consent
from db.connections import Connection
from graph.identity_errors import IdentityError
from payloads.connection import ConnectionStatus
from workflows.ids import connection_workflow_id

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/connections", response_class=HTMLResponse)
def connections_page(request: Request, session: SessionDep, user: OptionalUserDep) -> Response:
    """The signed-in user's connections and a form to connect another mailbox."""
    if user is None:
        return RedirectResponse("/signin", status_code=303)
    rows = session.scalars(
        select(Connection).where(Connection.owner_id == user.id).order_by(Connection.created_at.desc())
    ).all()
    # The Connect form is left out, and the page says why, for a user the account does not let connect.
    refused = permissions.refusal(session, user)
    return templates.TemplateResponse(
        request,
        "connections.html",
        {"user": user, "connections": [ConnectionPublic.of(r) for r in rows], "connect_refused": refused},
    )


@router.get("/connections/{connection_id}", response_class=HTMLResponse)
def connection_page(
    request: Request,
    connection_id: uuid.UUID,
    session: SessionDep,
    settings: SettingsDep,
    user: OptionalUserDep,
    temporal: TemporalClientDep,
) -> Response:
    """One connection's status, with reconnect and disconnect."""
    if user is None:
        return RedirectResponse("/signin", status_code=303)
    row = owned_connection(session, user, connection_id)
    return templates.TemplateResponse(
        request,
        "connection.html",
        {
            "user": user,
            "c": ConnectionPublic.of(row),
            "workflow_id": connection_workflow_id(row.id),
            "temporal_ui_url": settings.temporal_ui_url,
            # The client's, which Temporal's environment configuration (a profile) may have set.
            "namespace": temporal.namespace,
            "reconnect_refused": permissions.refusal(session, user),
        },
    )


@router.get("/connections/{connection_id}/reconnect")
async def reconnect_page(
    connection_id: uuid.UUID,
    session: SessionDep,
    settings: SettingsDep,
    identity: IdentityDep,
    tokens: TokenStoreDep,
    user: OptionalUserDep,
) -> Response:
    """Sends the browser to Microsoft's consent page for the same connection."""
    if user is None:
        return RedirectResponse("/signin", status_code=303)
    row = await load_owned_connection(session, user, connection_id)
    if row.status == ConnectionStatus.DISCONNECTED.value:
        raise HTTPException(409, detail="a disconnected connection cannot be reconnected")
    await check_integration_creator(session, user)
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
        raise HTTPException(502, detail="Microsoft's sign-in service did not answer") from None
    return RedirectResponse(url, status_code=302)


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
        return RedirectResponse("/signin", status_code=303)
    row = await load_owned_connection(session, user, connection_id)
    if row.status != ConnectionStatus.DISCONNECTED.value:
        await request_disconnect(temporal, settings.temporal_task_queue, row)
    return RedirectResponse(f"/connections/{connection_id}", status_code=303)
