"""Unknown paths are 404 JSON; an unexpected error is a 500 with a request id and no stack trace."""

from __future__ import annotations

import logging


async def test_unknown_path_is_404_json(client):
    response = await client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


async def test_every_response_has_a_request_id(client):
    response = await client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert len(response.headers["x-request-id"]) == 32


async def test_unexpected_error_is_500_without_trace(app, client, caplog):
    def explode() -> None:
        raise RuntimeError("secret-ish internals: password=hunter2")

    app.add_api_route("/explode", explode)
    with caplog.at_level(logging.ERROR, logger="api.errors"):
        response = await client.get("/explode")
    assert response.status_code == 500
    body = response.json()
    assert body == {"detail": "internal error", "request_id": response.headers["x-request-id"]}
    assert "hunter2" not in response.text and "Traceback" not in response.text
    # The operator gets the trace, tagged with the same id.
    assert body["request_id"] in caplog.text and "RuntimeError" in caplog.text
