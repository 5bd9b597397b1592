"""Records the clients code opens while a test watches, and which of them it closed: database engines
(db.engine.create_db_engine), httpx.AsyncClient (Graph, the Microsoft identity platform's discovery) and
requests.Session (hvac's for Vault, MSAL's). For tests that a process closes what it opened."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import requests
from sqlalchemy import Engine

import db.engine


class Opened:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.engines: list[Engine] = []
        self.disposed: list[Engine] = []
        self.http_clients: list[httpx.AsyncClient] = []
        self.sessions: list[requests.Session] = []
        self.closed_sessions: list[requests.Session] = []
        self._watch(monkeypatch)

    def _watch(self, monkeypatch: pytest.MonkeyPatch) -> None:
        create_db_engine = db.engine.create_db_engine
        engine_dispose = Engine.dispose
        http_init = httpx.AsyncClient.__init__
        session_init = requests.Session.__init__
        session_close = requests.Session.close

        def created_engine(url: str) -> Engine:
            engine = create_db_engine(url)
            self.engines.append(engine)
            return engine

        def dispose(engine: Engine, *args: Any, **kwargs: Any) -> None:
            self.disposed.append(engine)
            engine_dispose(engine, *args, **kwargs)

        def new_http_client(client: httpx.AsyncClient, *args: Any, **kwargs: Any) -> None:
            http_init(client, *args, **kwargs)
            self.http_clients.append(client)

        def new_session(session: requests.Session, *args: Any, **kwargs: Any) -> None:
            session_init(session, *args, **kwargs)
            self.sessions.append(session)

        def close_session(session: requests.Session) -> None:
            self.closed_sessions.append(session)
            session_close(session)

        monkeypatch.setattr(db.engine, "create_db_engine", created_engine)
        monkeypatch.setattr(Engine, "dispose", dispose)
        monkeypatch.setattr(httpx.AsyncClient, "__init__", new_http_client)
        monkeypatch.setattr(requests.Session, "__init__", new_session)
        monkeypatch.setattr(requests.Session, "close", close_session)

    def still_open(self) -> list[str]:
        """What was opened and not closed, described (empty when everything was closed)."""
        left = [f"engine {engine.url!r}" for engine in self.engines if not _in(engine, self.disposed)]
        left += [f"httpx client {client!r}" for client in self.http_clients if not client.is_closed]
        left += [
            f"requests session {type(s).__name__}" for s in self.sessions if not _in(s, self.closed_sessions)
        ]
        return left


def _in(item: object, seen: list[Any]) -> bool:
    return any(item is other for other in seen)
