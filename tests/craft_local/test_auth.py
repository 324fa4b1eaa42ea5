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


def test_an_execution_credential_is_bound_to_its_execution_and_the_sdk_token() -> None:
    import jwt as pyjwt

    from craft_local.auth import EXECUTION_CLAIM, TokenIssuer
    from craft_local.errors import PlatformError

    issuer = TokenIssuer(b"s" * 32, "sdk-token-1", 3600)
    credential = issuer.execution_credential("word-count-abc123")
    assert credential.startswith("craft-execution.word-count-abc123.")
    assert issuer.execution_of(credential) == "word-count-abc123"
    assert issuer.execution_of(credential.replace("abc123", "abc124")) is None
    assert issuer.execution_of(credential[:-1] + "0") is None
    assert issuer.execution_of("sdk-token-1") is None
    # A new SDK token ends every execution credential.
    assert TokenIssuer(b"s" * 32, "sdk-token-2", 3600).execution_of(credential) is None
    token = issuer.refresh_execution("word-count-abc123")
    claims = pyjwt.decode(token, options={"verify_signature": False})
    assert claims[EXECUTION_CLAIM] == "word-count-abc123"
    assert issuer.check_bearer(f"Bearer {token}", execution_scope=True)[EXECUTION_CLAIM]
    try:
        issuer.check_bearer(f"Bearer {token}")
    except PlatformError as refused:
        assert refused.status == 403
    else:
        raise AssertionError("an execution's access token opened an ordinary route")
