"""Every route of the app needs its credential (``ROUTE_CREDENTIALS`` in routers/auth.py decides
which, and which are public): walked from the app's own route table, called over real HTTP
without the credential and with a wrong one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute
from starlette.testclient import TestClient

from craft_local.app import create_app
from craft_local.config import PlatformConfig
from craft_local.routers.auth import ROUTE_CREDENTIALS, Credential, credential_for
from craft_local.runtimes.pod_gateway import PodGateway
from craft_local.server import EmbeddedPlatform

REFUSED = {401, 403}
#: A credential of the wrong kind, or forged, for each kind.
WRONG = {
    Credential.ACCESS_TOKEN: {"Authorization": "Bearer not-a-jwt"},
    Credential.SDK_OR_ACCESS_TOKEN: {"Authorization": "Bearer not-the-sdk-token"},
    Credential.SDK_TOKEN: {"Authorization": "Bearer not-the-sdk-token"},
    Credential.ENDPOINT_TOKEN: {"Authorization": "EndpointToken not-the-endpoint-token"},
    Credential.SIGNATURE: {"Authorization": "Bearer not-a-signature"},
    Credential.POD_TOKEN: {"Authorization": "Bearer not-the-pod-token"},
    Credential.EXECUTION_TOKEN: {"Authorization": "Bearer not-a-jwt"},
}
_PARAM = re.compile(r"\{([^}:]+)(?::[^}]+)?\}")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """The app as ``craft-local serve`` builds it (routes only: it serves nothing here)."""
    built = create_app(
        PlatformConfig(data_dir=tmp_path_factory.mktemp("routes"), sdk_token="routes-sdk-token")
    )
    yield built
    built.state.platform.runner.shutdown(0)
    built.state.platform.store.close()


def calls(app: object) -> list[tuple[str, str, Credential]]:
    """``(method, concrete path, credential)`` for every method of every route of ``app``."""
    found = []
    for route in app.routes:  # type: ignore[attr-defined]
        if not isinstance(route, APIRoute):
            continue
        path = _PARAM.sub(lambda m: f"x-{m[1]}", route.path)
        for method in sorted(route.methods):
            found.append((method, path, credential_for(route.path)))
    return found


def test_every_prefix_names_a_reason_and_every_route_is_decided(app: object) -> None:
    assert all(why for _, _, why in ROUTE_CREDENTIALS)
    # The last prefix catches everything: a route outside the others is a page.
    assert ROUTE_CREDENTIALS[-1][:2] == ("/", Credential.NONE)
    routes = calls(app)
    assert len(routes) > 40  # the whole app, not one router
    public = {path for _, path, cred in routes if cred == Credential.NONE}
    # The API's only public route; every other public one is a page, outside the API prefixes.
    assert {p for p in public if p.startswith(("/api/", "/_local", "/endpoints"))} == {
        "/api/v1/environment-info"
    }


def test_every_route_refuses_a_call_without_its_credential(
    app: object, platform: EmbeddedPlatform
) -> None:
    checked: dict[Credential, int] = {}
    with httpx.Client(base_url=platform.url, timeout=30) as client:
        for method, path, credential in calls(app):
            if credential in (Credential.NONE, Credential.POD_TOKEN):
                continue  # public; the pod API has its own test below
            for headers in ({}, WRONG[credential]):
                answer = client.request(method, path, headers=headers)
                assert answer.status_code in REFUSED, (method, path, headers, answer.text)
            checked[credential] = checked.get(credential, 0) + 1
    # Each kind was met at least once, so a route moved under another prefix is still checked.
    assert set(checked) == set(Credential) - {Credential.NONE, Credential.POD_TOKEN}


def test_public_routes_answer_without_a_credential(app: object, platform: EmbeddedPlatform) -> None:
    with httpx.Client(base_url=platform.url, timeout=30) as client:
        for method, path, credential in calls(app):
            if credential == Credential.NONE:
                answer = client.request(method, path, headers={"Accept": "text/html"})
                assert answer.status_code not in REFUSED, (method, path)
                assert answer.status_code < 500, (method, path, answer.text)


def test_the_pod_api_needs_the_pod_token(tmp_path: Path) -> None:
    # The kubernetes runtime needs a cluster (tests/kubernetes); its pod gateway does not.
    app = create_app(PlatformConfig(data_dir=tmp_path, sdk_token="pods-sdk-token"))
    platform = app.state.platform
    try:
        # The process runtime, given the gateway the kubernetes runtime serves the pods with.
        platform.runner.runtime.pods = PodGateway(b"0" * 32)
        pod_routes = [c for c in calls(app) if c[2] == Credential.POD_TOKEN]
        assert len(pod_routes) >= 4
        client = TestClient(app)  # in-process, without the lifespan: the finally below stops
        for method, path, _ in pod_routes:
            for headers in ({}, WRONG[Credential.POD_TOKEN]):
                answer = client.request(method, path, headers=headers)
                assert answer.status_code in REFUSED, (method, path, answer.text)
    finally:
        platform.runner.shutdown(0)
        platform.store.close()


def test_an_execution_access_token_opens_no_other_route(app: object) -> None:
    """The access token of an execution's credential (what pipeline code's SDK holds) is
    refused by every route taking an access token: it only records its execution's metrics."""
    platform = app.state.platform  # type: ignore[attr-defined]
    token = platform.tokens.refresh_execution("some-execution-abc123")
    client = TestClient(app)  # type: ignore[arg-type]
    checked = 0
    for method, path, credential in calls(app):
        if credential not in (Credential.ACCESS_TOKEN, Credential.SDK_OR_ACCESS_TOKEN):
            continue
        answer = client.request(method, path, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 403, (method, path, answer.text)
        checked += 1
    assert checked > 30
