"""CraftAIAsyncHook over real HTTP (embedded platform, scripted proxy)."""

from __future__ import annotations

import asyncio
import io
import logging

import httpx
import pytest
from craft_fixtures import set_connection
from scripted_server import ScriptedServer, reply, reset

from craft_airflow.errors import CraftAPIError, CraftAuthError, CraftConnectionError
from craft_airflow.hooks.craft import CraftAIHook
from craft_airflow.hooks.craft_async import CraftAIAsyncHook, classify_httpx_exception
from craft_airflow.inputs.files import FileInput
from craft_airflow.outcomes import OutcomeStatus
from craft_airflow.protocol.http import FailureKind
from craft_airflow.statuses import ExecutionStatus


async def test_config_is_read_with_the_async_api(platform_conn):
    hook = CraftAIAsyncHook()
    config = await hook.get_config()
    assert config.environment_url == platform_conn.url
    assert config.sdk_token == platform_conn.sdk_token
    assert await hook.get_config() is config


async def test_wait_success_failure_and_timeout(platform_conn):
    sync = CraftAIHook()
    ok = sync.run_pipeline("slow", inputs={"seconds": 0.5})
    bad = sync.run_pipeline("failing", inputs={"message": "async-kaboom"})
    long = sync.run_pipeline("slow", inputs={"seconds": 8})
    hook = CraftAIAsyncHook()
    events = await asyncio.gather(
        hook.await_outcome(ok, timeout=60, poll_interval=0.2),
        hook.await_outcome(bad, timeout=60, poll_interval=0.2),
        hook.await_outcome(long, timeout=1, poll_interval=0.2),
    )
    assert [e.status for e in events] == [
        OutcomeStatus.SUCCESS,
        OutcomeStatus.FAILED,
        OutcomeStatus.TIMEOUT,
    ]
    assert "async-kaboom" in events[1].message
    assert long in events[2].message
    execution = await hook.get_execution(ok)
    assert execution["status"] == ExecutionStatus.SUCCEEDED


async def test_endpoint_route(endpoint_only_conn):
    execution_id = CraftAIHook().trigger_endpoint(
        "word-count-endpoint", files={"document": FileInput("d.txt", io.BytesIO(b"a b c"))}
    )
    event = await CraftAIAsyncHook().await_endpoint_outcome(
        "word-count-endpoint", execution_id, timeout=60, poll_interval=0.2
    )
    assert event.status == OutcomeStatus.SUCCESS
    assert event.execution_id == execution_id


async def test_long_poll_survives_429_502_and_reset(proxy_conn):
    execution_id = CraftAIHook().run_pipeline("slow", inputs={"seconds": 0.5})
    proxy_conn.on(
        "GET",
        r"/outputs$",
        reply(429, {"message": "slow down"}, {"Retry-After": "0"}),
        reply(502, b"<html>bad gateway</html>", {"Content-Type": "text/html"}),
        reset(),
    )
    event = await CraftAIAsyncHook().await_outcome(execution_id, timeout=60)
    assert event.status == OutcomeStatus.SUCCESS
    assert proxy_conn.count("GET", r"/outputs$") >= 4


async def test_bad_sdk_token_raises_auth_error_without_the_token(platform_conn, monkeypatch):
    set_connection(
        monkeypatch, platform_conn.url, "wrong-async-token-77", control_url=platform_conn.url
    )
    with pytest.raises(CraftAuthError) as err:
        await CraftAIAsyncHook().await_outcome("x", timeout=5)
    assert "wrong-async-token-77" not in str(err.value)


async def test_unknown_execution_raises(platform_conn):
    with pytest.raises(CraftAPIError) as err:
        await CraftAIAsyncHook().await_outcome("no-such-execution", timeout=10)
    assert err.value.status_code == 404


async def test_unreachable_gives_connection_error(closed_port_url, monkeypatch):
    set_connection(
        monkeypatch,
        closed_port_url,
        "tok-unreachable-1",
        control_url=closed_port_url,
        max_retries=1,
        max_retry_seconds=2,
    )
    with pytest.raises(CraftConnectionError) as err:
        await CraftAIAsyncHook().get_execution("x")
    assert "tok-unreachable-1" not in str(err.value)


async def test_httpx_exception_mapping(closed_port_url):
    async with httpx.AsyncClient() as client:
        with pytest.raises(httpx.HTTPError) as refused:
            await client.post(f"{closed_port_url}/x", content=b"y")
        with ScriptedServer() as server:
            server.on("POST", "/x", reset())
            with pytest.raises(httpx.HTTPError) as dropped:
                await client.post(f"{server.url}/x", content=b"y")
    assert classify_httpx_exception(refused.value) == FailureKind.NOT_SENT
    assert classify_httpx_exception(dropped.value) == FailureKind.NO_ANSWER


async def test_no_token_in_httpx_logs(endpoint_only_conn, caplog):
    execution_id = CraftAIHook().trigger_endpoint("all-types-endpoint", inputs={"text": "t"})
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("httpx").setLevel(logging.DEBUG)  # worst case: someone turned it on
        try:
            await CraftAIAsyncHook().await_endpoint_outcome(
                "all-types-endpoint", execution_id, timeout=60, poll_interval=0.2
            )
        finally:
            logging.getLogger("httpx").setLevel(logging.WARNING)
    messages = [r.getMessage() for r in caplog.records]
    assert any("/endpoints/v1/" in m for m in messages)
    assert not any("all-types-endpoint-local-token" in m for m in messages)


def test_tls_context_is_built_once_and_off_means_off():
    import ssl

    from craft_airflow.hooks.craft_async import tls_verification

    context = tls_verification(True)
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert tls_verification(True) is context  # the CA bundle is read once per process
    assert tls_verification(False) is False
