"""A real HTTP server on loopback standing in for `workflow_engine`.

It records every request and answers with scripted status codes, so tests
see exactly what crossed the wire.
"""

from __future__ import annotations

import json
import threading
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class ReceivedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class EngineStandIn:
    def __init__(self) -> None:
        self.requests: list[ReceivedRequest] = []
        self._script: dict[str, deque[int]] = defaultdict(deque)
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self._answer(200, {"status": "ok"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                body = json.loads(raw) if raw else {}
                workflow_id = (
                    self.path.split("/")[3] if self.path.count("/") >= 4 else ""
                )
                with stand_in._lock:
                    stand_in.requests.append(
                        ReceivedRequest(
                            "POST", self.path, dict(self.headers.items()), body
                        )
                    )
                    script = stand_in._script.get(workflow_id)
                    status = script.popleft() if script else 202
                self._answer(status, {"accepted": status < 300})

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def script(self, workflow_id: str, *statuses: int) -> None:
        """Answer the next requests for `workflow_id` with these statuses."""
        with self._lock:
            self._script[workflow_id].extend(statuses)

    def requests_for(self, workflow_id: str) -> list[ReceivedRequest]:
        with self._lock:
            return [
                r
                for r in self.requests
                if r.path == f"/v1/workflows/{workflow_id}/execute"
            ]
