"""CSRF protection for everything a browser session cookie authenticates.

A state-changing request (any method but GET, HEAD, OPTIONS) that is authenticated by the session cookie
must carry the session's CSRF token: the `csrf_token` field of a form (every page's form has it) or an
`X-CSRF-Token` header (scripts read it from the page's `<meta name="csrf-token">`). The token is an HMAC
of the session id keyed with SESSION_SECRET, so it needs no storage, belongs to one session only and dies
with it (a new sign-in makes a new session id and so a new token). Another site can make a browser send
the cookie, but it cannot read our pages, so it cannot know the token.

Exempt: bearer-token requests (a browser never adds Authorization by itself) and the codec server, which
the Temporal UI calls from its own origin with the cookie: it changes nothing, accepts only
application/json (a cross-origin page must pass a CORS preflight, which only the UI's origin does).

The sign-in form has no session yet; it is protected by its Origin instead (`check_same_origin`).
"""

from __future__ import annotations

import hashlib
import hmac

from fastapi import HTTPException, Request, status

from api.codec_cors import CODEC_PREFIX, origin_of
from config.settings import Settings

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
EXEMPT_PREFIXES = (CODEC_PREFIX + "/",)

MISSING = (
    "CSRF token missing or wrong: a request signed in with the session cookie must send the page's "
    f"{CSRF_FIELD} form field or an X-CSRF-Token header (reload the page and try again), or use "
    "Authorization: Bearer <api token>"
)


def csrf_token_for(settings: Settings, session_id: str) -> str:
    key = settings.session_secret.get_secret_value().encode("utf-8")
    return hmac.new(key, b"csrf\x00" + session_id.encode("utf-8"), hashlib.sha256).hexdigest()


def needs_csrf(request: Request) -> bool:
    if request.method in SAFE_METHODS:
        return False
    return not request.url.path.startswith(EXEMPT_PREFIXES)


async def submitted_csrf_token(request: Request) -> str | None:
    """The token a state-changing cookie request sent (header, else form field); None when not needed.

    Async so that reading the form happens on the event loop (FastAPI has parsed a route's own form
    already, and Starlette keeps the parsed form, so it is not read twice)."""
    if not needs_csrf(request) or request.headers.get("authorization"):
        return None
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type in FORM_TYPES:
        try:
            value = (await request.form()).get(CSRF_FIELD)
        except Exception:  # a malformed form: then there is no token in it either
            return None
        return value if isinstance(value, str) else None
    return None


def check_csrf(request: Request, settings: Settings, session_id: str, submitted: str | None) -> None:
    """Refuses (403) a state-changing request authenticated by `session_id` without its token."""
    if not needs_csrf(request):
        return
    expected = csrf_token_for(settings, session_id)
    if submitted is None or not hmac.compare_digest(expected.encode(), submitted.encode("utf-8", "replace")):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=MISSING)


def check_same_origin(request: Request, settings: Settings) -> None:
    """Refuses (403) a form post that a browser sent from another site (login CSRF on /signin).

    Browsers send Origin with every cross-origin POST and Sec-Fetch-Site with every request; a client
    that sends neither is not a browser and cannot be made to post by another site."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail=f"cross-site form post refused ({site})")
    origin = request.headers.get("origin")
    if origin is None:
        return
    ours = {
        f"{request.url.scheme}://{request.headers.get('host', '')}".lower(),
        origin_of(settings.public_base),
    }
    if origin.lower() not in ours:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"cross-origin form post refused: {origin[:100]} is not this site's origin",
        )
