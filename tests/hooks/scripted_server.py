"""A real HTTP server for hook tests, scripted per request, optionally proxying to the embedded
platform. It produces on demand what a platform cannot: a 429 with Retry-After, a 502 page
from a "proxy", a connection reset after the request was processed, a record of every request.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import struct
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class Action:
    kind: str  # reply | reset | proxy | proxy_then_reset | proxy_then_reply | proxy_then_cut
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


def reply(status: int, body: Any = b"", headers: dict[str, str] | None = None) -> Action:
    headers = dict(headers or {})
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
        headers.setdefault("Content-Type", "application/json")
    return Action("reply", status, body, headers)


def reset() -> Action:
    """Close the connection without answering (request read, never processed)."""
    return Action("reset")


def proxy_then_reset() -> Action:
    """Forward to the platform (it processes the request), then drop the connection."""
    return Action("proxy_then_reset")


def proxy() -> Action:
    """Forward to the platform and relay its answer (what an unmatched request gets)."""
    return Action("proxy")


def proxy_then_cut() -> Action:
    """Forward to the platform, relay the headers (full ``Content-Length``) and half the body,
    then drop the connection: a download cut in the middle."""
    return Action("proxy_then_cut")


def proxy_then_reply(status: int, body: bytes, headers: dict[str, str] | None = None) -> Action:
    """Forward to the platform, then answer something else (e.g. a proxy's 502 page)."""
    return Action("proxy_then_reply", status, body, dict(headers or {}))


class ScriptedServer:
    """``on(method, path_regex, *actions)`` queues actions for matching requests; unmatched
    requests are proxied to ``upstream`` (or answered 404 without one)."""

    def __init__(self, upstream: str | None = None) -> None:
        self.upstream = upstream
        self.requests: list[Recorded] = []
        self._rules: list[tuple[str, re.Pattern[str], deque[Action]]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def on(self, method: str, path: str, *actions: Action) -> None:
        with self._lock:
            self._rules.append((method.upper(), re.compile(path), deque(actions)))

    def count(self, method: str, path: str) -> int:
        pattern = re.compile(path)
        return sum(1 for r in self.requests if r.method == method and pattern.search(r.path))

    def _next_action(self, method: str, path: str) -> Action:
        with self._lock:
            for rule_method, pattern, queue in self._rules:
                if rule_method == method and pattern.search(path) and queue:
                    return queue.popleft()
        return Action("proxy")

    def _forward(
        self, recorded: Recorded, raw_path: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        assert self.upstream, "no upstream to proxy to"
        parts = urlsplit(self.upstream)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=200)
        headers = {k: v for k, v in recorded.headers.items() if k.lower() not in HOP_BY_HOP}
        conn.request(recorded.method, raw_path, body=recorded.body or None, headers=headers)
        answer = conn.getresponse()
        body = answer.read()
        conn.close()
        return answer.status, answer.getheaders(), body

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().strip(), 16)
                        if size == 0:
                            self.rfile.readline()
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
                self.send_response(status)
                for key, value in headers:
                    if key.lower() not in HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _drop(self) -> None:
                self.close_connection = True
                # SO_LINGER 0: close with a RST, as a crashed proxy would.
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
                self.connection.close()

            def _handle(self) -> None:
                split = urlsplit(self.path)
                recorded = Recorded(
                    self.command,
                    split.path,
                    parse_qs(split.query),
                    {k: v for k, v in self.headers.items()},
                    self._body(),
                )
                with server._lock:
                    server.requests.append(recorded)
                action = server._next_action(self.command, split.path)
                if action.kind == "reply":
                    self._send(action.status, list(action.headers.items()), action.body)
                elif action.kind == "reset":
                    self._drop()
                elif action.kind == "proxy" and server.upstream is None:
                    self._send(
                        404, [("Content-Type", "application/json")], b'{"message": "not scripted"}'
                    )
                else:
                    status, headers, body = server._forward(recorded, self.path)
                    if action.kind == "proxy":
                        self._send(status, headers, body)
                    elif action.kind == "proxy_then_reset":
                        self._drop()
                    elif action.kind == "proxy_then_cut":
                        self.send_response(status)
                        for key, value in headers:
                            if key.lower() not in HOP_BY_HOP:
                                self.send_header(key, value)
                        self.send_header("Content-Length", str(len(body)))
                        self.end_headers()
                        self.wfile.write(body[: len(body) // 2])
                        self.wfile.flush()
                        self._drop()
                    else:
                        self._send(action.status, list(action.headers.items()), action.body)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

        return Handler
