"""A long-poll held while the platform stops gracefully (and starts again): the wait, on the
worker (sync hook) and on the triggerer (the trigger), carries on to the execution's real end;
no second execution is created. A recording proxy in front of the platform shows when the
long-poll is held."""

from __future__ import annotations

import asyncio
import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conditions import wait_until

from craft_local.examples import EXAMPLE_PIPELINES

sys.path.insert(0, str(Path(__file__).parents[1] / "hooks"))
from scripted_server import ScriptedServer

CONN_ID = "craft_stopping"
OUTPUTS = r"/executions/[^/]+/outputs$"


@pytest.fixture
def stopping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Any, ScriptedServer]]:
    """A platform holding long-polls for 60 s, behind a recording proxy the connection uses."""
    from craft_local.server import EmbeddedPlatform

    platform = EmbeddedPlatform(
        tmp_path / "platform",
        sdk_token="graceful-stop-sdk-token",
        pipelines_dir=EXAMPLE_PIPELINES,
        extra_args=["--long-poll-seconds", "60"],
    ).start()
    try:
        with ScriptedServer(upstream=platform.url) as proxy:
            conn = {
                "conn_type": "craftai",
                "host": proxy.url,
                "password": platform.sdk_token,
                "extra": {"control_url": proxy.url, "max_retry_seconds": 60},
            }
            monkeypatch.setenv(f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps(conn))
            yield platform, proxy
    finally:
        platform.stop()


def wait_on_worker(execution_id: str) -> Any:
    from craft_airflow.hooks.craft import CraftAIHook

    hook = CraftAIHook(CONN_ID)
    try:
        return hook.wait_for_outcome(execution_id, timeout=120, poll_interval=0.5).status
    finally:
        hook.close()


def wait_on_triggerer(execution_id: str) -> Any:
    from craft_airflow.triggers.execution import CraftExecutionTrigger

    trigger = CraftExecutionTrigger(execution_id, CONN_ID, poll_interval=0.5)

    async def run() -> list[Any]:
        return [event async for event in trigger.run()]

    (event,) = asyncio.run(run())
    return event.payload["status"]


@pytest.mark.parametrize("wait", [wait_on_worker, wait_on_triggerer], ids=["worker", "triggerer"])
def test_a_held_long_poll_outlives_a_graceful_restart(stopping, wait) -> None:
    from craft_airflow.hooks.craft import CraftAIHook

    platform, proxy = stopping
    hook = CraftAIHook(CONN_ID)
    execution_id = hook.run_pipeline("slow", inputs={"seconds": 4})
    result: dict[str, Any] = {}

    def waiter() -> None:
        try:
            result["status"] = wait(execution_id)
        except BaseException as err:  # reported below, in the test's thread
            result["error"] = err

    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    wait_until(lambda: proxy.count("GET", OUTPUTS) >= 1, timeout=30, what="the held long-poll")
    # Graceful: stops listening, releases the held long-poll, lets the execution finish.
    platform.restart()
    thread.join(timeout=150)
    assert not thread.is_alive()
    assert result == {"status": "success"}, result
    assert [e["execution_id"] for e in hook.list_pipeline_executions("slow")] == [execution_id]
    assert hook.get_execution(execution_id)["status"] == "Succeeded"
    hook.close()
