"""The Host allow-list (DNS rebinding): loopback names and the configured public URL only."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from platform_kit import start_platform

from craft_local.hosts import HostAllowList, host_name
from craft_local.server import EmbeddedPlatform


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("LocalHost:8765", "localhost"),
        ("127.0.0.1", "127.0.0.1"),
        ("[::1]:80", "::1"),
        ("2130706433:8765", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54", "localhost"),  # full width
        ("example.com.", "example.com"),
    ],
)
def test_host_names_are_normalised(header: str, name: str) -> None:
    assert host_name(header) == name


def test_allowed_names() -> None:
    allow = HostAllowList(lambda *a: None, frozenset({"craft.example.org"}))  # type: ignore[arg-type]
    assert allow.allows("localhost:1") and allow.allows("[::1]:2") and allow.allows("127.0.0.9")
    assert allow.allows("CRAFT.example.org:443")
    assert not allow.allows("rebind.attacker.test:8765")
    assert not allow.allows("127.0.0.1.attacker.test")
    assert not allow.allows(None) and not allow.allows("")


def _get(platform: EmbeddedPlatform, path: str, host: str) -> httpx.Response:
    return httpx.get(f"{platform.url}{path}", headers={"Host": host})


def test_other_host_headers_get_400_on_every_kind_of_route(platform: EmbeddedPlatform) -> None:
    port = platform.port
    for path in ("/api/v1/environment-info", "/executions", "/_local/status", "/nope"):
        for host in (f"rebind.attacker.test:{port}", "evil.test", f"10.1.2.3:{port}"):
            response = _get(platform, path, host)
            assert response.status_code == 400, (path, host)
            assert response.json()["name"] == "HostNotAllowed"
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
            assert _get(platform, path, host).status_code != 400, (path, host)


def test_the_public_url_host_is_answered(tmp_path: Path) -> None:
    public = start_platform(tmp_path, "--public-url", "https://craft.example.org/", declared=False)
    try:
        assert _get(public, "/api/v1/environment-info", "craft.example.org").status_code == 200
        assert _get(public, "/api/v1/environment-info", "other.example.org").status_code == 400
    finally:
        public.stop()


def test_configured_urls_and_the_listening_ip_are_allowed_names() -> None:
    from craft_local.hosts import allowed_names

    names = allowed_names(
        "10.0.0.5", ["https://Craft.Example.org:8443/base", "http://pods.internal:8765", None]
    )
    assert names == {"10.0.0.5", "craft.example.org", "pods.internal"}
    assert allowed_names("localhost", [None]) == frozenset()
