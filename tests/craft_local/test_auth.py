"""Access tokens: their lifetime, their required claims, their binding to the SDK token."""

from __future__ import annotations

from pathlib import Path

import httpx
from platform_kit import TOKEN, start_platform


def test_expired_token_is_refused(tmp_path: Path) -> None:
    from platform_kit import wait_until

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


def _forged(data_dir: Path, sdk_token: str, **claims: object) -> str:
    import jwt

    from craft_local.auth import signing_key

    key = signing_key((data_dir / "jwt-secret").read_bytes(), sdk_token)
    return jwt.encode(claims, key, algorithm="HS256")


def test_tokens_need_exp_and_end_with_their_sdk_token(tmp_path: Path) -> None:
    import time

    platform = start_platform(tmp_path, declared=False)
    try:
        me = f"{platform.url}/api/v1/users/me"

        def status(token: str) -> int:
            return httpx.get(me, headers={"Authorization": f"Bearer {token}"}).status_code

        now = int(time.time())
        full = {"sub": "local-user", "iat": now, "iss": "craft-local"}
        assert status(_forged(platform.data_dir, TOKEN, **full, exp=now + 60)) == 200  # control
        assert status(_forged(platform.data_dir, TOKEN, **full)) == 401  # no exp
        issued = httpx.post(
            f"{platform.url}/api/v1/auth/refresh", json={"refresh_token": TOKEN}
        ).json()["access_token"]
        assert status(issued) == 200
        platform.sdk_token = "a-new-sdk-token-after-rotation"
        platform.restart()
        assert status(issued) == 401
        renewed = httpx.post(
            f"{platform.url}/api/v1/auth/refresh", json={"refresh_token": platform.sdk_token}
        ).json()["access_token"]
        assert status(renewed) == 200
    finally:
        platform.stop()
