"""Graph v1.0 reads: /me, folders, message lists and single messages, token enforcement."""

from __future__ import annotations

import asyncio

import pytest

from tests.emulator.helpers import (
    assert_graph_error,
    connect,
    deliver,
    move,
    parse_dt,
    unique,
)

WELL_KNOWN = [  # every well-known name graph-facts lists
    "inbox",
    "junkemail",
    "deleteditems",
    "sentitems",
    "drafts",
    "outbox",
    "archive",
    "clutter",
    "conflicts",
    "conversationhistory",
    "localfailures",
    "msgfolderroot",
    "recoverableitemsdeletions",
    "scheduled",
    "searchfolders",
    "serverfailures",
    "syncissues",
]
IMMUTABLE = 'IdType="ImmutableId"'


async def test_me(emulator):
    conn = await connect(emulator)
    async with conn.graph() as g:
        resp = await g.get("/me")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    me = resp.json()
    assert me["mail"] == conn.email
    assert me["userPrincipalName"] == conn.email
    assert me["id"] and me["displayName"]


async def test_unknown_or_missing_token_is_401(emulator):
    conn = await connect(emulator)
    async with conn.graph(token="not-a-token") as g:
        unknown = await g.get("/me")
        assert_graph_error(unknown, 401, "InvalidAuthenticationToken")
        assert unknown.headers["www-authenticate"].lower().startswith("bearer")
        del g.headers["Authorization"]
        assert_graph_error(await g.get("/me/messages"), 401, "InvalidAuthenticationToken")


async def test_call_outside_granted_scopes_is_403_access_denied(emulator):
    conn = await connect(emulator, scopes=["User.Read"])
    async with conn.graph() as g:
        assert (await g.get("/me")).status_code == 200
        assert_graph_error(await g.get("/me/mailFolders/inbox/messages"), 403, "accessDenied")
        resp = await g.post(
            "/me/sendMail",
            json={"message": {"subject": "x", "body": {"contentType": "text", "content": "x"}}},
        )
        assert_graph_error(resp, 403, "accessDenied")


async def test_mail_read_without_mail_send_cannot_send(emulator):
    conn = await connect(emulator, scopes=["Mail.Read"])
    async with conn.graph() as g:
        resp = await g.post(
            "/me/sendMail",
            json={
                "message": {
                    "subject": "x",
                    "body": {"contentType": "text", "content": "x"},
                    "toRecipients": [{"emailAddress": {"address": conn.email}}],
                }
            },
        )
    assert_graph_error(resp, 403, "accessDenied")


async def test_well_known_folders_resolve_to_opaque_ids(emulator):
    conn = await connect(emulator)
    async with conn.graph() as g:
        ids = {}
        for name in WELL_KNOWN:
            resp = await g.get(f"/me/mailFolders/{name}")
            assert resp.status_code == 200, (name, resp.text)
            folder = resp.json()
            assert folder["id"] and folder["id"].lower() != name, "folder ids are opaque, never the name"
            ids[name] = folder["id"]
            by_id = await g.get(f"/me/mailFolders/{folder['id']}")
            assert by_id.status_code == 200 and by_id.json()["id"] == folder["id"]
        assert len(set(ids.values())) == len(ids)
        inbox = (await g.get("/me/mailFolders/inbox")).json()
        assert inbox["displayName"] == "Inbox"
        for key in ("parentFolderId", "childFolderCount", "unreadItemCount", "totalItemCount"):
            assert key in inbox
        listing = await g.get("/me/mailFolders")
        assert listing.status_code == 200
        listed = {f["id"] for f in listing.json()["value"]}
        assert ids["inbox"] in listed and ids["sentitems"] in listed
        assert_graph_error(await g.get("/me/mailFolders/nosuchfolder"), 404, "ErrorItemNotFound")


async def test_message_lands_in_a_custom_folder_with_its_own_id(emulator):
    conn = await connect(emulator)
    msg = await deliver(emulator, conn.email, folder="Projects")
    async with conn.graph(prefer=IMMUTABLE) as g:
        folders = (await g.get("/me/mailFolders")).json()["value"]
        custom = next(f for f in folders if f["displayName"] == "Projects")
        got = (await g.get(f"/me/messages/{msg['id']}", params={"$select": "parentFolderId"})).json()
        assert got["parentFolderId"] == custom["id"]
        in_folder = await g.get(f"/me/mailFolders/{custom['id']}/messages")
        assert [m["subject"] for m in in_folder.json()["value"]] == [msg["subject"]]
        inbox = (await g.get("/me/mailFolders/inbox/messages")).json()["value"]
        assert inbox == []


async def test_list_messages_select_top_orderby(emulator):
    conn = await connect(emulator)
    sent = [await deliver(emulator, conn.email, subject=f"m{i}") for i in range(3)]
    async with conn.graph() as g:
        resp = await g.get(
            "/me/mailFolders/inbox/messages",
            params={"$top": "2", "$orderby": "receivedDateTime desc", "$select": "id,subject"},
        )
        assert resp.status_code == 200, resp.text
        page = resp.json()
        items = page["value"]
        assert [m["subject"] for m in items] == ["m2", "m1"]
        for m in items:
            assert set(m) - {"@odata.etag"} == {"id", "subject"}, m
        assert "@odata.nextLink" in page
        rest = await g.get(page["@odata.nextLink"])
        assert [m["subject"] for m in rest.json()["value"]] == ["m0"]
        latest = await g.get(
            "/me/mailFolders/inbox/messages",
            params={"$top": "1", "$orderby": "receivedDateTime desc", "$select": "id,subject"},
        )
        assert [m["subject"] for m in latest.json()["value"]] == ["m2"]
        assert len(sent) == 3


async def test_list_messages_filter_on_received_date_time(emulator):
    conn = await connect(emulator)
    first = await deliver(emulator, conn.email, subject="early")
    await asyncio.sleep(1.1)  # receivedDateTime has whole seconds
    second = await deliver(emulator, conn.email, subject="late")
    async with conn.graph() as g:
        got = await g.get(f"/me/messages/{second['id']}", params={"$select": "receivedDateTime"})
        second_at = got.json()["receivedDateTime"]
        for op, expected in (("ge", ["late"]), ("gt", []), ("lt", ["early"])):
            resp = await g.get(
                "/me/mailFolders/inbox/messages",
                params={"$filter": f"receivedDateTime {op} {second_at}", "$select": "subject"},
            )
            assert resp.status_code == 200, resp.text
            assert [m["subject"] for m in resp.json()["value"]] == expected, op
    assert first["id"] != second["id"]


async def test_message_fields_and_select(emulator):
    conn = await connect(emulator)
    body = "<p>Hello <b>there</b></p>" + "x" * 400
    msg = await deliver(
        emulator,
        conn.email,
        subject="Fields",
        body=body,
        cc=["cc@fabrikam.test"],
        importance="high",
        headers={"X-Custom-Tag": "42"},
    )
    async with conn.graph() as g:
        full = (await g.get(f"/me/messages/{msg['id']}")).json()
        for key in (
            "id",
            "subject",
            "from",
            "sender",
            "toRecipients",
            "ccRecipients",
            "replyTo",
            "receivedDateTime",
            "bodyPreview",
            "body",
            "conversationId",
            "internetMessageId",
            "hasAttachments",
            "importance",
            "parentFolderId",
            "isRead",
            "isDraft",
            "categories",
        ):
            assert key in full, key
        assert "internetMessageHeaders" not in full, "headers come only with $select"
        assert full["from"]["emailAddress"]["address"] == "sender@fabrikam.test"
        assert full["toRecipients"][0]["emailAddress"]["address"] == conn.email
        assert full["ccRecipients"][0]["emailAddress"]["address"] == "cc@fabrikam.test"
        assert full["importance"] == "high"
        assert full["isRead"] is False and full["isDraft"] is False
        assert full["body"]["contentType"] == "html"
        assert "<b>there</b>" in full["body"]["content"]
        assert "<" not in full["bodyPreview"] and full["bodyPreview"].startswith("Hello there")
        assert len(full["bodyPreview"]) <= 255
        parse_dt(full["receivedDateTime"])
        assert full["receivedDateTime"].endswith("Z")
        inbox = (await g.get("/me/mailFolders/inbox")).json()
        assert full["parentFolderId"] == inbox["id"]

        picked = await g.get(
            f"/me/messages/{msg['id']}", params={"$select": "subject,internetMessageHeaders"}
        )
        got = picked.json()
        assert set(got) - {"@odata.etag", "@odata.context"} == {"id", "subject", "internetMessageHeaders"}
        headers = {h["name"].lower(): h["value"] for h in got["internetMessageHeaders"]}
        assert headers["x-custom-tag"] == "42"
        assert_graph_error(await g.get("/me/messages/AAMkAGnosuchmessage"), 404, "ErrorItemNotFound")


async def test_prefer_body_content_type_text(emulator):
    conn = await connect(emulator)
    msg = await deliver(emulator, conn.email, body="<p>Hello <b>world</b></p>", body_type="html")
    async with conn.graph(prefer='outlook.body-content-type="text"') as g:
        resp = await g.get(f"/me/messages/{msg['id']}", params={"$select": "body"})
    assert resp.status_code == 200
    assert resp.json()["body"]["contentType"] == "text"
    assert "Hello world" in resp.json()["body"]["content"]
    assert "<b>" not in resp.json()["body"]["content"]
    assert 'outlook.body-content-type="text"' in resp.headers.get("preference-applied", "")
    async with conn.graph(prefer='outlook.body-content-type="html"') as g:
        html = await g.get(f"/me/messages/{msg['id']}", params={"$select": "body"})
    assert html.json()["body"]["contentType"] == "html"


async def test_text_message_is_served_as_html_by_default(emulator):
    conn = await connect(emulator)
    msg = await deliver(emulator, conn.email, body="plain words", body_type="text")
    async with conn.graph() as g:
        body = (await g.get(f"/me/messages/{msg['id']}", params={"$select": "body"})).json()["body"]
    assert body["contentType"] == "html"
    assert "plain words" in body["content"]


async def test_attachments_set_has_attachments_unless_inline(emulator):
    conn = await connect(emulator)
    regular = await deliver(
        emulator,
        conn.email,
        attachments=[{"name": "a.txt", "content_type": "text/plain", "content": "aGk=", "is_inline": False}],
    )
    inline = await deliver(
        emulator,
        conn.email,
        attachments=[{"name": "logo.png", "content_type": "image/png", "content": "aGk=", "is_inline": True}],
    )
    async with conn.graph() as g:
        reg = (await g.get(f"/me/messages/{regular['id']}", params={"$select": "hasAttachments"})).json()
        inl = (await g.get(f"/me/messages/{inline['id']}", params={"$select": "hasAttachments"})).json()
    assert reg["hasAttachments"] is True
    assert inl["hasAttachments"] is False


async def test_immutable_id_survives_a_move(emulator):
    conn = await connect(emulator)
    await deliver(emulator, conn.email, subject=unique("move-"))
    async with conn.graph(prefer=IMMUTABLE) as g:
        listed = (await g.get("/me/mailFolders/inbox/messages", params={"$select": "id"})).json()["value"]
        immutable_id = listed[0]["id"]
        assert (await move(emulator, conn.email, immutable_id, "archive")).status_code == 200
        after = await g.get(f"/me/messages/{immutable_id}", params={"$select": "id,parentFolderId"})
        assert after.status_code == 200, after.text
        archive = (await g.get("/me/mailFolders/archive")).json()
        assert after.json()["id"] == immutable_id
        assert after.json()["parentFolderId"] == archive["id"]


async def test_default_id_changes_when_a_message_moves(emulator):
    """graph-facts: a normal id changes when the message moves folder; only immutable ids survive."""
    conn = await connect(emulator)
    await deliver(emulator, conn.email)
    async with conn.graph() as g:
        regular_id = (await g.get("/me/mailFolders/inbox/messages", params={"$select": "id"})).json()[
            "value"
        ][0]["id"]
    async with conn.graph(prefer=IMMUTABLE) as g:
        immutable_id = (await g.get("/me/mailFolders/inbox/messages", params={"$select": "id"})).json()[
            "value"
        ][0]["id"]
    assert (await move(emulator, conn.email, immutable_id, "archive")).status_code == 200
    async with conn.graph() as g:
        moved = (await g.get("/me/mailFolders/archive/messages", params={"$select": "id"})).json()["value"]
    assert len(moved) == 1
    assert moved[0]["id"] != regular_id


@pytest.mark.parametrize(
    "bad", ["$top=abc", "$orderby=nonsense desc", "$filter=subject eq 'x' and", "$select=subject,nosuchfield"]
)
async def test_bad_query_options_are_400_not_500(emulator, bad):
    conn = await connect(emulator)
    async with conn.graph() as g:
        resp = await g.get(f"/me/mailFolders/inbox/messages?{bad}")
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"]["code"]


async def test_mail_read_basic_excludes_body_and_preview(emulator):
    conn = await connect(emulator, scopes=["Mail.ReadBasic"])
    msg = await deliver(emulator, conn.email, subject="basic only")
    async with conn.graph(prefer=IMMUTABLE) as g:
        resp = await g.get(f"/me/messages/{msg['id']}")
        listed = await g.get("/me/mailFolders/inbox/messages")
    assert resp.status_code == 200, resp.text
    got = resp.json()
    assert got["subject"] == "basic only"
    assert "body" not in got and "bodyPreview" not in got
    assert listed.status_code == 200
    assert all("body" not in m and "bodyPreview" not in m for m in listed.json()["value"])


async def test_message_ids_are_case_sensitive(emulator):
    """graph-facts: ids are case-sensitive. The same id with its letters' case changed is another id."""
    conn = await connect(emulator)
    await deliver(emulator, conn.email, subject="case matters")
    for prefer in (None, IMMUTABLE):
        async with conn.graph(prefer=prefer) as g:
            listed = await g.get("/me/mailFolders/inbox/messages", params={"$select": "id"})
            assert listed.status_code == 200, listed.text
            message_id = listed.json()["value"][0]["id"]
            assert message_id.swapcase() != message_id
            assert (await g.get(f"/me/messages/{message_id}")).status_code == 200
            assert_graph_error(await g.get(f"/me/messages/{message_id.swapcase()}"), 404, "ErrorItemNotFound")
