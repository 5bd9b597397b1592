"""GET /connections/{id}/activity: the connection's messages newest first, filtered by outcome, a page at a
time, each linked to its workflow in the Temporal UI; owner only; an empty state; the 7-day chart."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import Engine

from tests.api.conftest import bearer
from tests.api.test_activity_chart import record_at
from tests.recipes.support import add_connection

NAMESPACE = "ops-ns"


class Page(HTMLParser):
    """What the tests read of the page: the rows' message ids and outcomes, links by id, workflow links."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.messages: list[str] = []
        self.outcomes: list[str] = []
        self.links: dict[str, str] = {}
        self.workflows: list[str] = []
        self.selected: list[str] = []
        self._in: str | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "code":
            self._in = "code"
        elif tag == "span" and (a.get("class") or "").startswith("badge outcome-"):
            self._in = "badge"
        elif tag == "a" and a.get("id"):
            self.links[a["id"] or ""] = a.get("href") or ""
        elif tag == "a" and a.get("class") == "workflow":
            self.workflows.append(a.get("href") or "")
        elif tag == "option" and "selected" in a:
            self.selected.append(a.get("value") or "")

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "code":
            self.messages.append(data)
        elif self._in == "badge":
            self.outcomes.append(data)


@pytest.fixture
def app(app):
    # The page takes the namespace from the Temporal client, as the connection page does.
    app.state.temporal_client = SimpleNamespace(namespace=NAMESPACE)
    return app


@pytest.fixture
def connection_id(engine, admin):
    return add_connection(engine, admin[0], mailbox="help@acme.example")


async def write(
    monkeypatch: pytest.MonkeyPatch, engine: Engine, connection_id: str, rows: Sequence[tuple[Any, ...]]
) -> None:
    """(message id, outcome, details or None, direction) oldest first, a minute apart, ending now."""

    def run() -> None:
        start = datetime.now(UTC) - timedelta(minutes=len(rows))
        for i, (message_id, outcome, *more) in enumerate(rows):
            details = more[0] if more else None
            direction = more[1] if len(more) > 1 else "incoming"
            record_at(
                monkeypatch,
                engine,
                start + timedelta(minutes=i),
                connection_id,
                message_id,
                outcome,
                direction=direction,
                details=details,
            )

    await asyncio.to_thread(run)


async def page(client, admin, connection_id, **params) -> tuple[str, Page]:
    response = await client.get(
        f"/connections/{connection_id}/activity", params=params, headers=bearer(admin[1])
    )
    assert response.status_code == 200, response.text
    return response.text, Page(response.text)


async def follow(client, admin, href: str) -> Page:
    response = await client.get(href, headers=bearer(admin[1]))
    assert response.status_code == 200, response.text
    return Page(response.text)


SUPPORT_MISSED = {"recipe_id": "r2", "recipe": "Support", "result": "missed", "reason": "subject_contains"}
BILLING_ITEM = {
    "recipe_id": "r1",
    "recipe": "Billing",
    "result": "item",
    "reason": "made",
    "missing": ["from.name"],
}


async def test_rows_newest_first_with_outcome_and_reason(client, admin, engine, connection_id, monkeypatch):
    await write(
        monkeypatch,
        engine,
        connection_id,
        [
            ("m1", "processed", [BILLING_ITEM, SUPPORT_MISSED]),
            ("m2", "skipped", [SUPPORT_MISSED]),
            ("m3", "failed"),
            ("send/e1/r9", "processed", None, "outgoing"),
        ],
    )
    html, found = await page(client, admin, connection_id)

    assert found.messages == ["send/e1/r9", "m3", "m2", "m1"]
    assert found.outcomes == ["processed", "failed", "skipped", "processed"]
    assert '<span class="badge outcome-failed">failed</span>' in html
    # Which recipe matched and what it made; for the others the condition that failed.
    assert "<strong>Billing</strong>: item (made); empty fields: from.name" in html
    assert "<strong>Support</strong>: missed (subject_contains)" in html
    assert "sent by a board event" in html
    # Times in words, the exact time on hover.
    assert "minutes ago</time>" in html and 'title="20' in html
    assert '<svg class="chart"' in html and "Emails to help@acme.example per hour" in html
    assert "No email has been processed yet" not in html


async def test_filter_by_outcome(client, admin, engine, connection_id, monkeypatch):
    await write(
        monkeypatch,
        engine,
        connection_id,
        [("m1", "failed"), ("m2", "processed"), ("m3", "failed"), ("m4", "skipped")],
    )
    _, failed = await page(client, admin, connection_id, outcome="failed")
    assert failed.messages == ["m3", "m1"] and failed.selected == ["failed"]
    _, everything = await page(client, admin, connection_id, outcome="")
    assert everything.messages == ["m4", "m3", "m2", "m1"] and everything.selected == [""]

    _, skipped = await page(client, admin, connection_id, outcome="skipped")
    assert skipped.messages == ["m4"]
    refused = await client.get(
        f"/connections/{connection_id}/activity", params={"outcome": "lost"}, headers=bearer(admin[1])
    )
    assert refused.status_code == 422


async def test_older_and_newer_pages(client, admin, engine, connection_id, monkeypatch):
    await write(monkeypatch, engine, connection_id, [(f"m{i}", "processed") for i in range(1, 6)])

    _, first = await page(client, admin, connection_id, limit="2")
    assert first.messages == ["m5", "m4"] and "newer" not in first.links
    second = await follow(client, admin, first.links["older"])
    assert second.messages == ["m3", "m2"]
    last = await follow(client, admin, second.links["older"])
    assert last.messages == ["m1"] and "older" not in last.links
    back = await follow(client, admin, last.links["newer"])
    assert back.messages == ["m3", "m2"]
    top = await follow(client, admin, back.links["newer"])
    assert top.messages == ["m5", "m4"] and "newer" not in top.links

    # A new message does not shift the pages already handed out.
    await write(monkeypatch, engine, connection_id, [("m6", "processed")])
    again = await follow(client, admin, first.links["older"])
    assert again.messages == ["m3", "m2"]

    bad = await client.get(
        f"/connections/{connection_id}/activity", params={"before": "nonsense"}, headers=bearer(admin[1])
    )
    assert bad.status_code == 400


async def test_paging_keeps_the_filter(client, admin, engine, connection_id, monkeypatch):
    rows = [("f1", "failed"), ("p1", "processed"), ("f2", "failed"), ("f3", "failed")]
    await write(monkeypatch, engine, connection_id, rows)
    _, first = await page(client, admin, connection_id, outcome="failed", limit="2")
    assert first.messages == ["f3", "f2"]
    assert "outcome=failed" in first.links["older"]
    second = await follow(client, admin, first.links["older"])
    assert second.messages == ["f1"] and second.selected == ["failed"]


async def test_each_row_links_to_its_workflow_in_the_temporal_ui(
    client, admin, engine, settings, connection_id, monkeypatch
):
    graph_id = "AAMkAGI2TG93AAA+/b=="
    await write(
        monkeypatch,
        engine,
        connection_id,
        [(graph_id, "processed"), ("send/e1/r9", "failed", None, "outgoing")],
    )
    _, found = await page(client, admin, connection_id)

    ui = f"{settings.temporal_ui_url}/namespaces/{NAMESPACE}/workflows/"
    assert found.workflows == [
        ui + quote(f"send/{connection_id}/e1/r9", safe=""),
        ui + quote(f"message/{connection_id}/{graph_id}", safe=""),
    ]
    # The workflow ids are the ones the connection's workflow starts its children with.
    assert found.workflows[1].endswith("message%2F" + connection_id + "%2FAAMkAGI2TG93AAA%2B%2Fb%3D%3D")


async def test_another_users_connection_is_not_found(
    client, admin, member, stranger, engine, connection_id, monkeypatch
):
    await write(monkeypatch, engine, connection_id, [("m1", "processed")])
    for user in (member, stranger):
        response = await client.get(f"/connections/{connection_id}/activity", headers=bearer(user[1]))
        assert response.status_code == 404
        assert "m1" not in response.text and "help@acme.example" not in response.text
    missing = await client.get(f"/connections/{uuid.uuid4()}/activity", headers=bearer(admin[1]))
    assert missing.status_code == 404
    signed_out = await client.get(f"/connections/{connection_id}/activity")
    assert signed_out.status_code == 303 and signed_out.headers["location"] == "/signin"


async def test_empty_state_says_what_to_do(client, admin, connection_id):
    html, found = await page(client, admin, connection_id)
    assert found.messages == []
    assert "No email has been processed yet. Send one to <strong>help@acme.example</strong>" in html
    assert '<svg class="chart"' in html and "0 processed, 0 skipped, 0 failed" in html
    filtered, _ = await page(client, admin, connection_id, outcome="failed")
    assert "No failed messages here." in filtered


async def test_the_connection_page_shows_the_chart(client, admin, engine, connection_id, monkeypatch):
    await write(monkeypatch, engine, connection_id, [("m1", "processed"), ("m2", "failed")])
    response = await client.get(f"/connections/{connection_id}", headers=bearer(admin[1]))
    assert response.status_code == 200, response.text
    html = response.text
    assert "<h2>Last 7 days</h2>" in html and '<svg class="chart"' in html
    assert "Emails to help@acme.example per hour" in html and "1 processed, 0 skipped, 1 failed" in html
