"""Fixtures for the embedded platform tests: real servers on 127.0.0.1, real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from platform_kit import EXAMPLES, Api, start_platform

from craft_local.server import EmbeddedPlatform


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPlatform]:
    p = start_platform(tmp_path_factory.mktemp("local-platform"))
    yield p
    p.stop()


@pytest.fixture(scope="session")
def api(platform: EmbeddedPlatform) -> Iterator[Api]:
    client = Api(platform.url, platform.sdk_token)
    yield client
    client.http.close()


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPlatform]:
    """A platform running one execution at a time, holding long-polls for 2 s."""
    p = start_platform(
        tmp_path_factory.mktemp("single"), "--max-concurrency", "1", "--long-poll-seconds", "2"
    )
    yield p
    p.stop()


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPlatform]:
    p = EmbeddedPlatform(
        tmp_path_factory.mktemp("faulty"),
        sdk_token="fault-test-sdk-token",
        pipelines_dir=EXAMPLES,
        extra_args=["--long-poll-seconds", "0.5", "--fault-seed", "7"],
        env={"CRAFT_LOCAL_FAULT_SLOW_SECONDS": "0.3"},
    ).start()
    yield p
    p.stop()


@pytest.fixture()
def control(faulty: EmbeddedPlatform) -> Iterator[Any]:
    headers = {"Authorization": f"Bearer {faulty.sdk_token}"}

    def put(**settings: Any) -> dict[str, Any]:
        response = httpx.put(f"{faulty.url}/_local/faults", json=settings, headers=headers)
        assert response.status_code == 200, response.text
        return dict(response.json())

    put(reset_counters=True)
    yield put
    put(rate_503=0, rate_429=0, rate_reset=0, rate_slow=0, reset_mode="random", match=None)


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPlatform]:
    p = start_platform(
        tmp_path_factory.mktemp("limited"),
        "--max-request-bytes",
        "200000",
        "--max-code-bytes",
        "5000",
    )
    yield p
    p.stop()
