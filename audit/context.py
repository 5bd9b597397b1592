"""Who is acting right now, for audit entries written far from the route or activity that acted.

Inside a Temporal activity the actor is the service, named by the activity and its workflow run
(`temporalio.activity.info()`). In an API request it is the signed-in user, named with the request's
method and path: api/audit_context.py opens a `RequestContext` for every request, and the user
dependency (api/deps.py) fills in the user once it knows them. The holder is one object shared by the
request's task and the threads its dependencies run in (contextvars are copied, the object is not).
"""

from __future__ import annotations

import uuid
from contextvars import ContextVar, Token
from dataclasses import dataclass

from temporalio import activity


@dataclass
class RequestContext:
    method: str
    path: str
    user_id: uuid.UUID | None = None


@dataclass(frozen=True)
class Actor:
    """A user (user_id), or the service (service says which part; workflow_id and run_id which run)."""

    user_id: uuid.UUID | None = None
    service: str | None = None
    workflow_id: str | None = None
    run_id: str | None = None


_REQUEST: ContextVar[RequestContext | None] = ContextVar("audit_request", default=None)


def begin_request(method: str, path: str) -> Token[RequestContext | None]:
    return _REQUEST.set(RequestContext(method, path))


def end_request(token: Token[RequestContext | None]) -> None:
    _REQUEST.reset(token)


def set_request_user(user_id: uuid.UUID) -> None:
    """The signed-in user of the current request (a no-op outside a request)."""
    request = _REQUEST.get()
    if request is not None:
        request.user_id = user_id


def user_actor(user_id: uuid.UUID) -> Actor:
    """A user acting through the API (the request's method and path when inside one)."""
    request = _REQUEST.get()
    return Actor(user_id=user_id, service=f"api {request.method} {request.path}" if request else None)


def current_actor() -> Actor:
    """The activity and its workflow run; else the request and its user; else the service itself."""
    if activity.in_activity():
        info = activity.info()
        return Actor(
            service=f"activity {info.activity_type}",
            workflow_id=info.workflow_id,
            run_id=info.workflow_run_id,
        )
    request = _REQUEST.get()
    if request is not None:
        return Actor(user_id=request.user_id, service=f"api {request.method} {request.path}")
    return Actor(service="service")
