"""The routes' shared state: ``get_platform`` and the start of a graceful stop."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request

from craft_local.app import create_app
from craft_local.config import PlatformConfig
from craft_local.state import get_platform


def test_get_platform_and_begin_stop(tmp_path: Path) -> None:
    app = create_app(PlatformConfig(data_dir=tmp_path, sdk_token="state-test-token"))
    platform = get_platform(Request({"type": "http", "app": app, "headers": []}))
    try:
        assert platform is app.state.platform
        assert platform.config.data_dir == tmp_path
        platform.store.create_execution(
            {"execution_id": "slow-aaaaaa", "pipeline_name": "slow", "inputs": [], "outputs": []}
        )
        platform.begin_stop()
        assert platform.stopping.is_set()
        platform.runner.submit("slow-aaaaaa")  # arrives after the stop began: never started
    finally:
        platform.runner.shutdown(0)
        status = platform.store.get_status("slow-aaaaaa")
        platform.store.close()
    assert status == "Pending"
