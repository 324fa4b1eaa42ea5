"""The app's assembly: JSON error bodies for unknown routes, start-up recovery after a crash,
the graceful stop's drain."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from conditions import wait_until
from platform_kit import (
    ERROR_KEYS,
    Api,
    start_platform,
)


def test_unknown_route_and_method_are_json_errors(api: Api) -> None:
    missing = api.get("/api/v1/no-such-thing")
    assert missing.status_code == 404
    assert set(missing.json()) == ERROR_KEYS
    wrong_method = api.request("PATCH", "/api/v1/pipelines")
    assert wrong_method.status_code == 405
    assert set(wrong_method.json()) == ERROR_KEYS


MALFORMED = [
    "/api/v1/executions/%00",
    "/api/v1/executions/%ff%fe",
    "/api/v1/executions/%ED%A0%80/inputs/%00",
    "/api/v1/pipelines/" + "a" * 5000,
    "/api/v1/executions/x?include_io_values=%00",
    "/api/v1/executions/x/outputs?wait_for_completion=%ff",
    "/api/v1/data-store/list?folder_path=%00",
    "/api/v1/data-store/list?folder_path=../..",
    "/api/v1/data-store/upload?path_to_object=%00",
    "/_local/data-store/object?path=%00&expires=abc&signature=x",
    "/api/v1/environment-variables/%00",
    "/executions/%00",
    "/executions/x/inputs/y/file",
    "/endpoints/v1/%00/executions/x?token=%00",
]


@pytest.mark.parametrize("path", MALFORMED)
def test_malformed_paths_and_parameters_never_answer_5xx(api: Api, path: str) -> None:
    """The fuzz suite (test_openapi_fuzz.py) generates such requests; these are fixed ones."""
    for method in ("GET", "POST", "DELETE"):
        response = api.request(method, path)
        assert response.status_code < 500, (method, path, response.text[:300])
        assert "Traceback" not in response.text


def test_kill_and_restart_marks_unfinished_executions_error(tmp_path: Path) -> None:
    platform = start_platform(tmp_path, "--max-concurrency", "1")
    try:
        api = Api(platform.url, platform.sdk_token)
        token_before = api.jwt()
        done = api.finish("all-types", {"text": "kept"})
        running = api.start("slow", {"seconds": 60})
        pending = api.start("slow", {"seconds": 60})
        api.wait_for(running, {"Running"})
        platform.kill()
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{platform.url}/api/v1/environment-info")
        port = platform.port
        platform.restart()
        assert platform.port == port
        after = Api(platform.url, platform.sdk_token)
        after._jwt = token_before  # the signing key survives the restart
        crashed = after.execution(running)
        assert crashed["status"] == "Error"
        assert crashed["error"]["message"] == "platform restarted while the execution was running"
        assert crashed["end_date"] is not None
        queued = after.execution(pending)
        assert queued["status"] == "Error"
        assert "before the execution started" in queued["error"]["message"]
        kept = after.execution(done["execution_id"])
        assert kept["status"] == "Succeeded"
        report = after.get(f"/api/v1/executions/{done['execution_id']}/outputs/report")
        assert b"text: kept" in report.content
        assert after.finish("slow", {"seconds": 0.1})["status"] == "Succeeded"
    finally:
        platform.stop()


def test_graceful_stop_drains_running_and_requeues_pending(tmp_path: Path) -> None:
    platform = start_platform(tmp_path, "--max-concurrency", "1")
    try:
        api = Api(platform.url, platform.sdk_token)
        running = api.start("slow", {"seconds": 2})
        pending = api.start("slow", {"seconds": 0.2})
        api.wait_for(running, {"Running"})
        process = platform._proc
        assert process is not None
        stopper = threading.Thread(target=platform.stop)
        stopper.start()

        def refused() -> bool:
            try:
                httpx.get(f"{platform.url}/api/v1/environment-info", timeout=1)
            except httpx.ConnectError:
                return True
            return False

        # The listening socket closes at once, while the running execution is drained.
        wait_until(refused, 5, "the platform to stop listening")
        assert process.poll() is None
        stopper.join()
        assert (tmp_path / "stopped-gracefully").exists()
        platform.start()
        after = Api(platform.url, platform.sdk_token)
        drained = after.execution(running)
        assert drained["status"] == "Succeeded", drained
        assert after.get(f"/api/v1/executions/{running}/outputs/slept").json() == 2
        assert after.wait_for(pending)["status"] == "Succeeded"
        assert after.get(f"/api/v1/executions/{pending}/outputs/slept").json() == 0.2
        assert "1 pending execution(s) re-queued after a graceful stop" in platform.log_tail(60)
        assert not (tmp_path / "stopped-gracefully").exists()
    finally:
        platform.stop()


def test_graceful_stop_ends_executions_still_running_after_the_grace_period_as_error(
    tmp_path: Path,
) -> None:
    platform = start_platform(tmp_path, "--shutdown-grace-seconds", "0.5")
    try:
        api = Api(platform.url, platform.sdk_token)
        running = api.start("slow", {"seconds": 60})
        api.wait_for(running, {"Running"})
        started = time.monotonic()
        platform.stop()
        assert time.monotonic() - started < 8
        platform.start()
        stopped = Api(platform.url, platform.sdk_token).execution(running)
        assert stopped["status"] == "Error"
        assert stopped["error"]["message"] == "platform stopped while the execution was running"
    finally:
        platform.stop()
