"""Authentication (§2) and the JSON error body (§1.3) over real HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import jwt
from platform_kit import Api

from craft_airflow.local.server import EmbeddedPlatform

ERROR_KEYS = {"message", "name", "request_id", "additional_data"}


def test_environment_info_needs_no_auth(platform: EmbeddedPlatform) -> None:
    response = httpx.get(f"{platform.url}/api/v1/environment-info")
    assert response.status_code == 200
    assert response.json()["environment_id"]


def test_refresh_returns_a_jwt_with_iat_and_exp(platform: EmbeddedPlatform) -> None:
    response = httpx.post(
        f"{platform.url}/api/v1/auth/refresh", json={"refresh_token": platform.sdk_token}
    )
    assert response.status_code == 200
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 3600


def test_bad_refresh_token_is_401_with_error_body(platform: EmbeddedPlatform) -> None:
    response = httpx.post(f"{platform.url}/api/v1/auth/refresh", json={"refresh_token": "nope"})
    assert response.status_code == 401
    assert set(response.json()) == ERROR_KEYS


def test_api_routes_need_a_valid_bearer(platform: EmbeddedPlatform, api: Api) -> None:
    assert httpx.get(f"{platform.url}/api/v1/pipelines").status_code == 401
    forged = jwt.encode(
        {"iat": 0, "exp": 2**31}, "not-the-secret-of-this-platform-0123456789", algorithm="HS256"
    )
    for header in (f"Bearer {forged}", f"Bearer {platform.sdk_token}", "Basic abc"):
        response = httpx.get(f"{platform.url}/api/v1/users/me", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.json()["name"] == "Unauthorized"
    me = api.get("/api/v1/users/me")
    assert me.status_code == 200
    assert set(me.json()) >= {"id", "name", "email"}


def test_unknown_route_and_method_are_json_errors(api: Api) -> None:
    missing = api.get("/api/v1/no-such-thing")
    assert missing.status_code == 404
    assert set(missing.json()) == ERROR_KEYS
    wrong_method = api.request("PATCH", "/api/v1/pipelines")
    assert wrong_method.status_code == 405
    assert set(wrong_method.json()) == ERROR_KEYS


def test_unknown_objects_are_404_with_names(api: Api) -> None:
    assert api.get("/api/v1/pipelines/ghost").json()["name"] == "PipelineNotFound"
    assert api.get("/api/v1/executions/ghost-123").status_code == 404
    assert api.get("/api/v1/deployments/ghost").json()["name"] == "DeploymentNotFound"


def test_invalid_json_body_is_400(api: Api) -> None:
    response = api.post(
        "/api/v1/endpoints", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert set(response.json()) == ERROR_KEYS


def test_expired_token_is_refused(tmp_path: Path) -> None:
    from platform_kit import start_platform, wait_until

    short = start_platform(tmp_path, "--jwt-lifetime", "2", declared=False)
    try:
        token = httpx.post(
            f"{short.url}/api/v1/auth/refresh", json={"refresh_token": short.sdk_token}
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{short.url}/api/v1/users/me", headers=headers).status_code == 200
        expired = wait_until(
            lambda: (
                (r := httpx.get(f"{short.url}/api/v1/users/me", headers=headers)).status_code == 401
                and r
            ),
            timeout=10,
            what="the token to expire",
        )
        assert "expired" in expired.json()["message"]
    finally:
        short.stop()
