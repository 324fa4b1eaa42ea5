"""Fixtures shared by tests/hooks and tests/triggers (imported by both conftest files)."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from scripted_server import ScriptedServer

ENDPOINT_TOKENS = {
    "word-count-endpoint": "word-count-endpoint-local-token",
    "all-types-endpoint": "all-types-endpoint-local-token",
}


def set_connection(
    monkeypatch: pytest.MonkeyPatch,
    host: str,
    password: str | None,
    conn_id: str = "craft_ai_default",
    **extra: Any,
) -> None:
    """Give hooks a connection through ``AIRFLOW_CONN_<ID>`` (no metadata DB needed)."""
    conn = {"conn_type": "craftai", "host": host, "extra": extra}
    if password is not None:
        conn["password"] = password
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(conn))


@pytest.fixture
def platform_conn(monkeypatch: pytest.MonkeyPatch, craft_platform: Any) -> Any:
    """``craft_ai_default`` pointing at the embedded platform with its SDK token."""
    set_connection(
        monkeypatch,
        craft_platform.url,
        craft_platform.sdk_token,
        control_url=craft_platform.url,
        max_retry_seconds=20,
    )
    return craft_platform


@pytest.fixture
def endpoint_only_conn(monkeypatch: pytest.MonkeyPatch, craft_platform: Any) -> Any:
    """``craft_ai_default`` with endpoint tokens only (no SDK token)."""
    set_connection(
        monkeypatch,
        craft_platform.url,
        None,
        control_url=craft_platform.url,
        endpoint_tokens=ENDPOINT_TOKENS,
    )
    return craft_platform


@pytest.fixture
def proxy(craft_platform: Any) -> Iterator[ScriptedServer]:
    """A scripted server in front of the embedded platform."""
    with ScriptedServer(upstream=craft_platform.url) as server:
        yield server


@pytest.fixture
def proxy_conn(monkeypatch: pytest.MonkeyPatch, proxy: ScriptedServer, craft_platform: Any) -> Any:
    """``craft_ai_default`` going through :func:`proxy`; fast retries."""
    set_connection(
        monkeypatch,
        proxy.url,
        craft_platform.sdk_token,
        control_url=proxy.url,
        max_retries=3,
        max_retry_seconds=10,
        endpoint_tokens=ENDPOINT_TOKENS,
    )
    return proxy


@pytest.fixture
def closed_port_url() -> str:
    """A URL nothing listens on (connection refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def assert_first_contact_failure(text: str, url: str, token: str) -> None:
    """The error of a call whose host never answered: connection id, URL, the first-contact
    budget's decision (attempts and time used, as the retry policy reports them), no token."""
    assert text.startswith("[unreachable] Connection 'my_craft': "), text
    assert f"could not reach {url}/api/v1/auth/refresh" in text
    assert "first-contact budget applied: extra connect_retry_seconds=10" in text
    used = re.search(r"unreachable after (\d+) attempts over (\d+) s", text)
    assert used is not None, text
    attempts, seconds = int(used[1]), int(used[2])
    # Backoff ceilings 0.5, 1, 2, 4, 8 s with full jitter: at least 2 attempts, at most 11.
    assert 2 <= attempts <= 11 and seconds <= 10, text
    assert token not in text
