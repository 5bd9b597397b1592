"""Identity: discovery, app registration and the authorize endpoint's consent page, driven like a browser."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import uuid
from urllib.parse import urlencode, urljoin

import httpx
import pytest

from tests.emulator.forms import consent_form, parse_page
from tests.emulator.helpers import (
    DEFAULT_SCOPES,
    App,
    assert_graph_error,
    connect,
    control,
    create_user,
    discovery,
    mail_address,
    new_msal_app,
    pre_consent,
    query_of,
    refresh,
    register_app,
    tls,
)
from tests.emulator.receiver import Hook
from tests.support.emulator_server import start_emulator


@pytest.mark.parametrize("tenant", ["common", "organizations", "9188040d-6c67-4c5b-b112-36a304b66dad"])
async def test_discovery_document_serves_msal_for_any_tenant(emulator, tenant):
    doc = await discovery(emulator, tenant)
    authority = emulator.authority(tenant)
    assert doc["authorization_endpoint"] == f"{authority}/oauth2/v2.0/authorize"
    assert doc["token_endpoint"] == f"{authority}/oauth2/v2.0/token"
    assert "code" in doc["response_types_supported"]
    assert doc["issuer"].startswith("https://")
    app = await register_app(emulator)
    cca = await new_msal_app(emulator, app, tenant)  # unmodified MSAL accepts the authority
    flow = cca.initiate_auth_code_flow(["Mail.Read"], redirect_uri=app.redirect_uri)
    assert flow["auth_uri"].startswith(doc["authorization_endpoint"])


async def _consent_page(emulator, auth_uri: str) -> httpx.Response:
    async with httpx.AsyncClient(verify=tls(emulator)) as http:
        return await http.get(auth_uri)


async def _submit(emulator, page: httpx.Response, button: str, pick: str | None) -> httpx.Response:
    forms, _text = parse_page(page.text)
    form = consent_form(forms, button)
    assert form.method == "post", form
    data = form.submission(button, pick)
    async with httpx.AsyncClient(verify=tls(emulator), cookies=page.cookies) as http:
        return await http.post(urljoin(str(page.url), form.action or str(page.url)), data=data)


async def test_consent_page_is_html_with_user_picker_and_permissions(emulator):
    app = await register_app(emulator)
    alice = await create_user(emulator, "alice")
    bob = await create_user(emulator, "bob")
    cca = await new_msal_app(emulator, app)
    flow = cca.initiate_auth_code_flow(DEFAULT_SCOPES, redirect_uri=app.redirect_uri, login_hint=alice)
    page = await _consent_page(emulator, flow["auth_uri"])
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "<html" in page.text.lower()
    forms, text = parse_page(page.text)
    for scope in DEFAULT_SCOPES:
        assert scope in text, f"permission {scope} not shown"
    form = consent_form(forms, "Accept")
    assert form.button("Cancel") is not None or consent_form(forms, "Cancel")
    offered = " ".join(c.value + " " + c.label for c in form.choices) + " " + text
    assert alice in offered and bob in offered, "the user picker must list the emulated mailboxes"


async def test_accept_redirects_with_code_and_state_and_msal_redeems_it(emulator):
    app = await register_app(emulator)
    alice = await create_user(emulator, "alice")
    bob = await create_user(emulator, "bob")
    cca = await new_msal_app(emulator, app)
    flow = cca.initiate_auth_code_flow(DEFAULT_SCOPES, redirect_uri=app.redirect_uri, login_hint=alice)
    page = await _consent_page(emulator, flow["auth_uri"])
    # Picking another user than the hint signs in as that user.
    resp = await _submit(emulator, page, "Accept", pick=bob)
    assert resp.status_code in (302, 303), resp.text[:500]
    location = resp.headers["location"]
    assert location.startswith(app.redirect_uri + "?")
    params = query_of(location)
    assert params["state"] == flow["state"]
    assert params["code"]
    result = await asyncio.to_thread(cca.acquire_token_by_auth_code_flow, flow, params)
    assert "access_token" in result, result
    assert result["token_type"].lower() == "bearer"
    assert result["refresh_token"]
    assert result["id_token_claims"]["preferred_username"].lower() == bob.lower()
    async with httpx.AsyncClient(verify=tls(emulator)) as http:
        me = await http.get(
            f"{emulator.graph_url}/me", headers={"Authorization": f"Bearer {result['access_token']}"}
        )
    assert me.status_code == 200
    assert me.json()["mail"].lower() == bob.lower()


async def test_cancel_redirects_with_access_denied(emulator):
    app = await register_app(emulator)
    alice = await create_user(emulator, "alice")
    cca = await new_msal_app(emulator, app)
    flow = cca.initiate_auth_code_flow(DEFAULT_SCOPES, redirect_uri=app.redirect_uri, login_hint=alice)
    page = await _consent_page(emulator, flow["auth_uri"])
    resp = await _submit(emulator, page, "Cancel", pick=alice)
    assert resp.status_code in (302, 303)
    params = query_of(resp.headers["location"])
    assert resp.headers["location"].startswith(app.redirect_uri)
    assert params["error"] == "access_denied"
    assert params["state"] == flow["state"]
    assert params.get("error_description")
    assert "code" not in params
    result = await asyncio.to_thread(cca.acquire_token_by_auth_code_flow, flow, params)
    assert result.get("error") == "access_denied"


def _authorize_url(emulator, **params: str) -> str:
    return f"{emulator.authority()}/oauth2/v2.0/authorize?{urlencode(params)}"


def _pkce() -> tuple[str, str]:
    verifier = base64.urlsafe_b64encode(uuid.uuid4().bytes * 2).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def test_authorize_refuses_unknown_client_without_redirecting(emulator):
    app = await register_app(emulator)
    _v, challenge = _pkce()
    url = _authorize_url(
        emulator,
        client_id=str(uuid.uuid4()),
        response_type="code",
        redirect_uri=app.redirect_uri,
        scope="Mail.Read offline_access",
        state="s1",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    resp = await _consent_page(emulator, url)
    assert 400 <= resp.status_code < 500
    assert "location" not in resp.headers


@pytest.mark.parametrize("variant", ["trailing-slash", "other-path", "other-port"])
async def test_authorize_requires_the_exact_registered_redirect_uri(emulator, variant):
    app = await register_app(emulator, redirect_uri="http://localhost:8765/exact/callback")
    bad = {
        "trailing-slash": "http://localhost:8765/exact/callback/",
        "other-path": "http://localhost:8765/exact/callbackx",
        "other-port": "http://localhost:8766/exact/callback",
    }[variant]
    _v, challenge = _pkce()
    url = _authorize_url(
        emulator,
        client_id=app.client_id,
        response_type="code",
        redirect_uri=bad,
        scope="Mail.Read offline_access",
        state="s1",
        code_challenge=challenge,
        code_challenge_method="S256",
    )
    resp = await _consent_page(emulator, url)
    assert 400 <= resp.status_code < 500
    assert "location" not in resp.headers, "never redirect to an unregistered URI"


async def test_app_registration_again_replaces_it(emulator):
    app = await register_app(emulator)
    async with control(emulator) as c:
        resp = await c.post(
            "/apps",
            json={
                "client_id": app.client_id,
                "client_secret": "replaced-secret",
                "redirect_uris": ["http://localhost:8765/replaced"],
                "display_name": "replaced",
            },
        )
    assert resp.status_code == 201
    _v, challenge = _pkce()
    common = {
        "client_id": app.client_id,
        "response_type": "code",
        "scope": "Mail.Read offline_access",
        "state": "s",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    old = await _consent_page(emulator, _authorize_url(emulator, redirect_uri=app.redirect_uri, **common))
    assert 400 <= old.status_code < 500
    new = await _consent_page(
        emulator, _authorize_url(emulator, redirect_uri="http://localhost:8765/replaced", **common)
    )
    assert new.status_code == 200


async def test_app_registration_rejects_bad_input(emulator):
    async with control(emulator) as c:
        resp = await c.post("/apps", json={"client_id": "x"})
    assert 400 <= resp.status_code < 500


async def test_pre_answered_consent_lets_a_scripted_client_follow_redirects(emulator, hook: Hook):
    app = await register_app(emulator, redirect_uri=hook.callback_url)
    email = await create_user(emulator)
    cca = await new_msal_app(emulator, app)
    flow = cca.initiate_auth_code_flow(["Mail.Read"], redirect_uri=app.redirect_uri, login_hint=email)
    await pre_consent(emulator, email, ["Mail.Read"])
    async with httpx.AsyncClient(verify=tls(emulator), follow_redirects=True) as http:
        resp = await http.get(flow["auth_uri"])
    assert resp.status_code == 200
    assert resp.text == "signed in"
    assert len(hook.callbacks) == 1
    params = hook.callbacks[0]
    assert params["state"] == flow["state"]
    result = await asyncio.to_thread(cca.acquire_token_by_auth_code_flow, flow, params)
    assert "access_token" in result, result
    granted = {s.rsplit("/", 1)[-1].lower() for s in result["scope"].split()}
    assert "mail.read" in granted


async def test_pre_answered_deny_redirects_with_access_denied(emulator):
    app = await register_app(emulator)
    email = await create_user(emulator)
    cca = await new_msal_app(emulator, app)
    flow = cca.initiate_auth_code_flow(["Mail.Read"], redirect_uri=app.redirect_uri, login_hint=email)
    await pre_consent(emulator, email, deny=True)
    async with httpx.AsyncClient(verify=tls(emulator)) as http:
        resp = await http.get(flow["auth_uri"])
    assert resp.status_code in (302, 303)
    params = query_of(resp.headers["location"])
    assert params["error"] == "access_denied"
    assert params["state"] == flow["state"]


async def test_pre_answer_is_used_once_then_the_page_shows_again(emulator):
    conn = await connect(emulator, scopes=["Mail.Read"])
    flow = conn.msal_app.initiate_auth_code_flow(
        ["Mail.Read"], redirect_uri=conn.app.redirect_uri, login_hint=conn.email
    )
    page = await _consent_page(emulator, flow["auth_uri"])
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")


async def test_consent_page_escapes_what_the_request_carries(emulator):
    app = await register_app(emulator)
    await create_user(emulator)
    cca = await new_msal_app(emulator, app)
    evil = "<script>alert(1)</script>@contoso.test"
    flow = cca.initiate_auth_code_flow(["Mail.Read"], redirect_uri=app.redirect_uri, login_hint=evil)
    page = await _consent_page(emulator, flow["auth_uri"])
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text


@pytest.mark.parametrize("pkce", ["missing", "plain"])
async def test_authorize_requires_pkce_s256(emulator, pkce):
    app = await register_app(emulator)
    email = await create_user(emulator)
    verifier, _challenge = _pkce()
    params = {
        "client_id": app.client_id,
        "response_type": "code",
        "redirect_uri": app.redirect_uri,
        "scope": "Mail.Read offline_access",
        "state": "pkce-state",
        "login_hint": email,
    }
    if pkce == "plain":
        params |= {"code_challenge": verifier, "code_challenge_method": "plain"}
    await pre_consent(emulator, email, ["Mail.Read"])
    resp = await _consent_page(emulator, _authorize_url(emulator, **params))
    assert resp.status_code in (302, 303), resp.text[:300]
    answer = query_of(resp.headers["location"])
    assert answer["error"] == "invalid_request"
    assert answer["state"] == "pkce-state"
    assert "code" not in answer


async def test_response_mode_form_post(emulator):
    """MSAL recommends response_mode=form_post (it warns otherwise); Entra answers with a page that
    POSTs code and state to the redirect URI."""
    app = await register_app(emulator)
    email = await create_user(emulator)
    cca = await new_msal_app(emulator, app)
    flow = cca.initiate_auth_code_flow(
        ["Mail.Read"], redirect_uri=app.redirect_uri, login_hint=email, response_mode="form_post"
    )
    await pre_consent(emulator, email, ["Mail.Read"])
    page = await _consent_page(emulator, flow["auth_uri"])
    assert page.status_code == 200, page.text[:300]
    assert page.headers["content-type"].startswith("text/html")
    forms, _text = parse_page(page.text)
    posting = next(f for f in forms if f.action == app.redirect_uri)
    assert posting.method == "post"
    assert posting.hidden["state"] == flow["state"]
    result = await asyncio.to_thread(cca.acquire_token_by_auth_code_flow, flow, posting.hidden)
    assert "access_token" in result, result


async def test_partial_consent_gives_a_token_without_the_declined_scopes(emulator):
    """POST /_emulator/consent with narrower scopes: the user accepted only those. The token's `scope`
    lacks the rest, and Graph answers 403 accessDenied for a call that needs one of them."""
    app = await register_app(emulator)
    email = await create_user(emulator)
    cca = await new_msal_app(emulator, app)
    flow = cca.initiate_auth_code_flow(DEFAULT_SCOPES, redirect_uri=app.redirect_uri, login_hint=email)
    await pre_consent(emulator, email, ["User.Read", "Mail.Read"])
    async with httpx.AsyncClient(verify=tls(emulator)) as http:
        resp = await http.get(flow["auth_uri"])
    assert resp.status_code in (302, 303), resp.text
    result = await asyncio.to_thread(
        cca.acquire_token_by_auth_code_flow, flow, query_of(resp.headers["location"])
    )
    assert "access_token" in result, result
    granted = {s.rsplit("/", 1)[-1].lower() for s in result["scope"].split()}
    assert {"user.read", "mail.read"} <= granted
    assert "mail.send" not in granted
    headers = {"Authorization": f"Bearer {result['access_token']}"}
    async with httpx.AsyncClient(base_url=emulator.graph_url, verify=tls(emulator), headers=headers) as g:
        assert (await g.get("/me")).status_code == 200
        assert (await g.get("/me/mailFolders/inbox/messages")).status_code == 200
        denied = await g.post(
            "/me/sendMail",
            json={"message": {"subject": "x", "toRecipients": [mail_address("someone@fabrikam.test")]}},
        )
    assert_graph_error(denied, 403, "accessDenied")


async def test_apps_and_users_from_settings_are_registered_at_start(tmp_path):
    """EMULATOR_APPS (and EMULATOR_USERS) register what `make run` needs before anything calls the
    control API: unmodified MSAL signs in with that app at once."""
    app = App(
        client_id=str(uuid.uuid4()),
        client_secret="settings-secret",
        redirect_uri="http://localhost:8765/settings/callback",
    )
    email = "settings-user@contoso.test"
    with start_emulator(
        tmp_path / "emu",
        no_snapshot=True,
        apps=[
            {
                "client_id": app.client_id,
                "client_secret": app.client_secret,
                "redirect_uris": [app.redirect_uri],
                "display_name": "From settings",
            }
        ],
        users=[{"email": email, "display_name": "Seeded"}],
    ) as emu:
        async with control(emu) as c:
            apps = (await c.get("/apps")).json()
            users = (await c.get("/users")).json()
        assert [(a["client_id"], a["redirect_uris"]) for a in apps] == [(app.client_id, [app.redirect_uri])]
        assert "client_secret" not in apps[0]
        assert [u["email"] for u in users] == [email]
        conn = await connect(emu, app=app, email=email)
        async with conn.graph() as g:
            me = await g.get("/me")
        assert me.status_code == 200, me.text
        assert me.json()["mail"] == email
        refreshed = await refresh(conn)
        assert refreshed.status_code == 200, refreshed.text


async def test_prompt_none_without_prior_consent_is_consent_required_65001(emulator):
    """A silent request (prompt=none) may not show the consent page: without a grant it redirects with
    consent_required; once the user has consented, the same silent request gets a code."""
    app = await register_app(emulator)
    email = await create_user(emulator)
    cca = await new_msal_app(emulator, app)
    flow = cca.initiate_auth_code_flow(
        DEFAULT_SCOPES, redirect_uri=app.redirect_uri, login_hint=email, prompt="none"
    )
    async with httpx.AsyncClient(verify=tls(emulator)) as http:
        resp = await http.get(flow["auth_uri"])
    assert resp.status_code in (302, 303), resp.text
    assert resp.headers["location"].startswith(app.redirect_uri)
    params = query_of(resp.headers["location"])
    assert params["error"] == "consent_required", params
    assert params["error_description"].startswith("AADSTS65001"), params
    assert params["state"] == flow["state"]
    assert "code" not in params

    await connect(emulator, app=app, email=email)  # the user consents interactively once
    silent = cca.initiate_auth_code_flow(
        DEFAULT_SCOPES, redirect_uri=app.redirect_uri, login_hint=email, prompt="none"
    )
    async with httpx.AsyncClient(verify=tls(emulator)) as http:
        resp = await http.get(silent["auth_uri"])
    assert resp.status_code in (302, 303), resp.text
    params = query_of(resp.headers["location"])
    assert "code" in params and "error" not in params, params
    result = await asyncio.to_thread(cca.acquire_token_by_auth_code_flow, silent, params)
    assert "access_token" in result, result
