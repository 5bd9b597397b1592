"""Graph handlers: /me, mail folders, messages (list, get, update, move, delete, attachments)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi.responses import Response

from emulator.errors import GraphError
from emulator.graph import GraphReq, json_response, route
from emulator.models import Folder, Message
from emulator.odata import parse_filter, parse_int, parse_orderby
from emulator.scopes import READ_MAIL, READ_MAIL_BODIES, READ_USER
from emulator.serialize import folder_json, message_json, user_json

NOT_FOUND = "The specified object was not found in the store."


def folder_or_404(req: GraphReq, ref: str) -> Folder:
    folder = req.ctx.store.resolve_folder(req.user, ref)
    if folder is None:
        raise GraphError(404, "ErrorItemNotFound", NOT_FOUND)
    return folder


def message_or_404(req: GraphReq, ref: str) -> Message:
    req.message_id = ref
    msg = req.ctx.store.find_message(req.user, ref)
    if msg is None:
        raise GraphError(404, "ErrorItemNotFound", NOT_FOUND)
    return msg


def render(req: GraphReq, msg: Message, select: list[str] | None) -> dict[str, Any]:
    bodies = any(s in req.token.scopes for s in READ_MAIL_BODIES)
    return message_json(msg, req.user, select, req.immutable, req.text_body, bodies=bodies)


def _context(req: GraphReq, tail: str) -> str:
    return f"{req.base}/v1.0/$metadata#users('{req.user.id}')/{tail}"


@route("GET", "me")
async def get_me(req: GraphReq) -> Response:
    req.require(*READ_USER)
    return json_response(
        req, {"@odata.context": f"{req.base}/v1.0/$metadata#users/$entity", **user_json(req.user)}
    )


def _page(req: GraphReq, items: list[Any], default_top: int) -> tuple[list[Any], str | None]:
    q = req.query
    top = max(parse_int(q.get("$top"), "$top", default_top, 1000), 1)
    skip = parse_int(q.get("$skip"), "$skip", 0, 10**9)
    page = items[skip : skip + top]
    next_link = None
    if skip + top < len(items):
        params = {k: v for k, v in req.request.query_params.items() if k.lower() not in ("$skip", "$top")}
        params["$top"] = str(top)
        params["$skip"] = str(skip + top)
        next_link = f"{req.base}{req.request.url.path}?{urlencode(params)}"
    return page, next_link


def _folders_response(req: GraphReq, folders: list[Folder], context: str) -> Response:
    store = req.ctx.store
    if req.query.get("includehiddenfolders", "").lower() != "true":
        folders = [f for f in folders if not f.hidden]
    page, next_link = _page(req, folders, 10)
    body: dict[str, Any] = {
        "@odata.context": _context(req, context),
        "value": [folder_json(store, req.user, f) for f in page],
    }
    if next_link:
        body["@odata.nextLink"] = next_link
    return json_response(req, body)


@route("GET", "me/mailfolders")
async def list_folders(req: GraphReq) -> Response:
    req.require(*READ_MAIL)
    root = req.ctx.store.well_known(req.user, "msgfolderroot")
    children = [f for f in req.user.folders.values() if f.parent_id == root.id]
    return _folders_response(req, children, "mailFolders")


@route("GET", "me/mailfolders/*")
async def get_folder(req: GraphReq) -> Response:
    req.require(*READ_MAIL)
    folder = folder_or_404(req, req.segments[1])
    return json_response(
        req,
        {
            "@odata.context": _context(req, "mailFolders/$entity"),
            **folder_json(req.ctx.store, req.user, folder),
        },
    )


@route("GET", "me/mailfolders/*/childfolders")
async def child_folders(req: GraphReq) -> Response:
    req.require(*READ_MAIL)
    parent = folder_or_404(req, req.segments[1])
    children = [f for f in req.user.folders.values() if f.parent_id == parent.id]
    return _folders_response(req, children, f"mailFolders('{parent.id}')/childFolders")


async def _create_folder(req: GraphReq, parent: Folder) -> Response:
    req.require("Mail.ReadWrite")
    body = await req.json_body()
    name = body.get("displayName")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise GraphError(400, "ErrorInvalidRequest", "The displayName property is required.")
    if any(
        f.parent_id == parent.id and f.display_name.lower() == name.lower() for f in req.user.folders.values()
    ):
        raise GraphError(409, "ErrorFolderExists", "A folder with the specified name already exists.")
    folder = req.ctx.store.add_folder(req.user, name.strip(), parent.id)
    return json_response(
        req,
        {
            "@odata.context": _context(req, "mailFolders/$entity"),
            **folder_json(req.ctx.store, req.user, folder),
        },
        201,
    )


@route("POST", "me/mailfolders")
async def create_folder(req: GraphReq) -> Response:
    return await _create_folder(req, req.ctx.store.well_known(req.user, "msgfolderroot"))


@route("POST", "me/mailfolders/*/childfolders")
async def create_child_folder(req: GraphReq) -> Response:
    return await _create_folder(req, folder_or_404(req, req.segments[1]))


def _list_messages(req: GraphReq, msgs: list[Message], context: str) -> Response:
    req.require(*READ_MAIL)
    select = req.select_param()
    pred = parse_filter(req.query.get("$filter"))
    key, desc = parse_orderby(req.query.get("$orderby"))
    if pred is not None:
        msgs = [m for m in msgs if pred(m)]
    msgs.sort(key=lambda m: (key(m), m.arrival), reverse=desc)
    page, next_link = _page(req, msgs, 10)
    body: dict[str, Any] = {
        "@odata.context": _context(req, context),
        "value": [render(req, m, select) for m in page],
    }
    if next_link:
        body["@odata.nextLink"] = next_link
    return json_response(req, body)


@route("GET", "me/mailfolders/*/messages")
async def folder_messages(req: GraphReq) -> Response:
    req.require(*READ_MAIL)
    folder = folder_or_404(req, req.segments[1])
    msgs = req.ctx.store.folder_messages(req.user, folder.id)
    return _list_messages(req, msgs, f"mailFolders('{req.segments[1]}')/messages")


@route("GET", "me/messages")
async def all_messages(req: GraphReq) -> Response:
    req.require(*READ_MAIL)
    hidden = {f.id for f in req.user.folders.values() if f.well_known in ("recoverableitemsdeletions",)}
    msgs = [m for m in req.user.messages.values() if m.folder_id not in hidden]
    return _list_messages(req, msgs, "messages")


async def _get_message(req: GraphReq, ref: str, folder_ref: str | None = None) -> Response:
    req.require(*READ_MAIL)
    msg = message_or_404(req, ref)
    if folder_ref is not None and folder_or_404(req, folder_ref).id != msg.folder_id:
        raise GraphError(404, "ErrorItemNotFound", NOT_FOUND)
    select = req.select_param()
    return json_response(
        req, {"@odata.context": _context(req, "messages/$entity"), **render(req, msg, select)}
    )


@route("GET", "me/messages/*")
async def get_message(req: GraphReq) -> Response:
    return await _get_message(req, req.segments[1])


@route("GET", "me/mailfolders/*/messages/*")
async def get_folder_message(req: GraphReq) -> Response:
    if req.segments[3].lower() == "delta":
        from emulator.delta import delta

        return await delta(req)
    return await _get_message(req, req.segments[3], req.segments[1])


_PATCHABLE = {
    "isread": "is_read",
    "categories": "categories",
    "importance": "importance",
    "subject": "subject",
}


@route("PATCH", "me/messages/*")
async def patch_message(req: GraphReq) -> Response:
    req.require("Mail.ReadWrite")
    msg = message_or_404(req, req.segments[1])
    body = await req.json_body()
    changes: dict[str, Any] = {}
    for key, value in body.items():
        attr = _PATCHABLE.get(key.lower())
        if attr is None:
            continue
        if attr == "is_read" and not isinstance(value, bool):
            raise GraphError(400, "ErrorInvalidRequest", "isRead must be a boolean.")
        if attr == "categories" and not (isinstance(value, list) and all(isinstance(c, str) for c in value)):
            raise GraphError(400, "ErrorInvalidRequest", "categories must be a list of strings.")
        if attr == "importance" and value not in ("low", "normal", "high"):
            raise GraphError(400, "ErrorInvalidRequest", "importance must be low, normal or high.")
        if attr == "subject" and not isinstance(value, str):
            raise GraphError(400, "ErrorInvalidRequest", "subject must be a string.")
        changes[attr] = value
    if changes:
        req.ctx.store.update_message(req.user, msg, **changes)
    return json_response(req, {"@odata.context": _context(req, "messages/$entity"), **render(req, msg, None)})


@route("DELETE", "me/messages/*")
async def delete_message(req: GraphReq) -> Response:
    req.require("Mail.ReadWrite")
    msg = message_or_404(req, req.segments[1])
    store = req.ctx.store
    deleted = store.well_known(req.user, "deleteditems")
    if msg.folder_id == deleted.id:
        store.delete_message(req.user, msg)
    else:
        store.move_message(req.user, msg, deleted)
    return Response(status_code=204)


@route("POST", "me/messages/*/move")
async def move_message(req: GraphReq) -> Response:
    req.require("Mail.ReadWrite")
    msg = message_or_404(req, req.segments[1])
    body = await req.json_body()
    dest = body.get("destinationId")
    if not isinstance(dest, str) or not dest:
        raise GraphError(400, "ErrorInvalidRequest", "The destinationId property is required.")
    folder = folder_or_404(req, dest)
    req.ctx.store.move_message(req.user, msg, folder)
    return json_response(
        req, {"@odata.context": _context(req, "messages/$entity"), **render(req, msg, None)}, 201
    )


@route("GET", "me/messages/*/attachments")
async def attachments(req: GraphReq) -> Response:
    req.require(*READ_MAIL_BODIES)
    msg = message_or_404(req, req.segments[1])
    value = [
        {
            "@odata.type": "#microsoft.graph.fileAttachment",
            "id": a.id,
            "lastModifiedDateTime": None,
            "name": a.name,
            "contentType": a.content_type,
            "size": a.size,
            "isInline": a.is_inline,
            "contentId": None,
            "contentLocation": None,
            "contentBytes": a.content_base64,
        }
        for a in msg.attachments
    ]
    return json_response(
        req, {"@odata.context": _context(req, f"messages('{req.segments[1]}')/attachments"), "value": value}
    )
