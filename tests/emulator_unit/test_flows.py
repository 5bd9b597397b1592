import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx

from tests.emulator_unit.helpers import REDIRECT, msal_app, register_app, sign_in
from tests.emulator_unit.receiver import Receiver
from tests.support.emulator_server import start_emulator


def wait_for(pred: Callable[[], bool], timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_consent_page_accept_by_form(emulator):
    client_id, secret = register_app(emulator)
    app = msal_app(emulator, client_id, secret)
    with emulator.client() as c:
        c.post("/_emulator/users", json={"email": "form@contoso.test"})
    flow = app.initiate_auth_code_flow(["Mail.Read"], redirect_uri=REDIRECT, login_hint="form@contoso.test")
    with httpx.Client(verify=str(emulator.ca_path)) as c:
        page = c.get(flow["auth_uri"])
        found = re.search(r'name="flow" value="([^"]+)"', page.text)
        assert found is not None
        flow_id = found.group(1)
        post = c.post(
            flow["auth_uri"].split("?")[0],
            data={"flow": flow_id, "user": "form@contoso.test", "decision": "accept"},
        )
        assert post.status_code == 302
        params = dict(httpx.URL(post.headers["location"]).params)
        # a flow is single-use
        again = c.post(flow["auth_uri"].split("?")[0], data={"flow": flow_id, "decision": "accept"})
        assert again.status_code == 400
    result = app.acquire_token_by_auth_code_flow(flow, params)
    assert result["id_token_claims"]["preferred_username"] == "form@contoso.test"


def test_revoke_pauses_subscription_until_reauthorized(tmp_path):
    with Receiver() as rec, start_emulator(tmp_path / "emu", no_snapshot=True) as emu:
        client_id, secret = register_app(emu)
        app = msal_app(emu, client_id, secret)
        result = sign_in(emu, app, "dave@contoso.test")
        h = {"Authorization": f"Bearer {result['access_token']}", "Prefer": 'IdType="ImmutableId"'}
        exp = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        with emu.client() as c:
            sub = c.post(
                "/v1.0/subscriptions",
                headers=h,
                json={
                    "changeType": "created",
                    "notificationUrl": rec.url,
                    "lifecycleNotificationUrl": rec.url,
                    "resource": "me/mailFolders('inbox')/messages",
                    "expirationDateTime": exp,
                    "clientState": "s3cret",
                },
            )
            assert sub.status_code == 201, sub.text
            assert rec.validations == 2  # both URLs validated, even when they are the same
            dup = c.post(
                "/v1.0/subscriptions",
                headers=h,
                json={
                    "changeType": "created",
                    "notificationUrl": rec.url,
                    "resource": "me/mailfolders/inbox/messages",
                    "expirationDateTime": exp,
                },
            )
            assert dup.status_code == 409
            msg = c.post(
                "/_emulator/users/dave@contoso.test/messages",
                json={"from": "x@fabrikam.test", "to": ["dave@contoso.test"], "subject": "one"},
            ).json()
            assert wait_for(
                lambda: any(n.get("resourceData", {}).get("id") == msg["id"] for n in rec.notifications)
            )
            assert (
                c.post(
                    "/_emulator/users/dave@contoso.test/revoke", json={"reason": "admin_reset"}
                ).status_code
                == 200
            )
            assert wait_for(
                lambda: any(n.get("lifecycleEvent") == "reauthorizationRequired" for n in rec.notifications)
            )
            held = c.post(
                "/_emulator/users/dave@contoso.test/messages",
                json={"from": "x@fabrikam.test", "to": ["dave@contoso.test"], "subject": "two"},
            ).json()
            time.sleep(0.5)
            assert not any(n.get("resourceData", {}).get("id") == held["id"] for n in rec.notifications)
            r = c.post(f"/v1.0/subscriptions/{sub.json()['id']}/reauthorize", headers=h)
            assert r.status_code == 204
            assert wait_for(
                lambda: any(n.get("resourceData", {}).get("id") == held["id"] for n in rec.notifications)
            )
            n = next(n for n in rec.notifications if n.get("resourceData", {}).get("id") == held["id"])
            assert n["clientState"] == "s3cret" and n["resource"].startswith("Users/")
            assert c.delete(f"/_emulator/subscriptions/{sub.json()['id']}").status_code == 204
            assert wait_for(
                lambda: any(n.get("lifecycleEvent") == "subscriptionRemoved" for n in rec.notifications)
            )


def test_failed_deliveries_are_retried(tmp_path):
    with (
        Receiver() as rec,
        start_emulator(tmp_path / "emu", no_snapshot=True, notification_retry_base_seconds=0.2) as emu,
    ):
        client_id, secret = register_app(emu)
        app = msal_app(emu, client_id, secret)
        result = sign_in(emu, app, "erin@contoso.test")
        h = {"Authorization": f"Bearer {result['access_token']}"}
        exp = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        with emu.client() as c:
            assert (
                c.post(
                    "/v1.0/subscriptions",
                    headers=h,
                    json={
                        "changeType": "created,updated",
                        "notificationUrl": rec.url,
                        "resource": "me/messages",
                        "expirationDateTime": exp,
                    },
                ).status_code
                == 201
            )
            rec.fail_next = 2
            msg = c.post(
                "/_emulator/users/erin@contoso.test/messages",
                json={"from": "x@fabrikam.test", "to": ["erin@contoso.test"]},
            ).json()
            assert wait_for(lambda: len(rec.notifications) >= 2)
            assert {n["changeType"] for n in rec.notifications} == {"created", "updated"}
            # default subscription (no Prefer): regular ids
            assert rec.notifications[0]["resourceData"]["id"] == msg["restId"]
            assert c.get("/_emulator/stats").json()["failed_attempts"] == 2


def test_budget_throttle_retry_after(tmp_path):
    with start_emulator(
        tmp_path / "emu", no_snapshot=True, throttle_budget=3, throttle_window_seconds=5
    ) as emu:
        client_id, secret = register_app(emu)
        app = msal_app(emu, client_id, secret)
        result = sign_in(emu, app, "frank@contoso.test")
        h = {"Authorization": f"Bearer {result['access_token']}"}
        with emu.client() as c:
            codes = [c.get("/v1.0/me", headers=h).status_code for _ in range(4)]
            assert codes == [200, 200, 200, 429]
            r = c.get("/v1.0/me", headers=h)
            assert r.json()["error"]["code"] == "ApplicationThrottled"
            assert 0 < float(r.headers["retry-after"]) <= 5 and "." in r.headers["retry-after"]


def test_move_notifications_per_subscription_scope(tmp_path):
    with (
        Receiver() as rec,
        start_emulator(tmp_path / "emu", no_snapshot=True, extra_updated_notifications=0) as emu,
    ):
        client_id, secret = register_app(emu)
        result = sign_in(emu, msal_app(emu, client_id, secret), "gina@contoso.test")
        h = {"Authorization": f"Bearer {result['access_token']}", "Prefer": 'IdType="ImmutableId"'}
        exp = (datetime.now(UTC) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
        with emu.client() as c:
            subs = {}
            for resource in ("me/mailFolders('inbox')/messages", "me/messages"):
                r = c.post(
                    "/v1.0/subscriptions",
                    headers=h,
                    json={
                        "changeType": "created,updated,deleted",
                        "notificationUrl": rec.url,
                        "resource": resource,
                        "expirationDateTime": exp,
                    },
                )
                assert r.status_code == 201, r.text
                subs[resource] = r.json()["id"]
            msg = c.post("/_emulator/users/gina@contoso.test/messages", json={"from": "a@b.test"}).json()
            assert wait_for(lambda: len(rec.notifications) >= 2)
            rec.notifications.clear()
            moved = c.post(
                f"/_emulator/users/gina@contoso.test/messages/{msg['id']}/move", json={"folder": "archive"}
            ).json()
            assert moved["id"] == msg["id"] and moved["restId"] != msg["restId"]
            assert wait_for(lambda: len(rec.notifications) >= 2)
            time.sleep(0.3)
            seen = sorted((n["subscriptionId"], n["changeType"]) for n in rec.notifications)
            assert seen == sorted(
                [(subs["me/mailFolders('inbox')/messages"], "deleted"), (subs["me/messages"], "updated")]
            )
