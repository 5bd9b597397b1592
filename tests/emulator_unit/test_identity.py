import re

import httpx

from tests.emulator_unit.helpers import REDIRECT, msal_app, register_app, sign_in


def test_msal_auth_code_and_refresh(emulator):
    client_id, secret = register_app(emulator)
    app = msal_app(emulator, client_id, secret)
    result = sign_in(emulator, app, "alice@contoso.test")
    assert result["id_token_claims"]["preferred_username"] == "alice@contoso.test"
    assert "refresh_token" in result
    assert set(result["scope"]) >= {"User.Read", "Mail.Read", "Mail.Send"} or "Mail.Read" in result["scope"]
    with emulator.client() as c:
        me = c.get("/v1.0/me", headers={"Authorization": f"Bearer {result['access_token']}"})
        assert me.status_code == 200, me.text
        assert me.json()["mail"] == "alice@contoso.test"
    refreshed = app.acquire_token_by_refresh_token(result["refresh_token"], ["Mail.Read"])
    assert "access_token" in refreshed, refreshed
    assert refreshed["refresh_token"] != result["refresh_token"]
    # rotated: the old one is spent
    again = app.acquire_token_by_refresh_token(result["refresh_token"], ["Mail.Read"])
    assert again.get("error") == "invalid_grant" and 70008 in again["error_codes"]


def test_code_reuse_and_revocation(emulator):
    client_id, secret = register_app(emulator)
    app = msal_app(emulator, client_id, secret)
    email = "bob@contoso.test"
    with emulator.client() as c:
        c.post("/_emulator/users", json={"email": email})
        c.post("/_emulator/consent", json={"email": email})
    flow = app.initiate_auth_code_flow(["Mail.Read"], redirect_uri=REDIRECT, login_hint=email)
    with httpx.Client(verify=str(emulator.ca_path)) as c:
        loc = httpx.URL(c.get(flow["auth_uri"]).headers["location"])
    params = dict(loc.params)
    first = app.acquire_token_by_auth_code_flow(dict(flow), params)
    assert "access_token" in first
    with emulator.client() as c:
        r = c.post(
            f"/{'common'}/oauth2/v2.0/token",
            data={
                "grant_type": "authorization_code",
                "code": params["code"],
                "client_id": client_id,
                "client_secret": secret,
                "redirect_uri": REDIRECT,
                "code_verifier": flow["code_verifier"],
            },
        )
        assert r.status_code == 400 and r.json()["error_codes"] == [54005]
        r = c.post(f"/_emulator/users/{email}/revoke", json={"reason": "admin_reset"})
        assert r.status_code == 200
        r = c.post(
            "/common/oauth2/v2.0/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": first["refresh_token"],
                "client_id": client_id,
                "client_secret": secret,
                "scope": "Mail.Read offline_access",
            },
        )
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
        assert r.json()["error_codes"] == [50173]
        r = c.post(
            "/common/oauth2/v2.0/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": first["refresh_token"],
                "client_id": client_id,
                "client_secret": "wrong",
            },
        )
        assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def test_deny_and_scope_enforcement(emulator):
    client_id, secret = register_app(emulator)
    app = msal_app(emulator, client_id, secret)
    with emulator.client() as c:
        # a deny naming nobody, scoped to this app: leftovers of other tests cannot answer for it
        c.post("/_emulator/consent", json={"deny": True, "client_id": client_id})
    flow = app.initiate_auth_code_flow(["Mail.Read"], redirect_uri=REDIRECT, login_hint="deny@contoso.test")
    with httpx.Client(verify=str(emulator.ca_path)) as c:
        loc = httpx.URL(c.get(flow["auth_uri"]).headers["location"])
    assert loc.params["error"] == "access_denied" and loc.params["state"] == flow["state"]
    result = sign_in(emulator, app, "carol@contoso.test", scopes=["Mail.Read"])
    with emulator.client() as c:
        h = {"Authorization": f"Bearer {result['access_token']}"}
        r = c.post(
            "/v1.0/me/sendMail",
            headers=h,
            json={"message": {"toRecipients": [{"emailAddress": {"address": "x@y.test"}}]}},
        )
        assert r.status_code == 403 and r.json()["error"]["code"] == "accessDenied"
        assert r.json()["error"]["innerError"]["request-id"] == r.headers["request-id"]
        r = c.get("/v1.0/me/messages", headers={"Authorization": "Bearer nope"})
        assert r.status_code == 401 and r.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_consent_page_renders(emulator):
    client_id, secret = register_app(emulator)
    app = msal_app(emulator, client_id, secret)
    flow = app.initiate_auth_code_flow(["Mail.Read"], redirect_uri=REDIRECT, login_hint="page@contoso.test")
    with httpx.Client(verify=str(emulator.ca_path)) as c:
        page = c.get(flow["auth_uri"])
        assert page.status_code == 200 and "Mail.Read" in page.text and "Accept" in page.text


def test_form_post_response_mode(emulator):
    client_id, secret = register_app(emulator)
    app = msal_app(emulator, client_id, secret)
    with emulator.client() as c:
        c.post("/_emulator/users", json={"email": "fp@contoso.test"})
        c.post("/_emulator/consent", json={"email": "fp@contoso.test"})
    flow = app.initiate_auth_code_flow(
        ["Mail.Read"], redirect_uri=REDIRECT, response_mode="form_post", login_hint="fp@contoso.test"
    )
    with httpx.Client(verify=str(emulator.ca_path)) as c:
        page = c.get(flow["auth_uri"])
    assert page.status_code == 200 and f'action="{REDIRECT}"' in page.text
    fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page.text))
    assert fields["state"] == flow["state"]
    result = app.acquire_token_by_auth_code_flow(flow, fields)
    assert "access_token" in result, result
