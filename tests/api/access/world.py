"""The world every access-matrix case runs in: one account with an owner (a member), another member and
an admin; a second account with a member; the owner's connection, private board (an item with an update
and a file) and recipe; and a revoked and an expired API token of the owner.

The world is built once; each case gets a fresh copy of its database, so what one caller changes
never decides another's answer. What the lifespan would put on app.state for Temporal, Microsoft,
Vault and the codec is a stand-in that fails the way the real client fails when its server is down (so a
route that gets past authorization answers what it answers then, e.g. 503), or, for the codec, returns
what it is given.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import Engine, select, update
from temporalio.api.common.v1 import Payload
from temporalio.service import RPCError, RPCStatusCode

from accounts import service
from accounts.sessions import create_session
from api.deps import get_engine
from api.main import create_app
from boards import items
from boards import service as boards
from boards.destination import FileDraft
from boards.schemas import BoardCreate
from boards.store import BoardStore
from config.settings import Settings
from db.accounts import ApiToken, User
from db.boards import Board
from db.engine import create_db_engine, session_scope
from db.item_files import ItemFile
from graph.errors import GraphUnavailable
from graph.identity_errors import IdentityUnavailable
from tests.recipes.support import add_connection, add_enabled_recipe, recipe_body
from vault.errors import VaultStoreError

ROLES = ("owner", "member", "admin", "outsider", "anonymous", "revoked", "expired")

# Closed ports: a route that reaches for these servers is refused at once instead of waiting.
NOWHERE = "http://127.0.0.1:9"
PRIVATE_BOARD = {
    "name": "Owner private board",
    "groups": ["New"],
    "columns": [
        {"title": "From", "type": "email"},
        {"title": "Received", "type": "date"},
        {"title": "Preview", "type": "long_text"},
    ],
}


@dataclass(frozen=True)
class World:
    tokens: dict[str, str | None]
    # A signed-in browser session (its cookie value) per user of the world.
    sessions: dict[str, str]
    ids: dict[str, str]
    # What only the owner (and, where a row says so, an admin) may ever see of the owner's things.
    private: tuple[str, ...]

    def __getitem__(self, name: str) -> str:
        return self.ids[name]


class TemporalDown:
    """A Temporal client whose server does not answer: every call raises UNAVAILABLE."""

    namespace = "default"

    def __getattr__(self, name: str) -> Any:
        return _Unavailable()


class _Unavailable:
    def __getattr__(self, name: str) -> Any:
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self

    def __await__(self) -> Any:
        raise RPCError("the workflow engine is down", RPCStatusCode.UNAVAILABLE, b"")
        yield  # pragma: no cover  (makes this a generator, as __await__ must be)


class IdentityDown:
    """The Microsoft identity platform, unreachable."""

    async def initiate_auth_code_flow(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        raise IdentityUnavailable()

    async def redeem(self, *args: Any, **kwargs: Any) -> Any:
        raise IdentityUnavailable()


class VaultDown:
    """A token store (connections' or monday.com's) whose Vault does not answer."""

    def __getattr__(self, name: str) -> Any:
        async def fail(*args: Any, **kwargs: Any) -> Any:
            raise VaultStoreError("vault unavailable")

        return fail


class GraphDown:
    """MailboxAccess while Microsoft Graph is unreachable."""

    async def call(self, connection_id: str, fn: Any) -> Any:
        raise GraphUnavailable("stand-in", 503)

    async def client(self, connection_id: str) -> Any:
        raise GraphUnavailable("stand-in", 503)


class EchoCodec:
    """The payload codec, returning what it is given (the matrix tests who may call it, not crypto)."""

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return list(payloads)


def settings_for(data_dir: Path, make_settings: Any) -> Settings:
    settings: Settings = make_settings(
        data_dir,
        vault_addr=NOWHERE,
        monday_api_url=f"{NOWHERE}/v2",
        readiness_timeout_seconds=1,
    )
    return settings


class EngineHolder:
    """The database of the case being run: one app serves every case, each on its own copy."""

    engine: Engine | None = None

    def get(self) -> Engine:
        assert self.engine is not None, "no case is running"
        return self.engine


def app_for(settings: Settings, holder: EngineHolder) -> FastAPI:
    app = create_app(settings)
    app.dependency_overrides[get_engine] = holder.get
    state = app.state
    state.temporal_client = TemporalDown()
    state.identity = IdentityDown()
    state.token_store = VaultDown()
    state.monday_tokens = VaultDown()
    state.mailbox_access = GraphDown()
    state.payload_codec = EchoCodec()
    state.ms_http = _Unavailable()
    # The webhooks' helpers: the matrix calls the validation handshake, which uses none of them.
    for name in ("webhook_verifier", "subscription_directory", "webhook_outbox", "webhook_forwarder"):
        setattr(state, name, object())
    # Built now (seconds on a busy machine) rather than on the event loop by the first /openapi.json.
    app.openapi()
    return app


def copy_database(template: Path, target_dir: Path) -> None:
    target_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, target_dir / "app.db")


def build(engine: Engine, settings: Settings) -> World:
    """The world's rows (blocking: run it in a thread)."""
    with session_scope(engine) as session:
        acme = service.create_account(session, "acme")
        other = service.create_account(session, "other")
        users = {
            "owner": service.create_user(
                session, acme, email="owner@acme.example", display_name="O", role="member"
            ),
            "member": service.create_user(
                session, acme, email="member@acme.example", display_name="M", role="member"
            ),
            "admin": service.create_user(
                session, acme, email="admin@acme.example", display_name="A", role="admin"
            ),
            "outsider": service.create_user(
                session, other, email="outsider@other.example", display_name="X", role="member"
            ),
        }
        tokens: dict[str, str | None] = {
            role: service.issue_api_token(session, user, "matrix").plain for role, user in users.items()
        }
        owner = users["owner"]
        revoked = service.issue_api_token(session, owner, "revoked")
        service.revoke_api_token(session, owner, revoked.record.id)
        expired = service.issue_api_token(session, owner, "expired")
        spare = service.issue_api_token(session, owner, "spare")
        sessions = {role: create_session(session, settings, user) for role, user in users.items()}
        ids = {role: str(user.id) for role, user in users.items()}
        ids["spare_token"] = str(spare.record.id)
        expired_id = expired.record.id
        tokens |= {"anonymous": None, "revoked": revoked.plain, "expired": expired.plain}
    with session_scope(engine) as session:
        session.execute(
            update(ApiToken)
            .where(ApiToken.id == expired_id)
            .values(expires_at=datetime.now(UTC) - timedelta(hours=1))
        )
    owner_id = uuid.UUID(ids["owner"])
    mailbox = "owner.mailbox@acme.example"
    ids["connection"] = add_connection(
        engine, owner_id, mailbox=mailbox, scopes="User.Read Mail.Read Mail.Send", status="active"
    )
    with session_scope(engine) as session:
        owner_row = session.get_one(User, owner_id)
        board = boards.create_board(
            session, owner_row.account_id, BoardCreate.model_validate(PRIVATE_BOARD), owner_id=owner_id
        )
        ids["board"] = str(board.id)
        item = items.create_item(
            session, session.get_one(Board, board.id), name="Owner private item", group=None, columns={}
        )
        items.add_update(session, item, "Owner private update")
        ids["item"] = str(item.id)
        body = recipe_body(ids["connection"], ids["board"]) | {"name": "Owner private recipe"}
        recipe = add_enabled_recipe(session, owner_id, body)
        ids["recipe"] = str(recipe.id)
    pdf = FileDraft(name="private.pdf", content_type="application/pdf", content=b"%PDF")
    BoardStore(engine).attach_files(ids["item"], [pdf])
    with session_scope(engine) as session:
        ids["file"] = str(
            session.scalars(select(ItemFile.id).where(ItemFile.item_id == uuid.UUID(ids["item"]))).one()
        )
    private = (
        ids["connection"],
        mailbox,
        ids["board"],
        PRIVATE_BOARD["name"],
        ids["item"],
        "Owner private item",
        "Owner private update",
        ids["recipe"],
        "Owner private recipe",
        ids["file"],
    )
    return World(tokens=tokens, sessions=sessions, ids=ids, private=tuple(str(p) for p in private))


def open_engine(data_dir: Path) -> Engine:
    return create_db_engine(f"sqlite:///{data_dir / 'app.db'}")
