"""Errors of the Microsoft identity platform, typed, with a reason a person understands.

Branch on `error` (OAuth's field) and use the AAD codes as hints, as Microsoft advises. Messages carry
the error, the codes and the reason; never a token, a code, a state or the raw response.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class IdentityError(Exception):
    """Base. `error` is OAuth's error string, `codes` the AAD error codes, `reason` for people."""

    default_reason = "sign-in failed"

    def __init__(self, reason: str | None = None, error: str = "", codes: Sequence[int] = ()) -> None:
        self.reason = reason or self.default_reason
        self.error = error
        self.codes = list(codes)
        parts = [self.reason]
        if error:
            parts.append(f"({error}" + (f" AADSTS{','.join(str(c) for c in self.codes)})" if codes else ")"))
        super().__init__(" ".join(parts))


class StateMismatch(IdentityError):
    """The callback's state (or the id token's nonce) does not belong to the flow: CSRF or replay."""

    default_reason = "the sign-in response does not belong to this sign-in attempt"


class ConsentDeclined(IdentityError):
    default_reason = "the user declined the requested permissions"


class InvalidGrant(IdentityError):
    """invalid_grant while redeeming an authorization code (reused, expired, wrong redirect)."""

    default_reason = "the sign-in code is invalid, expired or was already used"


class InvalidClient(IdentityError):
    default_reason = "the application's client id or secret was refused"


class InvalidScope(IdentityError):
    default_reason = "a requested permission is not valid"


class IdentityUnavailable(IdentityError):
    default_reason = "the Microsoft sign-in service is unreachable or failing"


class ReconnectRequired(IdentityError):
    """The refresh token can no longer be used; only the user connecting again helps, never a retry."""

    default_reason = "the mailbox must be connected again"


class GrantRevoked(ReconnectRequired):
    default_reason = "access was revoked"


class InteractionRequired(ReconnectRequired):
    default_reason = "the user must sign in again"


class ConsentRequired(ReconnectRequired):
    default_reason = "consent revoked"


# AAD codes -> what happened, in words for the connection's status.
REASONS: Mapping[int, str] = {
    50173: "consent revoked or password reset by an admin",
    700082: "inactive for too long",
    70008: "sign-in expired or was revoked",
    70043: "sign-in expired under a Conditional Access policy",
    50076: "MFA now required",
    50079: "MFA now required",
    65001: "consent revoked",
    53003: "blocked by Conditional Access",
    54005: "the sign-in code was already used",
    70011: "a requested permission is not valid",
    50196: "too many sign-in requests in a loop",
}


def _codes(response: Mapping[str, Any]) -> list[int]:
    raw = response.get("error_codes") or []
    return [c for c in raw if isinstance(c, int)] if isinstance(raw, list) else []


def _reason(codes: Sequence[int], default: str | None = None) -> str | None:
    for code in codes:
        if code in REASONS:
            return REASONS[code]
    return default


def error_from_token_response(response: Mapping[str, Any], *, refreshing: bool) -> IdentityError:
    """Maps an MSAL result dict with `error` to a typed error. On refresh, every grant-type error
    means the stored refresh token is dead (ReconnectRequired); while redeeming a code, it does not."""
    error = str(response.get("error") or "")
    codes = _codes(response)
    reason = _reason(codes)
    if error == "access_denied":
        return ConsentDeclined(None, error, codes)
    if error == "interaction_required":
        return InteractionRequired(reason, error, codes)
    if error == "consent_required":
        return ConsentRequired(reason, error, codes)
    if error == "invalid_grant":
        if refreshing or any(c in (50173, 700082, 50076, 50079, 53003, 65001) for c in codes):
            return GrantRevoked(reason, error, codes)
        return InvalidGrant(reason, error, codes)
    if error in ("invalid_client", "unauthorized_client"):
        return InvalidClient(None, error, codes)
    if error == "invalid_scope":
        return InvalidScope(reason, error, codes)
    if error in ("temporarily_unavailable", "server_error"):
        return IdentityUnavailable(None, error, codes)
    return IdentityError(reason, error, codes)
