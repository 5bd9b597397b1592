"""Microsoft identity platform through unmodified MSAL (`ConfidentialClientApplication`).

MSAL is blocking, so every call runs in a thread. The app is built once per process (its constructor
fetches the authority's OIDC discovery document). MSAL's token cache is disabled: tokens live in Vault,
per connection, and must not pile up in this process's memory across connections.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msal
import requests
import requests.adapters
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from config.settings import Settings
from graph.identity_errors import (
    IdentityError,
    IdentityUnavailable,
    StateMismatch,
    error_from_token_response,
)
from graph.scopes import OIDC_SCOPES, short_scope

# MSAL adds these itself and refuses them as input.
_RESERVED_SCOPES = {"openid", "profile", "offline_access"}


class TokenSet(BaseModel):
    """What a successful redeem or refresh yields. Secrets are SecretStr so they never print."""

    model_config = ConfigDict(frozen=True)

    access_token: SecretStr
    refresh_token: SecretStr
    expires_at: datetime
    obtained_at: datetime
    scopes: list[str] = Field(default_factory=list)
    display_name: str | None = None  # from the id token, when Microsoft sent one
    username: str | None = None  # preferred_username: usually the mailbox address
    object_id: str | None = None
    tenant_id: str | None = None


class _NoTokenCache(msal.TokenCache):  # type: ignore[misc]
    """A token cache that keeps nothing: MSAL hands tokens to us and we store them in Vault."""

    def add(self, event: Any, now: Any = None) -> None:
        return None


def _scopes(response: Mapping[str, Any], asked: Sequence[str]) -> list[str]:
    """The granted Graph permissions in short form (`Mail.Read`), without OIDC scopes, so they can be
    shown to people and passed back to `refresh` as they are."""
    raw = response.get("scope")
    if isinstance(raw, str):
        granted = raw.split()
    elif isinstance(raw, list):
        granted = [str(s) for s in raw]
    else:
        granted = list(asked)
    result: list[str] = []
    for scope in granted:
        short = short_scope(scope)
        if short.lower() not in OIDC_SCOPES and short not in result:
            result.append(short)
    return result


def _token_set(response: Mapping[str, Any], asked: Sequence[str], fallback_refresh: str | None) -> TokenSet:
    obtained_at = datetime.now(UTC)
    refresh = response.get("refresh_token") or fallback_refresh
    if not response.get("access_token") or not refresh:
        raise IdentityError("Microsoft granted no refresh token (offline access missing)", "no_refresh_token")
    claims = response.get("id_token_claims") or {}
    return TokenSet(
        access_token=SecretStr(str(response["access_token"])),
        refresh_token=SecretStr(str(refresh)),
        expires_at=obtained_at + timedelta(seconds=int(response.get("expires_in") or 3600)),
        obtained_at=obtained_at,
        scopes=_scopes(response, asked),
        display_name=claims.get("name"),
        username=claims.get("preferred_username"),
        object_id=claims.get("oid"),
        tenant_id=claims.get("tid"),
    )


class _PinnedVerifySession(requests.Session):
    """requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's `verify`
    (psf/requests#3829), which would make MSAL ignore `verify=<ca file>` on machines that set them.
    Passing `verify` with every request makes the configured CA the one that counts."""

    def __init__(self, verify: str | bool, timeout: float) -> None:
        super().__init__()
        self.verify = verify
        self._timeout = timeout
        # MSAL's own session retries once on connection errors; keep that.
        adapter = requests.adapters.HTTPAdapter(max_retries=1)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("verify", self.verify)
        kwargs.setdefault("timeout", self._timeout)
        return super().request(*args, **kwargs)


class Identity:
    def __init__(
        self,
        client_id: str,
        client_secret: SecretStr,
        authority: str,
        *,
        ca_bundle: Path | None = None,
        timeout: float = 15.0,
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self._authority = authority
        self._ca_bundle = ca_bundle
        self._timeout = timeout
        self._app: msal.ConfidentialClientApplication | None = None
        self._session: requests.Session | None = None  # MSAL's HTTP client, built with the app
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Identity:
        return cls(
            settings.ms_client_id,
            settings.ms_client_secret,
            settings.ms_authority,
            ca_bundle=settings.ms_ca_bundle,
        )

    async def initiate_auth_code_flow(
        self,
        scopes: Sequence[str],
        redirect_uri: str,
        *,
        login_hint: str | None = None,
        prompt: str | None = None,
        response_mode: str | None = None,
    ) -> dict[str, Any]:
        """State + PKCE + nonce. Keep the returned dict server-side (it holds the PKCE verifier).

        `response_mode="form_post"` makes Microsoft POST the code to the redirect URI instead of putting
        it in the URL (MSAL recommends it); the default is the query string.
        """
        wanted = [s for s in scopes if s.lower() not in _RESERVED_SCOPES]

        def run() -> dict[str, Any]:
            # MSAL warns (UserWarning) on every flow that is not form_post; harmless.
            flow: dict[str, Any] = self._get_app().initiate_auth_code_flow(
                wanted,
                redirect_uri=redirect_uri,
                login_hint=login_hint,
                prompt=prompt,
                response_mode=response_mode,
            )
            return flow

        return await self._in_thread(run)

    async def redeem(self, flow: Mapping[str, Any], query_params: Mapping[str, str]) -> TokenSet:
        """The callback: checks state, redeems the code with the PKCE verifier. Typed errors only."""
        if not flow.get("state") or flow.get("state") != query_params.get("state"):
            raise StateMismatch(None, "state_mismatch")
        asked = [s for s in flow.get("scope") or [] if s.lower() not in _RESERVED_SCOPES]

        def run() -> dict[str, Any]:
            try:
                result: dict[str, Any] = self._get_app().acquire_token_by_auth_code_flow(
                    dict(flow), dict(query_params)
                )
            except (ValueError, RuntimeError):
                # ValueError: state or response shape; RuntimeError: id token nonce (a replay).
                raise StateMismatch(None, "state_mismatch") from None
            return result

        result = await self._in_thread(run)
        if "error" in result:
            raise error_from_token_response(result, refreshing=False)
        return _token_set(result, asked, None)

    async def refresh(self, refresh_token: SecretStr, scopes: Sequence[str]) -> TokenSet:
        """Redeems the refresh token. The response carries a new (rotated) refresh token: store it."""
        wanted = [s for s in scopes if s.lower() not in _RESERVED_SCOPES]

        def run() -> dict[str, Any]:
            try:
                result: dict[str, Any] = self._get_app().acquire_token_by_refresh_token(
                    refresh_token.get_secret_value(), scopes=wanted
                )
            except ValueError:
                # MSAL refuses malformed scope lists before sending anything.
                raise IdentityError("the refresh request was malformed", "invalid_request") from None
            return result

        result = await self._in_thread(run)
        if "error" in result:
            raise error_from_token_response(result, refreshing=True)
        return _token_set(result, wanted, refresh_token.get_secret_value())

    def close(self) -> None:
        """Closes MSAL's HTTP session (its pooled connections). A later call builds the app again."""
        with self._lock:
            session, self._session, self._app = self._session, None, None
        if session is not None:
            session.close()

    # --- internals ---

    async def _in_thread(self, fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        def build_then_run() -> dict[str, Any]:
            self._build_app()
            result: dict[str, Any] = fn()
            return result

        try:
            result = await asyncio.to_thread(build_then_run)
        except requests.exceptions.RequestException as exc:
            raise IdentityUnavailable(None, type(exc).__name__) from None
        return result

    def _build_app(self) -> None:
        with self._lock:
            if self._app is not None:
                return
            session = _PinnedVerifySession(str(self._ca_bundle) if self._ca_bundle else True, self._timeout)
            try:
                # Kept only once it succeeds: a failed discovery is retried on the next call.
                self._app = msal.ConfidentialClientApplication(
                    self._client_id,
                    client_credential=self._client_secret.get_secret_value(),
                    authority=self._authority,
                    instance_discovery=False,
                    http_client=session,
                    token_cache=_NoTokenCache(),
                )
                self._session = session
            except (ValueError, RuntimeError, requests.exceptions.RequestException) as exc:
                session.close()
                # Discovery failed: wrong authority, the service down, or an untrusted certificate.
                raise IdentityUnavailable(
                    "the sign-in service's discovery document could not be loaded", type(exc).__name__
                ) from None

    def _get_app(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            raise IdentityUnavailable(None, "app_not_built")
        return self._app
