"""craft_airflow.finishing: the trigger ends the task itself (real runs of the trigger against the
embedded platform over HTTP), and the worker-side decision of when it may."""

from __future__ import annotations

import io
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "hooks"))
from craft_fixtures import (  # noqa: F401 (fixtures)
    endpoint_only_conn,
    platform_conn,
)

from craft_airflow.finishing import (
    AIRFLOW_BEFORE_3_3,
    LISTENERS_RUN_ON_A_WORKER,
    FinishPlan,
    airflow_routes_failed_end_events,
    fallback_reason,
)
from craft_airflow.hooks.craft import CraftAIHook
from craft_airflow.protocol.http import FileInput
from craft_airflow.protocol.outcomes import LOG_TAIL_HEADER as LAST_LOG_LINES_HEADER
from craft_airflow.triggers.execution import CraftExecutionTrigger


async def end_of(trigger: CraftExecutionTrigger):
    events = [event async for event in trigger.run()]
    assert len(events) == 1
    return events[0]


def plan(tmp_path: Path, execution_id: str, **kwargs) -> dict:
    return FinishPlan(
        output_dir=f"file://{tmp_path}/out/{execution_id}",
        xcoms={"execution_id": execution_id, "craft_execution_link": "http://ui/" + execution_id},
        **kwargs,
    ).to_kwargs()


@pytest.mark.usefixtures("platform_conn")
async def test_success_pushes_the_worker_xcoms_and_streams_files(tmp_path, capsys):
    from airflow.triggers.base import TaskSuccessEvent

    execution_id = CraftAIHook().run_pipeline(
        "word-count", files={"document": FileInput("d.txt", io.BytesIO(b"one two three"))}
    )
    trigger = CraftExecutionTrigger(
        execution_id,
        "craft_ai_default",
        poll_interval=0.2,
        finish=plan(tmp_path, execution_id, multiple_outputs=True),
    )
    event = await end_of(trigger)
    assert isinstance(event, TaskSuccessEvent)
    outputs = event.xcoms["return_value"]
    assert outputs["words"] == 3
    assert Path(outputs["upper"].removeprefix("file://")).read_bytes() == b"ONE TWO THREE"
    # The announcement's XComs were pushed before the deferral, which keeps them.
    assert "execution_id" not in event.xcoms and "craft_execution_link" not in event.xcoms
    # multiple_outputs: one XCom per output, as the worker pushes them.
    assert event.xcoms["words"] == 3 and event.xcoms["upper"] == outputs["upper"]
    # The execution's logs went to the trigger's log, which is the task's triggerer log.
    # (Airflow's trigger logger writes to stdout here; on a triggerer, to the task's log.)
    assert "[craft]" in capsys.readouterr().out


@pytest.mark.usefixtures("platform_conn")
async def test_no_return_value_without_do_xcom_push(tmp_path):
    execution_id = CraftAIHook().run_pipeline("slow", inputs={"seconds": 0.2})
    trigger = CraftExecutionTrigger(
        execution_id,
        "craft_ai_default",
        poll_interval=0.2,
        finish=plan(tmp_path, execution_id, push_return_value=False),
    )
    event = await end_of(trigger)
    # The metrics are not the return value: pushed as a worker pushes them (none recorded).
    assert event.xcoms == {"metrics": {}}


@pytest.mark.usefixtures("platform_conn")
async def test_failure_fails_the_task_with_the_message_and_log_tail(tmp_path, capsys):
    from airflow.triggers.base import TaskFailedEvent

    execution_id = CraftAIHook().run_pipeline("failing", inputs={"message": "finish-kaboom"})
    trigger = CraftExecutionTrigger(
        execution_id, "craft_ai_default", poll_interval=0.2, finish=plan(tmp_path, execution_id)
    )
    event = await end_of(trigger)
    assert isinstance(event, TaskFailedEvent)
    out = capsys.readouterr().out
    failure = out[out.index("Task failed: CraftExecutionFailed") :]
    assert "finish-kaboom" in failure
    assert LAST_LOG_LINES_HEADER in failure  # the same log tail the worker's message carries


@pytest.mark.usefixtures("platform_conn")
async def test_timeout_fails_the_task(tmp_path, capsys):
    from airflow.triggers.base import TaskFailedEvent

    execution_id = CraftAIHook().run_pipeline("slow", inputs={"seconds": 8})
    trigger = CraftExecutionTrigger(
        execution_id,
        "craft_ai_default",
        end_time=datetime.now(UTC) + timedelta(seconds=1),
        poll_interval=0.2,
        finish=plan(tmp_path, execution_id),
    )
    event = await end_of(trigger)
    assert isinstance(event, TaskFailedEvent)
    assert "Task failed: CraftWaitTimeout" in capsys.readouterr().out


@pytest.mark.usefixtures("platform_conn")
async def test_a_skipped_execution_skips_the_task_with_the_message(tmp_path, caplog):
    import logging

    from airflow.triggers.base import TaskSkippedEvent

    from craft_airflow.hooks.craft_async import CraftAIAsyncHook
    from craft_airflow.protocol.outcomes import outcome_for_status
    from craft_airflow.protocol.statuses import ExecutionStatus
    from craft_airflow.routes import route_from_kwargs
    from craft_airflow.triggers.execution import finish_event

    # The embedded platform never skips an execution: a real one's end, read as Skipped.
    execution_id = CraftAIHook().run_pipeline("slow", inputs={"seconds": 0.1})
    outcome = outcome_for_status(execution_id, ExecutionStatus.SKIPPED)
    assert outcome is not None
    hook = CraftAIAsyncHook("craft_ai_default")
    route = route_from_kwargs({"kind": "sdk"})
    caplog.set_level(logging.INFO, logger="finish-test")
    try:
        event = await finish_event(
            hook,
            FinishPlan.from_kwargs(plan(tmp_path, execution_id)),
            outcome,
            route,
            logging.getLogger("finish-test"),
        )
    finally:
        await hook.aclose()
    assert isinstance(event, TaskSkippedEvent)
    assert f"Task skipped: Execution {execution_id} was skipped by the platform." in caplog.text


@pytest.mark.usefixtures("endpoint_only_conn")
async def test_endpoint_route_outputs(tmp_path):
    from airflow.triggers.base import TaskSuccessEvent

    execution_id = CraftAIHook().trigger_endpoint(
        "word-count-endpoint", files={"document": FileInput("d.txt", io.BytesIO(b"a b"))}
    )
    trigger = CraftExecutionTrigger(
        execution_id,
        "craft_ai_default",
        route={"kind": "endpoint", "endpoint_name": "word-count-endpoint"},
        poll_interval=0.2,
        finish=plan(tmp_path, execution_id),
    )
    event = await end_of(trigger)
    assert isinstance(event, TaskSuccessEvent)
    outputs = event.xcoms["return_value"]
    assert outputs["words"] == 2
    assert Path(outputs["upper"].removeprefix("file://")).read_bytes() == b"A B"


class RecordingComms:
    """Stands in for the triggerer's supervisor comms: records what the trigger sends."""

    def __init__(self) -> None:
        self.sent: list = []

    async def asend(self, msg):
        self.sent.append(msg)


async def test_xcoms_go_through_the_supervisor_as_a_worker_pushes_them():
    from types import SimpleNamespace

    from airflow.sdk.execution_time.supervisor import set_supervisor_comms
    from airflow.triggers.base import TaskSuccessEvent

    from craft_airflow.triggers.execution import push_xcoms

    ti = SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=3)
    outputs = {"words": 16, "upper": "file:///o/upper"}
    event = TaskSuccessEvent(xcoms={"return_value": outputs, "words": 16, "execution_id": "e"})
    comms = RecordingComms()
    with set_supervisor_comms(comms):
        pushed = await push_xcoms(event, ti)
    assert isinstance(pushed, TaskSuccessEvent) and pushed.xcoms is None
    sent = {(m.key, m.dag_id, m.task_id, m.run_id, m.map_index): m.value for m in comms.sent}
    # The values themselves, not JSON text (which Airflow's push of event.xcoms would store).
    assert sent == {
        ("return_value", "d", "t", "r", 3): outputs,
        ("words", "d", "t", "r", 3): 16,
        ("execution_id", "d", "t", "r", 3): "e",
    }


async def test_outside_a_triggerer_the_event_keeps_its_xcoms():
    from airflow.triggers.base import TaskFailedEvent

    from craft_airflow.triggers.execution import push_xcoms

    event = TaskFailedEvent(xcoms={"execution_id": "e"})
    assert await push_xcoms(event, None) is event


def test_without_a_plan_the_event_resumes_the_worker():
    trigger = CraftExecutionTrigger("ex", "c")
    assert trigger.serialize()[1]["finish"] is None


# -- when a task may end on the triggerer -----------------------------------------------------


def operator(**kwargs):
    from craft_airflow.operators.pipeline import CraftRunPipelineOperator

    return CraftRunPipelineOperator(task_id="t", pipeline_name="slow", deferrable=True, **kwargs)


#: What a task with nothing against it gets: Airflow < 3.3 always resumes on a worker.
NO_REASON = None if airflow_routes_failed_end_events() else AIRFLOW_BEFORE_3_3


def test_finishes_on_the_triggerer_by_default():
    assert fallback_reason(operator()) == NO_REASON


def test_before_airflow_3_3_it_resumes_on_the_worker(monkeypatch):
    monkeypatch.setattr("craft_airflow.finishing.airflow_routes_failed_end_events", lambda: False)
    assert fallback_reason(operator()) == AIRFLOW_BEFORE_3_3


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"finish_on_triggerer": False}, "finish_on_triggerer is off"),
        ({"on_success_callback": lambda context: None}, "on_success_callback"),
        ({"outlets": ["s3://bucket/key"]}, "outlets"),
    ],
)
def test_falls_back_to_the_worker(kwargs, reason):
    if "outlets" in kwargs:
        from airflow.sdk import Asset

        kwargs = {"outlets": [Asset("s3://bucket/key")]}
    assert reason in (fallback_reason(operator(**kwargs)) or "")


@pytest.mark.skipif(not airflow_routes_failed_end_events(), reason="3.1/3.2: always resumes")
def test_a_registered_task_listener_resumes_on_the_worker():
    """OpenLineage's listener (any task listener): Airflow calls none when a trigger ends the
    task, so the task resumes where its COMPLETE / FAIL event and facets are emitted."""
    import pluggy
    from airflow_compat import task_listener_manager

    class Listener:
        @pluggy.HookimplMarker("airflow")
        def on_task_instance_success(self, previous_state, task_instance):
            pass

    listeners = task_listener_manager()
    listener = Listener()
    listeners.add_listener(listener)
    try:
        assert fallback_reason(operator()) == LISTENERS_RUN_ON_A_WORKER
    finally:
        listeners.pm.unregister(listener)
    assert fallback_reason(operator()) is None


def test_config_turns_it_off(monkeypatch):
    monkeypatch.setenv("AIRFLOW__CRAFT_AI__FINISH_ON_TRIGGERER", "False")
    assert fallback_reason(operator()) == "finish_on_triggerer is off"
    assert fallback_reason(operator(finish_on_triggerer=True)) == NO_REASON


def test_a_subclass_overriding_execute_complete_resumes_on_the_worker():
    from craft_airflow.operators.pipeline import CraftRunPipelineOperator

    class Custom(CraftRunPipelineOperator):
        def execute_complete(self, context, event=None):
            return super().execute_complete(context, event)

    task = Custom(task_id="t", pipeline_name="slow", deferrable=True)
    assert fallback_reason(task) == "Custom overrides execute_complete"


def test_a_custom_xcom_backend_resumes_on_the_worker(monkeypatch):
    monkeypatch.setenv("AIRFLOW__CORE__XCOM_BACKEND", "my.module.MyXCom")
    assert "XCom backend" in (fallback_reason(operator()) or "")


def test_sensors_with_soft_fail_resume_on_the_worker():
    from craft_airflow.sensors.execution import CraftExecutionSensor

    sensor = CraftExecutionSensor(task_id="s", execution_id="x", deferrable=True, soft_fail=True)
    assert fallback_reason(sensor) == "soft_fail is applied only on a worker"
    plain = CraftExecutionSensor(task_id="s2", execution_id="x", deferrable=True)
    assert fallback_reason(plain) == NO_REASON
