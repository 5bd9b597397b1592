"""Unmodified MSAL against the emulator: auth-code flow, refresh rotation, every revoke reason."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta

import msal
import pytest
from pydantic import SecretStr

from graph.identity import Identity
from graph.identity_errors import (
    ConsentDeclined,
    ConsentRequired,
    GrantRevoked,
    IdentityError,
    IdentityUnavailable,
    InteractionRequired,
    InvalidGrant,
    ReconnectRequired,
    StateMismatch,
)
from graph.mail import GraphMail
from tests.graph.support import (
    SCOPES,
    RegisteredApp,
    connect,
    create_user,
    issued_tokens,
    pre_consent,
    revoke,
    run_consent,
)
from tests.support.emulator_server import RunningEmulator


async def test_auth_code_flow_yields_tokens_for_the_mailbox(
    emulator: RunningEmulator, graph_app: RegisteredApp, identity: Identity, graph: GraphMail
) -> None:
    email, tokens = await connect(emulator, graph_app, identity)
    assert tokens.access_token.get_secret_value() and tokens.refresh_token.get_secret_value()
    assert sorted(tokens.scopes) == ["Mail.Read", "Mail.Send", "User.Read"]
    now = datetime.now(UTC)
    assert now + timedelta(minutes=30) < tokens.expires_at < now + timedelta(minutes=120)
    assert tokens.username == email
    issued = await issued_tokens(emulator)
    assert tokens.access_token.get_secret_value() in issued
    assert tokens.refresh_token.get_secret_value() in issued
    # The token set never prints its secrets.
    assert tokens.refresh_token.get_secret_value() not in repr(tokens)
    me = await graph.mailbox(email, tokens.access_token).get_me()
    assert me.mailbox == email
    # MSAL kept nothing: tokens live in Vault only, never piling up in the process.
    await identity.refresh(tokens.refresh_token, tokens.scopes)
    cache = identity._app.token_cache  # type: ignore[union-attr]
    for kind in (msal.TokenCache.CredentialType.ACCESS_TOKEN, msal.TokenCache.CredentialType.REFRESH_TOKEN):
        assert list(cache.search(kind)) == []


async def test_flow_dict_is_state_and_pkce(identity: Identity, graph_app: RegisteredApp) -> None:
    flow = await identity.initiate_auth_code_flow(
        ["User.Read", "offline_access"], graph_app.redirect_uri, login_hint="a@b.test"
    )
    assert flow["state"] and flow["code_verifier"]
    assert "code_challenge=" in flow["auth_uri"] and "code_challenge_method=S256" in flow["auth_uri"]
    assert "login_hint=a%40b.test" in flow["auth_uri"]


async def test_refresh_rotates_and_old_refresh_token_is_dead(
    emulator: RunningEmulator, graph_app: RegisteredApp, identity: Identity
) -> None:
    _email, first = await connect(emulator, graph_app, identity)
    # The granted scopes as returned are what a later refresh asks for.
    second = await identity.refresh(first.refresh_token, first.scopes)
    assert sorted(second.scopes) == sorted(first.scopes)
    assert second.refresh_token.get_secret_value() != first.refresh_token.get_secret_value()
    assert second.access_token.get_secret_value() != first.access_token.get_secret_value()
    assert second.obtained_at >= first.obtained_at
    third = await identity.refresh(second.refresh_token, SCOPES)
    assert third.refresh_token.get_secret_value() != second.refresh_token.get_secret_value()
    # Reusing a rotated refresh token is refused: only ever keep the newest one.
    with pytest.raises(ReconnectRequired) as excinfo:
        await identity.refresh(first.refresh_token, SCOPES)
    assert first.refresh_token.get_secret_value() not in str(excinfo.value)


# A consent revoked by the user is reported by Entra either as consent_required 65001 or as
# invalid_grant 50173; both must end as "reconnect required" with the matching reason.
EXPECTED = {
    ("invalid_grant", 50173): (GrantRevoked, "consent revoked or password reset by an admin"),
    ("consent_required", 65001): (ConsentRequired, "consent revoked"),
    ("invalid_grant", 700082): (GrantRevoked, "inactive for too long"),
    ("interaction_required", 50076): (InteractionRequired, "MFA now required"),
}


@pytest.mark.parametrize(
    ("reason", "answers"),
    [
        ("consent_revoked", {("invalid_grant", 50173), ("consent_required", 65001)}),
        ("admin_reset", {("invalid_grant", 50173)}),
        ("inactive", {("invalid_grant", 700082)}),
        ("mfa_required", {("interaction_required", 50076)}),
    ],
)
async def test_each_revoke_reason_maps_to_its_typed_error(
    emulator: RunningEmulator,
    graph_app: RegisteredApp,
    identity: Identity,
    reason: str,
    answers: set[tuple[str, int]],
) -> None:
    email, tokens = await connect(emulator, graph_app, identity)
    await revoke(emulator, email, reason)
    with pytest.raises(ReconnectRequired) as excinfo:
        await identity.refresh(tokens.refresh_token, SCOPES)
    exc = excinfo.value
    (answer,) = [(exc.error, c) for c in exc.codes if (exc.error, c) in answers]
    error_type, text = EXPECTED[answer]
    assert type(exc) is error_type
    assert exc.reason == text
    assert text in str(exc) and f"AADSTS{answer[1]}" in str(exc)
    for secret in (tokens.refresh_token, tokens.access_token):
        assert secret.get_secret_value() not in str(exc)


async def test_declined_consent_is_consent_declined(
    emulator: RunningEmulator, graph_app: RegisteredApp, identity: Identity
) -> None:
    email = await create_user(emulator)
    flow = await identity.initiate_auth_code_flow(SCOPES, graph_app.redirect_uri, login_hint=email)
    await pre_consent(emulator, email, SCOPES, deny=True)
    params = await run_consent(emulator, flow["auth_uri"], graph_app.redirect_uri)
    assert params.get("error") == "access_denied"
    with pytest.raises(ConsentDeclined) as excinfo:
        await identity.redeem(flow, params)
    assert excinfo.value.error == "access_denied"


async def test_state_mismatch_is_refused_before_redeeming(
    emulator: RunningEmulator, graph_app: RegisteredApp, identity: Identity
) -> None:
    email = await create_user(emulator)
    flow = await identity.initiate_auth_code_flow(SCOPES, graph_app.redirect_uri, login_hint=email)
    await pre_consent(emulator, email, SCOPES)
    params = await run_consent(emulator, flow["auth_uri"], graph_app.redirect_uri)
    with pytest.raises(StateMismatch) as excinfo:
        await identity.redeem(flow, {**params, "state": "forged"})
    assert params["code"] not in str(excinfo.value)
    with pytest.raises(StateMismatch):
        await identity.redeem(flow, {"code": params["code"]})
    # Another sign-in's flow with this callback: its state does not match either.
    other = await identity.initiate_auth_code_flow(SCOPES, graph_app.redirect_uri)
    with pytest.raises(StateMismatch):
        await identity.redeem(other, params)
    # The code was never spent by the refused attempts.
    tokens = await identity.redeem(flow, params)
    assert tokens.access_token.get_secret_value()


async def test_reused_code_is_invalid_grant(
    emulator: RunningEmulator, graph_app: RegisteredApp, identity: Identity
) -> None:
    email = await create_user(emulator)
    flow = await identity.initiate_auth_code_flow(SCOPES, graph_app.redirect_uri, login_hint=email)
    await pre_consent(emulator, email, SCOPES)
    params = await run_consent(emulator, flow["auth_uri"], graph_app.redirect_uri)
    await identity.redeem(flow, params)
    with pytest.raises(InvalidGrant) as excinfo:
        await identity.redeem(flow, params)
    assert excinfo.value.error == "invalid_grant"
    assert not isinstance(excinfo.value, ReconnectRequired)
    assert params["code"] not in str(excinfo.value)


async def test_unreachable_authority_is_identity_unavailable(graph_app: RegisteredApp) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    identity = Identity(
        graph_app.client_id, SecretStr(graph_app.client_secret), f"https://127.0.0.1:{port}/common", timeout=3
    )
    with pytest.raises(IdentityUnavailable):
        await identity.initiate_auth_code_flow(SCOPES, graph_app.redirect_uri)


async def test_wrong_client_secret_is_refused_without_echoing_it(
    emulator: RunningEmulator, graph_app: RegisteredApp, identity: Identity
) -> None:
    _email, tokens = await connect(emulator, graph_app, identity)
    wrong = "wrong-secret-" + graph_app.client_secret
    bad = Identity(graph_app.client_id, SecretStr(wrong), emulator.authority(), ca_bundle=emulator.ca_path)
    with pytest.raises(IdentityError) as excinfo:
        await bad.refresh(tokens.refresh_token, SCOPES)
    assert excinfo.value.error == "invalid_client"
    assert wrong not in str(excinfo.value)


async def test_configured_ca_wins_over_requests_ca_bundle_env(
    emulator: RunningEmulator, graph_app: RegisteredApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    # requests would let this variable override MSAL's verify= (psf/requests#3829); ours must not.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    fresh = graph_app.identity(emulator)
    _email, tokens = await connect(emulator, graph_app, fresh)
    assert (await fresh.refresh(tokens.refresh_token, SCOPES)).access_token.get_secret_value()
