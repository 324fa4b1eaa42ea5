"""Live logs against the embedded platform over real HTTP: the worker's wait (a follower thread
beside the long-poll) and the trigger's (a task beside it on the loop) show the execution's
lines while it runs, in order; the end copies only the lines not shown; together every line
once."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
from craft_fixtures import platform_conn  # noqa: F401 (fixture)

from craft_airflow.ending import ending_steps
from craft_airflow.hooks.craft import CraftAIHook, drive_ending
from craft_airflow.protocol.following import Following
from craft_airflow.protocol.outcomes import OutcomeStatus
from craft_airflow.routes import LiveLogs, SdkRoute
from craft_airflow.triggers.execution import CraftExecutionTrigger

pytestmark = pytest.mark.usefixtures("platform_conn")


class TimedLog:
    """A task's log keeping each line with the wall-clock time it was written."""

    def __init__(self) -> None:
        self.lines: list[tuple[float, str]] = []

    def log(self, level: int, message: str, *args: Any) -> None:
        self.lines.append((time.time(), message % args if args else message))

    def info(self, message: str, *args: Any) -> None:
        self.log(logging.INFO, message, *args)

    def warning(self, message: str, *args: Any) -> None:
        self.log(logging.WARNING, message, *args)

    debug = error = info

    def craft(self) -> list[tuple[float, str]]:
        return [(at, text) for at, text in self.lines if text.startswith("[craft]")]


def platform_messages(hook: CraftAIHook, execution_id: str) -> list[str]:
    return [line["message"] for line in hook.get_logs(execution_id)]


def ended_at(hook: CraftAIHook, execution_id: str) -> float:
    from datetime import datetime

    end = hook.get_execution(execution_id)["end_date"]
    return datetime.fromisoformat(end.replace("Z", "+00:00")).timestamp()


def shown_messages(log: TimedLog) -> list[str]:
    return [text.split(" ", 2)[2] for _, text in log.craft()]


def test_a_worker_wait_shows_lines_while_running_and_the_end_copies_only_the_rest(tmp_path):
    hook = CraftAIHook()
    execution_id = hook.run_pipeline("slow", inputs={"seconds": 4})
    log = TimedLog()
    live = LiveLogs(Following(execution_id), 1.0, log)

    outcome = SdkRoute().wait(hook, execution_id, timeout=120, poll_interval=1, live=live)

    assert outcome.status == OutcomeStatus.SUCCESS
    assert outcome.log_cursor is not None and outcome.log_cursor["shown"] >= 1
    end = ended_at(hook, execution_id)
    assert any(at < end for at, _ in log.craft()), "no line shown before the execution ended"
    texts = [text for _, text in log.lines]
    assert any(" -> Succeeded after " in text for text in texts)
    live_part = shown_messages(log)

    copy = TimedLog()
    ending = drive_ending(
        hook,
        ending_steps(outcome, SdkRoute(), lambda: tmp_path),
        copy,  # type: ignore[arg-type]
    )
    assert ending.status == OutcomeStatus.SUCCESS
    assert any("not shown yet" in text for _, text in copy.lines)
    assert live_part + shown_messages(copy) == platform_messages(hook, execution_id)


def test_a_trigger_shows_lines_while_running_and_its_event_carries_the_cursor():
    hook = CraftAIHook()
    execution_id = hook.run_pipeline("slow", inputs={"seconds": 4})
    trigger = CraftExecutionTrigger(
        execution_id,
        "craft_ai_default",
        poll_interval=1,
        live_logs={"interval": 1.0, "cursor": None},
    )
    log = TimedLog()
    trigger._log = log  # the task's log, as the triggerer gives each trigger

    async def events() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    (event,) = asyncio.run(events())

    assert event["status"] == "success"
    end = ended_at(hook, execution_id)
    assert any(at < end for at, _ in log.craft()), "no line shown before the execution ended"
    everything = platform_messages(hook, execution_id)
    live_part = shown_messages(log)
    assert live_part == everything[: len(live_part)]
    assert event["log_cursor"]["shown"] == len(live_part)


def test_live_logs_off_in_the_kwargs_shows_nothing_until_the_end():
    hook = CraftAIHook()
    execution_id = hook.run_pipeline("slow", inputs={"seconds": 1})
    trigger = CraftExecutionTrigger(execution_id, "craft_ai_default", poll_interval=1)
    log = TimedLog()
    trigger._log = log

    async def events() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    (event,) = asyncio.run(events())
    assert event["status"] == "success" and event["log_cursor"] is None
    assert log.craft() == []


def test_sensor_pokes_show_new_lines_and_keep_the_cursor_for_the_next(tmp_path):
    """Poke mode: each poke of a running execution shows the lines since the last one (the
    cursor kept in the task state for reschedule mode); the poke that finds it ended copies only
    the rest. Together: every line once, in order."""
    from conditions import wait_until
    from craft_fakes import FakeStateStore, make_context

    from craft_airflow.names import LOG_CURSOR_KEY
    from craft_airflow.sensors.execution import CraftExecutionSensor

    hook = CraftAIHook()
    execution_id = hook.run_pipeline("slow", inputs={"seconds": 4})
    sensor = CraftExecutionSensor(
        task_id="sense",
        execution_id=execution_id,
        poke_interval=1,
        live_logs=True,
        output_storage=str(tmp_path),
    )
    log = TimedLog()
    sensor._cached_logger = log  # the task's log (Airflow's LoggingMixin caches it there)
    store = FakeStateStore()

    context = make_context(store=store)
    # A sensor's scheduler pokes every poke_interval; here every 0.5 s until one says done.
    done = wait_until(
        lambda: (answer := sensor.poke(context)).is_done and answer,
        timeout=60,
        what="the poke that finds the execution ended",
        interval=0.5,
    )

    assert done.xcom_value is not None
    end = ended_at(hook, execution_id)
    assert any(at < end for at, _ in log.craft()), "no line shown by a poke before the end"
    assert store[LOG_CURSOR_KEY]["execution_id"] == execution_id
    assert shown_messages(log) == platform_messages(hook, execution_id)
