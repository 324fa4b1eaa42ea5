"""CraftExecutionTrigger: serialization, and real runs against the embedded platform."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import UTC, datetime, timedelta

import pytest
from craft_fixtures import set_connection

from craft_airflow.hooks.craft import CraftAIHook
from craft_airflow.protocol.outcomes import OutcomeStatus, WaitOutcome
from craft_airflow.routes import EndpointRoute, SdkRoute
from craft_airflow.triggers.execution import CraftExecutionTrigger


async def run_trigger(trigger: CraftExecutionTrigger) -> list[dict]:
    """Every event the trigger yields (it must yield exactly one)."""
    return [event.payload async for event in trigger.run()]


def test_serialize_round_trip_without_secrets(monkeypatch):
    trigger = CraftExecutionTrigger(
        "ex-1",
        "craft_conn",
        end_time=1_800_000_000.5,
        route=EndpointRoute("dep", "dep-path").to_kwargs(),
        poll_interval=2,
        execution_url="https://ui.example/executions/ex-1",
    )
    classpath, kwargs = trigger.serialize()
    assert classpath == "craft_airflow.triggers.execution.CraftExecutionTrigger"
    rebuilt = CraftExecutionTrigger(**kwargs)
    assert rebuilt.serialize() == (classpath, kwargs)
    assert rebuilt.route == EndpointRoute("dep", "dep-path")
    assert json.loads(json.dumps(kwargs)) == kwargs
    assert set(kwargs) == {
        "execution_id",
        "conn_id",
        "end_time",
        "route",
        "poll_interval",
        "finish",
        "execution_url",
        "live_logs",
        "start",
    }
    assert kwargs["route"] == {
        "kind": "endpoint",
        "endpoint_name": "dep",
        "endpoint_url_path": "dep-path",
    }
    # The connection is re-read on the triggerer: nothing secret-looking is carried.
    assert not any("token" in k or "password" in k for k in kwargs)
    assert not any("token" in k for k in kwargs["route"])


def test_without_a_route_the_trigger_follows_with_the_sdk_token():
    assert CraftExecutionTrigger("ex-1", "c").route == SdkRoute()


def test_kwargs_of_unreleased_versions_are_refused():
    with pytest.raises(TypeError, match="endpoint_name"):
        CraftExecutionTrigger("ex-1", "c", endpoint_name="dep")  # type: ignore[call-arg]


def test_end_time_accepts_an_aware_datetime():
    when = datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    trigger = CraftExecutionTrigger("ex", "c", end_time=when)
    assert trigger.serialize()[1]["end_time"] == when.timestamp()


async def test_success_failure_and_timeout_events(platform_conn):
    hook = CraftAIHook()
    ok = hook.run_pipeline("slow", inputs={"seconds": 0.5})
    bad = hook.run_pipeline("failing", inputs={"message": "trigger-kaboom"})
    long = hook.run_pipeline("slow", inputs={"seconds": 8})
    results = await asyncio.gather(
        run_trigger(CraftExecutionTrigger(ok, "craft_ai_default", poll_interval=0.2)),
        run_trigger(CraftExecutionTrigger(bad, "craft_ai_default", poll_interval=0.2)),
        run_trigger(
            CraftExecutionTrigger(
                long,
                "craft_ai_default",
                end_time=datetime.now(UTC) + timedelta(seconds=1),
                poll_interval=0.2,
            )
        ),
    )
    assert all(len(events) == 1 for events in results)
    events = [WaitOutcome.from_event(events[0]) for events in results]
    assert [e.status for e in events] == [
        OutcomeStatus.SUCCESS,
        OutcomeStatus.FAILED,
        OutcomeStatus.TIMEOUT,
    ]
    assert [e.execution_id for e in events] == [ok, bad, long]
    assert "trigger-kaboom" in events[1].message
    assert long in events[2].message


async def test_endpoint_route(endpoint_only_conn):
    execution_id = CraftAIHook().trigger_endpoint("all-types-endpoint", inputs={"text": "t"})
    (payload,) = await run_trigger(
        CraftExecutionTrigger(
            execution_id,
            "craft_ai_default",
            route=EndpointRoute("all-types-endpoint").to_kwargs(),
            poll_interval=0.2,
        )
    )
    assert WaitOutcome.from_event(payload).status == OutcomeStatus.SUCCESS


async def test_past_end_time_times_out_at_once():
    (payload,) = await run_trigger(
        CraftExecutionTrigger("ex-late", "no_such_conn", end_time=time.time() - 1)
    )
    assert WaitOutcome.from_event(payload).status == OutcomeStatus.TIMEOUT


@pytest.mark.parametrize("problem", ["missing_connection", "bad_token", "unknown_execution"])
async def test_cannot_follow_gives_one_error_event(problem, platform_conn, monkeypatch):
    conn_id = "craft_ai_default"
    if problem == "missing_connection":
        conn_id = "craft_missing_conn"
    if problem == "bad_token":
        set_connection(
            monkeypatch, platform_conn.url, "bad-trigger-token-88", control_url=platform_conn.url
        )
    events = await run_trigger(CraftExecutionTrigger("ex-404", conn_id, poll_interval=0.2))
    assert len(events) == 1
    event = WaitOutcome.from_event(events[0])
    assert event.status == OutcomeStatus.ERROR
    assert "ex-404" in event.message
    assert "bad-trigger-token-88" not in event.message


@pytest.mark.parametrize(
    ("url", "where"),
    [
        (
            "https://ui.example/executions/ex-kill",
            "; see it at https://ui.example/executions/ex-kill.",
        ),
        (None, "keeps running."),
    ],
)
async def test_on_kill_says_the_execution_keeps_running_and_where(caplog, capsys, url, where):
    trigger = CraftExecutionTrigger("ex-kill", "c", execution_url=url)
    with caplog.at_level(logging.WARNING):
        # No I/O: it ends at once, with no connection "c" and no platform to ask.
        await asyncio.wait_for(trigger.on_kill(), timeout=1)
    # The trigger logs through Airflow's structlog set-up, printed rather than recorded.
    lines = [r.getMessage() for r in caplog.records] + capsys.readouterr().out.splitlines()
    said = [line for line in lines if "execution ex-kill keeps running" in line]
    assert said, lines
    assert "no call to cancel" in said[0] and where in said[0]


async def test_request_count_of_a_deferred_5s_wait(proxy_conn):
    execution_id = CraftAIHook().run_pipeline("slow", inputs={"seconds": 5})
    before = len(proxy_conn.requests)
    (payload,) = await run_trigger(CraftExecutionTrigger(execution_id, "craft_ai_default"))
    assert WaitOutcome.from_event(payload).status == OutcomeStatus.SUCCESS
    seen = [(r.method, r.path.rsplit("/", 1)[-1]) for r in proxy_conn.requests[before:]]
    print("trigger requests for a 5 s execution:", len(seen), seen)
    # its own token refresh, 1-3 long-polls (5 s hold), the final status read
    assert seen[0] == ("POST", "refresh") and seen[-1] == ("GET", execution_id)
    assert 3 <= len(seen) <= 5


FIRST_IMPORT_SCRIPT = """
import asyncio, sys, threading
import craft_airflow.triggers.execution as trigger_module

importing = {}


class Recorder:
    def find_spec(self, name, path=None, target=None):
        if name in ("aiohttp", "craft_airflow.hooks.craft_async"):
            importing[name] = threading.current_thread() is threading.main_thread()
        return None


assert "aiohttp" not in sys.modules and trigger_module.ASYNC_HOOK_MODULE not in sys.modules
sys.meta_path.insert(0, Recorder())
asyncio.run(trigger_module.load_async_hook())
print("RESULT", trigger_module.ASYNC_HOOK_MODULE in sys.modules, sorted(importing.items()))
"""


def test_the_async_hook_is_imported_off_the_event_loop(tmp_path):
    """A triggerer's first Craft trigger imports aiohttp and the hook in a thread, not on the
    loop that runs every other trigger (a fresh interpreter: nothing imported beforehand)."""
    import subprocess
    import sys

    env = {"AIRFLOW_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", FIRST_IMPORT_SCRIPT], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = [line for line in done.stdout.splitlines() if line.startswith("RESULT")]
    expected = "[('aiohttp', False), ('craft_airflow.hooks.craft_async', False)]"
    assert result == [f"RESULT True {expected}"], done.stdout[-2000:]


def started_here(execution_id: str, tmp_path, conn_id: str = "craft_ai_default", **plan):
    """The trigger of a sensor started on the triggerer, ``execution_id`` as rendered there, with
    the task instance the triggerer gives it (no supervisor here: the XComs stay in the
    event)."""
    from types import SimpleNamespace

    from craft_airflow.starting import StartPlan

    plan.setdefault("output_storage", str(tmp_path))
    trigger = CraftExecutionTrigger(
        execution_id,
        conn_id,
        start=StartPlan(poll_interval=0.2, **plan).to_kwargs(),
    )
    trigger.task_instance = SimpleNamespace(dag_id="d", run_id="r", task_id="s", map_index=-1)
    return trigger


async def test_started_on_the_triggerer_it_does_what_the_worker_did_then_ends_the_task(
    platform_conn, tmp_path, capsys
):
    from pathlib import Path

    from airflow.triggers.base import TaskSuccessEvent

    execution_id = CraftAIHook().run_pipeline("all-types", inputs={"text": "hi", "number": 1})
    trigger = started_here(execution_id, tmp_path, live_logs=False)
    (event,) = [event async for event in trigger.run()]
    assert isinstance(event, TaskSuccessEvent)
    url = f"{platform_conn.url}/executions/{execution_id}"
    # What the trigger pushed when it started (on a triggerer, through its supervisor).
    assert trigger.finish is not None
    assert trigger.finish["xcoms"] == {
        "execution_id": execution_id,
        "_link_CraftExecutionLink": url,
    }
    outputs = event.xcoms["return_value"]
    assert outputs["text"] == "HI"
    folder = tmp_path / "d" / "r" / "s" / execution_id
    stored = [value for value in outputs.values() if str(value).startswith("file://")]
    assert stored and all(Path(v.removeprefix("file://")).parent == folder for v in stored)
    # What the worker's execute would have said, and the route it would have chosen.
    assert f"Started on the triggerer: Craft AI execution {execution_id}: {url}" in (
        capsys.readouterr().out
    )
    assert trigger.route == SdkRoute()
    assert trigger.end_time is None  # no Airflow trigger timeout here (no timeout_after)


async def test_started_on_the_triggerer_with_the_endpoint_route(endpoint_only_conn, tmp_path):
    from airflow.triggers.base import TaskSuccessEvent

    execution_id = CraftAIHook().trigger_endpoint("all-types-endpoint", inputs={"text": "t"})
    trigger = started_here(execution_id, tmp_path, endpoint_name="all-types-endpoint")
    (event,) = [event async for event in trigger.run()]
    assert isinstance(event, TaskSuccessEvent)
    assert trigger.route == EndpointRoute("all-types-endpoint")
    assert trigger.live_logs is None  # the endpoint route has no logs


@pytest.mark.parametrize(
    ("execution_id", "conn_id", "said"),
    [
        ("", "craft_ai_default", "execution_id is '' once rendered; expected a non-empty"),
        ("  ", "craft_ai_default", "execution_id is '  ' once rendered"),
        ("ex-1", "craft_missing_conn", "craft_missing_conn"),
    ],
)
async def test_started_on_the_triggerer_it_fails_the_task_it_cannot_start(
    platform_conn, tmp_path, capsys, execution_id, conn_id, said
):
    from airflow.triggers.base import TaskFailedEvent

    trigger = started_here(execution_id, tmp_path, conn_id=conn_id)
    events = [event async for event in trigger.run()]
    assert len(events) == 1 and isinstance(events[0], TaskFailedEvent)
    out = capsys.readouterr().out
    assert "Task failed: " in out and said in out
    assert platform_conn.sdk_token not in out
