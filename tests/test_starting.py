"""craft_airflow.starting: when the sensor starts on the triggerer (decided once, when it is
built), what Airflow serializes for it, and what the triggerer renders of it."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).parent / "hooks"))
from craft_fixtures import set_connection

from craft_airflow.finishing import FinishPlan
from craft_airflow.sensors.execution import CraftExecutionSensor
from craft_airflow.starting import (
    AIRFLOW_BEFORE_3_3,
    TIMEOUT_GRACE,
    StartPlan,
    airflow_renders_on_the_triggerer,
    template_needs_worker,
)
from craft_airflow.triggers.execution import CLASSPATH, CraftExecutionTrigger

#: What a sensor with nothing against it gets: Airflow < 3.3 always starts on a worker.
NO_REASON = None if airflow_renders_on_the_triggerer() else AIRFLOW_BEFORE_3_3
PULL = "{{ ti.xcom_pull(task_ids='start', key='execution_id', map_indexes=-1) }}"


@pytest.fixture
def as_on_3_3(monkeypatch):
    """The decision as on Airflow 3.3+, on any Airflow (the 3.1 leg runs these tests too)."""
    monkeypatch.setattr("craft_airflow.starting.airflow_renders_on_the_triggerer", lambda: True)
    monkeypatch.setattr("craft_airflow.finishing.airflow_routes_failed_end_events", lambda: True)


def sensor(**kwargs) -> CraftExecutionSensor:
    kwargs.setdefault("execution_id", "ex-1")
    kwargs.setdefault("deferrable", True)
    return CraftExecutionSensor(task_id="s", **kwargs)


@pytest.mark.parametrize(
    "execution_id",
    [
        "ex-1",
        "{{ dag_run.conf['execution_id'] }}",
        "{{ params.execution_id }}",
        "{{ var.value.execution_of_the_day }}",
        "run-{{ ds_nodash }}",
        PULL,
        "{{ task_instance.xcom_pull('start', key='execution_id', map_indexes=None) }}",
    ],
)
@pytest.mark.usefixtures("as_on_3_3")
def test_starts_on_the_triggerer(execution_id):
    task = sensor(execution_id=execution_id)
    assert task.start_fallback is None
    assert task.start_from_trigger is True


def test_the_installed_airflow_decides():
    task = sensor()
    assert task.start_fallback == NO_REASON
    assert task.start_from_trigger is (NO_REASON is None)


def test_before_airflow_3_3_it_starts_on_a_worker(monkeypatch):
    monkeypatch.setattr("craft_airflow.starting.airflow_renders_on_the_triggerer", lambda: False)
    task = sensor()
    assert task.start_fallback == AIRFLOW_BEFORE_3_3
    assert task.start_from_trigger is False and task.start_trigger_args is None


@pytest.mark.parametrize(
    ("execution_id", "reason"),
    [
        # Without map_indexes, Airflow 3.3 asks for a sequence of XComs, which the triggerer's
        # supervisor does not serve: the trigger would wait for an answer forever.
        ("{{ ti.xcom_pull(task_ids='start', key='execution_id') }}", "other than for xcom_pull"),
        ("{{ ti.run_id }}", "the task instance other than for xcom_pull"),
        ("{{ ti.xcom_pull('a', map_indexes=-1) }}-{{ ti.xcom_pull('b') }}", "other than"),
        ("{{ prev_start_date_success }}", "uses prev_start_date_success"),
        ("{{ my_macro() }}", "uses my_macro"),  # a DAG's user_defined_macros are not serialized
        ("{{ conn.other.password }}", "uses conn"),
        ("{{ broken", "does not parse"),
    ],
)
@pytest.mark.usefixtures("as_on_3_3")
def test_a_template_the_triggerer_cannot_render_starts_on_a_worker(execution_id, reason):
    task = sensor(execution_id=execution_id)
    assert task.start_fallback is not None and task.start_fallback.startswith("execution_id: ")
    assert reason in task.start_fallback
    assert task.start_from_trigger is False


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"start_from_trigger": False}, "start_from_trigger is off"),
        ({"deferrable": False, "start_from_trigger": True}, "the task is not deferrable"),
        ({"craft_conn_id": "{{ var.value.conn }}"}, "craft_conn_id is '{{ var.value.conn }}'"),
        ({"endpoint_name": "{{ params.e }}"}, "endpoint_name is"),
        ({"output_storage": "s3://b/{{ ds }}"}, "output_storage is"),
        ({"finish_on_triggerer": False}, "it would end on a worker (finish_on_triggerer is off)"),
        ({"on_success_callback": lambda context: None}, "(on_success_callback runs only on a"),
        ({"soft_fail": True}, "it would end on a worker (soft_fail"),
    ],
)
@pytest.mark.usefixtures("as_on_3_3")
def test_falls_back_to_a_worker_start(kwargs, reason):
    task = sensor(**kwargs)
    assert reason in (task.start_fallback or ""), task.start_fallback
    assert task.start_from_trigger is False


@pytest.mark.usefixtures("as_on_3_3")
def test_an_xcom_arg_starts_on_a_worker():
    from airflow.sdk import DAG

    from craft_airflow.operators.pipeline import CraftRunPipelineOperator

    with DAG("d", schedule=None):
        start = CraftRunPipelineOperator(
            task_id="start", pipeline_name="p", wait_for_completion=False
        )
        task = sensor(execution_id=start.output)
    assert task.start_fallback == "execution_id is a PlainXComArg, which only a worker resolves"


@pytest.mark.usefixtures("as_on_3_3")
def test_config_turns_it_off(monkeypatch):
    monkeypatch.setenv("AIRFLOW__CRAFT_AI__START_FROM_TRIGGER", "False")
    assert sensor().start_fallback == "start_from_trigger is off"
    assert sensor(start_from_trigger=True).start_fallback is None


@pytest.mark.usefixtures("as_on_3_3")
def test_an_object_storage_path_is_a_plain_output_storage():
    from airflow.sdk import ObjectStoragePath

    path = ObjectStoragePath("s3://bucket/out", conn_id="aws")
    task = sensor(output_storage=path)
    assert task.start_fallback is None
    plan = task.start_trigger_args.trigger_kwargs["start"]
    # The connection as the path holds it (3.3: an attribute; in the URI's user part either way).
    assert (plan["output_storage"], plan["output_conn_id"]) == (
        str(path),
        getattr(path, "conn_id", None),
    )
    assert "aws@" in plan["output_storage"]


def test_template_needs_worker_only_for_what_the_triggerer_cannot_serve():
    assert template_needs_worker("{{ run_id }}/{{ macros.ds_add(ds, 1) }}") is None
    assert template_needs_worker("{% for x in params.ids %}{{ x }}{% endfor %}") is None
    assert "uses inlet_events" in (template_needs_worker("{{ inlet_events }}") or "")


@pytest.fixture
def secret_conn(monkeypatch):
    set_connection(monkeypatch, "http://127.0.0.1:9", "sdk-secret-token-123")


@pytest.mark.usefixtures("secret_conn")
def test_the_serialized_dag_carries_the_start_without_secrets():
    if NO_REASON is not None:
        pytest.skip("Airflow's own machinery of 3.3 (rendering on the triggerer)")
    from airflow.sdk import DAG
    from airflow.serialization.serialized_objects import DagSerialization

    with DAG("d", schedule=None) as dag:
        sensor(
            execution_id=PULL,
            timeout=600,
            execution_timeout=timedelta(seconds=900),
            poke_interval=2,
            multiple_outputs=True,
        )
    data = DagSerialization.to_dict(dag)
    assert "sdk-secret-token" not in json.dumps(data, default=str)
    task = DagSerialization.from_dict(data).get_task("s")
    assert task.start_from_trigger is True
    args = task.start_trigger_args
    assert (args.trigger_cls, args.next_method) == (CLASSPATH, "execute_complete")
    assert args.timeout == timedelta(seconds=600 + TIMEOUT_GRACE)
    # What the scheduler stores (TaskInstance.defer_task) and the triggerer decodes.
    from airflow.models.trigger import Trigger
    from airflow.serialization.decoders import smart_decode_trigger_kwargs

    row = Trigger(classpath=args.trigger_cls, kwargs=args.trigger_kwargs)
    stored = Trigger._decrypt_kwargs(row.encrypted_kwargs)
    kwargs = {k: smart_decode_trigger_kwargs(v) for k, v in stored.items()}
    assert kwargs == {
        "execution_id": PULL,  # raw: the triggerer renders it
        "conn_id": "craft_ai_default",
        "start": StartPlan(
            timeout=600.0, execution_timeout=900.0, poll_interval=2.0, multiple_outputs=True
        ).to_kwargs(),
    }
    CraftExecutionTrigger(**kwargs)  # what the triggerer builds from them


def test_the_triggerer_renders_only_execution_id():
    """What Airflow's ``BaseTrigger`` does on the triggerer for a task started there: the
    operator's template fields that are also trigger kwargs and trigger attributes."""
    if NO_REASON is not None:
        pytest.skip("Airflow's own machinery of 3.3 (rendering on the triggerer)")
    task = sensor(execution_id="{{ dag_run.conf['id'] }}", endpoint_name="ep")
    trigger = CraftExecutionTrigger(**task.start_trigger_args.trigger_kwargs)
    trigger.task_instance = SimpleNamespace(task_id="s", task=task)
    assert trigger.template_fields == ("execution_id",)
    trigger.render_template_fields({"dag_run": SimpleNamespace(conf={"id": "ex-42"})})
    assert trigger.execution_id == "ex-42"


def test_the_plan_gives_the_worker_s_output_folder_and_xcoms(tmp_path):
    ti = SimpleNamespace(dag_id="d", run_id="manual__1", task_id="s", map_index=-1)
    plan = StartPlan(output_storage=str(tmp_path), multiple_outputs=True)
    finish = plan.finish_plan(
        ti, "ex-1", config_output_storage="s3://ignored", execution_url="http://ui/ex-1"
    )
    assert finish == FinishPlan(
        output_dir=f"file://{tmp_path}/d/manual__1/s/ex-1",
        output_conn_id=None,
        xcoms={"execution_id": "ex-1", "_link_CraftExecutionLink": "http://ui/ex-1"},
        multiple_outputs=True,
    )
    mapped = SimpleNamespace(dag_id="d", run_id="r", task_id="s", map_index=2)
    finish = StartPlan().finish_plan(
        mapped, "ex-2", config_output_storage=str(tmp_path), execution_url=None
    )
    assert finish.output_dir == f"file://{tmp_path}/d/r/s/2/ex-2"
    assert finish.xcoms == {"execution_id": "ex-2"}


def test_the_wait_ends_timeout_after_the_deferral_before_airflow_s_own_timeout():
    deferred = datetime(2030, 1, 1, tzinfo=UTC)
    # Airflow's trigger timeout is the deferral plus timeout + grace ...
    after = deferred + timedelta(seconds=10 + TIMEOUT_GRACE)
    assert StartPlan(timeout=10).end_time(after) == deferred.timestamp() + 10
    # ... or plus a shorter execution_timeout, which then ends the task first (Airflow's).
    after = deferred + timedelta(seconds=30)
    plan = StartPlan(timeout=600, execution_timeout=30)
    assert plan.end_time(after) == deferred.timestamp() + 600
    assert StartPlan(timeout=10).end_time(None) is None
    assert StartPlan().end_time(after) is None


@pytest.mark.parametrize(
    ("template", "served"),
    [
        ("{{ ti.xcom_pull(task_ids='start', key='execution_id', map_indexes=-1) }}", True),
        ("{{ ti.xcom_pull(task_ids='start', key='execution_id') }}", False),
    ],
)
def test_what_the_triggerer_s_supervisor_serves_of_an_xcom_pull(monkeypatch, template, served):
    """The messages Airflow's task instance sends to pull an XCom, and whether the triggerer's
    supervisor decodes them (one it cannot decode is logged and never answered)."""
    if NO_REASON is not None:
        pytest.skip("Airflow's own machinery of 3.3 (rendering on the triggerer)")
    import jinja2
    from airflow.jobs.triggerer_job_runner import TriggerRunnerSupervisor
    from airflow.sdk.execution_time import comms, task_runner
    from pydantic import ValidationError

    sent = []

    class Comms:
        def send(self, msg):
            sent.append(msg)
            if isinstance(msg, comms.GetXCom):
                return comms.XComResult(key=msg.key, value="ex-9")
            return comms.XComSequenceSliceResult(root=["ex-9"])

    monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", Comms(), raising=False)
    from airflow.sdk import DAG, BaseOperator

    # Airflow 3.4's xcom_pull looks the producer up in the task's DAG (a loop task's sequence).
    with DAG("d", schedule=None):
        BaseOperator(task_id="start")
        sensor = BaseOperator(task_id="s")
    ti = task_runner.RuntimeTaskInstance.model_construct(
        dag_id="d", run_id="r", task_id="s", map_index=-1, task=sensor
    )
    assert jinja2.Environment().from_string(template).render(ti=ti) == "ex-9"
    (msg,) = sent
    if served:
        TriggerRunnerSupervisor.decoder.validate_python(msg.model_dump())
    else:
        with pytest.raises(ValidationError):
            TriggerRunnerSupervisor.decoder.validate_python(msg.model_dump())
    # The decision agrees with the supervisor.
    assert (template_needs_worker(template) is None) is served
