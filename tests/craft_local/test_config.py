"""``PlatformConfig``: the defaults the README documents."""

from __future__ import annotations

from pathlib import Path

from craft_local.config import PlatformConfig


def test_defaults() -> None:
    config = PlatformConfig(data_dir=Path("d"), sdk_token="t")
    assert (config.host, config.port) == ("127.0.0.1", 8765)  # loopback unless told otherwise
    assert config.max_concurrency == 4
    assert config.long_poll_seconds == 5
    assert config.jwt_lifetime == 3600
    assert config.max_request_bytes == 100 * 1024 * 1024
    assert config.max_code_bytes == 50 * 1024 * 1024
    assert config.shutdown_grace_seconds == 30
    assert config.pipelines_dir is None
    assert config.faults.rate_503 == 0 and config.faults.seed is None
