"""The SDK-token exchange (§2) and the Bearer check of the ``/api/v1`` routes."""

from __future__ import annotations

import httpx
import jwt
from platform_kit import (
    ERROR_KEYS,
    Api,
)

from craft_local.server import EmbeddedPlatform


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
