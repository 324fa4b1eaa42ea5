"""CraftExecutionSensor: poke/reschedule results, deferral, failures."""

from __future__ import annotations

import pytest
from airflow.providers.common.compat.sdk import AirflowException, TaskDeferred
from craft_fakes import FakeHook, FakeTaskInstance, make_context, use_hook

from craft_airflow.connection import CraftConnectionConfig
from craft_airflow.errors import CraftExecutionFailed
from craft_airflow.protocol.outcomes import OutcomeStatus, WaitOutcome
from craft_airflow.protocol.statuses import ExecutionStatus
from craft_airflow.sensors.execution import CraftExecutionSensor
from craft_airflow.triggers.execution import CraftExecutionTrigger

OUTPUTS = [
    {"pipeline_output_name": "slept", "data_type": "number", "mapping_type": "run", "value": 2}
]


def sensor(**kwargs) -> CraftExecutionSensor:
    kwargs.setdefault("task_id", "wait")
    kwargs.setdefault("execution_id", "slow-1")
    return CraftExecutionSensor(**kwargs)


def test_rejects_an_empty_execution_id():
    with pytest.raises(ValueError, match="execution_id"):
        sensor(execution_id="")


def test_poke_is_not_done_while_running():
    s = sensor()
    use_hook(s, FakeHook(statuses={"slow-1": "Running"}))
    assert s.poke(make_context()).is_done is False


def test_poke_returns_the_outputs_on_success():
    s = sensor()
    hook = use_hook(s, FakeHook(statuses={"slow-1": "Succeeded"}, outputs=OUTPUTS))
    result = s.poke(make_context())
    assert result.is_done is True
    assert result.xcom_value == {"slept": 2}
    assert hook.called("get_logs")  # logs copied when the wait ends


@pytest.mark.parametrize("status", ["Failed", "Error"])
def test_poke_fails_the_task_on_a_failed_execution(status):
    s = sensor()
    hook = use_hook(s, FakeHook(statuses={"slow-1": status}))
    hook.get_execution = lambda execution_id, include_io_values=False: {  # type: ignore[method-assign]
        "execution_id": execution_id,
        "status": status,
        "error": {"message": "ZeroDivisionError: division by zero"},
    }
    with pytest.raises(CraftExecutionFailed, match="ZeroDivisionError") as failed:
        s.poke(make_context())
    assert isinstance(failed.value, AirflowException)


def test_execute_in_poke_mode_returns_outputs_and_announces_the_execution():
    s = sensor(poke_interval=1, mode="poke")
    use_hook(s, FakeHook(statuses={"slow-1": "Succeeded"}, outputs=OUTPUTS))
    ti = FakeTaskInstance()
    assert s.execute(make_context(ti)) == {"slept": 2}
    assert ti.xcoms["execution_id"] == "slow-1"


def test_deferrable_defers_with_the_sensor_timeout():
    s = sensor(deferrable=True, timeout=120, poke_interval=3)
    use_hook(s, FakeHook(statuses={"slow-1": "Pending"}))
    with pytest.raises(TaskDeferred) as deferred:
        s.execute(make_context())
    assert isinstance(deferred.value.trigger, CraftExecutionTrigger)
    _, kwargs = deferred.value.trigger.serialize()
    assert kwargs["execution_id"] == "slow-1" and kwargs["poll_interval"] == 3
    assert kwargs["end_time"] is not None


def test_deferrable_does_not_defer_when_already_finished():
    s = sensor(deferrable=True)
    use_hook(s, FakeHook(statuses={"slow-1": "Succeeded"}, outputs=OUTPUTS))
    assert s.execute(make_context()) == {"slept": 2}


def test_execute_complete_returns_outputs():
    s = sensor(deferrable=True)
    use_hook(s, FakeHook(outputs=OUTPUTS))
    event = WaitOutcome(OutcomeStatus.SUCCESS, "slow-1", ExecutionStatus.SUCCEEDED).to_event()
    assert s.execute_complete(make_context(), event) == {"slept": 2}


def test_endpoint_token_only_pokes_through_the_results_route():
    s = sensor(endpoint_name="ep")
    hook = use_hook(
        s,
        FakeHook(
            config=CraftConnectionConfig(environment_url="https://e", default_endpoint_token="tok"),
            wait_event=WaitOutcome(OutcomeStatus.TIMEOUT, "slow-1", None, "not yet"),
        ),
    )
    assert s.poke(make_context()).is_done is False
    ((args, kwargs),) = hook.called("wait_for_endpoint_outcome")
    assert args == ("ep", "slow-1") and 1 <= kwargs["timeout"] <= 30
    assert not hook.called("get_execution")


def test_reschedule_mode_gives_the_slot_back_while_running():
    from airflow.exceptions import AirflowRescheduleException  # the sdk class on 3.2+, core on 3.1

    s = sensor(mode="reschedule", poke_interval=30)
    use_hook(s, FakeHook(statuses={"slow-1": "Running"}))
    ti = FakeTaskInstance()
    ti.get_first_reschedule_date = lambda context: None  # type: ignore[attr-defined]
    context = make_context(ti)
    with pytest.raises(AirflowRescheduleException):
        s.execute(context)
    assert ti.xcoms["execution_id"] == "slow-1"
