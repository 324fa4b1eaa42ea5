"""Live logs across a retry that re-attaches, against the embedded platform: a deferred try
whose wait timed out (it resumed on a worker) and the retry that follows the same execution.
Every line the platform wrote is shown, in order; the retry shows again only the lines the
earlier try's end copied after the trigger's cursor, never what the trigger showed live.

Each try runs through the task's public entry points (``execute`` until it defers, the
trigger's ``run()``, the resume on a worker), the two sharing one ``task_state_store``.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import TaskDeferred
from airflow_compat import RESUMABLE
from conditions import wait_until

sys.path.insert(0, str(Path(__file__).parent))
from task_kit import StateStore, resume, task_context, trigger_end

from craft_airflow.errors import CraftWaitTimeout

pytestmark = pytest.mark.skipif(not RESUMABLE, reason="Airflow < 3.3: a retry starts anew")


class RecordingLog:
    """A task's (or its trigger's) log: the ``[craft]`` lines' messages, in order."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def log(self, level: int, message: str, *args: Any, **fields: Any) -> None:
        self.lines.append(message % args if args else message)

    def info(self, message: str, *args: Any, **fields: Any) -> None:
        self.log(logging.INFO, message, *args)

    debug = warning = error = exception = info

    def craft(self) -> list[str]:
        """The execution's lines shown (``[craft] <timestamp> <message>``), as messages."""
        return [text.split(" ", 2)[2] for text in self.lines if text.startswith("[craft] ")]


def run_try(
    monkeypatch: pytest.MonkeyPatch, store: StateStore, try_number: int, timeout: float
) -> tuple[RecordingLog, RecordingLog, Any]:
    """One try of a deferrable run of ``slow`` with live logs every second: (the trigger's
    log, the worker's log, the result or the exception)."""
    from craft_airflow.operators.pipeline import CraftRunPipelineOperator
    from craft_airflow.triggers.execution import CraftExecutionTrigger

    trigger_log, worker_log = RecordingLog(), RecordingLog()
    monkeypatch.setattr(CraftExecutionTrigger, "log", property(lambda self: trigger_log))
    task = CraftRunPipelineOperator(
        task_id="t",
        pipeline_name="slow",
        inputs={"seconds": 8},
        deferrable=True,
        finish_on_triggerer=False,  # the trigger's event resumes the task on a worker
        live_logs=True,
        live_logs_interval=1,
        timeout=timeout,
        poll_interval=0.2,
    )
    monkeypatch.setattr(type(task), "log", property(lambda self: worker_log))
    context = task_context(store, try_number=try_number)
    result: Any
    try:
        result = task.execute(context)  # an execution found ended: no wait, its end
    except TaskDeferred as deferred:
        try:
            result = resume(task, context, deferred, trigger_end(deferred.trigger))
        except Exception as err:
            result = err
    except Exception as err:
        result = err
    return trigger_log, worker_log, result


@pytest.mark.parametrize("ended_before_retry", [False, True], ids=["running", "ended"])
def test_a_retry_repeats_only_what_the_earlier_end_copied(
    monkeypatch, craft_connection, ended_before_retry
):
    from craft_airflow.hooks.craft import CraftAIHook

    # The execution an earlier try started, already printing (a loaded machine may take
    # seconds to start it: the first try below must have lines to show within its timeout).
    hook = CraftAIHook()
    execution_id = hook.run_pipeline("slow", inputs={"seconds": 8})
    wait_until(lambda: len(hook.get_logs(execution_id)) >= 2, 60, "its first lines")
    store = StateStore(craft_execution_id=execution_id)
    live_1, end_1, failed = run_try(monkeypatch, store, 1, timeout=2)
    assert isinstance(failed, CraftWaitTimeout), failed
    shown_live, copied = live_1.craft(), end_1.craft()
    assert shown_live, "the trigger showed no line in 2 s"

    if ended_before_retry:  # the retry finds it ended at its first check: no wait, the end
        wait_until(lambda: hook.get_execution(execution_id)["status"] == "Succeeded", 60, "end")
    live_2, end_2, result = run_try(monkeypatch, store, 2, timeout=120)
    assert result == {"slept": 8}, result
    assert bool(live_2.lines) is not ended_before_retry  # deferred only while it ran
    assert store["craft_execution_id"] == execution_id  # re-attached: one execution

    platform = [line["message"] for line in hook.get_logs(execution_id)]
    second = live_2.craft() + end_2.craft()
    first = shown_live + copied
    # No line lost: the two tries together show every line, each try in the platform's order.
    assert first + [m for m in second if m not in first] == platform
    # Repeats bounded: the retry starts where the trigger's event left the cursor, so it shows
    # again at most the lines the first try's end copied after it (written in its last second).
    repeated = [m for m in second if m in first]
    assert repeated == copied[: len(repeated)]
    assert not set(repeated) & set(shown_live)
