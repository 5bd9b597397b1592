"""`/_emulator/*`: the control API for tests and demos (loopback clients only; see README.md): apps, users,
revocation, consent answers, faults, the request log, issued tokens, subscriptions, stats, reset.
Mailbox contents are in control_mailbox.py."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, Response

from emulator.context import ctx_of
from emulator.control_common import control_router, mailbox
from emulator.control_models import ConsentIn, RevokeIn, UserIn
from emulator.delta import expire_user_states
from emulator.models import Consent, Faults, User
from emulator.settings import AppRegistration
from emulator.sweeper import remove_subscription, require_reauthorization

router = control_router()


@router.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@router.post("/apps", status_code=201)
async def add_app(app: AppRegistration, request: Request) -> dict[str, Any]:
    store = ctx_of(request).store
    with store.lock:
        store.state.apps[app.client_id] = app
        store.changed()
    return {"client_id": app.client_id, "redirect_uris": app.redirect_uris, "display_name": app.display_name}


@router.get("/apps")
async def list_apps(request: Request) -> list[dict[str, Any]]:
    return [
        {"client_id": a.client_id, "redirect_uris": a.redirect_uris, "display_name": a.display_name}
        for a in ctx_of(request).store.state.apps.values()
    ]


def _user_out(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "display_name": user.display_name}


@router.post("/users")
async def add_user(body: UserIn, request: Request) -> JSONResponse:
    user, created = ctx_of(request).store.add_user(body.email, body.display_name)
    return JSONResponse(_user_out(user), status_code=201 if created else 200)


@router.get("/users")
async def list_users(request: Request) -> list[dict[str, Any]]:
    return [_user_out(u) for u in ctx_of(request).store.state.users.values()]


@router.post("/users/{email}/revoke")
async def revoke(email: str, body: RevokeIn, request: Request) -> dict[str, Any]:
    ctx = ctx_of(request)
    store = ctx.store
    user = mailbox(request, email)
    with store.lock:
        # Every refresh token of the user, for every app, rotated ones included: with Entra's reuse rule
        # an older token would otherwise outlive the revocation.
        count = 0
        for rt in store.state.refresh_tokens.values():
            if rt.user_id == user.id:
                rt.revoked_reason = body.reason
                count += 1
        if body.reason == "consent_revoked":
            for key in [k for k, g in store.state.grants.items() if g.user_id == user.id]:
                store.state.grants.pop(key, None)
        store.changed()
    subs = [s for s in store.state.subscriptions.values() if s.user_id == user.id]
    for sub in subs:
        require_reauthorization(store, ctx.notifier, sub, now=True)
    return {"revoked_refresh_tokens": count, "subscriptions_notified": len(subs)}


@router.post("/users/{email}/expire-delta")
async def expire_delta(email: str, request: Request) -> dict[str, int]:
    return {"expired": expire_user_states(ctx_of(request).store, mailbox(request, email))}


@router.post("/consent", status_code=201)
async def consent(body: ConsentIn, request: Request) -> dict[str, int]:
    if not body.deny and not body.email:
        raise HTTPException(422, "email is required unless deny is true.")
    store = ctx_of(request).store
    if body.email and store.user_by_email(body.email) is None:
        raise HTTPException(404, f"No mailbox {body.email}; create it with POST /_emulator/users first.")
    store.consents.append(
        Consent(
            email=body.email or "",
            scopes=body.scopes,
            deny=body.deny,
            client_id=body.client_id,
            created=time.time(),
        )
    )
    return {"queued": len(store.consents)}


@router.delete("/consent", status_code=204)
async def clear_consent(request: Request) -> Response:
    ctx_of(request).store.consents.clear()
    return Response(status_code=204)


@router.get("/faults")
async def get_faults(request: Request) -> Faults:
    return ctx_of(request).store.faults


@router.put("/faults")
async def put_faults(body: Faults, request: Request) -> Faults:
    ctx_of(request).store.faults = body
    return body


@router.delete("/faults")
async def clear_faults(request: Request) -> Faults:
    store = ctx_of(request).store
    store.faults = Faults()
    return store.faults


def _since(value: str | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(400, "since must be epoch seconds or an ISO 8601 time.") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)).timestamp()


@router.get("/requests")
async def requests_log(request: Request, mailbox: str | None = None, since: str | None = None) -> list[Any]:
    after = _since(since)
    out = []
    for entry in ctx_of(request).store.request_log:
        if mailbox and (entry["mailbox"] or "").lower() != mailbox.lower():
            continue
        if after is not None and entry["time"] < after:
            continue
        out.append(entry)
    return out


@router.delete("/requests", status_code=204)
async def clear_requests(request: Request) -> Response:
    ctx_of(request).store.request_log.clear()
    return Response(status_code=204)


@router.get("/notifications")
async def notifications_log(
    request: Request, mailbox: str | None = None, since: str | None = None
) -> list[Any]:
    """Every notification POSTed (one entry per notification per attempt) and its answer."""
    after = _since(since)
    return [
        entry
        for entry in ctx_of(request).store.notification_log
        if (not mailbox or (entry["mailbox"] or "").lower() == mailbox.lower())
        and (after is None or entry["time"] >= after)
    ]


@router.get("/token-requests")
async def token_requests(request: Request, mailbox: str | None = None, since: str | None = None) -> list[Any]:
    """Refresh-token grants at the token endpoint: time, grant_type, status, client_id, mailbox (whose
    refresh token it was, when known) and refresh_token_sha256 (hex SHA-256 of the token presented)."""
    after = _since(since)
    return [
        entry
        for entry in ctx_of(request).store.token_log
        if (not mailbox or (entry["mailbox"] or "").lower() == mailbox.lower())
        and (after is None or entry["time"] >= after)
    ]


@router.get("/issued-tokens")
async def issued_tokens(request: Request) -> dict[str, list[str]]:
    st = ctx_of(request).store.state
    return {
        "access_tokens": list(st.issued_access),
        "refresh_tokens": list(st.issued_refresh),
        "auth_codes": list(st.issued_codes),
    }


@router.get("/subscriptions")
async def subscriptions(request: Request) -> list[dict[str, Any]]:
    ctx = ctx_of(request)
    out = []
    for s in ctx.store.state.subscriptions.values():
        user = ctx.store.state.users.get(s.user_id)
        out.append(
            {
                **s.model_dump(),
                "mailbox": user.email if user else None,
                "held_notifications": len(ctx.notifier.held.get(s.id, [])),
            }
        )
    return out


@router.delete("/subscriptions/{sub_id}", status_code=204)
async def remove_sub(sub_id: str, request: Request) -> Response:
    ctx = ctx_of(request)
    sub = ctx.store.state.subscriptions.get(sub_id)
    if sub is None:
        raise HTTPException(404, "No such subscription.")
    remove_subscription(ctx.store, ctx.notifier, sub)
    return Response(status_code=204)


@router.post("/subscriptions/{sub_id}/reauthorization-required", status_code=202)
async def force_reauth(sub_id: str, request: Request) -> dict[str, str]:
    ctx = ctx_of(request)
    sub = ctx.store.state.subscriptions.get(sub_id)
    if sub is None:
        raise HTTPException(404, "No such subscription.")
    require_reauthorization(ctx.store, ctx.notifier, sub, now=True)
    return {"status": "sent"}


@router.get("/stats")
async def stats(request: Request) -> dict[str, int]:
    n = ctx_of(request).notifier
    return {**n.stats.as_dict(), "pending": n.pending_count()}


@router.post("/reset", status_code=204)
async def reset(request: Request) -> Response:
    """Forgets everything except app registrations."""
    ctx = ctx_of(request)
    store = ctx.store
    with store.lock:
        apps = store.state.apps
        store.state = type(store.state)(apps=apps)
        store._reindex()
        store.faults = Faults()
        store.consents.clear()
        store.request_log.clear()
        store.token_log.clear()
        store.notification_log.clear()
        ctx.notifier.held.clear()
        ctx.notifier.pending.clear()
        store.changed()
    return Response(status_code=204)
