"""Test-only DAG of the fault suite (tests/faults): every kind of Craft task, mapped over
``conf["items"]``, a list whose every item holds one task's inputs per kind
(``{"worker": {"key", "seconds", "fail"}, "triggerer": {...}, ...}``).

Kinds: ``worker`` waits in the Celery worker; ``triggerer`` defers and ends on the triggerer;
``resume`` defers and resumes on a worker; ``endpoint`` triggers an endpoint, deferred;
``sensed`` starts an execution without waiting and a deferred ``CraftExecutionSensor`` follows
it; ``failing`` defers on an execution that fails on purpose (no retries: the designed failure).
Every other task has retries: a try that Airflow itself loses (its worker killed) is retried.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import DAG, task

from craft_airflow.operators.endpoint import CraftTriggerEndpointOperator
from craft_airflow.operators.pipeline import CraftRunPipelineOperator
from craft_airflow.sensors.execution import CraftExecutionSensor

DAG_ID = "craft_faults"
PIPELINE = "faults"


# One function per kind (a mapped task can only map over a whole return value: each picks its
# kind's inputs out of every item).
def worker(item: dict[str, Any]) -> dict[str, Any]:
    return item["worker"]


def triggerer(item: dict[str, Any]) -> dict[str, Any]:
    return item["triggerer"]


def resume(item: dict[str, Any]) -> dict[str, Any]:
    return item["resume"]


def endpoint(item: dict[str, Any]) -> dict[str, Any]:
    return item["endpoint"]


def sensed(item: dict[str, Any]) -> dict[str, Any]:
    return item["sensed"]


def failing(item: dict[str, Any]) -> dict[str, Any]:
    return item["failing"]


with DAG(
    dag_id=DAG_ID,
    schedule=None,
    catchup=False,
    tags=["craft-ai", "deployment-test"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=2), "poll_interval": 2},
):

    @task
    def plan(dag_run: Any = None) -> list[dict[str, Any]]:
        return list(dag_run.conf["items"])

    items = plan()
    CraftRunPipelineOperator.partial(
        task_id="worker", pipeline_name=PIPELINE, deferrable=False
    ).expand(inputs=items.map(worker))
    CraftRunPipelineOperator.partial(
        task_id="triggerer", pipeline_name=PIPELINE, deferrable=True, finish_on_triggerer=True
    ).expand(inputs=items.map(triggerer))
    CraftRunPipelineOperator.partial(
        task_id="resume", pipeline_name=PIPELINE, deferrable=True, finish_on_triggerer=False
    ).expand(inputs=items.map(resume))
    CraftTriggerEndpointOperator.partial(
        task_id="endpoint", endpoint_name="faults-endpoint", deferrable=True
    ).expand(inputs=items.map(endpoint))
    started = CraftRunPipelineOperator.partial(
        task_id="start", pipeline_name=PIPELINE, wait_for_completion=False
    ).expand(inputs=items.map(sensed))
    CraftExecutionSensor.partial(task_id="sensor", deferrable=True, poke_interval=2).expand(
        execution_id=started.output
    )
    CraftRunPipelineOperator.partial(
        task_id="failing", pipeline_name=PIPELINE, deferrable=True, retries=0
    ).expand(inputs=items.map(failing))
