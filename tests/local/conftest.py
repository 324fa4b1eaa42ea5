"""Fixtures for the embedded platform tests: real servers on 127.0.0.1, real HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from platform_kit import Api, start_platform

from craft_airflow.local.server import EmbeddedPlatform


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
