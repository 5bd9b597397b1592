"""The fake's GraphQL endpoint (POST /v2, as monday.com's) and its app."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from graphql import GraphQLError, OperationDefinitionNode, graphql_sync, parse, validate

from boards.monday.schema import monday_schema
from monday_fake.control import FakeServer, control_router
from monday_fake.faults import fault_response
from monday_fake.resolvers import SUPPORTED, root


def _errors(errors: list[GraphQLError], code: str) -> JSONResponse:
    body = []
    for error in errors:
        entry = error.formatted
        extensions = dict(entry.get("extensions") or {})
        extensions.setdefault("code", code)
        body.append({**entry, "extensions": extensions})
    return JSONResponse({"errors": body, "account_id": 1})


def _unauthenticated() -> JSONResponse:
    return JSONResponse(
        {"errors": [{"message": "Not Authenticated", "extensions": {"code": "UNAUTHENTICATED"}}]},
        status_code=401,
    )


def _token(request: Request) -> str:
    value = request.headers.get("authorization", "")
    # monday.com takes the bare token; "Bearer <token>" is accepted too.
    return value[7:] if value.lower().startswith("bearer ") else value


def create_app(server: FakeServer | None = None) -> FastAPI:
    server = server or FakeServer()
    app = FastAPI(title="monday.com fake")
    app.state.fake = server
    app.include_router(control_router(server))

    @app.post("/v2")
    async def graphql_endpoint(request: Request) -> JSONResponse:
        entry: dict[str, Any] = {"api_version": request.headers.get("api-version")}
        response = _answer(server, request, await request.body(), entry)
        entry["status"] = response.status_code
        server.log(entry)
        return response

    return app


def _answer(server: FakeServer, request: Request, raw: bytes, entry: dict[str, Any]) -> JSONResponse:
    token = _token(request)
    entry["authorized"] = token in server.state.tokens
    if not entry["authorized"]:
        return _unauthenticated()
    try:
        payload = json.loads(raw)
        document, variables = payload["query"], payload.get("variables") or {}
        if not isinstance(document, str) or not isinstance(variables, dict):
            raise ValueError
    except (ValueError, KeyError, TypeError):
        return _errors([GraphQLError("the body must be JSON with a query string")], "ParseError")
    entry["variables"] = variables
    try:
        ast = parse(document)
    except GraphQLError as err:
        return _errors([err], "GRAPHQL_VALIDATION_FAILED")
    problems = validate(monday_schema(), ast)
    if problems:
        return _errors(list(problems), "GRAPHQL_VALIDATION_FAILED")
    operations = [d for d in ast.definitions if isinstance(d, OperationDefinitionNode)]
    fields = [s.name.value for op in operations for s in op.selection_set.selections if hasattr(s, "name")]
    entry["operation"] = operations[0].name.value if operations and operations[0].name else None
    entry["fields"] = fields
    unsupported = [f for f in fields if f not in SUPPORTED and not f.startswith("__")]
    if unsupported:
        return _errors([GraphQLError(f"the fake does not implement {unsupported}")], "FAKE_NOT_IMPLEMENTED")
    fault = server.faults.take(fields)
    if fault is not None and not fault.after:
        entry["fault"] = fault.kind
        return fault_response(fault)
    result = graphql_sync(
        monday_schema(),
        document,
        root_value=root(server.state),
        variable_values=variables,
        type_resolver=lambda value, *_: value.get("__typename") if isinstance(value, dict) else None,
    )
    if fault is not None:
        entry["fault"] = f"{fault.kind} (after carrying it out)"
        return fault_response(fault)
    if result.errors:
        # No data at all: the variables did not fit the document (graphql-core's coercion errors).
        return _errors(
            list(result.errors), "BAD_USER_INPUT" if result.data is None else "INTERNAL_SERVER_ERROR"
        )
    return JSONResponse({"data": result.data, "account_id": 1})
