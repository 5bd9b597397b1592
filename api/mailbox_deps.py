"""Graph on behalf of a connection, from the API: the lifespan's MailboxAccess, and Graph's failures as
answers a user can act on (never a 500, never Graph's own message or a token)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from activities.mailbox_access import MailboxAccess
from api.deps import CurrentUser, app_state
from audit.context import set_request_user
from db.connections import Connection
from graph.errors import Forbidden, GraphError, GraphUnavailable, NotFound, Throttled, Unauthorized
from graph.identity_errors import IdentityError, ReconnectRequired
from payloads.connection import ConnectionStatus
from vault.errors import TokenNotFound, VaultStoreError

_mailbox_access = app_state("mailbox_access", MailboxAccess)


async def get_mailbox_access(request: Request, user: CurrentUser) -> MailboxAccess:
    """The lifespan's MailboxAccess; its token reads are audited as this request's user's."""
    set_request_user(user.id)
    return await _mailbox_access(request)


MailboxAccessDep = Annotated[MailboxAccess, Depends(get_mailbox_access)]

UNUSABLE = (
    ConnectionStatus.REVOKED.value,
    ConnectionStatus.DISCONNECTED.value,
    ConnectionStatus.INVALID.value,
)


def revoked(connection: Connection) -> HTTPException:
    return HTTPException(
        status.HTTP_409_CONFLICT,
        detail=f"connection {connection.mailbox} is {connection.status} and cannot read its mailbox: "
        "reconnect it first",
    )


def require_usable(connection: Connection) -> None:
    """409 before any Graph call when the connection cannot read mail any more."""
    if connection.status in UNUSABLE:
        raise revoked(connection)


@contextmanager
def graph_answers(connection: Connection) -> Iterator[None]:
    """Maps what Graph, the identity platform and Vault raise to 409/502/503 with a plain message."""
    try:
        yield
    except (ReconnectRequired, Unauthorized, TokenNotFound):
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"connection {connection.mailbox} no longer has access to its mailbox "
            "(the grant was revoked or expired): reconnect it",
        ) from None
    except Forbidden:
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"connection {connection.mailbox} was not granted reading mail: reconnect it with "
            "incoming mail allowed",
        ) from None
    except NotFound:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail="the mailbox has no such folder (was it deleted or renamed?)"
        ) from None
    except (Throttled, GraphUnavailable, VaultStoreError, IdentityError):
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            detail="Microsoft Graph or the token store is busy or unreachable: try again in a minute",
        ) from None
    except GraphError:
        raise HTTPException(
            status.HTTP_502_BAD_GATEWAY, detail="Microsoft Graph refused the request"
        ) from None
