"""CraftAIAsyncHook over real HTTP (embedded platform, scripted proxy)."""

from __future__ import annotations

import asyncio
import io
import logging
import time

import aiohttp
import pytest
from craft_fixtures import assert_first_contact_failure, set_connection
from scripted_server import ScriptedServer, reply, reset

from craft_airflow.errors import CraftAPIError, CraftAuthError, CraftConnectionError
from craft_airflow.hooks.craft import CraftAIHook
from craft_airflow.hooks.craft_async import (
    CraftAIAsyncHook,
    aiohttp_kwargs,
    classify_aiohttp_exception,
)
from craft_airflow.protocol.http import FailureKind, FileInput
from craft_airflow.protocol.outcomes import OutcomeStatus
from craft_airflow.protocol.statuses import ExecutionStatus


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


async def test_an_unreachable_platform_fails_within_the_first_contact_budget(
    closed_port_url, monkeypatch
):
    set_connection(monkeypatch, closed_port_url, "sdk-tok-refused-2", conn_id="my_craft")
    started = time.monotonic()
    with pytest.raises(CraftConnectionError) as err:
        await CraftAIAsyncHook("my_craft").get_execution("x")
    print(f"async hook against a closed port: failed after {time.monotonic() - started:.1f} s")
    assert_first_contact_failure(str(err.value), closed_port_url, "sdk-tok-refused-2")


async def test_aiohttp_exception_mapping(closed_port_url):
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientError) as refused:
            await session.post(f"{closed_port_url}/x", data=b"y")
        with pytest.raises(aiohttp.ClientError) as invalid:
            await session.get("not a url")
        with ScriptedServer() as server:
            server.on("POST", "/x", reset())
            with pytest.raises(aiohttp.ClientError) as dropped:
                await session.post(f"{server.url}/x", data=b"y")
    assert classify_aiohttp_exception(refused.value) == FailureKind.NOT_SENT
    assert classify_aiohttp_exception(invalid.value) == FailureKind.FATAL
    assert classify_aiohttp_exception(dropped.value) == FailureKind.NO_ANSWER


def test_the_async_transport_refuses_file_parts():
    from craft_airflow.connection import CraftConnectionConfig
    from craft_airflow.protocol.builders import build_run_pipeline
    from craft_airflow.protocol.http import Send

    config = CraftConnectionConfig(conn_id="x", environment_url="https://env", sdk_token="t")
    request = build_run_pipeline(config, "p", files={"doc": FileInput("doc", io.BytesIO(b"x"))})
    with pytest.raises(ValueError, match="does not send file parts"):
        aiohttp_kwargs(Send(request))


async def test_no_token_in_the_transport_logs(endpoint_only_conn, caplog, capsys):
    """aiohttp's loggers at DEBUG (the worst case: someone turned them on) during a wait on the
    endpoint route, whose requests carry the endpoint token."""
    execution_id = CraftAIHook().trigger_endpoint("all-types-endpoint", inputs={"text": "t"})
    names = ("aiohttp", "aiohttp.client", "aiohttp.internal")
    with caplog.at_level(logging.DEBUG):
        for name in names:
            logging.getLogger(name).setLevel(logging.DEBUG)
        try:
            outcome = await CraftAIAsyncHook().await_endpoint_outcome(
                "all-types-endpoint", execution_id, timeout=60, poll_interval=0.2
            )
        finally:
            for name in names:
                logging.getLogger(name).setLevel(logging.NOTSET)
    assert outcome.status == OutcomeStatus.SUCCESS
    logged = "\n".join(r.getMessage() for r in caplog.records) + capsys.readouterr().out
    assert "all-types-endpoint-local-token" not in logged


async def test_requests_go_through_the_environment_proxy(monkeypatch):
    """HTTP_PROXY is honoured (NO_PROXY too), as by the sync hook: the platform's host here does
    not even resolve, only the proxy (a scripted server on 127.0.0.1) answers."""
    import jwt

    from craft_airflow.hooks.craft_async import env_proxy

    token = jwt.encode({"exp": int(time.time()) + 3600}, "k" * 32, algorithm="HS256")
    env = "http://craft-env.invalid"
    with ScriptedServer() as proxy:
        proxy.on("POST", r"/auth/refresh$", reply(200, {"access_token": token}))
        proxy.on("GET", r"/executions/x$", reply(200, {"execution_id": "x", "status": "Running"}))
        proxy.on("GET", r"/executions/x/outputs$", reply(200, {"outputs": []}))
        monkeypatch.setenv("HTTP_PROXY", proxy.url.replace("http://", "http://user:pw@"))
        monkeypatch.setenv("NO_PROXY", "localhost")
        env_proxy.cache_clear()
        set_connection(monkeypatch, env, "sdk-tok-proxied-1", conn_id="proxied", control_url=env)
        try:
            hook = CraftAIAsyncHook("proxied")
            execution = await hook.get_execution("x")
            # A long-poll too: the held-request pool leaves proxied hosts to aiohttp.
            assert await hook.get_outputs("x") == []
            assert env_proxy("http", "localhost") == (None, None)
        finally:
            env_proxy.cache_clear()
    assert execution["status"] == "Running"
    assert [r.path for r in proxy.requests] == [
        "/api/v1/auth/refresh",
        "/api/v1/executions/x",
        "/api/v1/executions/x/outputs",
    ]
    assert {r.headers["Host"] for r in proxy.requests} == {"craft-env.invalid"}
    assert proxy.requests[0].headers["Proxy-Authorization"].startswith("Basic ")


def test_tls_context_is_built_once_and_off_means_off():
    import ssl

    from craft_airflow.hooks.craft_async import tls_verification

    context = tls_verification(True)
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert tls_verification(True) is context  # the CA bundle is read once per process
    unverified = tls_verification(False)
    assert (unverified.verify_mode, unverified.check_hostname) == (ssl.CERT_NONE, False)


async def test_a_token_that_cannot_go_into_a_header_is_a_craft_error(monkeypatch):
    from craft_airflow.errors import CraftError

    token = "bad\r\nX-Injected: 1"

    with ScriptedServer() as server:
        server.on("POST", r"/auth/refresh$", reply(200, {"access_token": token}))
        set_connection(monkeypatch, server.url, "sdk-tok-header-1", conn_id="bad_header")
        hook = CraftAIAsyncHook("bad_header")
        with pytest.raises(CraftError) as err:
            await hook.get_execution("e1")
    assert "get execution 'e1'" in str(err.value)
    assert "X-Injected" not in str(err.value)
    assert not [r for r in server.requests if "/executions/" in r.path]  # never sent
