"""The deployment triggers: serialization, and real runs against the embedded platform whose
scheduler clock is frozen and whose due ticks run on demand (no real minute is waited for)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from craft_airflow.hooks.craft import CraftAIHook
from craft_airflow.protocol.deployments import DeploymentSpec, parse_date
from craft_airflow.triggers.deployment import (
    WATERMARK_KEY,
    CraftDeploymentEventTrigger,
    CraftDeploymentExecutionTrigger,
)

#: Each tick at a year of its own, later than the other tests' frozen clocks.
_years = itertools.count(3000)


class StateStore:
    """What Airflow 3.3 gives a watcher as ``asset_state_store`` (values go through JSON, as
    through the supervisor)."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def aget(self, key: str, default: Any = None) -> Any:
        return json.loads(self.values[key]) if key in self.values else default

    async def aset(self, key: str, value: Any) -> None:
        self.values[key] = json.dumps(value)


def tick(platform: Any, deployment_name: str) -> str:
    """Run the ticks due at the next frozen year; return ``deployment_name``'s execution."""
    headers = {"Authorization": f"Bearer {platform.sdk_token}"}
    now = f"{next(_years)}-01-01T00:00:00Z"
    assert httpx.put(
        f"{platform.url}/_local/scheduler/clock", json={"now": now}, headers=headers
    ).is_success
    ran = httpx.post(f"{platform.url}/_local/scheduler/run-due", headers=headers)
    assert ran.is_success, ran.text
    ticks = httpx.get(f"{platform.url}/_local/deployments/{deployment_name}/ticks", headers=headers)
    return str(ticks.json()[-1]["execution_id"])


def create(name: str, pipeline: str = "slow") -> str:
    """A yearly periodic deployment; return its creation date."""
    if pipeline == "slow":
        inputs = [{"pipeline_input_name": "seconds", "constant_value": 0.05}]
        outputs = [{"pipeline_output_name": "slept", "datastore_path": f"{name}/slept"}]
    else:
        inputs = [{"pipeline_input_name": "message", "constant_value": "broken on purpose"}]
        outputs = [{"pipeline_output_name": "never", "is_null": True}]
    hook = CraftAIHook()
    try:
        hook.create_deployment(
            DeploymentSpec(name, pipeline, "periodic", "0 0 1 1 *", inputs, outputs)
        )
        return str(hook.get_deployment(name)["created_at"])
    finally:
        hook.close()


async def next_event(events: AsyncIterator[Any]) -> dict[str, Any]:
    event = await asyncio.wait_for(events.__anext__(), timeout=30)
    return dict(event.payload)


@pytest.fixture
def frozen(platform_conn: Any) -> Any:
    yield platform_conn
    headers = {"Authorization": f"Bearer {platform_conn.sdk_token}"}
    httpx.put(f"{platform_conn.url}/_local/scheduler/clock", json={"now": None}, headers=headers)


def test_serialize_round_trips_without_secrets() -> None:
    for trigger in (
        CraftDeploymentEventTrigger("dep", "conn", since="2030-01-01T00:00:00Z", poll_interval=3),
        CraftDeploymentExecutionTrigger("dep", "2030-01-01T00:00:00Z", "conn", end_time=5.0),
    ):
        classpath, kwargs = trigger.serialize()
        assert json.loads(json.dumps(kwargs)) == kwargs
        assert not [k for k in kwargs if "token" in k]
        assert type(trigger)(**kwargs).serialize() == (classpath, kwargs)
        assert classpath.startswith("craft_airflow.triggers.deployment.")


def test_one_event_per_execution_across_a_triggerer_restart(frozen: Any) -> None:
    since = create("tr-watched")
    store = StateStore()

    def watcher(state: StateStore | None, since: str | None) -> CraftDeploymentEventTrigger:
        trigger = CraftDeploymentEventTrigger(
            "tr-watched", "craft_ai_default", since=since, poll_interval=0.1
        )
        if state is not None:
            trigger.asset_state_store = state  # what the 3.3 triggerer sets on a watcher
        return trigger

    first, second = tick(frozen, "tr-watched"), tick(frozen, "tr-watched")

    hook = CraftAIHook()
    newest = max(parse_date(hook.get_execution(e)["created_at"]) for e in (first, second))
    hook.close()

    def saved_after() -> Any:
        return parse_date(json.loads(store.values.get(WATERMARK_KEY, "{}")).get("after"))

    async def before_restart() -> set[str]:
        events = watcher(store, since).run()
        try:
            payloads = [await next_event(events), await next_event(events)]
            # The triggerer asks for the next event at once; the watermark is saved meanwhile.
            pending = asyncio.ensure_future(events.__anext__())
            deadline = time.monotonic() + 10
            while saved_after() != newest:
                assert time.monotonic() < deadline, store.values
                await asyncio.sleep(0.02)
            pending.cancel()  # the triggerer stops, the trigger waiting for the next look
            with contextlib.suppress(asyncio.CancelledError):
                await pending
        finally:
            await events.aclose()
        for payload in payloads:
            assert payload["status"] == "Succeeded"
            assert payload["deployment_name"] == "tr-watched"
            assert payload["outputs"] == {"slept": "craft://craft_ai_default@/tr-watched/slept"}
            assert payload["error"] is None
        return {p["execution_id"] for p in payloads}

    assert asyncio.run(before_restart()) == {first, second}
    saved = json.loads(store.values[WATERMARK_KEY])
    assert saved["announced"] == []  # both announced: the watermark moved past them

    while_down = tick(frozen, "tr-watched")  # finishes while no triggerer runs

    async def after_restart() -> list[str]:
        events = watcher(store, since).run()
        try:
            announced = [(await next_event(events))["execution_id"]]
            later = tick(frozen, "tr-watched")
            announced.append((await next_event(events))["execution_id"])
            assert announced[1] == later
            return announced
        finally:
            await events.aclose()

    # Neither replayed (first, second) nor dropped (while_down): the next event is while_down.
    assert asyncio.run(after_restart())[0] == while_down


def test_without_a_state_store_the_watch_starts_at_its_start(frozen: Any) -> None:
    """Airflow 3.1/3.2 (no state store) with ``since`` unset: the watch starts when the trigger
    starts; executions created before are never announced, later ones are."""
    create("tr-unstored")
    old = tick(frozen, "tr-unstored")
    hook = CraftAIHook()
    assert hook.wait_for_outcome(old, timeout=30).execution_id == old
    trigger = CraftDeploymentEventTrigger("tr-unstored", "craft_ai_default")
    mark = asyncio.run(trigger.load_watermark())
    new = tick(frozen, "tr-unstored")
    assert hook.wait_for_outcome(new, timeout=30).execution_id == new
    executions = hook.list_pipeline_executions("slow")
    hook.close()
    assert [e["execution_id"] for e in mark.to_announce(executions, "tr-unstored")] == [new]
    asyncio.run(trigger.save_watermark(mark))  # no store: nothing kept, nothing fails


def test_a_failed_execution_is_an_event_with_its_status(frozen: Any) -> None:
    since = create("tr-failing", pipeline="failing")
    failed = tick(frozen, "tr-failing")

    async def watch() -> dict[str, Any]:
        trigger = CraftDeploymentEventTrigger(
            "tr-failing", "craft_ai_default", since=since, poll_interval=0.1
        )
        events = trigger.run()
        try:
            return await next_event(events)
        finally:
            await events.aclose()

    payload = asyncio.run(watch())
    assert payload["execution_id"] == failed and payload["status"] == "Failed"
    assert payload["outputs"] is None
    assert "broken on purpose" in payload["error"]


def test_the_sensor_trigger_yields_the_next_finished_execution(frozen: Any) -> None:
    since = create("tr-sensed")
    execution_id = tick(frozen, "tr-sensed")

    async def wait() -> list[dict[str, Any]]:
        trigger = CraftDeploymentExecutionTrigger(
            "tr-sensed", since, "craft_ai_default", poll_interval=0.1
        )
        return [dict(e.payload) async for e in trigger.run()]

    (event,) = asyncio.run(wait())
    assert event["outcome"] == "finished" and event["execution_id"] == execution_id
    assert event["outputs"] == {"slept": "craft://craft_ai_default@/tr-sensed/slept"}

    async def timed_out() -> list[dict[str, Any]]:
        trigger = CraftDeploymentExecutionTrigger(
            "tr-sensed", "3999-01-01T00:00:00Z", "craft_ai_default", end_time=0.0
        )
        return [dict(e.payload) async for e in trigger.run()]

    assert asyncio.run(timed_out()) == [{"outcome": "timeout"}]
