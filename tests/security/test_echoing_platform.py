"""A platform (or a proxy in front of it) that echoes the credentials it received into every
answer: error messages, error names, request ids, extra data, HTML error pages, redirect
locations. Whatever it sends back, no token and no access token may show in what the hooks and
the trigger raise, return, print or log.

The echoing server is a real HTTP server on 127.0.0.1; the hooks and the trigger are the real
ones. It hands out a real (HS256) JWT on refresh, so the access token travels too.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from secret_search import Corpus, exception_texts

from craft_airflow.hooks.craft import CraftAIHook
from craft_airflow.hooks.craft_async import CraftAIAsyncHook
from craft_airflow.routes import route_for
from craft_airflow.triggers.execution import CraftExecutionTrigger

SDK_TOKEN = f"sdk-SECRET-echo-{secrets.token_hex(10)}"
ENDPOINT_TOKEN = f"ept-SECRET-echo-{secrets.token_hex(10)}"
ACCESS_TOKEN = jwt.encode(
    {"sub": "echo", "iat": int(time.time()), "exp": int(time.time()) + 3600},
    secrets.token_bytes(32),
    algorithm="HS256",
)
TOKENS = {"SDK token": SDK_TOKEN, "endpoint token": ENDPOINT_TOKEN, "access token": ACCESS_TOKEN}
MODES = ("json-400", "json-401", "json-500", "html-502", "redirect", "refresh-refused")


@dataclass(repr=False)  # a failing test prints its arguments: no secrets
class EchoServer:
    """Answers every request in the current ``mode``, echoing the credentials it saw."""

    mode: str = "json-400"
    seen: list[str] = field(default_factory=list)
    url: str = ""

    def credentials(self, handler: BaseHTTPRequestHandler, body: bytes) -> list[str]:
        found = []
        authorization = handler.headers.get("Authorization", "")
        if authorization:
            found.append(authorization.partition(" ")[2])
        found += parse_qs(urlsplit(handler.path).query).get("token", [])
        with contextlib.suppress(ValueError, KeyError, TypeError):
            found.append(json.loads(body)["refresh_token"])
        self.seen += found
        return found

    def answer(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str], bytes]:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        bare = " ".join(self.credentials(handler, body))
        echo = (
            f"you sent {handler.command} {handler.path} with {dict(handler.headers)} and "
            f"{body[:300]!r}; credentials: {bare}"
        )
        path = urlsplit(handler.path).path
        if path == "/api/v1/auth/refresh" and self.mode != "refresh-refused":
            return 200, {}, json.dumps({"access_token": ACCESS_TOKEN}).encode()
        if self.mode == "html-502":
            page = f"<html><body><h1>502 Bad Gateway</h1><pre>{echo}</pre></body></html>"
            return 502, {"Content-Type": "text/html"}, page.encode()
        if self.mode == "redirect":
            return 307, {"Location": f"{path}?token={bare}&echo={bare}"}, b""
        status = {"json-401": 401, "json-500": 500, "refresh-refused": 401}.get(self.mode, 400)
        error = {
            "name": f"Echo {bare}",
            "message": echo,
            "request_id": bare,
            "additional_data": {"credentials": bare, "headers": dict(handler.headers)},
        }
        return status, {}, json.dumps(error).encode()


@pytest.fixture(scope="module")
def echo_server() -> Iterator[EchoServer]:
    server = EchoServer()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            status, headers, body = server.answer(self)
            self.send_response(status)
            headers.setdefault("Content-Type", "application/json")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_DELETE = _handle

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()


def connection_env(url: str, *, sdk: bool) -> str:
    extra = {
        "control_url": url,
        "endpoint_tokens": {"echo-endpoint": ENDPOINT_TOKEN},
        "max_retries": 0,
        "max_retry_seconds": 1,
        "request_timeout": 5,
        "long_poll_timeout": 5,
    }
    spec: dict[str, Any] = {"conn_type": "craftai", "host": url, "extra": extra}
    if sdk:
        spec["password"] = SDK_TOKEN
    return json.dumps(spec)


def sync_calls(hook: CraftAIHook, url: str) -> dict[str, Callable[[], Any]]:
    file_url = f"{url}/endpoints/v1/echo-endpoint/executions/echo-1/outputs/report"
    return {
        "test_connection": hook.test_connection,
        "run_pipeline": lambda: hook.run_pipeline("echo", inputs={"a": 1}),
        "trigger_endpoint": lambda: hook.trigger_endpoint("echo-endpoint", inputs={"a": 1}),
        "trigger_deployment": lambda: hook.trigger_deployment("echo-endpoint", inputs={"a": 1}),
        "get_execution": lambda: hook.get_execution("echo-1"),
        "get_outputs": lambda: hook.get_outputs("echo-1"),
        "get_logs": lambda: hook.get_logs("echo-1"),
        "download_output": lambda: hook.download_output("echo-1", "report", io.BytesIO()),
        "endpoint_results": lambda: hook.get_endpoint_results(
            "echo-endpoint", "echo-1", endpoint_name="echo-endpoint"
        ),
        "endpoint_file": lambda: hook.download_endpoint_file(
            file_url, io.BytesIO(), endpoint_name="echo-endpoint"
        ),
        "wait": lambda: hook.wait_for_outcome("echo-1", timeout=1, poll_interval=0.2),
        "endpoint_wait": lambda: route_for(hook.config, endpoint_name="echo-endpoint").wait(
            hook, "echo-1", timeout=1, poll_interval=0.2
        ),
    }


async def async_calls(texts: list[tuple[str, str]], label: str) -> None:
    for endpoint in (None, "echo-endpoint"):
        hook = CraftAIAsyncHook("craft_echo")
        try:
            route = route_for(await hook.get_config(), endpoint_name=endpoint)
            event = await route.await_outcome(hook, "echo-1", timeout=1, poll_interval=0.2)
            texts.append((f"{label} async wait {endpoint}", json.dumps(event.to_event())))
        except Exception as exc:
            texts += [(f"{label} async wait {endpoint}", t) for t in exception_texts(exc)]
        finally:
            await hook.aclose()
        trigger = CraftExecutionTrigger(
            "echo-1",
            "craft_echo",
            end_time=time.time() + 1,
            route={"kind": "endpoint" if endpoint else "sdk", "endpoint_name": endpoint},
            poll_interval=0.2,
        )
        async for fired in trigger.run():
            texts.append((f"{label} trigger {endpoint}", json.dumps(fired.payload)))


@pytest.mark.parametrize("mode", MODES)
def test_echoed_credentials_never_come_out(
    echo_server: EchoServer,
    mode: str,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    echo_server.mode = mode
    echo_server.seen.clear()
    texts: list[tuple[str, str]] = []
    log_buffer = io.StringIO()
    handler = logging.StreamHandler(log_buffer)
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        for conn_id, sdk in (("craft_echo", True), ("craft_echo_endpoint_only", False)):
            env = f"AIRFLOW_CONN_{conn_id.upper()}"
            monkeypatch.setenv(env, connection_env(echo_server.url, sdk=sdk))
            hook = CraftAIHook(conn_id)
            for name, call in sync_calls(hook, echo_server.url).items():
                label = f"{mode} {conn_id} {name}"
                try:
                    texts.append((f"{label} returned", repr(call())))
                except Exception as exc:
                    texts += [(f"{label} raised", t) for t in exception_texts(exc)]
            hook.close()
        asyncio.run(async_calls(texts, mode))
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
    printed = capfd.readouterr()

    # The server did receive every kind of credential, and echoed it back.
    assert {SDK_TOKEN, ACCESS_TOKEN, ENDPOINT_TOKEN} <= set(echo_server.seen) or (
        mode == "refresh-refused" and {SDK_TOKEN, ENDPOINT_TOKEN} <= set(echo_server.seen)
    )
    corpus = Corpus()
    for where, text in texts:
        corpus.add(where, text)
    corpus.add("logged", log_buffer.getvalue())
    corpus.add("printed", printed.out + printed.err)
    assert corpus.find(TOKENS) == [], "\n".join(corpus.context(TOKENS))


def test_an_echoed_answer_would_be_found(echo_server: EchoServer) -> None:
    """Control: what the server sends back does carry the secrets the search looks for."""
    import httpx

    echo_server.mode = "json-400"
    answer = httpx.get(
        f"{echo_server.url}/api/v1/executions/x?token={ENDPOINT_TOKEN}",
        headers={"Authorization": f"Bearer {ACCESS_TOKEN}"},
    )
    corpus = Corpus()
    corpus.add("raw answer", answer.text)
    found = corpus.find(TOKENS)
    assert "raw answer: endpoint token" in found
    assert "raw answer: access token" in found
