"""`/subscriptions`: create (with the validation handshake), list, get, renew, delete, reauthorize."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
import uuid
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
from fastapi.responses import Response

from emulator.errors import GraphError
from emulator.graph import GraphReq, _split, json_response, route
from emulator.models import Subscription
from emulator.odata import parse_datetime
from emulator.scopes import READ_MAIL
from emulator.serialize import iso7
from emulator.urls import loggable

log = logging.getLogger("emulator.subscriptions")
CHANGE_TYPES = ("created", "updated", "deleted")
MAX_PER_MAILBOX = 1000
MAX_CLIENT_STATE = 128


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise GraphError(400, "ValidationError", f"{field} is required.")
    try:
        parts = urlsplit(value)
        hostname = parts.hostname
    except ValueError:
        raise GraphError(400, "ValidationError", f"{field} is not a valid URL.") from None
    if len(value) > 2048 or not hostname or parts.scheme not in ("https", "http"):
        raise GraphError(400, "ValidationError", f"{field} is not a valid URL.")
    if parts.scheme == "http" and not _is_loopback(hostname):
        raise GraphError(400, "ValidationError", f"The {field} must be an HTTPS URL.")
    return value


def _resource(req: GraphReq, raw: Any) -> str | None:
    """The folder id a resource like me/mailFolders('inbox')/messages watches; None: the whole mailbox."""
    if not isinstance(raw, str) or not raw.strip():
        raise GraphError(400, "InvalidRequest", "resource is required.")
    segs = _split(raw.split("?", 1)[0])
    low = [s.lower() for s in segs]
    if low[:1] == ["users"] and len(segs) >= 2:
        target = req.ctx.store.user_by_ref(segs[1])
        if target is None or target.id != req.user.id:
            raise GraphError(
                403,
                "ExtensionError",
                "Operation: Create; Exception: [Status Code: Forbidden; "
                "Reason: Access is denied. Check credentials and try again.]",
            )
        segs, low = segs[2:], low[2:]
    elif low[:1] == ["me"]:
        segs, low = segs[1:], low[1:]
    else:
        raise GraphError(400, "InvalidRequest", f"Resource '{raw}' is not supported.")
    if low == ["messages"]:
        return None
    if len(low) == 3 and low[0] == "mailfolders" and low[2] == "messages":
        folder = req.ctx.store.resolve_folder(req.user, segs[1])
        if folder is None:
            raise GraphError(
                404,
                "ExtensionError",
                "Operation: Create; Exception: [Status Code: NotFound; "
                "Reason: The specified object was not found in the store.]",
            )
        return folder.id
    raise GraphError(400, "InvalidRequest", f"Resource '{raw}' is not supported.")


def _expiry(req: GraphReq, raw: Any) -> float:
    if not isinstance(raw, str) or not raw:
        raise GraphError(400, "InvalidRequest", "expirationDateTime is required.")
    when = parse_datetime(raw)
    s = req.ctx.settings
    now = time.time()
    if when > now + s.subscription_max_minutes * 60 + 60:
        raise GraphError(
            400,
            "InvalidRequest",
            f"Subscription expiration can only be {s.subscription_max_minutes} minutes in the future.",
        )
    # Graph silently raises an expiry under the floor to the floor.
    return max(when, now + s.subscription_min_minutes * 60)


def _change_types(raw: Any) -> list[str]:
    if not isinstance(raw, str) or not raw.strip():
        raise GraphError(400, "InvalidRequest", "changeType is required.")
    out: list[str] = []
    for part in raw.split(","):
        name = part.strip().lower()
        if name not in CHANGE_TYPES:
            raise GraphError(400, "InvalidRequest", f"Invalid changeType '{part.strip()}'.")
        if name not in out:
            out.append(name)
    return out


def subscription_json(req_base: str, sub: Subscription, resource: str | None = None) -> dict[str, Any]:
    return {
        "@odata.context": f"{req_base}/v1.0/$metadata#subscriptions/$entity",
        "id": sub.id,
        "resource": resource if resource is not None else sub.resource,
        "applicationId": sub.client_id,
        "changeType": ",".join(sub.change_types),
        "clientState": sub.client_state,
        "notificationUrl": sub.notification_url,
        "notificationQueryOptions": None,
        "lifecycleNotificationUrl": sub.lifecycle_url,
        "expirationDateTime": iso7(sub.expires),
        "creatorId": sub.user_id,
        "includeResourceData": None,
        "latestSupportedTlsVersion": sub.tls_version,
        "encryptionCertificate": None,
        "encryptionCertificateId": None,
        "notificationUrlAppId": None,
        "notificationContentType": "application/json",
    }


async def validate_endpoint(url: str, limit_seconds: float, verify: bool) -> bool:
    """Graph's handshake: POST url?validationToken=..., expect 200 text/plain echoing the decoded token."""
    token = f"Validation: Testing client application reachability for subscription Request-Id: {uuid.uuid4()}"
    sep = "&" if "?" in url else "?"
    target = f"{url}{sep}validationToken={quote(token, safe='')}"
    try:
        # httpx's timeout is per phase (connect, each read): a slowly trickling answer never trips it.
        # Graph's 10 s is for the whole exchange, so the deadline covers it all.
        async with (
            asyncio.timeout(limit_seconds),
            httpx.AsyncClient(timeout=limit_seconds, verify=verify) as client,
        ):
            resp = await client.post(target, headers={"Content-Type": "text/plain; charset=utf-8"})
    except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError, TimeoutError) as exc:
        log.warning("validation of %s failed: %s", loggable(url), type(exc).__name__)
        return False
    ctype = resp.headers.get("content-type", "").split(";")[0].strip().lower()
    ok = resp.status_code == 200 and ctype == "text/plain" and resp.text == token
    if not ok:
        log.warning(
            "validation of %s failed: status %s, content-type %r, token echoed: %s",
            loggable(url),
            resp.status_code,
            ctype,
            resp.text == token,
        )
    return ok


def _validation_failed(url: str) -> GraphError:
    return GraphError(
        400,
        "ValidationError",
        "Subscription validation request failed. Notification endpoint "
        "must respond with 200 OK to validation request.",
    )


def _rate(req: GraphReq, kind: str) -> None:
    s = req.ctx.settings
    budget = s.subscription_list_budget if kind == "list" else s.subscription_write_budget
    req.ctx.throttle.limit(
        (f"subscriptions-{kind}", req.token.client_id), budget, s.subscription_limit_window_seconds
    )


def _own(req: GraphReq, sub_id: str) -> Subscription:
    sub = req.ctx.store.state.subscriptions.get(sub_id)
    if (
        sub is None
        or sub.client_id != req.token.client_id
        or sub.user_id != req.user.id
        or sub.expires <= time.time()
    ):  # expired: gone even before the sweep removes it
        raise GraphError(404, "ResourceNotFound", f"The object was not found. Subscription '{sub_id}'.")
    return sub


@route("POST", "subscriptions")
async def create(req: GraphReq) -> Response:
    req.require(*READ_MAIL)
    _rate(req, "write")
    body = await req.json_body()
    ctx = req.ctx
    change_types = _change_types(body.get("changeType"))
    notification_url = check_url(body.get("notificationUrl"), "notificationUrl")
    lifecycle_raw = body.get("lifecycleNotificationUrl")
    lifecycle_url = (
        check_url(lifecycle_raw, "lifecycleNotificationUrl") if lifecycle_raw is not None else None
    )
    resource_raw = body.get("resource")
    folder_id = _resource(req, resource_raw)
    expires = _expiry(req, body.get("expirationDateTime"))
    client_state = body.get("clientState")
    if client_state is not None and (
        not isinstance(client_state, str) or len(client_state) > MAX_CLIENT_STATE
    ):
        raise GraphError(400, "InvalidRequest", "clientState must be a string of at most 128 characters.")
    tls = body.get("latestSupportedTlsVersion") or "v1_2"
    if tls not in ("v1_0", "v1_1", "v1_2", "v1_3"):
        raise GraphError(400, "InvalidRequest", "Invalid latestSupportedTlsVersion.")
    now = time.time()
    mine = [s for s in ctx.store.state.subscriptions.values() if s.user_id == req.user.id and s.expires > now]
    if len(mine) >= MAX_PER_MAILBOX:
        raise GraphError(
            403,
            "ExtensionError",
            "Operation: Create; Exception: [Status Code: Forbidden; Reason: "
            "The number of subscriptions for this mailbox has reached its limit.]",
        )
    for other in mine:
        if (
            other.client_id == req.token.client_id
            and other.folder_id == folder_id
            and sorted(other.change_types) == sorted(change_types)
        ):
            raise GraphError(
                409,
                "ExtensionError",
                "Operation: Create; Exception: [Status Code: Conflict; "
                "Reason: A subscription with the same resource and changeType already exists.]",
            )
    s = ctx.settings
    for url in [notification_url, *([lifecycle_url] if lifecycle_url else [])]:  # each validated, like Graph
        if not await validate_endpoint(url, s.validation_timeout_seconds, s.notification_verify_tls):
            raise _validation_failed(url)
    sub = Subscription(
        id=str(uuid.uuid4()),
        client_id=req.token.client_id,
        user_id=req.user.id,
        resource=str(resource_raw),
        folder_id=folder_id,
        change_types=change_types,
        notification_url=notification_url,
        lifecycle_url=lifecycle_url,
        client_state=client_state,
        expires=expires,
        authorized_until=req.token.expires,
        immutable_ids=req.immutable,
        created=time.time(),
        tls_version=tls,
    )
    with ctx.store.lock:
        ctx.store.state.subscriptions[sub.id] = sub
        ctx.store.changed()
    return json_response(req, subscription_json(req.base, sub), 201)


@route("GET", "subscriptions")
async def list_subscriptions(req: GraphReq) -> Response:
    _rate(req, "list")
    now = time.time()
    subs = [
        s
        for s in req.ctx.store.state.subscriptions.values()
        if s.client_id == req.token.client_id and s.user_id == req.user.id and s.expires > now
    ]
    value = [{k: v for k, v in subscription_json(req.base, s).items() if k != "@odata.context"} for s in subs]
    return json_response(req, {"@odata.context": f"{req.base}/v1.0/$metadata#subscriptions", "value": value})


@route("GET", "subscriptions/*")
async def get_subscription(req: GraphReq) -> Response:
    return json_response(req, subscription_json(req.base, _own(req, req.segments[1])))


def _reauthorize(req: GraphReq, sub: Subscription) -> None:
    sub.authorized_until = req.token.expires
    sub.reauth_sent = False
    req.ctx.notifier.release_held(sub.id)


@route("PATCH", "subscriptions/*")
async def renew(req: GraphReq) -> Response:
    req.require(*READ_MAIL)
    _rate(req, "write")
    sub = _own(req, req.segments[1])
    body = await req.json_body()
    if "lifecycleNotificationUrl" in body:
        raise GraphError(
            400,
            "InvalidRequest",
            "lifecycleNotificationUrl cannot be updated; delete the subscription and create a new one.",
        )
    expires = _expiry(req, body["expirationDateTime"]) if "expirationDateTime" in body else None
    new_url = check_url(body["notificationUrl"], "notificationUrl") if "notificationUrl" in body else None
    if new_url and new_url != sub.notification_url:
        s = req.ctx.settings
        if not await validate_endpoint(new_url, s.validation_timeout_seconds, s.notification_verify_tls):
            raise _validation_failed(new_url)
    with req.ctx.store.lock:
        if expires is not None:
            sub.expires = expires
        if new_url:
            sub.notification_url = new_url
        _reauthorize(req, sub)
        req.ctx.store.changed()
    return json_response(req, subscription_json(req.base, sub))


@route("DELETE", "subscriptions/*")
async def delete(req: GraphReq) -> Response:
    _rate(req, "write")
    sub = _own(req, req.segments[1])
    with req.ctx.store.lock:
        req.ctx.store.state.subscriptions.pop(sub.id, None)
        req.ctx.notifier.forget(sub.id)
        req.ctx.store.changed()
    return Response(status_code=204)


@route("POST", "subscriptions/*/reauthorize")
async def reauthorize(req: GraphReq) -> Response:
    req.require(*READ_MAIL)
    _rate(req, "write")
    sub = _own(req, req.segments[1])
    with req.ctx.store.lock:
        _reauthorize(req, sub)
        req.ctx.store.changed()
    return Response(status_code=204)
