"""Access tokens: their lifetime."""

from __future__ import annotations

from pathlib import Path

import httpx
from platform_kit import (
    start_platform,
)


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
