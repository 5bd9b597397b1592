"""Logging for the API and the worker: one format, and nothing secret in any line.

Secrets can reach a log line by accident through URLs: the OAuth callback carries the authorization
code and state in its query string (uvicorn's access log prints it), and Graph's validation handshake a
validationToken. The filter below blanks those parameters in every record before it is formatted.
httpx logs every request URL at INFO; it is kept at WARNING so Graph URLs (message ids) stay out too.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from config.settings import Settings
from telemetry.json_logs import JsonFormatter

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_SECRET_PARAMS = re.compile(
    r"(?i)\b(code|state|session_state|validationToken|access_token|refresh_token|client_secret|token)=[^&\s\"']+"
)

# A monday.com webhook's URL ends in its secret (api/routes/monday_webhooks.py): an access log or an
# error's path must not show it.
_SECRET_PATHS = re.compile(r"(/webhooks/monday/)[^/?\s\"']+")


def redact(text: str) -> str:
    text = _SECRET_PATHS.sub(lambda m: f"{m.group(1)}[redacted]", text)
    return _SECRET_PARAMS.sub(lambda m: f"{m.group(1)}=[redacted]", text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if record.args:
            args: Any = record.args
            if isinstance(args, tuple):
                record.args = tuple(redact(a) if isinstance(a, str) else a for a in args)
            elif isinstance(args, dict):
                record.args = {k: redact(v) if isinstance(v, str) else v for k, v in args.items()}
        return True


def configure_logging(settings: Settings) -> None:
    root = logging.getLogger()
    # Like logging.basicConfig: a process whose logging is already set up (tests) is left as it is.
    if not root.handlers:
        stream = logging.StreamHandler()
        json_lines = settings.log_format == "json"
        stream.setFormatter(JsonFormatter() if json_lines else logging.Formatter(FORMAT))
        root.addHandler(stream)
        root.setLevel(settings.log_level)
        if json_lines:
            # uvicorn's CLI gives its loggers handlers of its own, in its format: one format per process.
            for name in ("uvicorn", "uvicorn.access"):
                logging.getLogger(name).handlers.clear()
                logging.getLogger(name).propagate = True
    install_redaction()
    # A logger's filter only sees its own records; a handler's sees every record that reaches it.
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(RedactSecrets())


def install_redaction() -> None:
    """Filters on the loggers that print URLs (a logger's filters run for every record it emits)."""
    redaction = RedactSecrets()
    for name in ("", "uvicorn.access", "uvicorn.error", "httpx", "temporalio"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(redaction)
    logging.getLogger("httpx").setLevel(logging.WARNING)
