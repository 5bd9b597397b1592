"""Liveness and readiness."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from api.deps import EngineDep, MicrosoftHttpDep, SettingsDep, TemporalClientDep
from api.readiness import OK, ReadinessChecks

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    checks: dict[str, str]


def get_readiness_checks(
    settings: SettingsDep, temporal: TemporalClientDep, ms_http: MicrosoftHttpDep, engine: EngineDep
) -> ReadinessChecks:
    return ReadinessChecks(settings, temporal, ms_http, engine)


@router.get("/healthz")
async def healthz() -> Health:
    """The process is up."""
    return Health()


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(checks: Annotated[ReadinessChecks, Depends(get_readiness_checks)]) -> JSONResponse:
    """200 only when Temporal, a worker, Vault, the Microsoft authority and the database all answer."""
    results = await checks.run()
    ready = all(result == OK for result in results.values())
    body = Readiness(status="ok" if ready else "unavailable", checks=results)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)
