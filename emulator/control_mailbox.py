"""Control API for mailbox contents: folders, delivering, moving, changing and deleting messages, and
what a mailbox sent."""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
from typing import Any

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse, Response

from emulator import ids
from emulator.context import ctx_of
from emulator.control_common import control_router, mailbox
from emulator.control_models import DeliverIn, FolderIn, MoveIn, UpdateIn, parse
from emulator.delivery import standard_headers
from emulator.models import User
from emulator.serialize import message_json

router = control_router()


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


@router.get("/users/{email}/folders")
async def list_folders(email: str, request: Request) -> list[dict[str, Any]]:
    user = mailbox(request, email)
    return [
        {"id": f.id, "display_name": f.display_name, "well_known": f.well_known, "parent_id": f.parent_id}
        for f in user.folders.values()
    ]


@router.post("/users/{email}/folders", status_code=201)
async def add_folder(email: str, body: FolderIn, request: Request) -> dict[str, Any]:
    store = ctx_of(request).store
    user = mailbox(request, email)
    parent = (
        store.resolve_folder(user, body.parent) if body.parent else store.well_known(user, "msgfolderroot")
    )
    if parent is None:
        raise HTTPException(404, "No such parent folder.")
    folder = store.add_folder(user, body.display_name, parent.id)
    return {"id": folder.id, "display_name": folder.display_name, "parent_id": folder.parent_id}


@router.post("/users/{email}/messages", status_code=201)
async def deliver(email: str, request: Request) -> Response:
    # The hot path of benchmarks: body parsed and response encoded here, not by FastAPI's generic layer.
    user = mailbox(request, email)  # an unknown mailbox is 404 whatever the body says
    try:
        raw = json.loads(await request.body())
    except ValueError:
        raise HTTPException(400, "The body must be a JSON object.") from None
    return JSONResponse(deliver_message(request, user, parse(DeliverIn, raw)), status_code=201)


def deliver_message(request: Request, user: User, body: DeliverIn) -> dict[str, Any]:
    """Puts the message into the user's mailbox (notifying subscriptions as Graph would) and returns its
    control-API JSON; the control API's delivery and the emulator's mail page (mail_pages.py) share it.
    Raises HTTPException(422) for an attachment that is not base64."""
    store = ctx_of(request).store
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
    return _message_out(user, msg)


@router.get("/users/{email}/messages")
async def list_messages(email: str, request: Request) -> list[dict[str, Any]]:
    user = mailbox(request, email)
    return [_message_out(user, m) for m in sorted(user.messages.values(), key=lambda m: m.received)]


def _msg(request: Request, user: User, message_id: str) -> Any:
    msg = ctx_of(request).store.find_message(user, message_id)
    if msg is None:
        raise HTTPException(404, "No such message.")
    return msg


@router.post("/users/{email}/messages/{message_id}/move")
async def move(email: str, message_id: str, body: MoveIn, request: Request) -> dict[str, Any]:
    store = ctx_of(request).store
    user = mailbox(request, email)
    msg = store.move_message(
        user, _msg(request, user, message_id), store.folder_for_control(user, body.folder)
    )
    return _message_out(user, msg)


@router.patch("/users/{email}/messages/{message_id}")
async def update(email: str, message_id: str, body: UpdateIn, request: Request) -> dict[str, Any]:
    store = ctx_of(request).store
    user = mailbox(request, email)
    msg = _msg(request, user, message_id)
    changes = body.model_dump(exclude_none=True)
    if changes:
        store.update_message(user, msg, **changes)
    return _message_out(user, msg)


@router.delete("/users/{email}/messages/{message_id}", status_code=204)
async def hard_delete(email: str, message_id: str, request: Request) -> Response:
    store = ctx_of(request).store
    user = mailbox(request, email)
    store.delete_message(user, _msg(request, user, message_id))
    return Response(status_code=204)


@router.get("/users/{email}/sent")
async def sent(email: str, request: Request) -> list[dict[str, Any]]:
    return [r.model_dump() for r in mailbox(request, email).sent]
