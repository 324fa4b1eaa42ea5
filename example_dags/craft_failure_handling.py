"""What a failing Craft AI execution looks like in Airflow, and one way to react to it.

The ``failing`` pipeline raises. The task fails with the platform's message and the last log
lines of the execution (its whole log is copied into the task log). A downstream task with
``trigger_rule="all_failed"`` reports the failed execution's id, so the DAG run itself succeeds.
"""

from __future__ import annotations

from airflow.sdk import DAG, task

from craft_airflow.operators.pipeline import CraftRunPipelineOperator

with DAG(
    dag_id="craft_failure_handling",
    schedule=None,
    catchup=False,
    tags=["craft-ai", "example"],
    doc_md=__doc__,
):
    failing = CraftRunPipelineOperator(
        task_id="run_failing_pipeline",
        pipeline_name="failing",
        inputs={"message": "boom from {{ run_id }}"},
        retries=0,
    )

    @task(trigger_rule="all_failed")
    def report_failure(ti=None) -> str:
        execution_id = ti.xcom_pull(task_ids="run_failing_pipeline", key="execution_id")
        print(f"Craft AI execution {execution_id} failed; see the failed task's log.")
        return execution_id

    failing >> report_failure()
