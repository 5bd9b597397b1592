import time

import msal

from tests.emulator_unit.helpers import msal_app, register_app, sign_in
from tests.support.emulator_server import start_emulator


def test_bad_input_is_4xx_never_5xx(emulator):
    client_id, secret = register_app(emulator)
    result = sign_in(emulator, msal_app(emulator, client_id, secret), "robust@contoso.test")
    h = {"Authorization": f"Bearer {result['access_token']}"}
    with emulator.client() as c:
        calls = [
            c.post(
                "/common/oauth2/v2.0/token",
                content=b"--x\r\ngarbage",
                headers={"content-type": "multipart/form-data; boundary=x"},
            ),
            c.post(
                "/common/oauth2/v2.0/token",
                data={"grant_type": "password", "client_id": client_id, "client_secret": secret},
            ),
            c.post("/v1.0/me/sendMail", headers=h, content=b"{nope"),
            c.post("/v1.0/me/sendMail", headers=h, json=[1, 2]),
            c.post("/v1.0/me/sendMail", headers=h, json={"message": {"toRecipients": "x"}}),
            c.post(
                "/v1.0/me/sendMail",
                headers=h,
                json={
                    "message": {
                        "toRecipients": [{"emailAddress": {"address": "a@b.test"}}],
                        "internetMessageHeaders": [{"name": "Bad", "value": "1"}],
                    }
                },
            ),
            c.get("/v1.0/me/messages?$top=abc", headers=h),
            c.get("/v1.0/me/messages?$select=nope", headers=h),
            c.get("/v1.0/me/messages?$filter=subject eq 'x'", headers=h),
            c.get("/v1.0/me/messages?$orderby=foo", headers=h),
            c.get("/v1.0/me/mailFolders/inbox/messages/delta?$deltatoken=garbage", headers=h),
            c.post("/v1.0/subscriptions", headers=h, json={"changeType": "created"}),
            c.post(
                "/v1.0/subscriptions",
                headers=h,
                json={
                    "changeType": "created",
                    "notificationUrl": "http://example.com/x",
                    "resource": "me/messages",
                    "expirationDateTime": "2030-01-01T00:00:00Z",
                },
            ),
            c.post(
                "/v1.0/subscriptions",
                headers=h,
                json={
                    "changeType": "created",
                    "notificationUrl": "https://127.0.0.1:1/x",
                    "resource": "me/messages",
                    "expirationDateTime": "not a date",
                },
            ),
            c.patch("/v1.0/subscriptions/nope", headers=h, json={}),
            c.post(
                "/v1.0/subscriptions",
                headers=h,
                json={
                    "changeType": "created",
                    "notificationUrl": "https://[::1/x",
                    "resource": "me/messages",
                    "expirationDateTime": "2030-01-01T00:00:00Z",
                },
            ),
            c.get("/v1.0/me/nothing-here", headers=h),
            c.post(
                "/_emulator/users/robust@contoso.test/messages",
                json={"from": "a@b.test", "attachments": [{"name": "x", "content_base64": "***"}]},
            ),
            c.post("/_emulator/users/robust@contoso.test/messages", content=b"[["),
            c.put("/_emulator/faults", json={"error_rate": 7}),
        ]
        for r in calls:
            assert 400 <= r.status_code < 500, (r.request.url, r.status_code, r.text)
        graph_errors = [r for r in calls if r.request.url.path.startswith("/v1.0/")]
        for r in graph_errors:
            err = r.json()["error"]
            assert err["code"] and err["message"] and err["innerError"]["request-id"]


def test_request_log_records_select_and_message_id(emulator):
    client_id, secret = register_app(emulator)
    result = sign_in(emulator, msal_app(emulator, client_id, secret), "logged@contoso.test")
    h = {"Authorization": f"Bearer {result['access_token']}"}
    since = time.time()
    with emulator.client() as c:
        msg = c.post("/_emulator/users/logged@contoso.test/messages", json={"from": "a@b.test"}).json()
        assert c.get(f"/v1.0/me/messages/{msg['id']}?$select=subject,from", headers=h).status_code == 200
        log = c.get("/_emulator/requests", params={"mailbox": "logged@contoso.test", "since": since}).json()
    assert [(e["method"], e["message_id"], e["select"], e["status"]) for e in log] == [
        ("GET", msg["id"], ["subject", "from"], 200)
    ]


def test_restart_keeps_state_and_stops_quickly(tmp_path):
    data = tmp_path / "emu"
    with start_emulator(data) as emu:
        client_id, secret = register_app(emu)
        app = msal_app(emu, client_id, secret)
        result = sign_in(emu, app, "keep@contoso.test")
        started = time.monotonic()
    assert time.monotonic() - started < 5, "graceful shutdown must not wait for idle keep-alive clients"
    with start_emulator(data) as emu:
        app = msal.ConfidentialClientApplication(
            client_id,
            client_credential=secret,
            authority=emu.authority(),
            instance_discovery=False,
            verify=str(emu.ca_path),
        )
        refreshed = app.acquire_token_by_refresh_token(result["refresh_token"], ["Mail.Read"])
        assert "access_token" in refreshed, refreshed
        with emu.client() as c:
            me = c.get("/v1.0/me", headers={"Authorization": f"Bearer {result['access_token']}"})
            assert me.status_code == 200 and me.json()["mail"] == "keep@contoso.test"
