"""`/oauth2/v2.0/authorize`: a real consent page (pick the user, see the permissions, Accept or Cancel),
or an answer pre-set with POST /_emulator/consent for scripted clients."""

from __future__ import annotations

import html
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from emulator import ids
from emulator.context import Ctx, ctx_of
from emulator.models import AuthCode, Consent, Grant, User
from emulator.scopes import DESCRIPTIONS, OIDC_SCOPES, InvalidScope, normalize, resource_scopes

router = APIRouter()

_FLOW_TTL_SECONDS = 1800.0


class _Flow:
    def __init__(self, params: dict[str, str], scopes: list[str]) -> None:
        self.params = params
        self.scopes = scopes
        self.created = time.time()


_flows: dict[str, _Flow] = {}


def _error_page(status: int, code: int, message: str) -> HTMLResponse:
    body = (
        "<!doctype html><html><head><meta charset='utf-8'><title>Sign in error</title></head><body>"
        f"<h1>Sorry, but we're having trouble signing you in.</h1><p>AADSTS{code}: {html.escape(message)}</p>"
        "</body></html>"
    )
    return HTMLResponse(body, status_code=status)


def _redirect(flow_params: dict[str, str], params: dict[str, str]) -> Response:
    """Answers to the redirect URI in the requested response_mode: query (302), fragment or form_post."""
    redirect_uri = flow_params["redirect_uri"]
    mode = flow_params.get("response_mode", "query")
    if mode == "form_post":
        fields = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in params.items()
        )
        body = (
            "<!doctype html><html><head><title>Working...</title></head>"
            '<body onload="document.forms[0].submit()">'
            f'<form method="POST" action="{html.escape(redirect_uri)}">{fields}'
            '<noscript><button type="submit">Continue</button></noscript></form></body></html>'
        )
        return HTMLResponse(body, headers={"Cache-Control": "no-store"})
    if mode == "fragment":
        return RedirectResponse(f"{redirect_uri}#{urlencode(params)}", status_code=302)
    sep = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(redirect_uri + sep + urlencode(params), status_code=302)


def _error_redirect(flow_params: dict[str, str], error: str, description: str) -> Response:
    params = {"error": error, "error_description": description}
    if "state" in flow_params:
        params["state"] = flow_params["state"]
    return _redirect(flow_params, params)


def _issue_code(ctx: Ctx, params: dict[str, str], user: User, scopes: list[str]) -> Response:
    now = time.time()
    client_id = params["client_id"]
    with ctx.store.lock:
        key = f"{client_id}|{user.id}"
        grant = ctx.store.state.grants.get(key)
        granted = resource_scopes(scopes)
        merged = sorted(set(granted) | set(grant.scopes if grant else []))
        ctx.store.state.grants[key] = Grant(
            client_id=client_id, user_id=user.id, scopes=merged, created=grant.created if grant else now
        )
        code = ids.opaque("1.AXkA", 200)
        ctx.store.state.auth_codes[code] = AuthCode(
            code=code,
            client_id=client_id,
            user_id=user.id,
            redirect_uri=params["redirect_uri"],
            scopes=scopes,
            code_challenge=params.get("code_challenge", ""),
            code_challenge_method=params.get("code_challenge_method", ""),
            nonce=params.get("nonce"),
            expires=now + ctx.settings.auth_code_lifetime_seconds,
        )
        ctx.store.state.issued_codes.append(code)
        ctx.store.changed()
    out = {"code": code}
    if "state" in params:
        out["state"] = params["state"]
    out["session_state"] = ids.guid()
    return _redirect(params, out)


def _validate(ctx: Ctx, params: dict[str, str]) -> Response | list[str]:
    """Checks that cannot be reported to the redirect URI get an error page; the rest a redirect."""
    client_id = params.get("client_id", "")
    app = ctx.store.state.apps.get(client_id)
    if app is None:
        return _error_page(
            400,
            700016,
            f"Application with identifier '{client_id}' was not found in the "
            f"directory '{ctx.settings.tenant_id}'.",
        )
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in app.redirect_uris:
        return _error_page(
            400,
            50011,
            f"The redirect URI '{redirect_uri}' specified in the request does not "
            f"match the redirect URIs configured for the application '{client_id}'.",
        )
    if params.get("response_type") != "code":
        return _error_redirect(
            params,
            "unsupported_response_type",
            "AADSTS700054: response_type must be 'code' for this application.",
        )
    challenge = params.get("code_challenge", "")
    if not challenge:
        return _error_redirect(
            params,
            "invalid_request",
            "AADSTS9002325: Proof Key for Code Exchange is required for this request.",
        )
    if params.get("code_challenge_method", "plain") != "S256":
        return _error_redirect(
            params, "invalid_request", "AADSTS501491: Invalid code_challenge_method: only S256 is accepted."
        )
    try:
        scopes = normalize(params.get("scope", ""))
    except InvalidScope as exc:
        return _error_redirect(
            params,
            "invalid_scope",
            f"AADSTS70011: The provided value for the input parameter 'scope' is not "
            f"valid. The scope '{exc}' does not exist.",
        )
    if not scopes:
        return _error_redirect(
            params,
            "invalid_request",
            "AADSTS900144: The request body must contain the following parameter: 'scope'.",
        )
    return scopes


CONSENT_ANSWER_TTL_SECONDS = 600.0


def _take_consent(ctx: Ctx, client_id: str, login_hint: str | None) -> Consent | None:
    """The oldest queued answer that fits: same app (if it names one) and, when the request carries a
    login_hint, that mailbox (or an answer naming nobody). Stale answers expire, so one a test left
    unused cannot answer some later, unrelated sign-in."""
    queue = ctx.store.consents
    now = time.time()
    queue[:] = [c for c in queue if now - c.created <= CONSENT_ANSWER_TTL_SECONDS]
    for i, c in enumerate(queue):
        if c.client_id is not None and c.client_id != client_id:
            continue
        if login_hint and c.email and c.email.lower() != login_hint.lower():
            continue
        return queue.pop(i)
    return None


def _answer(ctx: Ctx, params: dict[str, str], scopes: list[str], consent: Consent) -> Response:
    if consent.deny:
        return _error_redirect(
            params, "access_denied", "AADSTS65004: User declined to consent to access the app."
        )
    user, _ = ctx.store.add_user(consent.email)
    if consent.scopes is not None:
        try:
            chosen = normalize(" ".join(consent.scopes))
        except InvalidScope:
            chosen = []
        scopes = resource_scopes(chosen) + [s for s in scopes if s in OIDC_SCOPES]
    return _issue_code(ctx, params, user, scopes)


def _prompt_none(ctx: Ctx, params: dict[str, str], scopes: list[str]) -> Response:
    hint = params.get("login_hint", "")
    user = ctx.store.user_by_email(hint) if hint else None
    if user is None:
        return _error_redirect(
            params,
            "login_required",
            "AADSTS50058: A silent sign-in request was sent but no user is signed in.",
        )
    grant = ctx.store.state.grants.get(f"{params['client_id']}|{user.id}")
    if grant is None or any(s not in grant.scopes for s in resource_scopes(scopes)):
        return _error_redirect(
            params,
            "consent_required",
            "AADSTS65001: The user or administrator has not consented to use the application.",
        )
    return _issue_code(ctx, params, user, scopes)


def _page(ctx: Ctx, flow_id: str, params: dict[str, str], scopes: list[str]) -> HTMLResponse:
    app = ctx.store.state.apps[params["client_id"]]
    hint = params.get("login_hint", "").lower()
    users = sorted(ctx.store.state.users.values(), key=lambda u: u.email.lower())
    options = "".join(
        f"<label><input type='radio' name='user' value='{html.escape(u.email)}'"
        f"{' checked' if u.email.lower() == hint or (not hint and i == 0) else ''}> "
        f"{html.escape(u.display_name)} &lt;{html.escape(u.email)}&gt;</label><br>"
        for i, u in enumerate(users)
    )
    perms = "".join(
        f"<li><b>{html.escape(s)}</b>: {html.escape(DESCRIPTIONS.get(s, s))}</li>" for s in scopes
    )
    name = html.escape(app.display_name or app.client_id)
    body = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Permissions requested</title>
<style>body{{font-family:sans-serif;max-width:36em;margin:3em auto}}button{{margin-right:1em}}</style>
</head><body>
<h1>Permissions requested</h1>
<p><b>{name}</b> wants to access your mailbox.</p>
<form method="post">
<input type="hidden" name="flow" value="{html.escape(flow_id)}">
<fieldset><legend>Sign in as</legend>{options or "<i>no mailboxes yet</i><br>"}
<label>or another address: <input type="email" name="email" autocomplete="off"></label></fieldset>
<p>This app would like to:</p><ul>{perms}</ul>
<button type="submit" name="decision" value="accept">Accept</button>
<button type="submit" name="decision" value="cancel">Cancel</button>
</form></body></html>"""
    return HTMLResponse(body, headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"})


@router.get("/{tenant}/oauth2/v2.0/authorize")
async def authorize(tenant: str, request: Request) -> Response:
    ctx = ctx_of(request)
    params = dict(request.query_params)
    checked = _validate(ctx, params)
    if not isinstance(checked, list):
        return checked
    scopes = checked
    consent = _take_consent(ctx, params["client_id"], params.get("login_hint"))
    if consent is not None:
        return _answer(ctx, params, scopes, consent)
    if params.get("prompt") == "none":
        return _prompt_none(ctx, params, scopes)
    now = time.time()
    for key in [k for k, f in _flows.items() if now - f.created > _FLOW_TTL_SECONDS]:
        _flows.pop(key, None)
    flow_id = secrets.token_urlsafe(24)
    _flows[flow_id] = _Flow(params, scopes)
    return _page(ctx, flow_id, params, scopes)


@router.post("/{tenant}/oauth2/v2.0/authorize")
async def authorize_decision(tenant: str, request: Request) -> Response:
    ctx = ctx_of(request)
    try:
        form: dict[str, Any] = dict(await request.form())
    except Exception:  # a malformed form body is the client's error
        return _error_page(400, 900144, "The request body must be form-encoded.")
    flow = _flows.pop(str(form.get("flow", "")), None)
    if flow is None or time.time() - flow.created > _FLOW_TTL_SECONDS:
        return _error_page(400, 50058, "This sign-in page has expired or was already used. Start again.")
    if form.get("decision") != "accept":
        return _error_redirect(
            flow.params, "access_denied", "AADSTS65004: User declined to consent to access the app."
        )
    email = str(form.get("email") or form.get("user") or "").strip()
    if "@" not in email or len(email) > 320:
        _flows[str(form["flow"])] = flow
        return _error_page(400, 50034, "Pick a mailbox or type an email address, then Accept.")
    user, _ = ctx.store.add_user(email)
    return _issue_code(ctx, flow.params, user, flow.scopes)
