"""Test-only DAG of the deployment suite: 20 mapped Craft runs for two Celery workers.

Each task waits for its execution in the worker (not deferred), so it holds a worker slot for
the execution's second and the queue has to spread over both workers.
"""

from __future__ import annotations

from airflow.sdk import DAG

from craft_airflow.operators.pipeline import CraftRunPipelineOperator

COUNT = 20

with DAG(
    dag_id="craft_deployment_celery",
    schedule=None,
    catchup=False,
    tags=["craft-ai", "deployment-test"],
):
    CraftRunPipelineOperator.partial(
        task_id="run_slow", pipeline_name="slow", deferrable=False, retries=0
    ).expand(inputs=[{"seconds": 1 + (i % 2)} for i in range(COUNT)])
