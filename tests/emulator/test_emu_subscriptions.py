"""Graph subscriptions against a real webhook receiver: handshake, rules, CRUD and notification envelopes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.emulator.helpers import (
    Connection,
    assert_graph_error,
    connect,
    control,
    deliver,
    iso_in,
    move,
    parse_dt,
    revoke,
    subscription_body,
)
from tests.emulator.receiver import Hook, Receiver
from tests.support.emulator_server import RunningEmulator, start_emulator

IMMUTABLE = 'IdType="ImmutableId"'
SUBSCRIPTION_FIELDS = {
    "id",
    "resource",
    "applicationId",
    "changeType",
    "clientState",
    "notificationUrl",
    "expirationDateTime",
    "creatorId",
    "latestSupportedTlsVersion",
    "notificationContentType",
}


async def _subscribe(conn: Connection, hook: Hook, prefer: str | None = IMMUTABLE, **extra: Any):
    body = subscription_body(hook, **extra)
    async with conn.graph(prefer=prefer) as g:
        resp = await g.post("/subscriptions", json=body)
    return resp, body


async def test_create_runs_the_handshake_on_both_urls_first(emulator, hook):
    conn = await connect(emulator)
    started = time.time()
    resp, body = await _subscribe(conn, hook)
    answered = time.time()
    assert resp.status_code == 201, resp.text
    sub = resp.json()
    assert SUBSCRIPTION_FIELDS <= set(sub), SUBSCRIPTION_FIELDS - set(sub)
    assert sub["applicationId"] == conn.app.client_id
    assert sub["resource"] == body["resource"]
    assert sub["changeType"] == body["changeType"]
    assert sub["clientState"] == body["clientState"]
    assert sub["notificationUrl"] == body["notificationUrl"]
    assert sub["lifecycleNotificationUrl"] == body["lifecycleNotificationUrl"]
    assert sub["notificationContentType"] == "application/json"
    assert sub["latestSupportedTlsVersion"] in ("v1_2", "v1_3")
    async with conn.graph() as g:
        me = (await g.get("/me")).json()
    assert sub["creatorId"] == me["id"]
    assert (
        abs((parse_dt(sub["expirationDateTime"]) - parse_dt(body["expirationDateTime"])).total_seconds()) < 2
    )
    kinds = sorted(v.kind for v in hook.validations)
    assert kinds == ["lifecycle", "notify"], hook.validations
    for v in hook.validations:
        assert v.method == "POST"
        assert v.token
        assert started <= v.at <= answered, "the handshake happens before the create call returns"


HANDSHAKE = 2.0  # seconds: the handshake_emulator's validation limit


@pytest.fixture(scope="module")
def handshake_emulator(tmp_path_factory) -> Iterator[RunningEmulator]:
    """A lowered handshake limit (Graph: 10 s) so that slow answers can be tested quickly."""
    emu = start_emulator(
        tmp_path_factory.mktemp("emulator-handshake"), no_snapshot=True, validation_timeout_seconds=HANDSHAKE
    )
    try:
        yield emu
    finally:
        emu.stop()


@pytest.mark.parametrize(
    ("kind", "mode", "delay"),
    [
        ("notify", "slow", HANDSHAKE + 1.5),
        ("lifecycle", "slow", HANDSHAKE + 1.5),
        # Each part comes within the limit, the whole answer does not: the limit is a total deadline.
        ("notify", "trickle", HANDSHAKE * 0.6),
    ],
)
async def test_handshake_slower_than_the_limit_is_400_and_creates_nothing(
    handshake_emulator, hook, kind, mode, delay
):
    conn = await connect(handshake_emulator)
    hook.validation_mode[kind] = mode
    hook.validation_delay = delay
    resp, _body = await _subscribe(conn, hook)
    assert_graph_error(resp, 400, "ValidationError")
    async with conn.graph() as g:
        listed = await g.get("/subscriptions")
    assert listed.status_code == 200
    assert listed.json()["value"] == []
    async with control(handshake_emulator) as c:
        subs = (await c.get("/subscriptions")).json()
    assert [s for s in subs if s["mailbox"] == conn.email] == []


@pytest.mark.parametrize(
    ("kind", "mode"),
    [
        ("notify", "error"),
        ("notify", "wrong"),
        ("lifecycle", "wrong"),
        # The right token, but as HTML: graph-facts demands text/plain (a reflected token is an XSS hole).
        ("notify", "html"),
        ("lifecycle", "html"),
    ],
)
async def test_failed_handshake_is_400_and_creates_nothing(emulator, hook, kind, mode):
    conn = await connect(emulator)
    hook.validation_mode[kind] = mode
    resp, _body = await _subscribe(conn, hook)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"]
    async with conn.graph() as g:
        listed = await g.get("/subscriptions")
    assert listed.status_code == 200
    assert listed.json()["value"] == []


async def test_unreachable_notification_url_is_400(emulator, hook):
    conn = await connect(emulator)
    resp, _ = await _subscribe(conn, hook, notificationUrl="http://127.0.0.1:9/nothing-listens-here")
    assert resp.status_code == 400, resp.text


@pytest.mark.parametrize("field", ["notificationUrl", "lifecycleNotificationUrl"])
@pytest.mark.parametrize("url", ["http://example.com/hook", "http://192.0.2.10/hook", "ftp://127.0.0.1/x"])
async def test_urls_must_be_https_except_http_on_loopback(emulator, hook, field, url):
    conn = await connect(emulator)
    resp, _ = await _subscribe(conn, hook, **{field: url})
    assert resp.status_code == 400, resp.text
    assert hook.validations == [] or field == "lifecycleNotificationUrl"


async def test_duplicate_is_409_other_resource_is_fine(emulator, hook, receiver: Receiver):
    conn = await connect(emulator)
    first, _ = await _subscribe(conn, hook)
    assert first.status_code == 201
    again, _ = await _subscribe(conn, receiver.hook())
    assert again.status_code == 409, again.text
    assert again.json()["error"]["code"]
    other, _ = await _subscribe(conn, receiver.hook(), resource="me/mailFolders('sentitems')/messages")
    assert other.status_code == 201, other.text


async def test_expiry_floor_is_45_minutes_and_cap_is_10080(emulator, receiver: Receiver):
    conn = await connect(emulator)
    short, _ = await _subscribe(conn, receiver.hook(), expirationDateTime=iso_in(10))
    assert short.status_code == 201, short.text
    minutes = (parse_dt(short.json()["expirationDateTime"]) - parse_dt(iso_in(0))).total_seconds() / 60
    assert 44 <= minutes <= 46, minutes
    near_cap, _ = await _subscribe(
        conn,
        receiver.hook(),
        expirationDateTime=iso_in(10_000),
        resource="me/mailFolders('sentitems')/messages",
    )
    assert near_cap.status_code == 201, near_cap.text
    too_long, _ = await _subscribe(
        conn, receiver.hook(), expirationDateTime=iso_in(10_200), resource="me/messages"
    )
    assert too_long.status_code == 400, too_long.text


async def test_required_fields_and_client_state_length(emulator, hook):
    conn = await connect(emulator)
    for missing in ("changeType", "notificationUrl", "resource", "expirationDateTime"):
        body = subscription_body(hook)
        del body[missing]
        async with conn.graph() as g:
            resp = await g.post("/subscriptions", json=body)
        assert resp.status_code == 400, (missing, resp.text)
    resp, _ = await _subscribe(conn, hook, clientState="x" * 129)
    assert resp.status_code == 400, resp.text


async def test_get_list_patch_reauthorize_delete(emulator, hook):
    conn = await connect(emulator)
    created, body = await _subscribe(conn, hook)
    sub = created.json()
    async with conn.graph() as g:
        got = await g.get(f"/subscriptions/{sub['id']}")
        assert got.status_code == 200
        assert got.json()["id"] == sub["id"] and got.json()["resource"] == body["resource"]
        listed = (await g.get("/subscriptions")).json()["value"]
        assert [s["id"] for s in listed] == [sub["id"]]

        new_expiry = iso_in(3 * 24 * 60)
        patched = await g.patch(f"/subscriptions/{sub['id']}", json={"expirationDateTime": new_expiry})
        assert patched.status_code == 200, patched.text
        assert (
            abs((parse_dt(patched.json()["expirationDateTime"]) - parse_dt(new_expiry)).total_seconds()) < 2
        )
        too_far = await g.patch(f"/subscriptions/{sub['id']}", json={"expirationDateTime": iso_in(20_000)})
        assert too_far.status_code == 400

        reauth = await g.post(f"/subscriptions/{sub['id']}/reauthorize")
        assert reauth.status_code == 204, reauth.text
        assert reauth.content == b""

        deleted = await g.delete(f"/subscriptions/{sub['id']}")
        assert deleted.status_code == 204
        assert_graph_error(await g.get(f"/subscriptions/{sub['id']}"), 404, None)
        assert (await g.get("/subscriptions")).json()["value"] == []
        assert (await g.delete(f"/subscriptions/{sub['id']}")).status_code == 404


async def test_lifecycle_url_cannot_be_added_by_patch(emulator, hook):
    conn = await connect(emulator)
    body = subscription_body(hook)
    del body["lifecycleNotificationUrl"]
    async with conn.graph() as g:
        created = await g.post("/subscriptions", json=body)
        assert created.status_code == 201, created.text
        resp = await g.patch(
            f"/subscriptions/{created.json()['id']}", json={"lifecycleNotificationUrl": hook.lifecycle_url}
        )
    assert resp.status_code == 400, resp.text


async def test_other_apps_cannot_see_or_change_a_subscription(emulator, hook):
    owner = await connect(emulator)
    stranger = await connect(emulator, email=owner.email)  # another app, the same mailbox
    created, _ = await _subscribe(owner, hook)
    sub_id = created.json()["id"]
    async with stranger.graph() as g:
        assert_graph_error(await g.get(f"/subscriptions/{sub_id}"), 404, None)
        assert (await g.get("/subscriptions")).json()["value"] == []
        assert_graph_error(
            await g.patch(f"/subscriptions/{sub_id}", json={"expirationDateTime": iso_in(3 * 24 * 60)}),
            404,
            None,
        )
        assert_graph_error(await g.post(f"/subscriptions/{sub_id}/reauthorize"), 404, None)
        assert_graph_error(await g.delete(f"/subscriptions/{sub_id}"), 404, None)
    async with owner.graph() as g:
        still = await g.get(f"/subscriptions/{sub_id}")
    assert still.status_code == 200, still.text
    assert still.json()["expirationDateTime"] == created.json()["expirationDateTime"]


async def test_create_without_mail_read_is_403_and_runs_no_handshake(emulator, hook):
    conn = await connect(emulator, scopes=["User.Read"])
    resp, _ = await _subscribe(conn, hook)
    assert_graph_error(resp, 403, "accessDenied")
    assert hook.validations == []


def _assert_change_envelope(item: dict[str, Any], sub: dict[str, Any], tenant_id: str | None = None) -> None:
    for key in ("subscriptionId", "subscriptionExpirationDateTime", "changeType", "resource", "tenantId"):
        assert key in item, (key, item)
    assert item["subscriptionId"] == sub["id"]
    assert item["clientState"] == sub["clientState"]
    data = item["resourceData"]
    assert data["@odata.type"].lower() == "#microsoft.graph.message"
    assert data["@odata.id"] and data["@odata.etag"] and data["id"]
    assert data["id"] in item["resource"]
    assert item["resource"].lower().startswith("users/")
    if tenant_id:
        assert item["tenantId"] == tenant_id


async def test_new_message_sends_created_then_updated_in_the_documented_envelope(emulator, hook):
    conn = await connect(emulator)
    created, _ = await _subscribe(conn, hook)
    sub = created.json()
    await deliver(emulator, conn.email, subject="notify me")
    await hook.wait_for(
        lambda h: {"created", "updated"} <= {n["changeType"] for n in h.notifications()},
        what="created and updated notifications",
    )
    request = next(r for r in hook.received if r.kind == "notify")
    assert request.headers["content-type"].startswith("application/json")
    items = hook.notifications()
    tenant = conn.result["id_token_claims"]["tid"]
    for item in items:
        _assert_change_envelope(item, sub, tenant_id=tenant)
    ids = {n["resourceData"]["id"] for n in items}
    assert len(ids) == 1
    message_id = ids.pop()
    async with conn.graph(prefer=IMMUTABLE) as g:
        got = await g.get(f"/me/messages/{message_id}", params={"$select": "id,subject"})
        assert got.status_code == 200
        assert got.json()["subject"] == "notify me"
        assert got.json()["id"] == message_id, "Prefer IdType on the subscription gives immutable ids"


async def test_change_type_and_folder_limit_what_is_notified(emulator, hook, receiver: Receiver):
    conn = await connect(emulator)
    created, _ = await _subscribe(conn, hook, changeType="created")
    assert created.status_code == 201
    await deliver(emulator, conn.email, folder="archive", subject="elsewhere")
    await deliver(emulator, conn.email, subject="here")
    await hook.wait_for(lambda h: len(h.notifications()) >= 1, what="a created notification")
    await asyncio.sleep(1.0)  # give stray notifications (updated, other folder) the chance to show up
    items = hook.notifications()
    assert {n["changeType"] for n in items} == {"created"}
    assert len({n["resourceData"]["id"] for n in items}) == 1


async def test_revoked_grant_sends_reauthorization_required_at_once(emulator, hook):
    conn = await connect(emulator)
    created, _ = await _subscribe(conn, hook)
    sub = created.json()
    await revoke(emulator, conn.email, "consent_revoked")
    await hook.wait_for(lambda h: len(h.lifecycle_events()) >= 1, what="a lifecycle notification")
    event = hook.lifecycle_events()[0]
    assert event["lifecycleEvent"] == "reauthorizationRequired"
    assert event["subscriptionId"] == sub["id"]
    assert event["clientState"] == sub["clientState"]
    assert "subscriptionExpirationDateTime" in event
    assert event["tenantId"] == conn.result["id_token_claims"]["tid"]
    assert "resource" not in event and "resourceData" not in event
    assert hook.notifications() == []


async def test_notification_posts_carry_no_secrets_but_client_state(emulator, hook):
    conn = await connect(emulator)
    await _subscribe(conn, hook)
    await deliver(emulator, conn.email)
    await hook.wait_for(lambda h: len(h.notifications()) >= 1, what="a notification")
    raw = repr([r.body for r in hook.received]) + repr([r.headers for r in hook.received])
    assert conn.access_token not in raw
    assert conn.refresh_token not in raw
    assert "authorization" not in {k.lower() for r in hook.received for k in r.headers}


async def test_default_timeout_is_three_seconds(emulator, hook):
    """Graph's rule with default settings: a 2 s answer is accepted, a >3 s answer is retried."""
    conn = await connect(emulator)
    created, _ = await _subscribe(conn, hook, changeType="created")
    assert created.status_code == 201
    hook.delays.append(2.0)
    await deliver(emulator, conn.email, subject="two seconds")
    await hook.wait_for(lambda h: len(h.notifications()) >= 1, what="the first notification")
    hook.delays.append(3.6)
    await deliver(emulator, conn.email, subject="too slow")
    await hook.wait_for(lambda h: len(h.notifications()) >= 3, timeout=15, what="a retry after >3 s")
    ids = [n["resourceData"]["id"] for n in hook.notifications()]
    assert ids[1] == ids[2] != ids[0], "only the slow delivery is repeated"
    await asyncio.sleep(1.5)
    assert len(hook.notifications()) == 3


async def test_move_out_of_the_folder_notifies_deleted(emulator, hook):
    conn = await connect(emulator)
    created, _ = await _subscribe(conn, hook, changeType="created,deleted")
    sub = created.json()
    msg = await deliver(emulator, conn.email, subject="leaving")
    await hook.wait_for(lambda h: len(h.notifications()) >= 1, what="created")
    moved = await move(emulator, conn.email, msg["id"], "archive")
    assert moved.status_code == 200, moved.text
    await hook.wait_for(
        lambda h: "deleted" in [n["changeType"] for n in h.notifications()], what="deleted after the move"
    )
    deleted = next(n for n in hook.notifications() if n["changeType"] == "deleted")
    _assert_change_envelope(deleted, sub)
    first = next(n for n in hook.notifications() if n["changeType"] == "created")
    assert deleted["resourceData"]["id"] == first["resourceData"]["id"], "immutable ids: the same message"


async def test_removed_subscription_sends_subscription_removed(emulator, hook):
    conn = await connect(emulator)
    created, _ = await _subscribe(conn, hook)
    sub = created.json()
    async with control(emulator) as c:
        resp = await c.delete(f"/subscriptions/{sub['id']}")
    assert resp.status_code == 204
    await hook.wait_for(lambda h: len(h.lifecycle_events()) >= 1, what="subscriptionRemoved")
    event = hook.lifecycle_events()[0]
    assert event["lifecycleEvent"] == "subscriptionRemoved"
    assert event["subscriptionId"] == sub["id"]
    assert event["clientState"] == sub["clientState"]
    async with conn.graph() as g:
        assert (await g.get(f"/subscriptions/{sub['id']}")).status_code == 404


async def test_revoked_subscription_holds_notifications_until_reauthorized(emulator, hook):
    """The service's recovery path: the user connects again, the subscription is re-authorized with the
    new token, and what arrived meanwhile is delivered."""
    conn = await connect(emulator)
    created, _ = await _subscribe(conn, hook, changeType="created")
    sub = created.json()
    await revoke(emulator, conn.email, "consent_revoked")
    await hook.wait_for(lambda h: len(h.lifecycle_events()) >= 1, what="reauthorizationRequired")
    await deliver(emulator, conn.email, subject="while revoked")
    await asyncio.sleep(1.0)
    assert hook.notifications() == [], "a paused subscription holds its notifications"
    again = await connect(emulator, app=conn.app, email=conn.email)
    async with again.graph() as g:
        resp = await g.post(f"/subscriptions/{sub['id']}/reauthorize")
    assert resp.status_code == 204, resp.text
    await hook.wait_for(lambda h: len(h.notifications()) >= 1, what="the held notification")
    assert hook.notifications()[0]["subscriptionId"] == sub["id"]


async def test_one_post_carries_several_notifications_for_several_subscriptions(emulator, hook):
    """Graph batches: one POST's `value` holds the created and updated of a message, for every
    subscription that shares the notificationUrl."""
    conn = await connect(emulator)
    inbox, _ = await _subscribe(conn, hook)
    mailbox, _ = await _subscribe(conn, hook, resource="me/messages")
    assert inbox.status_code == 201 and mailbox.status_code == 201, (inbox.text, mailbox.text)
    await deliver(emulator, conn.email, subject="batched")
    await hook.wait_for(lambda h: len(h.notifications()) >= 4, what="four notifications")
    posts = [r for r in hook.received if r.kind == "notify"]
    first = posts[0].body["value"]
    assert len(posts) == 1, [r.body for r in posts]
    assert {(n["subscriptionId"], n["changeType"]) for n in first} == {
        (inbox.json()["id"], "created"),
        (inbox.json()["id"], "updated"),
        (mailbox.json()["id"], "created"),
        (mailbox.json()["id"], "updated"),
    }
    assert len({n["resourceData"]["id"] for n in first}) == 1


async def test_renewing_a_paused_subscription_releases_held_notifications(emulator, hook):
    """PATCH (renew) re-authorizes too (graph-facts): what was held while paused is delivered."""
    conn = await connect(emulator)
    created, _ = await _subscribe(conn, hook, changeType="created")
    sub = created.json()
    await revoke(emulator, conn.email, "consent_revoked")
    await hook.wait_for(lambda h: len(h.lifecycle_events()) >= 1, what="reauthorizationRequired")
    await deliver(emulator, conn.email, subject="held until renewed")
    async with control(emulator) as c:
        listed = (await c.get("/subscriptions")).json()
    assert next(s["held_notifications"] for s in listed if s["id"] == sub["id"]) == 1
    assert hook.notifications() == []
    again = await connect(emulator, app=conn.app, email=conn.email)
    async with again.graph() as g:
        resp = await g.patch(f"/subscriptions/{sub['id']}", json={"expirationDateTime": iso_in(2 * 24 * 60)})
    assert resp.status_code == 200, resp.text
    await hook.wait_for(lambda h: len(h.notifications()) >= 1, what="the held notification")
    assert [n["subscriptionId"] for n in hook.notifications()] == [sub["id"]]
    assert hook.notifications()[0]["changeType"] == "created"
