"""`/_emulator/*`: the control API for tests and demos (loopback clients only). See README.md."""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import ipaddress
import json
import time
from typing import Any, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field, ValidationError, field_validator

from emulator import ids
from emulator.context import ctx_of
from emulator.delivery import standard_headers
from emulator.delta import expire_user_states
from emulator.models import Consent, Faults, User
from emulator.serialize import message_json
from emulator.settings import AppRegistration
from emulator.store import NotFound
from emulator.sweeper import remove_subscription, require_reauthorization


async def loopback_only(request: Request) -> None:  # async: no threadpool hop per request
    host = request.client.host if request.client else ""
    try:
        ok = ipaddress.ip_address(host).is_loopback
    except ValueError:
        ok = host == "localhost"
    if not ok:
        raise HTTPException(403, "The control API answers loopback clients only.")


router = APIRouter(prefix="/_emulator", dependencies=[Depends(loopback_only)])


_M = TypeVar("_M", bound=BaseModel)


class UserIn(BaseModel):
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    display_name: str = Field("", max_length=256)


class AddressIn(BaseModel):
    name: str = ""
    address: str = Field(pattern=r"^[^@\s<>]+@[^@\s<>]+$")


def _address(value: Any) -> Any:
    if isinstance(value, str):
        name, addr = email.utils.parseaddr(value)
        return {"name": name, "address": addr or value}
    return value


class AttachmentIn(BaseModel):
    name: str = Field(min_length=1, max_length=255)
    content_type: str = "application/octet-stream"
    content_base64: str = ""
    content: str | None = None  # plain text convenience, encoded for you
    is_inline: bool = False


class DeliverIn(BaseModel):
    folder: str = "inbox"
    from_: AddressIn = Field(alias="from")
    to: list[AddressIn] = Field(default_factory=list)
    cc: list[AddressIn] = Field(default_factory=list)
    bcc: list[AddressIn] = Field(default_factory=list)
    reply_to: list[AddressIn] = Field(default_factory=list)
    subject: str = Field("", max_length=1000)
    body: str = Field("", max_length=5_000_000)
    body_type: Literal["html", "text"] = "text"
    importance: Literal["low", "normal", "high"] = "normal"
    attachments: list[AttachmentIn] = Field(default_factory=list)
    conversation_id: str | None = None
    in_reply_to: str | None = None
    internet_message_id: str | None = None
    headers: dict[str, str] | list[dict[str, str]] = Field(default_factory=dict)
    received: dt.datetime | None = None
    is_read: bool = False
    categories: list[str] = Field(default_factory=list)

    model_config = {"populate_by_name": True}

    @field_validator("from_", mode="before")
    @classmethod
    def _from(cls, v: Any) -> Any:
        return _address(v)

    @field_validator("to", "cc", "bcc", "reply_to", mode="before")
    @classmethod
    def _list(cls, v: Any) -> Any:
        if isinstance(v, (str, dict)):
            v = [v]
        return [_address(x) for x in v] if isinstance(v, list) else v


class MoveIn(BaseModel):
    folder: str = Field(min_length=1)


class UpdateIn(BaseModel):
    is_read: bool | None = None
    subject: str | None = None
    categories: list[str] | None = None
    importance: Literal["low", "normal", "high"] | None = None


class RevokeIn(BaseModel):
    reason: Literal["consent_revoked", "admin_reset", "inactive", "mfa_required"]


class ConsentIn(BaseModel):
    email: str | None = Field(None, max_length=320)
    scopes: list[str] | None = None
    deny: bool = False


class FolderIn(BaseModel):
    display_name: str = Field(min_length=1, max_length=255)
    parent: str | None = None


def _user(request: Request, email: str) -> User:
    try:
        return ctx_of(request).store.require_user(email)
    except NotFound:
        raise HTTPException(404, f"No mailbox {email}.") from None


def _message_out(user: User, msg: Any) -> dict[str, Any]:
    out = message_json(msg, user, None, immutable=True, text_body=False)
    folder = user.folders.get(msg.folder_id)
    return {
        **out,
        "immutableId": msg.immutable_id,
        "restId": msg.rest_id,
        "folder": folder.well_known or folder.display_name if folder else None,
        "internetMessageHeaders": [{"name": k, "value": v} for k, v in msg.headers],
    }


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


@router.get("/users/{email}/folders")
async def list_folders(email: str, request: Request) -> list[dict[str, Any]]:
    user = _user(request, email)
    return [
        {"id": f.id, "display_name": f.display_name, "well_known": f.well_known, "parent_id": f.parent_id}
        for f in user.folders.values()
    ]


@router.post("/users/{email}/folders", status_code=201)
async def add_folder(email: str, body: FolderIn, request: Request) -> dict[str, Any]:
    store = ctx_of(request).store
    user = _user(request, email)
    parent = (
        store.resolve_folder(user, body.parent) if body.parent else store.well_known(user, "msgfolderroot")
    )
    if parent is None:
        raise HTTPException(404, "No such parent folder.")
    folder = store.add_folder(user, body.display_name, parent.id)
    return {"id": folder.id, "display_name": folder.display_name, "parent_id": folder.parent_id}


def _parse(model: type[_M], raw: Any) -> _M:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_input=False)) from None


@router.post("/users/{email}/messages", status_code=201)
async def deliver(email: str, request: Request) -> Response:
    # The hot path of benchmarks: body parsed and response encoded here, not by FastAPI's generic layer.
    store = ctx_of(request).store
    user = _user(request, email)  # an unknown mailbox is 404 whatever the body says
    try:
        raw = json.loads(await request.body())
    except ValueError:
        raise HTTPException(400, "The body must be a JSON object.") from None
    body = _parse(DeliverIn, raw)
    folder = store.folder_for_control(user, body.folder)
    received = body.received
    if received is not None and received.tzinfo is None:
        received = received.replace(tzinfo=dt.UTC)  # Graph times are UTC
    when = received.timestamp() if received else time.time()
    domain = body.from_.address.split("@")[-1]
    imid = body.internet_message_id or f"<{ids.guid()}@{domain}>"
    extra = (
        list(body.headers.items())
        if isinstance(body.headers, dict)
        else [(h.get("name", ""), h.get("value", "")) for h in body.headers]
    )
    conversation = body.conversation_id or ""
    references = None
    if body.in_reply_to:
        original = store.find_by_internet_id(user, body.in_reply_to)
        if original is not None and not conversation:
            conversation = original.conversation_id
        references = body.in_reply_to
    to = [(a.name, a.address) for a in body.to]
    cc = [(a.name, a.address) for a in body.cc]
    headers = standard_headers(
        (body.from_.name, body.from_.address),
        to,
        cc,
        body.subject,
        imid,
        body.in_reply_to,
        references,
        body.body_type,
        when,
        extra,
    )
    attachments = []
    for a in body.attachments:
        content = a.content_base64 or (base64.b64encode(a.content.encode()).decode() if a.content else "")
        try:
            size = len(base64.b64decode(content, validate=True)) if content else 0
        except ValueError:
            raise HTTPException(422, f"Attachment {a.name!r}: content_base64 is not valid base64.") from None
        attachments.append(
            {
                "id": ids.opaque("AAMkAGI2AttA", 24),
                "name": a.name,
                "content_type": a.content_type,
                "content_base64": content,
                "size": size,
                "is_inline": a.is_inline,
            }
        )
    msg = store.add_message(
        user,
        folder,
        subject=body.subject,
        body=body.body,
        body_type=body.body_type,
        from_name=body.from_.name,
        from_address=body.from_.address,
        to=to,
        cc=cc,
        bcc=[(a.name, a.address) for a in body.bcc],
        reply_to=[(a.name, a.address) for a in body.reply_to],
        importance=body.importance,
        conversation_id=conversation,
        internet_message_id=imid,
        headers=headers,
        attachments=attachments,
        categories=body.categories,
        is_read=body.is_read,
        received=when,
        sent=when,
    )
    return JSONResponse(_message_out(user, msg), status_code=201)


@router.get("/users/{email}/messages")
async def list_messages(email: str, request: Request) -> list[dict[str, Any]]:
    user = _user(request, email)
    return [_message_out(user, m) for m in sorted(user.messages.values(), key=lambda m: m.received)]


def _msg(request: Request, user: User, message_id: str) -> Any:
    msg = ctx_of(request).store.find_message(user, message_id)
    if msg is None:
        raise HTTPException(404, "No such message.")
    return msg


@router.post("/users/{email}/messages/{message_id}/move")
async def move(email: str, message_id: str, body: MoveIn, request: Request) -> dict[str, Any]:
    store = ctx_of(request).store
    user = _user(request, email)
    msg = store.move_message(
        user, _msg(request, user, message_id), store.folder_for_control(user, body.folder)
    )
    return _message_out(user, msg)


@router.patch("/users/{email}/messages/{message_id}")
async def update(email: str, message_id: str, body: UpdateIn, request: Request) -> dict[str, Any]:
    store = ctx_of(request).store
    user = _user(request, email)
    msg = _msg(request, user, message_id)
    changes = body.model_dump(exclude_none=True)
    if changes:
        store.update_message(user, msg, **changes)
    return _message_out(user, msg)


@router.delete("/users/{email}/messages/{message_id}", status_code=204)
async def hard_delete(email: str, message_id: str, request: Request) -> Response:
    store = ctx_of(request).store
    user = _user(request, email)
    store.delete_message(user, _msg(request, user, message_id))
    return Response(status_code=204)


@router.get("/users/{email}/sent")
async def sent(email: str, request: Request) -> list[dict[str, Any]]:
    return [r.model_dump() for r in _user(request, email).sent]


@router.post("/users/{email}/revoke")
async def revoke(email: str, body: RevokeIn, request: Request) -> dict[str, Any]:
    ctx = ctx_of(request)
    store = ctx.store
    user = _user(request, email)
    with store.lock:
        count = 0
        for rt in store.state.refresh_tokens.values():
            if rt.user_id == user.id and not rt.spent:
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
    return {"expired": expire_user_states(ctx_of(request).store, _user(request, email))}


@router.post("/consent", status_code=201)
async def consent(body: ConsentIn, request: Request) -> dict[str, int]:
    if not body.deny and not body.email:
        raise HTTPException(422, "email is required unless deny is true.")
    store = ctx_of(request).store
    if body.email and store.user_by_email(body.email) is None:
        raise HTTPException(404, f"No mailbox {body.email}; create it with POST /_emulator/users first.")
    store.consents.append(Consent(email=body.email or "", scopes=body.scopes, deny=body.deny))
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
        ctx.notifier.held.clear()
        ctx.notifier.pending.clear()
        store.changed()
    return Response(status_code=204)
