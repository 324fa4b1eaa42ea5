"""Test-only DAG of the deployment suite: one deferred Craft task per case of
``docs/finishing-on-the-triggerer.md``, all in one run, held open by gate files.

Every task's execution waits for ``conf["gate"]`` (the timeout task's, for ``conf["late_gate"]``),
so each task defers before its execution ends. Every worker start of a task appends a line to
``$AIRFLOW_HOME/finishing-marks/<run>/<task>.start`` (``on_execute_callback``): one line per try
means the task ended on the triggerer, two that it resumed on a worker. The success and failure
callbacks leave their own marks, with the process that ran them.
"""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, task

from craft_airflow.operators.endpoint import CraftTriggerEndpointOperator
from craft_airflow.operators.pipeline import CraftRunPipelineOperator
from craft_airflow.sensors.execution import CraftExecutionSensor

DAG_ID = "craft_deployment_finishing"
PIPELINE = "finishing"
OUTLET = Asset("craft_deployment_finishing_outlet")


def marks_dir(run_id: str) -> Path:
    """Where the callbacks of ``run_id`` leave their marks (shared by every component)."""
    return Path(os.environ["AIRFLOW_HOME"], "finishing-marks", re.sub(r"[^\w.-]", "_", run_id))


def mark(context: Any, kind: str) -> None:
    ti = context["ti"]
    folder = marks_dir(ti.run_id)
    folder.mkdir(parents=True, exist_ok=True)
    line = {
        "try_number": ti.try_number,
        "map_index": ti.map_index,
        "process": sys.argv[1:2],
        "has_exception": "exception" in context,
    }
    with (folder / f"{ti.task_id}.{kind}").open("a") as f:
        f.write(json.dumps(line) + "\n")


def mark_start(context: Any) -> None:
    mark(context, "start")


def mark_success(context: Any) -> None:
    mark(context, "success")


def mark_failure(context: Any) -> None:
    mark(context, "failure")


def mark_retry(context: Any) -> None:
    mark(context, "retry")


def inputs(name: str, *, gate: str = "gate", fail: str = "no") -> dict[str, str]:
    return {"gate": "{{ dag_run.conf['" + gate + "'] }}", "name": name, "fail": fail}


class OverridingOperator(CraftRunPipelineOperator):
    """A subclass whose ``execute_complete`` adds to the outputs: it must run."""

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        return {**super().execute_complete(context, event), "overridden": True}


def run(task_id: str, operator: type = CraftRunPipelineOperator, **kwargs: Any) -> Any:
    kwargs.setdefault("inputs", inputs(task_id))
    return operator(task_id=task_id, pipeline_name=PIPELINE, **kwargs)


with DAG(
    dag_id=DAG_ID,
    schedule=None,
    catchup=False,
    tags=["craft-ai", "deployment-test"],
    default_args={
        "deferrable": True,
        "poll_interval": 1,
        "retries": 0,
        "on_execute_callback": mark_start,
    },
):
    default = run("default")
    multiple_outputs = run("multiple_outputs", multiple_outputs=True)
    run("success_callback", on_success_callback=mark_success)
    run("overridden", OverridingOperator)
    run("worker_resume", finish_on_triggerer=False)
    run("with_outlets", outlets=[OUTLET])
    run(
        "retried",
        inputs=inputs("retried", fail="{{ 'yes' if ti.try_number == 1 else 'no' }}"),
        retries=1,
        retry_delay=timedelta(seconds=1),
        on_retry_callback=mark_retry,
    )
    run(
        "failure_callback",
        inputs=inputs("failure_callback", fail="yes"),
        on_failure_callback=mark_failure,
    )
    run("timed_out", inputs=inputs("timed_out", gate="late_gate"), timeout=15)
    CraftTriggerEndpointOperator(
        task_id="endpoint",
        endpoint_name="finishing-endpoint",
        inputs=inputs("endpoint"),
    )
    mapped = CraftRunPipelineOperator.partial(task_id="mapped", pipeline_name=PIPELINE).expand(
        inputs=[inputs("mapped_0"), inputs("mapped_1")]
    )
    started = run("start_for_sensor", inputs=inputs("sensed"), wait_for_completion=False)
    sensor = CraftExecutionSensor(task_id="sensor", execution_id=started.output, poke_interval=1)
    CraftExecutionSensor(
        task_id="soft_fail_sensor", execution_id=started.output, poke_interval=1, soft_fail=True
    )

    @task
    def read_back(
        outputs: Any, length: Any, sensed: Any, mapped: Any, ti: Any = None
    ) -> dict[str, Any]:
        """What a downstream task pulls of XComs the triggerer pushed."""
        execution_id = ti.xcom_pull(task_ids="default", key="execution_id")
        return {
            "outputs": outputs,
            "length": length,
            "sensed": sensed,
            "mapped": [value["name"] for value in mapped],
            "id": execution_id,
        }

    read_back(default.output, multiple_outputs.output["length"], sensor.output, mapped.output)
