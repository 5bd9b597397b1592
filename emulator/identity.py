"""The token endpoint: authorization_code and refresh_token grants, client authentication, Entra errors."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from emulator.context import Ctx, base_url, ctx_of
from emulator.errors import AadError, aad_error_response
from emulator.models import RefreshToken
from emulator.scopes import InvalidScope, normalize, resource_scopes
from emulator.settings import AppRegistration
from emulator.tokens import issue

router = APIRouter()

# What a revoked refresh token answers, by the reason given to POST /_emulator/users/{email}/revoke.
REVOKED_ERRORS: dict[str, tuple[str, int, str, str | None]] = {
    "admin_reset": (
        "invalid_grant",
        50173,
        "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user "
        "might have changed or reset their password.",
        None,
    ),
    "inactive": (
        "invalid_grant",
        700082,
        "The refresh token has expired due to inactivity. The token was issued on a date and was "
        "inactive for 90 days.",
        None,
    ),
    # graph-facts: 50173 covers "user or admin revoked sessions/consent"; 65001 (consent_required) is what
    # a refresh for scopes that were never consented gets.
    "consent_revoked": (
        "invalid_grant",
        50173,
        "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user "
        "or an administrator revoked the consent or the sessions.",
        None,
    ),
    "mfa_required": (
        "interaction_required",
        50076,
        "Due to a configuration change made by your administrator, or because you moved to a new location, "
        "you must use multi-factor authentication to access '00000003-0000-0000-c000-000000000000'.",
        "basic_action",
    ),
}


def _client_credentials(request: Request, form: dict[str, str]) -> tuple[str, str | None]:
    client_id = form.get("client_id", "")
    secret = form.get("client_secret")
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("basic "):
        try:
            raw = base64.b64decode(auth[6:]).decode()
            basic_id, _, basic_secret = raw.partition(":")
            client_id = client_id or basic_id
            secret = secret or basic_secret
        except (ValueError, UnicodeDecodeError):
            pass
    return client_id, secret


def authenticate_client(ctx: Ctx, request: Request, form: dict[str, str]) -> AppRegistration:
    client_id, secret = _client_credentials(request, form)
    if not client_id:
        raise AadError(
            "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'."
        )
    app = ctx.store.state.apps.get(client_id)
    if app is None:
        raise AadError(
            "unauthorized_client",
            700016,
            f"Application with identifier '{client_id}' was not found in the directory "
            f"'{ctx.settings.tenant_id}'.",
        )
    if not secret:
        raise AadError(
            "invalid_client",
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
            status=401,
        )
    if not hmac.compare_digest(secret.encode(), app.client_secret.encode()):
        raise AadError(
            "invalid_client",
            7000215,
            "Invalid client secret provided. Ensure the secret being "
            "sent in the request is the client secret value, not the client secret ID, for a "
            f"secret added to app '{client_id}'.",
            status=401,
        )
    return app


def _requested_scopes(form: dict[str, str]) -> list[str]:
    try:
        return normalize(form.get("scope", ""))
    except InvalidScope as exc:
        raise AadError(
            "invalid_scope",
            70011,
            f"The provided request must include a 'scope' input "
            f"parameter. The provided value for the input parameter 'scope' is not valid: "
            f"'{exc}'.",
        ) from None


def _pkce_ok(verifier: str, challenge: str, method: str) -> bool:
    if method.upper() != "S256":
        return False
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return hmac.compare_digest(digest, challenge)


def _grant_scopes(ctx: Ctx, client_id: str, user_id: str) -> list[str]:
    grant = ctx.store.state.grants.get(f"{client_id}|{user_id}")
    return list(grant.scopes) if grant else []


def _redeem_code(ctx: Ctx, base: str, app: AppRegistration, form: dict[str, str]) -> dict[str, Any]:
    code_value = form.get("code", "")
    now = time.time()
    with ctx.store.lock:
        code = ctx.store.state.auth_codes.get(code_value)
        if code is None or code.client_id != app.client_id:
            raise AadError("invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
        if code.used:
            raise AadError(
                "invalid_grant",
                54005,
                "OAuth2 Authorization code was already redeemed, please "
                "retry with a new valid code or use an existing refresh token.",
            )
        if code.expires < now:
            raise AadError(
                "invalid_grant",
                70008,
                "The provided authorization code or refresh token has "
                "expired due to inactivity. Send a new interactive authorization request for this "
                "user and resource.",
            )
        if form.get("redirect_uri", "") != code.redirect_uri:
            raise AadError(
                "invalid_grant",
                500112,
                "The reply address does not match the reply address "
                "provided when requesting Authorization code.",
            )
        verifier = form.get("code_verifier", "")
        if not verifier:
            raise AadError(
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'code_verifier'.",
            )
        if not _pkce_ok(verifier, code.code_challenge, code.code_challenge_method):
            raise AadError(
                "invalid_grant",
                501481,
                "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
            )
        code.used = True
        ctx.store.changed()
        user = ctx.store.state.users.get(code.user_id)
    if user is None:
        raise AadError("invalid_grant", 50034, "The user account does not exist in the directory.")
    requested = _requested_scopes(form) if form.get("scope") else list(code.scopes)
    granted = _grant_scopes(ctx, app.client_id, user.id)
    # The user may have accepted fewer permissions than the app asked for (partial consent): the code is
    # still redeemed, for what was consented, and the token's `scope` says which. Only a refresh asking
    # for more than the grant is consent_required.
    consented = [s for s in requested if s not in resource_scopes(requested) or s in granted]
    scopes = _effective_scopes(consented, granted, code.scopes)
    return issue(
        ctx, base, app.client_id, user, scopes, nonce=code.nonce, client_info=form.get("client_info") == "1"
    )


def _effective_scopes(requested: list[str], granted: list[str], fallback: list[str]) -> list[str]:
    if ".default" in requested:
        return [
            *granted,
            *[
                s
                for s in requested
                if s in ("openid", "profile", "email", "offline_access") and s not in granted
            ],
        ]
    missing = [s for s in resource_scopes(requested) if s not in granted]
    if missing:
        raise AadError(
            "consent_required",
            65001,
            "The user or administrator has not consented to use the "
            f"application for the scopes {' '.join(missing)}. Send an interactive authorization "
            "request for this user and resource.",
            suberror="consent_required",
        )
    scopes = list(requested)
    if not resource_scopes(scopes):
        scopes += [s for s in fallback if s not in scopes]
    return scopes


def _redeem_refresh(ctx: Ctx, base: str, app: AppRegistration, form: dict[str, str]) -> dict[str, Any]:
    value = form.get("refresh_token", "")
    now = time.time()
    s = ctx.settings
    with ctx.store.lock:
        rt: RefreshToken | None = ctx.store.state.refresh_tokens.get(value)
        if rt is None:
            raise AadError("invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")
        if rt.client_id != app.client_id:
            raise AadError("invalid_grant", 70000, "Provided grant is invalid or malformed.")
        # Revocation wins over rotation: a rotated token of a revoked grant answers the revoke's error.
        if rt.revoked_reason:
            error, code, text, sub = REVOKED_ERRORS[rt.revoked_reason]
            raise AadError(error, code, text, suberror=sub)
        if now - rt.last_used > s.refresh_token_inactivity_seconds:
            error, code, text, sub = REVOKED_ERRORS["inactive"]
            raise AadError(error, code, text, suberror=sub)
        if rt.spent and not s.refresh_token_reuse_allowed:
            raise AadError(
                "invalid_grant",
                70008,
                "The provided authorization code or refresh token has "
                "expired due to inactivity or was already used. Send a new interactive "
                "authorization request for this user and resource.",
            )
        user = ctx.store.state.users.get(rt.user_id)
        if user is None:
            raise AadError("invalid_grant", 50034, "The user account does not exist in the directory.")
        requested = _requested_scopes(form) if form.get("scope") else list(rt.scopes)
        granted = _grant_scopes(ctx, app.client_id, user.id)
        scopes = _effective_scopes(requested, granted, rt.scopes)
        if "offline_access" not in scopes and "offline_access" in rt.scopes:
            scopes.append("offline_access")
        rt.spent = True  # rotation: the newest refresh token is the only one that works
        rt.last_used = now
        ctx.store.changed()
    return issue(ctx, base, app.client_id, user, scopes, client_info=form.get("client_info") == "1")


def _log_refresh(ctx: Ctx, client_id: str, form: dict[str, str], status: int) -> None:
    """A refresh_token grant in the token log (control API /_emulator/token-requests): whose grant
    and a digest of the token presented, so a test can tell which stored token a service used."""
    value = form.get("refresh_token", "")
    with ctx.store.lock:
        rt = ctx.store.state.refresh_tokens.get(value)
        user = ctx.store.state.users.get(rt.user_id) if rt else None
        log = ctx.store.token_log
        log.append(
            {
                "time": time.time(),
                "grant_type": "refresh_token",
                "status": status,
                "client_id": client_id,
                "mailbox": user.email if user else None,
                "refresh_token_sha256": hashlib.sha256(value.encode("utf-8")).hexdigest(),
            }
        )
        if len(log) > 100_000:  # bounded, as the request log
            del log[: len(log) - 100_000]


@router.post("/{tenant}/oauth2/v2.0/token")
async def token(tenant: str, request: Request) -> Response:
    ctx = ctx_of(request)
    latency = ctx.store.faults.latency_ms
    if latency:
        await asyncio.sleep(latency / 1000)
    try:
        try:
            raw = await request.form()
        except Exception:  # malformed multipart/form bodies: a client error, never a 500
            raise AadError("invalid_request", 900144, "The request body must be form-encoded.") from None
        form = {k: str(v) for k, v in raw.items()}
        app = authenticate_client(ctx, request, form)
        grant_type = form.get("grant_type", "")
        if grant_type == "authorization_code":
            body = _redeem_code(ctx, base_url(request), app, form)
        elif grant_type == "refresh_token":
            try:
                body = _redeem_refresh(ctx, base_url(request), app, form)
            except AadError as err:
                _log_refresh(ctx, app.client_id, form, err.status)
                raise
            _log_refresh(ctx, app.client_id, form, 200)
        elif not grant_type:
            raise AadError(
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'grant_type'.",
            )
        else:
            raise AadError(
                "unsupported_grant_type",
                70003,
                f"The app requested an unsupported grant type '{grant_type}'.",
            )
    except AadError as err:
        return aad_error_response(err)
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
