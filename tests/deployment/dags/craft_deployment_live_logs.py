"""Test-only DAG of the deployment suite: two Craft tasks whose pipeline prints a line every
second for 20 s, one deferred (the triggerer follows the logs) and one waiting on its worker.
``test_deployment_live_logs.py`` reads their logs through the REST API while they wait."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG

from craft_airflow.operators.pipeline import CraftRunPipelineOperator

DAG_ID = "craft_deployment_live_logs"

with DAG(DAG_ID, schedule=None, catchup=False, tags=["craft-test"]) as dag:
    for task_id, deferrable in (("deferred", True), ("on_worker", False)):
        CraftRunPipelineOperator(
            task_id=task_id,
            pipeline_name="ticker",
            inputs={"name": task_id, "count": 20},
            deferrable=deferrable,
            poll_interval=1,
            live_logs_interval=timedelta(seconds=2),
        )
