"""JSON log lines: each line one object with time, level, logger, message and the ids known where the
record was made (an activity's workflow and run, the connection its workflow id names, the API request);
a traceback stays inside its line; secrets in URLs are blanked as in text lines; the supervisor keeps a
JSON part's log file all JSON and shows readable lines on the console."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import logging
import subprocess
import sys
from pathlib import Path

from temporalio import activity
from temporalio.testing import ActivityEnvironment

from config.logging import RedactSecrets
from stack.child import Child
from telemetry import context
from telemetry.json_logs import JsonFormatter, connection_of
from telemetry.log_lines import as_json_line, readable

REPO = Path(__file__).resolve().parents[2]
FIELDS = {"time", "level", "logger", "message"}


def _logger(name: str) -> tuple[logging.Logger, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactSecrets())
    logger = logging.getLogger(name)
    logger.handlers = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, out


def _records(out: io.StringIO) -> list[dict[str, object]]:
    lines = out.getvalue().splitlines()
    records = [json.loads(line) for line in lines]  # every line parses on its own
    for record in records:
        assert FIELDS <= record.keys()
    return records


def test_each_record_is_one_line_with_its_ids():
    logger, out = _logger("tests.json.plain")
    logger.info("two\nlines", extra={"connection_id": "c-1"})
    named = context.request_id.set("req-42")
    try:
        logger.warning("during a request")
    finally:
        context.request_id.reset(named)
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    first, second, third = _records(out)
    assert first["message"] == "two\nlines" and first["connection_id"] == "c-1"
    assert first["level"] == "INFO" and first["logger"] == "tests.json.plain"
    assert "request_id" not in first
    assert second["request_id"] == "req-42" and second["level"] == "WARNING"
    assert "Traceback" in str(third["exception"]) and "ValueError: boom" in str(third["exception"])
    assert str(first["time"]).endswith("+00:00")


async def test_an_activity_names_its_workflow_run_and_connection():
    logger, out = _logger("tests.json.activity")

    @activity.defn
    async def step() -> None:
        logger.info("step ran")

    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, workflow_id="message/conn-7/AAMkId=", workflow_run_id="run-9")
    await env.run(step)
    records = _records(out)
    assert records, "the activity logged"
    ours = records[0]
    assert ours["workflow_id"] == "message/conn-7/AAMkId=" and ours["run_id"] == "run-9"
    assert ours["connection_id"] == "conn-7"


def test_workflow_ids_name_their_connection():
    assert connection_of("connection/abc") == "abc"
    assert connection_of("send/abc/event/recipe") == "abc"
    assert connection_of("elsewhere/abc") is None and connection_of(None) is None


def test_a_process_writes_json_lines_and_blanks_secrets_in_urls():
    code = (
        "import logging\n"
        "from config.logging import configure_logging\n"
        "from config.settings import Settings\n"
        "configure_logging(Settings(_env_file=None, log_format='json'))\n"
        "logging.getLogger('uvicorn.access').info('GET /oauth/callback?code=SECRET-CODE-123&state=S 302')\n"
        "logging.getLogger('api.x').warning('plain %s', 'words')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60, check=True
    )
    records = [json.loads(line) for line in done.stderr.splitlines()]
    assert [r["logger"] for r in records] == ["uvicorn.access", "api.x"]
    assert all(FIELDS <= r.keys() for r in records)
    assert "SECRET-CODE-123" not in done.stderr and "code=[redacted]" in done.stderr


def test_other_output_is_wrapped_and_the_console_reads_plainly():
    wrapped = json.loads(as_json_line("a traceback line", "api.output"))
    assert wrapped["logger"] == "api.output" and wrapped["message"] == "a traceback line"
    assert wrapped["level"] == "INFO" and FIELDS <= wrapped.keys()
    prefixed = json.loads(as_json_line("WARNING:     Started parent process [12]", "api.output"))
    assert (prefixed["level"], prefixed["message"]) == ("WARNING", "Started parent process [12]")
    line = json.dumps(
        {
            "time": "2026-12-06T18:42:24.123+00:00",
            "level": "WARNING",
            "logger": "api.webhooks",
            "message": "dropped 1",
            "request_id": "r1",
        }
    )
    assert as_json_line(line, "api.output") == line
    assert readable(line) == "18:42:24 WARNING api.webhooks: dropped 1 [request_id=r1]"
    assert readable("not json") == "not json"


async def test_the_supervisor_keeps_a_json_parts_log_all_json(tmp_path):
    echoed: list[str] = []
    record = {"time": "t", "level": "INFO", "logger": "x", "message": "hi"}
    script = f"print('a plain line'); print(); print({json.dumps(json.dumps(record))})"
    log_path = tmp_path / "part.log"
    child = await Child.spawn(
        "part",
        [sys.executable, "-c", script],
        env={},
        cwd=tmp_path,
        log_path=log_path,
        echo=lambda _name, line: echoed.append(line),
        json_lines=True,
    )
    assert await asyncio.wait_for(child.wait(), 30) == 0
    records = [json.loads(line) for line in log_path.read_text().splitlines()]
    assert [r["message"] for r in records] == [f"started pid {child.pid}", "a plain line", "hi"]
    assert echoed[-1].endswith("INFO x: hi") and "a plain line" in echoed[0]
