"""Start a Craft AI pipeline without waiting, then follow its execution with a sensor.

The operator returns the execution id at once (also pushed as XCom ``execution_id``); the
deferrable sensor waits in the triggerer, not in a worker slot, and returns the outputs.
"""

from __future__ import annotations

from airflow.sdk import DAG, task

from craft_airflow.operators.pipeline import CraftRunPipelineOperator
from craft_airflow.sensors.execution import CraftExecutionSensor

with DAG(
    dag_id="craft_run_then_sense",
    schedule=None,
    catchup=False,
    tags=["craft-ai", "example"],
    doc_md=__doc__,
):
    start = CraftRunPipelineOperator(
        task_id="start_slow_pipeline",
        pipeline_name="slow",
        inputs={"seconds": 2},
        wait_for_completion=False,
    )

    wait = CraftExecutionSensor(
        task_id="wait_for_slow_pipeline",
        execution_id=start.output,
        deferrable=True,
        poke_interval=2,
        timeout=600,
    )

    @task
    def show_outputs(outputs: dict) -> float:
        print(f"The pipeline slept {outputs['slept']} s")
        return outputs["slept"]

    show_outputs(wait.output)
