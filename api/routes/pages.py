"""Server-rendered pages."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from api.deps import OptionalUserDep, SettingsDep
from api.templating import templates

router = APIRouter(tags=["pages"], include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def home(request: Request, user: OptionalUserDep, settings: SettingsDep) -> Response:
    """Who you are and where to go next, or a link to sign in."""
    return templates.TemplateResponse(
        request, "home.html", {"user": user, "temporal_ui_url": settings.temporal_ui_url}
    )
