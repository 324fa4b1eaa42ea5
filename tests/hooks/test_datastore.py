"""CraftDataStoreHook: what a real data store does not do on demand (an expired presigned URL,
a store ignoring ``Range``, an unreachable store), through a scripted proxy in front of the
embedded platform."""

from __future__ import annotations

import io
from typing import Any

import pytest
from craft_fixtures import set_connection
from scripted_server import ScriptedServer, reply

from craft_airflow.errors import CraftConnectionError
from craft_airflow.hooks.datastore import CraftDataStoreHook


@pytest.fixture
def hook(proxy_conn: ScriptedServer) -> Any:
    hook = CraftDataStoreHook()
    yield hook
    hook.close()


def test_an_expired_presigned_url_is_renewed_once(
    hook: CraftDataStoreHook, proxy_conn: ScriptedServer, craft_platform: Any
) -> None:
    hook.upload("hooks/renew.txt", io.BytesIO(b"renewed"))
    expired = (
        f"{craft_platform.url}/_local/data-store/object?key=hooks/renew.txt&expires=1&signature=x"
    )
    proxy_conn.on("POST", r"/api/v1/data-store/download$", reply(200, {"signed_url": expired}))
    sink = io.BytesIO()
    assert hook.download("hooks/renew.txt", sink) == len(b"renewed")
    assert sink.getvalue() == b"renewed"
    assert proxy_conn.count("POST", r"/api/v1/data-store/download$") == 2


def test_a_store_ignoring_range_is_read_through(
    hook: CraftDataStoreHook, proxy_conn: ScriptedServer
) -> None:
    with ScriptedServer() as store:
        store.on("GET", r"/object", reply(200, b"0123456789abcdef"))
        proxy_conn.on(
            "POST",
            r"/api/v1/data-store/download$",
            reply(200, {"signed_url": f"{store.url}/object"}),
        )
        assert hook.read_range("hooks/any.bin", 5, 9) == b"5678"
        assert store.requests[0].headers.get("Range") == "bytes=5-8"
        assert "Authorization" not in store.requests[0].headers


def test_an_unreachable_store_keeps_the_url_query_out_of_the_error(
    monkeypatch: pytest.MonkeyPatch,
    proxy: ScriptedServer,
    craft_platform: Any,
    closed_port_url: str,
) -> None:
    set_connection(
        monkeypatch, proxy.url, craft_platform.sdk_token, control_url=proxy.url, max_retries=0
    )
    signed = f"{closed_port_url}/object?X-Amz-Signature=presigned-secret-77"
    proxy.on("POST", r"/api/v1/data-store/download$", reply(200, {"signed_url": signed}))
    hook = CraftDataStoreHook()
    with pytest.raises(CraftConnectionError) as caught:
        hook.download("hooks/any.bin", io.BytesIO())
    hook.close()
    assert "download data store object 'hooks/any.bin'" in str(caught.value)
    assert "presigned-secret-77" not in f"{caught.value!r} {caught.value}"


def test_missing_objects(hook: CraftDataStoreHook) -> None:
    assert hook.object_info("hooks/missing.bin") is None
    with pytest.raises(FileNotFoundError, match=r"no data store object at 'hooks/missing\.bin'"):
        hook.delete("hooks/missing.bin")
