"""The request body size limit."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
from platform_kit import (
    Api,
)

from craft_local.server import EmbeddedPlatform


def test_request_body_limit_is_413(limited: EmbeddedPlatform) -> None:
    api = Api(limited.url, limited.sdk_token)
    big = api.run("word-count", files={"document": ("big.txt", b"x" * 300_000)})
    assert big.status_code == 413
    assert big.json()["name"] == "PayloadTooLarge"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while streaming
        for _ in range(30):
            yield b"x" * 10_000

    streamed = httpx.post(
        f"{limited.url}/endpoints/word-count-endpoint",
        content=chunks(),
        headers={
            "Authorization": "EndpointToken word-count-endpoint-local-token",
            "Content-Type": "application/json",
        },
    )
    assert streamed.status_code == 413
    assert set(streamed.json()) == {"message", "name", "request_id", "additional_data"}
    small = api.run("word-count", files={"document": ("small.txt", b"x y")})
    assert small.status_code == 200
