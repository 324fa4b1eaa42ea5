"""Process-level behaviour: concurrency bound, restart recovery, persistence, shutdown."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from platform_kit import Api, start_platform, wait_until

from craft_airflow.local.server import EmbeddedPlatform


@pytest.fixture(scope="module")
def single(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedPlatform]:
    """A platform running one execution at a time, holding long-polls for 2 s."""
    p = start_platform(
        tmp_path_factory.mktemp("single"), "--max-concurrency", "1", "--long-poll-seconds", "2"
    )
    yield p
    p.stop()


def test_concurrency_bound_keeps_extra_executions_pending(single: EmbeddedPlatform) -> None:
    api = Api(single.url, single.sdk_token)
    first = api.start("slow", {"seconds": 1})
    second = api.start("slow", {"seconds": 0.2})
    api.wait_for(first, {"Running"})
    assert api.execution(second)["status"] == "Pending"
    assert api.execution(second)["end_date"] is None
    assert api.wait_for(first)["status"] == "Succeeded"
    done = api.wait_for(second)
    assert done["status"] == "Succeeded"
    assert done["start_date"] >= api.execution(first)["end_date"]


def test_long_poll_does_not_block_other_requests(single: EmbeddedPlatform) -> None:
    api = Api(single.url, single.sdk_token)
    execution_id = api.start("slow", {"seconds": 1})
    holders = [
        threading.Thread(
            target=api.get,
            args=(f"/api/v1/executions/{execution_id}/outputs?wait_for_completion=true",),
        )
        for _ in range(3)
    ]
    for holder in holders:
        holder.start()
    started = time.monotonic()
    assert httpx.get(f"{single.url}/api/v1/environment-info").status_code == 200
    assert Api(single.url, single.sdk_token).get("/api/v1/pipelines").status_code == 200
    assert time.monotonic() - started < 1.0  # each hold lasts up to 2 s
    for holder in holders:
        holder.join()
    api.wait_for(execution_id)


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


def test_created_pipelines_and_deployments_survive_restart(tmp_path: Path) -> None:
    from platform_kit import create_pipeline

    platform = start_platform(tmp_path, declared=False)
    try:
        api = Api(platform.url, platform.sdk_token)
        code = "def main():\n    return {'v': 'ok'}\n"
        created = create_pipeline(
            api, "persisted", code, outputs=[{"name": "v", "data_type": "string"}]
        )
        assert created.status_code == 200
        token = api.post(
            "/api/v1/endpoints", json={"pipeline_name": "persisted", "name": "p-ep"}
        ).json()["endpoint_token"]
        platform.restart()
        api = Api(platform.url, platform.sdk_token)
        assert api.get("/api/v1/deployments/p-ep").json()["endpoint_token"] == token
        assert api.finish("persisted")["status"] == "Succeeded"
        trigger = httpx.post(
            f"{platform.url}/endpoints/p-ep",
            json={},
            headers={"Authorization": f"EndpointToken {token}"},
        )
        assert trigger.status_code == 200
        wait_until(
            lambda: api.execution(trigger.json()["execution_id"])["status"] == "Succeeded", 10
        )
    finally:
        platform.stop()


def test_start_fails_fast_on_a_bad_declaration(tmp_path: Path) -> None:
    declared = tmp_path / "declared" / "broken"
    declared.mkdir(parents=True)
    (declared / "pipeline.json").write_text('{"function_path": "missing.py", "function_name": "f"}')
    platform = EmbeddedPlatform(
        tmp_path / "data", sdk_token="t" * 12, pipelines_dir=tmp_path / "declared"
    )
    with pytest.raises(RuntimeError, match=r"missing\.py"):
        platform.start(timeout=20)
    assert not platform.running


def test_tokens_are_never_logged(platform: EmbeddedPlatform, api: Api) -> None:
    httpx.get(
        f"{platform.url}/endpoints/v1/all-types-endpoint/executions/nope?token=all-types-endpoint-local-token"
    )
    api.get("/api/v1/users/me")
    log = platform.log_path.read_text()
    assert "serving on" in log
    for secret in (platform.sdk_token, "all-types-endpoint-local-token", api.jwt()):
        assert secret not in log


def test_children_do_not_outlive_a_killed_platform(tmp_path: Path) -> None:
    import os

    code = "import os, time\ndef main():\n    print(os.getpid(), flush=True)\n    time.sleep(60)\n"
    platform = start_platform(tmp_path, declared=False)
    try:
        from platform_kit import create_pipeline

        api = Api(platform.url, platform.sdk_token)
        assert create_pipeline(api, "sleeper", code).status_code == 200
        execution_id = api.start("sleeper")
        logs = f"/api/v1/executions/{execution_id}/logs"
        pid = int(
            wait_until(lambda: api.post(logs, json={}).json()[0], 10, "the pid")[0]["message"]
        )
        platform.kill()

        def gone() -> bool:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            return False

        wait_until(gone, 5, "the orphaned child to exit")
    finally:
        platform.stop()
