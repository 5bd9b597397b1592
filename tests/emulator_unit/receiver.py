"""A tiny threaded HTTP receiver for change notifications (validation handshake included)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class Receiver:
    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        self.posts = 0
        self.validations = 0
        self.fail_next = 0
        self.lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                query = parse_qs(urlsplit(self.path).query)
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                if "validationToken" in query:
                    token = query["validationToken"][0].encode()
                    with outer.lock:
                        outer.validations += 1
                    self.send_response(200)
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", str(len(token)))
                    self.end_headers()
                    self.wfile.write(token)
                    return
                with outer.lock:
                    outer.posts += 1
                    fail = outer.fail_next > 0
                    if fail:
                        outer.fail_next -= 1
                    else:
                        outer.notifications.extend(json.loads(raw)["value"])
                self.send_response(500 if fail else 202)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
