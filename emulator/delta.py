"""`GET /me/mailFolders/{id}/messages/delta`: nextLink/deltaLink rounds, @removed entries, 410 on
expired or unknown state. Sync state lives server-side, keyed by the opaque token in the link."""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import urlencode

from fastapi.responses import Response

from emulator.errors import GraphError
from emulator.graph import GraphReq, json_response
from emulator.models import DeltaState, Message, User
from emulator.odata import parse_filter, parse_int, parse_select
from emulator.scopes import READ_MAIL
from emulator.store import Store

MAX_STATES = 20_000
FILTERED_MAX = 5000


def _gone() -> GraphError:
    return GraphError(
        410,
        "syncStateNotFound",
        "The sync state is not found or has expired. Restart the "
        "synchronization without a delta or skip token.",
    )


def _new_token(store: Store, state: DeltaState) -> str:
    token = secrets.token_urlsafe(32)
    state.token = token
    states = store.state.delta_states
    states[token] = state
    if len(states) > MAX_STATES:
        for old in list(states)[: len(states) - MAX_STATES]:
            states.pop(old, None)
    return token


def _pending_for(
    store: Store, user: User, state: DeltaState, since: int | None
) -> tuple[list[str], list[str]]:
    """Ids to return (newest first) and removed entries (`immutable|rest`) after seq `since`."""
    pred = parse_filter(state.filter, delta=True)
    msgs = [
        m
        for m in user.messages.values()
        if m.folder_id == state.folder_id and (since is None or m.seq > since) and (pred is None or pred(m))
    ]
    msgs.sort(key=lambda m: (m.received, m.arrival), reverse=True)
    if pred is not None:
        msgs = msgs[:FILTERED_MAX]  # Graph: a $filter'ed delta returns at most 5,000 messages
    removed: list[str] = []
    if since is not None:
        present = {m.immutable_id for m in user.messages.values() if m.folder_id == state.folder_id}
        seen: set[str] = set()
        for r in user.removals:
            if (
                r.folder_id == state.folder_id
                and r.seq > since
                and r.ids[0] not in present
                and r.ids[0] not in seen
            ):
                seen.add(r.ids[0])
                removed.append(f"{r.ids[0]}|{r.ids[1]}")
    return [m.immutable_id for m in msgs], removed


def _item(req: GraphReq, msg: Message, select: list[str] | None) -> dict[str, Any]:
    from emulator.mail import render

    return {"@odata.type": "#microsoft.graph.message", **render(req, msg, select)}


async def delta(req: GraphReq) -> Response:
    req.require(*READ_MAIL)
    store = req.ctx.store
    q = req.query
    folder_ref = req.segments[1]
    folder = store.resolve_folder(req.user, folder_ref)
    if folder is None:
        raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
    now = time.time()
    lifetime = req.ctx.settings.delta_token_lifetime_seconds
    skip_token, delta_token = q.get("$skiptoken"), q.get("$deltatoken")
    with store.lock:
        if skip_token or delta_token:
            prev = store.state.delta_states.get(skip_token or delta_token or "")
            if (
                prev is None
                or prev.user_id != req.user.id
                or prev.folder_id != folder.id
                or now - prev.created > lifetime
            ):
                raise _gone()
            if skip_token and prev.pending is not None:
                state = prev.model_copy(deep=True)
            else:
                state = prev.model_copy(deep=True)
                state.pending, state.pending_removed = _pending_for(store, req.user, state, prev.seq)
                state.final_seq = req.user.seq
        else:
            select = parse_select(q.get("$select"))
            filt = q.get("$filter")
            parse_filter(filt, delta=True)  # validates
            size = parse_int(
                req.prefer.get("odata.maxpagesize") or q.get("$top"), "odata.maxpagesize", 10, 1000
            )
            state = DeltaState(
                token="",
                user_id=req.user.id,
                folder_id=folder.id,
                seq=0,
                created=now,
                select=select,
                filter=filt,
                page_size=max(size, 1),
            )
            state.pending, state.pending_removed = _pending_for(store, req.user, state, None)
            state.final_seq = req.user.seq
        if req.prefer.get("odata.maxpagesize"):
            state.page_size = max(
                parse_int(req.prefer["odata.maxpagesize"], "odata.maxpagesize", 10, 1000), 1
            )
            req.applied.append(f"odata.maxpagesize={state.page_size}")
        req.select = state.select
        pending = state.pending or []
        removed = state.pending_removed or []
        page_ids = pending[: state.page_size]
        room = state.page_size - len(page_ids)
        page_removed = removed[:room] if room > 0 else []
        state.pending = pending[len(page_ids) :]
        state.pending_removed = removed[len(page_removed) :]
        values: list[dict[str, Any]] = []
        for mid in page_ids:
            msg = req.user.messages.get(mid)
            if msg is not None:
                values.append(_item(req, msg, state.select))
        immutable = req.immutable
        for entry in page_removed:
            imm, rest = entry.split("|", 1)
            values.append(
                {
                    "@odata.type": "#microsoft.graph.message",
                    "id": imm if immutable else rest,
                    "@removed": {"reason": "deleted"},
                }
            )
        link_base = f"{req.base}{req.request.url.path}"
        body: dict[str, Any] = {
            "@odata.context": f"{req.base}/v1.0/$metadata#Collection(message)",
            "value": values,
        }
        if state.pending or state.pending_removed:
            state.created = now
            token = _new_token(store, state)
            body["@odata.nextLink"] = f"{link_base}?{urlencode({'$skiptoken': token})}"
        else:
            final = DeltaState(
                token="",
                user_id=state.user_id,
                folder_id=state.folder_id,
                seq=state.final_seq if state.final_seq is not None else req.user.seq,
                created=now,
                select=state.select,
                filter=state.filter,
                page_size=state.page_size,
            )
            token = _new_token(store, final)
            body["@odata.deltaLink"] = f"{link_base}?{urlencode({'$deltatoken': token})}"
        store.changed()
    return json_response(req, body)


def expire_user_states(store: Store, user: User) -> int:
    with store.lock:
        count = 0
        for state in store.state.delta_states.values():
            if state.user_id == user.id:
                state.created = 0.0
                count += 1
        store.changed()
        return count
