"""Test-only DAG of the deployment suite: a deferrable sensor that starts on the triggerer
(``start_from_trigger``) and two that start on a worker, all following the execution an upstream
task started without waiting. ``test_deployment_starting.py`` runs it.

The execution waits for ``conf["gate"]``, so each sensor is deferred before it ends. Every worker
start of a task appends a line to ``$AIRFLOW_HOME/starting-marks/<run>/<task>.start``
(``on_execute_callback``, which runs only on a worker): none for a task that never reached one.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from airflow.sdk import DAG

from craft_airflow.operators.pipeline import CraftRunPipelineOperator
from craft_airflow.sensors.execution import CraftExecutionSensor

DAG_ID = "craft_deployment_starting"
#: The upstream task's ``execution_id`` XCom, pulled as the triggerer can (one XCom read).
ON_TRIGGERER = "{{ ti.xcom_pull(task_ids='start', key='execution_id', map_indexes=-1) }}"
#: The same without ``map_indexes``: a pull only a worker serves.
ON_WORKER = "{{ ti.xcom_pull(task_ids='start', key='execution_id') }}"


def marks_dir(run_id: str) -> Path:
    return Path(os.environ["AIRFLOW_HOME"], "starting-marks", re.sub(r"[^\w.-]", "_", run_id))


def mark_start(context: Any) -> None:
    ti = context["ti"]
    folder = marks_dir(ti.run_id)
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / f"{ti.task_id}.start").open("a") as f:
        f.write(json.dumps({"try_number": ti.try_number}) + "\n")


with DAG(
    dag_id=DAG_ID,
    schedule=None,
    catchup=False,
    tags=["craft-ai", "deployment-test"],
    default_args={"retries": 0, "on_execute_callback": mark_start},
):
    start = CraftRunPipelineOperator(
        task_id="start",
        pipeline_name="finishing",
        inputs={"gate": "{{ dag_run.conf['gate'] }}", "name": "started", "fail": "no"},
        wait_for_completion=False,
    )
    sensors = [
        CraftExecutionSensor(
            task_id=task_id, execution_id=execution_id, deferrable=True, poke_interval=1
        )
        for task_id, execution_id in (
            ("on_triggerer", ON_TRIGGERER),
            ("pulled_on_worker", ON_WORKER),
            ("xcom_arg", start.output),
        )
    ]
    start >> sensors
