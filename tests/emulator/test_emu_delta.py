"""Graph delta query on a mail folder: paging, deltaLink rounds, @removed entries and 410 for bad state."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx

from tests.emulator.helpers import assert_graph_error, connect, control, deliver, move

IMMUTABLE = 'IdType="ImmutableId"'


async def _round(g: httpx.AsyncClient, url: str, page_size: int | None = None):
    """Follows nextLinks until a deltaLink; returns (items, pages, deltaLink)."""
    headers = {"Prefer": f"odata.maxpagesize={page_size}, {IMMUTABLE}"} if page_size else {}
    items: list[dict[str, Any]] = []
    pages = 0
    while True:
        resp = await g.get(url, headers=headers)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        pages += 1
        if page_size:
            assert len(page["value"]) <= page_size
        items.extend(page["value"])
        assert ("@odata.nextLink" in page) != ("@odata.deltaLink" in page), page.keys()
        if "@odata.deltaLink" in page:
            return items, pages, page["@odata.deltaLink"]
        url = page["@odata.nextLink"]
        assert pages < 50


async def test_delta_pages_then_reports_changes_and_removals(emulator):
    conn = await connect(emulator)
    for i in range(5):
        await deliver(emulator, conn.email, subject=f"d{i}")
    async with conn.graph(prefer=IMMUTABLE) as g:
        items, pages, delta_link = await _round(
            g, "/me/mailFolders/inbox/messages/delta?$select=subject,receivedDateTime", page_size=2
        )
        assert pages == 3
        assert sorted(m["subject"] for m in items) == [f"d{i}" for i in range(5)]
        for m in items:
            assert set(m) - {"@odata.etag", "@odata.type"} == {"id", "subject", "receivedDateTime"}, m
        by_subject = {m["subject"]: m["id"] for m in items}

        # No change: the next round is empty and yields a fresh deltaLink.
        empty, _p, delta_link = await _round(g, delta_link, page_size=2)
        assert empty == []

        await deliver(emulator, conn.email, subject="new")
        assert (await move(emulator, conn.email, by_subject["d1"], "archive")).status_code == 200
        assert (await move(emulator, conn.email, by_subject["d2"], "deleteditems")).status_code == 200
        changes, _p, delta_link = await _round(g, delta_link, page_size=10)
        added = [m for m in changes if "@removed" not in m]
        removed = {m["id"]: m["@removed"] for m in changes if "@removed" in m}
        assert [m["subject"] for m in added] == ["new"]
        assert set(removed) == {by_subject["d1"], by_subject["d2"]}
        assert all(r == {"reason": "deleted"} for r in removed.values()), removed
        for m in changes:
            if "@removed" in m:
                assert set(m) - {"@odata.type"} == {"id", "@removed"}, m

        # A message moved into the folder shows up as an addition in the folder's delta.
        archive_round, _p, archive_link = await _round(g, "/me/mailFolders/archive/messages/delta")
        assert [m["subject"] for m in archive_round] == ["d1"]
        assert (await move(emulator, conn.email, by_subject["d1"], "inbox")).status_code == 200
        back, _p, _link = await _round(g, delta_link)
        assert [m.get("subject") for m in back if "@removed" not in m] == ["d1"]
        gone, _p, _link = await _round(g, archive_link)
        assert [m["id"] for m in gone if "@removed" in m] == [by_subject["d1"]]


async def test_delta_link_is_reusable_verbatim(emulator):
    conn = await connect(emulator)
    await deliver(emulator, conn.email, subject="a")
    async with conn.graph() as g:
        _items, _p, link = await _round(g, "/me/mailFolders/inbox/messages/delta?$select=subject")
        await deliver(emulator, conn.email, subject="b")
        first, _p, _l1 = await _round(g, link)
        replay, _p, _l2 = await _round(g, link)  # the same stored link, replayed (e.g. after a crash)
    assert [m["subject"] for m in first] == ["b"]
    assert [m["subject"] for m in replay] == ["b"]


async def test_delta_filter_on_received_date_time(emulator):
    conn = await connect(emulator)
    await deliver(emulator, conn.email, subject="x")
    async with conn.graph() as g:
        items, _p, _link = await _round(
            g, "/me/mailFolders/inbox/messages/delta?$filter=receivedDateTime ge 2000-01-01T00:00:00Z"
        )
        assert [m["subject"] for m in items] == ["x"]
        none, _p, _link = await _round(
            g, "/me/mailFolders/inbox/messages/delta?$filter=receivedDateTime ge 2999-01-01T00:00:00Z"
        )
        assert none == []


def _with_token(link: str, value: str) -> str:
    parts = urlsplit(link)
    query = parse_qs(parts.query)
    key = "$deltatoken" if "$deltatoken" in query else "$skiptoken"
    assert key in query, link
    query[key] = [value]
    return urlunsplit(parts._replace(query=urlencode(query, doseq=True)))


async def test_bad_delta_token_is_410(emulator):
    conn = await connect(emulator)
    await deliver(emulator, conn.email)
    async with conn.graph() as g:
        _items, _p, link = await _round(g, "/me/mailFolders/inbox/messages/delta")
        resp = await g.get(_with_token(link, "bm90LWEtcmVhbC10b2tlbg"))
    assert resp.status_code == 410, resp.text
    code = resp.json()["error"]["code"]
    assert code in ("syncStateNotFound", "resyncRequired", "SyncStateNotFound"), code
    assert resp.json()["error"]["innerError"]["request-id"]


async def test_delta_token_of_another_mailbox_is_not_accepted(emulator):
    alice = await connect(emulator)
    bob = await connect(emulator)
    await deliver(emulator, alice.email)
    async with alice.graph() as g:
        _items, _p, link = await _round(g, "/me/mailFolders/inbox/messages/delta")
    async with bob.graph() as g:
        resp = await g.get(link)
    assert resp.status_code in (400, 410), resp.text


async def test_delta_outside_scopes_is_403(emulator):
    conn = await connect(emulator, scopes=["User.Read"])
    async with conn.graph() as g:
        assert_graph_error(await g.get("/me/mailFolders/inbox/messages/delta"), 403, "accessDenied")


async def test_hard_delete_shows_as_removed_in_delta(emulator):
    conn = await connect(emulator)
    await deliver(emulator, conn.email, subject="stays")
    doomed = await deliver(emulator, conn.email, subject="purged")
    async with conn.graph(prefer=IMMUTABLE) as g:
        items, _p, link = await _round(g, "/me/mailFolders/inbox/messages/delta?$select=subject")
        by_subject = {m["subject"]: m["id"] for m in items}
        assert set(by_subject) == {"stays", "purged"}
        async with control(emulator) as c:
            resp = await c.delete(f"/users/{conn.email}/messages/{doomed['id']}")
        assert resp.status_code == 204, resp.text
        changes, _p, _link = await _round(g, link)
        assert [(m["id"], m.get("@removed")) for m in changes] == [
            (by_subject["purged"], {"reason": "deleted"})
        ], changes
        assert_graph_error(await g.get(f"/me/messages/{by_subject['purged']}"), 404, "ErrorItemNotFound")
