"""Issuing access tokens, refresh tokens and id tokens; the token endpoint's success body."""

from __future__ import annotations

import base64
import json
import random
import secrets
import time
from typing import Any

from emulator import ids
from emulator.context import Ctx
from emulator.models import AccessToken, RefreshToken, User
from emulator.scopes import GRAPH_PREFIX, resource_scopes

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


def issuer(base: str, tenant_id: str) -> str:
    return f"{base}/{tenant_id}/v2.0"


def _access_token(ctx: Ctx, client_id: str, user: User, scopes: list[str], now: float, exp: float) -> str:
    tid = ctx.settings.tenant_id
    claims = {
        "aud": GRAPH_PREFIX.rstrip("/"),
        "iss": f"https://sts.windows.net/{tid}/",
        "iat": int(now),
        "nbf": int(now),
        "exp": int(exp),
        "appid": client_id,
        "name": user.display_name,
        "oid": user.id,
        "scp": " ".join(resource_scopes(scopes)),
        "sub": user.id,
        "tid": tid,
        "unique_name": user.email,
        "upn": user.email,
        "uti": secrets.token_urlsafe(16),
        "ver": "1.0",
    }
    return ctx.keys.sign(claims)


def issue(
    ctx: Ctx,
    base: str,
    client_id: str,
    user: User,
    scopes: list[str],
    nonce: str | None = None,
    client_info: bool = False,
) -> dict[str, Any]:
    """Mints tokens for an already-authorized request; caller holds no lock."""
    s = ctx.settings
    now = time.time()
    lifetime = random.randint(
        s.access_token_lifetime_min, max(s.access_token_lifetime_min, s.access_token_lifetime_max)
    )
    exp = now + lifetime
    access = _access_token(ctx, client_id, user, scopes, now, exp)
    body: dict[str, Any] = {
        "token_type": "Bearer",
        "scope": " ".join(
            resource_scopes(scopes) + [x for x in scopes if x in ("openid", "profile", "email")]
        ),
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": access,
    }
    with ctx.store.lock:
        st = ctx.store.state
        st.access_tokens[access] = AccessToken(
            token=access,
            client_id=client_id,
            user_id=user.id,
            scopes=resource_scopes(scopes),
            issued=now,
            expires=exp,
        )
        st.issued_access.append(access)
        if "offline_access" in scopes:
            refresh = ids.opaque("1.AXkA", 160)
            st.refresh_tokens[refresh] = RefreshToken(
                token=refresh, client_id=client_id, user_id=user.id, scopes=scopes, issued=now, last_used=now
            )
            st.issued_refresh.append(refresh)
            body["refresh_token"] = refresh
        ctx.store.changed()
    if "openid" in scopes:
        tid = s.tenant_id
        claims: dict[str, Any] = {
            "aud": client_id,
            "iss": issuer(base, tid),
            "iat": int(now),
            "nbf": int(now),
            "exp": int(now) + 3600,
            "name": user.display_name,
            "oid": user.id,
            "preferred_username": user.email,
            "sub": user.id,
            "tid": tid,
            "ver": "2.0",
        }
        if "email" in scopes:
            claims["email"] = user.email
        if nonce:
            claims["nonce"] = nonce
        body["id_token"] = ctx.keys.sign(claims)
    if client_info:
        info = json.dumps({"uid": user.id, "utid": s.tenant_id}).encode()
        body["client_info"] = base64.urlsafe_b64encode(info).rstrip(b"=").decode()
    return body
