"""The expected answer of every route of the app to every kind of caller (tests/api/access/world.py).

A row is keyed by the route's method and path as the app declares it; `request` builds the call from the
world's ids; `expect` gives the status per caller; `reveals` names the callers who may see the owner's
private things in the answer (everyone else's answer must not contain any of them).

404 rather than 403 wherever the caller would otherwise learn that another user's connection, recipe,
board or item exists. Where the app would next ask a server that the matrix leaves down (Temporal,
Microsoft, Vault), the expected status is what the route answers then (503, 502), stated per row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.api.access.world import NOWHERE, World
from tests.recipes.support import recipe_body

UNAUTHENTICATED = {"anonymous": 401, "revoked": 401, "expired": 401}
SIGNED_OUT_PAGE = {"anonymous": 303, "revoked": 303, "expired": 303}


def owner_only(ok: int) -> dict[str, int]:
    """The owner's own resource: any other user is told it does not exist."""
    return {"owner": ok, "member": 404, "admin": 404, "outsider": 404, **UNAUTHENTICATED}


def owner_page(ok: int) -> dict[str, int]:
    return {"owner": ok, "member": 404, "admin": 404, "outsider": 404, **SIGNED_OUT_PAGE}


def signed_in(ok: int) -> dict[str, int]:
    return {"owner": ok, "member": ok, "admin": ok, "outsider": ok, **UNAUTHENTICATED}


def signed_in_page(ok: int) -> dict[str, int]:
    return {"owner": ok, "member": ok, "admin": ok, "outsider": ok, **SIGNED_OUT_PAGE}


def admins(ok: int) -> dict[str, int]:
    return {"owner": 403, "member": 403, "admin": ok, "outsider": 403, **UNAUTHENTICATED}


def user_of_account(ok: int) -> dict[str, int]:
    """A user's own record: themselves and their account's admins; a colleague is refused (the user's
    existence is no secret within the account), another account's user is not found."""
    return {"owner": ok, "member": 403, "admin": ok, "outsider": 404, **UNAUTHENTICATED}


def everyone(ok: int) -> dict[str, int]:
    return dict.fromkeys(("owner", "member", "admin", "outsider", "anonymous", "revoked", "expired"), ok)


@dataclass(frozen=True)
class Call:
    method: str
    url: str
    json: Any = None
    params: dict[str, str] | None = None
    data: dict[str, str] | None = None


@dataclass(frozen=True)
class Row:
    request: Callable[[World, str], Call]
    expect: dict[str, int]
    reveals: frozenset[str] = field(default_factory=lambda: frozenset({"owner"}))
    why: str = ""


def get(url: str) -> Callable[[World, str], Call]:
    return lambda w, role: Call("GET", url.format(**w.ids))


def call(method: str, url: str, json: Any = None) -> Callable[[World, str], Call]:
    return lambda w, role: Call(method, url.format(**w.ids), json=json)


def _signin(w: World, role: str) -> Call:
    return Call("POST", "/signin", data={"token": w.tokens[role] or ""})


def _new_recipe(w: World, role: str) -> Call:
    return Call("POST", "/api/recipes", json=recipe_body(w["connection"], w["board"]))


def _retry_failed(w: World, role: str) -> Call:
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    return Call("POST", f"/api/connections/{w['connection']}/retry-failed", json={"since": since})


def _form(url: str, data: dict[str, str]) -> Callable[[World, str], Call]:
    """A page's form post (the CSRF token is for cookie sessions; the matrix sends a bearer token)."""
    return lambda w, role: Call("POST", url.format(**w.ids), data=data)


def _recipe_form(url: str) -> Callable[[World, str], Call]:
    """The recipe pages' form as a browser posts it: an email recipe on the owner's mailbox and board."""
    return lambda w, role: Call(
        "POST",
        url.format(**w.ids),
        data={
            "kind": "email_item",
            "connection_id": w["connection"],
            "name": "A page recipe",
            "enabled": "on",
            "board": w["board"],
            "group": "New",
            "item_name": "{subject}",
        },
    )


_PAYLOADS: dict[str, list[Any]] = {"payloads": []}
_BOARD = {"name": "Another", "groups": ["New"]}

TABLE: dict[tuple[str, str], Row] = {
    # --- documentation and health: public, the same for everyone --------------------------------------
    ("GET", "/openapi.json"): Row(get("/openapi.json"), everyone(200)),
    ("GET", "/docs"): Row(get("/docs"), everyone(200)),
    ("GET", "/docs/oauth2-redirect"): Row(get("/docs/oauth2-redirect"), everyone(200)),
    ("GET", "/redoc"): Row(get("/redoc"), everyone(200)),
    ("GET", "/healthz"): Row(get("/healthz"), everyone(200)),
    # Counts and the outbox depth only: no id, mailbox or content (tests/webhooks/test_webhook_metrics.py).
    ("GET", "/metrics"): Row(get("/metrics"), everyone(200)),
    ("GET", "/readyz"): Row(get("/readyz"), everyone(503), why="Temporal, Vault and Microsoft are down"),
    ("GET", "/static"): Row(get("/static/app.css"), everyone(200)),
    # --- sign-in and pages --------------------------------------------------------------------------
    ("GET", "/signin"): Row(get("/signin"), everyone(200)),
    ("POST", "/signin"): Row(
        _signin,
        {"owner": 303, "member": 303, "admin": 303, "outsider": 303, **UNAUTHENTICATED},
        why="the body carries the caller's token: a revoked or expired one signs nobody in",
    ),
    ("POST", "/signout"): Row(call("POST", "/signout"), everyone(303)),
    ("GET", "/"): Row(get("/"), everyone(200)),
    ("GET", "/connections"): Row(get("/connections"), signed_in_page(200)),
    ("GET", "/connections/{connection_id}"): Row(get("/connections/{connection}"), owner_page(200)),
    ("GET", "/connections/{connection_id}/activity"): Row(
        get("/connections/{connection}/activity"), owner_page(200)
    ),
    ("POST", "/connections/{connection_id}/reconnect"): Row(
        call("POST", "/connections/{connection}/reconnect"),
        owner_page(502),
        why="Microsoft's sign-in is down",
    ),
    ("GET", "/connections/{connection_id}/disconnect"): Row(
        get("/connections/{connection}/disconnect"), owner_page(200), why="the confirmation page"
    ),
    ("POST", "/connections/{connection_id}/disconnect"): Row(
        call("POST", "/connections/{connection}/disconnect"), owner_page(503), why="Temporal is down"
    ),
    ("GET", "/connect/outlook"): Row(
        get("/connect/outlook"), everyone(303), why="an old link: sent to /connections, nothing written"
    ),
    ("POST", "/connect/outlook"): Row(
        lambda w, role: Call("POST", "/connect/outlook", data={"scope": "incoming"}),
        {**signed_in(502), **SIGNED_OUT_PAGE},
        why="anyone may connect their own mailbox (by default); Microsoft's sign-in is down",
    ),
    ("GET", "/oauth/callback"): Row(
        get("/oauth/callback"),
        {**signed_in(400), **UNAUTHENTICATED},
        why="no state: the sign-in was never started",
    ),
    # --- users and tokens ---------------------------------------------------------------------------
    ("GET", "/api/me"): Row(get("/api/me"), signed_in(200)),
    ("POST", "/api/users"): Row(
        call("POST", "/api/users", {"email": "new@acme.example", "display_name": "N"}), admins(201)
    ),
    ("GET", "/api/users"): Row(get("/api/users"), admins(200)),
    ("GET", "/api/users/{user_id}"): Row(get("/api/users/{owner}"), user_of_account(200)),
    ("POST", "/api/users/{user_id}/tokens"): Row(
        call("POST", "/api/users/{owner}/tokens", {"name": "laptop"}), user_of_account(201)
    ),
    ("GET", "/api/users/{user_id}/tokens"): Row(get("/api/users/{owner}/tokens"), user_of_account(200)),
    ("DELETE", "/api/users/{user_id}/tokens/{token_id}"): Row(
        call("DELETE", "/api/users/{owner}/tokens/{spare_token}"), user_of_account(204)
    ),
    # --- the account ---------------------------------------------------------------------------------
    ("GET", "/api/account/permissions"): Row(get("/api/account/permissions"), signed_in(200)),
    ("PUT", "/api/account/permissions"): Row(
        call("PUT", "/api/account/permissions", {"create_integrations": "everyone"}), admins(200)
    ),
    ("GET", "/api/account/connections"): Row(
        get("/api/account/connections"), admins(200), reveals=frozenset({"owner", "admin"})
    ),
    ("GET", "/api/audit"): Row(get("/api/audit"), signed_in(200), reveals=frozenset({"owner", "admin"})),
    # --- connections ---------------------------------------------------------------------------------
    ("GET", "/api/connections"): Row(get("/api/connections"), signed_in(200)),
    ("GET", "/api/connections/{connection_id}"): Row(get("/api/connections/{connection}"), owner_only(200)),
    ("DELETE", "/api/connections/{connection_id}"): Row(
        call("DELETE", "/api/connections/{connection}"), owner_only(503), why="Temporal is down"
    ),
    ("POST", "/api/connections/{connection_id}/reconnect"): Row(
        call("POST", "/api/connections/{connection}/reconnect"),
        owner_only(502),
        why="Microsoft's sign-in is down",
    ),
    ("GET", "/api/connections/{connection_id}/folders"): Row(
        get("/api/connections/{connection}/folders"), owner_only(503), why="Graph is down"
    ),
    ("GET", "/api/connections/{connection_id}/activity"): Row(
        get("/api/connections/{connection}/activity"), owner_only(200)
    ),
    ("POST", "/api/connections/{connection_id}/messages/{message_id}/retry"): Row(
        call("POST", "/api/connections/{connection}/messages/AAMkAGI2TG93AAA=/retry"),
        owner_only(409),
        why="the message has no outcome: only a failed message is retried",
    ),
    ("POST", "/api/connections/{connection_id}/retry-failed"): Row(_retry_failed, owner_only(200)),
    ("POST", "/api/connections/{connection_id}/resync"): Row(
        call("POST", "/api/connections/{connection}/resync"), owner_only(503), why="Temporal is down"
    ),
    # --- boards and items (the owner's board is private) ---------------------------------------------
    ("POST", "/api/boards"): Row(call("POST", "/api/boards", _BOARD), signed_in(201)),
    ("GET", "/api/boards"): Row(get("/api/boards"), signed_in(200)),
    ("GET", "/api/boards/{board_id}"): Row(get("/api/boards/{board}"), owner_only(200)),
    ("PATCH", "/api/boards/{board_id}"): Row(
        call("PATCH", "/api/boards/{board}", {"name": "Renamed"}), owner_only(200)
    ),
    ("GET", "/api/boards/{board_id}/items"): Row(get("/api/boards/{board}/items"), owner_only(200)),
    ("POST", "/api/boards/{board_id}/items"): Row(
        call("POST", "/api/boards/{board}/items", {"name": "New item"}), owner_only(201)
    ),
    ("GET", "/api/items/{item_id}"): Row(get("/api/items/{item}"), owner_only(200)),
    ("PATCH", "/api/items/{item_id}"): Row(
        call("PATCH", "/api/items/{item}", {"name": "Renamed"}), owner_only(200)
    ),
    ("POST", "/api/items/{item_id}/updates"): Row(
        call("POST", "/api/items/{item}/updates", {"body": "a note"}), owner_only(201)
    ),
    ("GET", "/api/items/{item_id}/files/{file_id}"): Row(
        get("/api/items/{item}/files/{file}"), owner_only(200)
    ),
    # --- board pages (forms; a bearer token needs no CSRF token, a cookie session does) ---------------
    ("GET", "/boards"): Row(get("/boards"), signed_in_page(200)),
    ("POST", "/boards"): Row(_form("/boards", {"name": "Another", "groups": "New"}), signed_in_page(303)),
    ("GET", "/boards/{board_id}"): Row(get("/boards/{board}"), owner_page(200)),
    ("POST", "/boards/{board_id}/items/{item_id}/change"): Row(
        _form("/boards/{board}/items/{item}/change", {"column": "Preview", "value": "a note"}),
        owner_page(303),
    ),
    ("POST", "/boards/{board_id}/labels"): Row(
        _form("/boards/{board}/labels", {"column": "Preview", "new_label": "Done"}),
        owner_page(422),
        why="the owner's board has no status column: the page says Preview is not one",
    ),
    ("POST", "/boards/{board_id}/columns"): Row(
        _form("/boards/{board}/columns", {"title": "Status", "column_type": "status", "labels": "New\nDone"}),
        owner_page(303),
    ),
    ("POST", "/boards/{board_id}/groups"): Row(
        _form("/boards/{board}/groups", {"title": "Later"}), owner_page(303)
    ),
    # --- recipes -------------------------------------------------------------------------------------
    ("POST", "/api/recipes"): Row(
        _new_recipe,
        owner_only(201),
        why="names the owner's connection: any other user is told it is not found",
    ),
    ("GET", "/api/recipes"): Row(get("/api/recipes"), signed_in(200)),
    ("GET", "/api/recipes/{recipe_id}"): Row(get("/api/recipes/{recipe}"), owner_only(200)),
    ("PATCH", "/api/recipes/{recipe_id}"): Row(
        call("PATCH", "/api/recipes/{recipe}", {"name": "Renamed"}), owner_only(200)
    ),
    ("DELETE", "/api/recipes/{recipe_id}"): Row(call("DELETE", "/api/recipes/{recipe}"), owner_only(204)),
    ("POST", "/api/recipes/{recipe_id}/dry-run"): Row(
        call("POST", "/api/recipes/{recipe}/dry-run", {"limit": 5}), owner_only(503), why="Graph is down"
    ),
    # --- recipe pages (a bearer token needs no CSRF token; the pages' forms are checked in
    # tests/api/test_recipe_pages.py) ----------------------------------------------------------------
    ("GET", "/recipes"): Row(get("/recipes"), signed_in_page(200)),
    ("GET", "/recipes/new"): Row(
        get("/recipes/new"), signed_in_page(200), why="the owner's folders are not listed: Graph is down"
    ),
    ("POST", "/recipes"): Row(
        _recipe_form("/recipes"),
        owner_page(303),
        why="names the owner's connection: any other user's form says it is not found",
    ),
    ("GET", "/recipes/{recipe_id}"): Row(get("/recipes/{recipe}"), owner_page(200)),
    ("POST", "/recipes/{recipe_id}"): Row(_recipe_form("/recipes/{recipe}"), owner_page(303)),
    ("POST", "/recipes/{recipe_id}/enable"): Row(call("POST", "/recipes/{recipe}/enable"), owner_page(303)),
    ("POST", "/recipes/{recipe_id}/disable"): Row(call("POST", "/recipes/{recipe}/disable"), owner_page(303)),
    ("GET", "/recipes/{recipe_id}/delete"): Row(
        get("/recipes/{recipe}/delete"), owner_page(200), why="the confirmation page"
    ),
    ("POST", "/recipes/{recipe_id}/delete"): Row(call("POST", "/recipes/{recipe}/delete"), owner_page(303)),
    ("POST", "/recipes/{recipe_id}/dry-run"): Row(
        call("POST", "/recipes/{recipe}/dry-run"), owner_page(503), why="Graph is down"
    ),
    # --- operators: the codec server and monday.com (admins) -----------------------------------------
    ("POST", "/codec/encode"): Row(call("POST", "/codec/encode", _PAYLOADS), admins(200)),
    ("POST", "/codec/decode"): Row(call("POST", "/codec/decode", _PAYLOADS), admins(200)),
    ("GET", "/api/monday"): Row(get("/api/monday"), admins(200)),
    ("PUT", "/api/monday"): Row(
        call("PUT", "/api/monday", {"api_token": "monday-token", "api_url": f"{NOWHERE}/v2"}),
        admins(502),
        why="monday.com does not answer, so the token cannot be verified",
    ),
    ("DELETE", "/api/monday"): Row(call("DELETE", "/api/monday"), admins(503), why="Vault is down"),
    # --- webhooks: public, authenticated by what they carry ------------------------------------------
    ("POST", "/webhooks/graph"): Row(
        lambda w, role: Call("POST", "/webhooks/graph", params={"validationToken": "v"}), everyone(200)
    ),
    ("POST", "/webhooks/graph/lifecycle"): Row(
        lambda w, role: Call("POST", "/webhooks/graph/lifecycle", params={"validationToken": "v"}),
        everyone(200),
    ),
    ("POST", "/webhooks/monday/{secret}"): Row(
        call("POST", "/webhooks/monday/unknown-secret", {"challenge": "c"}),
        everyone(404),
        why="a secret the service never issued",
    ),
}
