"""OIDC discovery, the JWKS and userinfo: what MSAL reads before and around the token endpoint."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from emulator.context import base_url, ctx_of

router = APIRouter()


@router.get("/{tenant}/v2.0/.well-known/openid-configuration")
async def discovery(tenant: str, request: Request) -> dict[str, Any]:
    ctx = ctx_of(request)
    base = base_url(request)
    tid = ctx.settings.tenant_id
    # Like Microsoft: the multi-tenant aliases publish a templated issuer.
    iss_tenant = "{tenantid}" if tenant.lower() in ("common", "organizations", "consumers") else tid
    return {
        "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base}/{iss_tenant}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": f"{base}/oidc/userinfo",
        "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{base}/{tenant}/oauth2/v2.0/logout",
        "claims_supported": [
            "sub",
            "iss",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "preferred_username",
            "name",
            "tid",
            "ver",
            "oid",
            "email",
        ],
        "kerberos_endpoint": f"{base}/{tenant}/kerberos",
        "tenant_region_scope": "EU",
        "cloud_instance_name": "127.0.0.1",
        "cloud_graph_host_name": "127.0.0.1",
        "msgraph_host": "127.0.0.1",
        "rbac_url": f"{base}/rbac",
    }


@router.get("/{tenant}/discovery/v2.0/keys")
async def jwks(tenant: str, request: Request) -> dict[str, Any]:
    return ctx_of(request).keys.jwks()


@router.get("/oidc/userinfo")
async def userinfo(request: Request) -> Response:
    ctx = ctx_of(request)
    header = request.headers.get("authorization", "")
    token = (
        ctx.store.state.access_tokens.get(header[7:].strip())
        if header.lower().startswith("bearer ")
        else None
    )
    if token is None or token.expires <= time.time():
        return JSONResponse(
            {"error": {"code": "InvalidAuthenticationToken", "message": "Access token validation failure."}},
            status_code=401,
        )
    user = ctx.store.state.users.get(token.user_id)
    if user is None:
        return JSONResponse(
            {"error": {"code": "InvalidAuthenticationToken", "message": "Unknown user."}}, 401
        )
    parts = user.display_name.split(" ")
    return JSONResponse(
        {
            "sub": user.id,
            "name": user.display_name,
            "given_name": parts[0],
            "family_name": parts[-1],
            "email": user.email,
        }
    )
