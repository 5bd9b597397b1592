"""Failures the fake can be told to answer with, each in the shape monday.com documents for it."""

from __future__ import annotations

import threading
from typing import Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

FaultKind = Literal[
    "complexity_budget",  # 200, errors[].extensions.code COMPLEXITY_BUDGET_EXHAUSTED + retry_in_seconds
    "complexity_exception",  # 200, the older top-level error_code ComplexityException "reset in N seconds"
    "rate_limit",  # 429 with Retry-After
    "server_error",  # 500
    "user_unauthorized",  # 200, UserUnauthorizedException (status_code 403)
]


class Fault(BaseModel):
    kind: FaultKind
    retry_in_seconds: int = Field(5, ge=0, le=3600)
    # Only requests with this root field (e.g. "create_item"); None: any request.
    field: str | None = None
    # How many matching requests get it.
    count: int = Field(1, ge=1, le=1000)
    # True: the request is carried out first and the fault replaces its answer (an unknown outcome).
    after: bool = False


def fault_response(fault: Fault) -> JSONResponse:
    seconds = fault.retry_in_seconds
    if fault.kind == "complexity_budget":
        body: dict[str, Any] = {
            "errors": [
                {
                    "message": "Complexity budget exhausted",
                    "extensions": {"code": "COMPLEXITY_BUDGET_EXHAUSTED", "retry_in_seconds": seconds},
                }
            ],
            "account_id": 1,
        }
        return JSONResponse(body)
    if fault.kind == "complexity_exception":
        message = (
            "Complexity budget exhausted, query cost 30001 budget remaining 19986 out of 1000000 "
            f"reset in {seconds} seconds"
        )
        body = {
            "error_code": "ComplexityException",
            "status_code": 429,
            "error_message": message,
            "error_data": {},
            "errors": [message],
            "account_id": 1,
        }
        return JSONResponse(body)
    if fault.kind == "rate_limit":
        return JSONResponse(
            {"error_message": "Rate Limit Exceeded", "status_code": 429},
            status_code=429,
            headers={"Retry-After": str(seconds)},
        )
    if fault.kind == "user_unauthorized":
        body = {
            "errors": [
                {
                    "message": "User unauthorized to perform action",
                    "extensions": {"code": "UserUnauthorizedException", "error_data": {}, "status_code": 403},
                }
            ],
            "account_id": 1,
        }
        return JSONResponse(body)
    return JSONResponse({"error_message": "Internal server error", "status_code": 500}, status_code=500)


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[Fault] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._queue.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()

    def take(self, fields: list[str]) -> Fault | None:
        """The first queued fault that matches a request with these root fields (used up by one)."""
        with self._lock:
            for index, fault in enumerate(self._queue):
                if fault.field is None or fault.field in fields:
                    if fault.count <= 1:
                        self._queue.pop(index)
                    else:
                        self._queue[index] = fault.model_copy(update={"count": fault.count - 1})
                    return fault
        return None
