"""The worker's /metrics: our counters (activities, the Graph client) and the Temporal SDK's runtime
metrics (workflow and activity task latencies, pollers, sticky cache, request failures, ...) in one
Prometheus text page on 127.0.0.1:WORKER_METRICS_PORT.

The SDK's metrics live in its Rust core, which serves them itself on an address of its own: the runtime
made here binds them to a free loopback port, and each scrape of our endpoint appends what that port
answers. One port for operators, and the SDK's metric names and labels stay exactly as Temporal
documents them. The server runs in a thread of its own: a scrape never waits on the worker's event loop.
"""

from __future__ import annotations

import logging
import socket
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

from telemetry.exposition import CONTENT_TYPE, render

log = logging.getLogger("telemetry.worker_server")

SDK_SCRAPE_TIMEOUT = 2.0


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def sdk_runtime() -> tuple[Runtime, str]:
    """A Temporal runtime exporting its metrics in Prometheus's format on a free loopback port, and the
    URL to read them at. Make it the default (`Runtime.set_default`) before the first client connects."""
    address = f"127.0.0.1:{_free_loopback_port()}"
    runtime = Runtime(
        telemetry=TelemetryConfig(
            # The SDK core's own warnings through Python's logging, so they are JSON lines like ours.
            logging=LoggingConfig(
                filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
                forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
            ),
            metrics=PrometheusConfig(
                bind_address=address, counters_total_suffix=True, durations_as_seconds=True
            ),
        )
    )
    return runtime, f"http://{address}/metrics"


def _sdk_text(url: str | None) -> bytes:
    if url is None:
        return b""
    try:
        with urllib.request.urlopen(url, timeout=SDK_SCRAPE_TIMEOUT) as response:  # noqa: S310 (our loopback URL)
            body: bytes = response.read()
    except (urllib.error.URLError, OSError) as err:
        # Our counters still answer; the SDK's absence from the page is what an alert would see.
        log.warning("temporal sdk metrics unavailable (%s)", type(err).__name__)
        return b""
    return body if body.endswith(b"\n") or not body else body + b"\n"


class MetricsServer:
    """GET /metrics on host:port until `close()`; port 0 picks a free one (`self.port` says which)."""

    def __init__(self, port: int, sdk_url: str | None, host: str = "127.0.0.1") -> None:
        sdk = sdk_url

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?", 1)[0] != "/metrics":
                    self.send_error(404)
                    return
                body = render() + _sdk_text(sdk)
                self.send_response(200)
                self.send_header("Content-Type", CONTENT_TYPE)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass  # a scrape every few seconds is not news

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self.url = f"http://{host}:{self.port}/metrics"
        self._thread = threading.Thread(target=self._server.serve_forever, name="metrics", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_worker_metrics(port: int, host: str = "127.0.0.1") -> MetricsServer | None:
    """For `python worker.py`: the SDK's runtime with Prometheus metrics as the default (before any client
    connects), and our endpoint on `port` (0: neither). A port in use costs the metrics, not the worker."""
    if port == 0:
        return None
    runtime, sdk_url = sdk_runtime()
    Runtime.set_default(runtime, error_if_already_set=False)
    try:
        server = MetricsServer(port, sdk_url, host)
    except OSError as err:
        log.error("worker metrics not served: %s:%d (%s)", host, port, err.strerror or type(err).__name__)
        return None
    log.info("metrics at %s", server.url)
    return server
