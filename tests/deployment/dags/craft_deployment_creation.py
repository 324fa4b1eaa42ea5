"""Test-only DAG of the deployment suite: one Craft task per point of the creation at which
``test_deployment_creation.py`` kills the task's process (each case its own pipeline, so that
the platform's gates hold that case's requests only)."""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import DAG

from craft_airflow.operators.pipeline import CraftRunPipelineOperator

CASES = ("a", "b", "c", "d")

with DAG(
    dag_id="craft_deployment_creation",
    schedule=None,
    catchup=False,
    tags=["craft-ai", "deployment-test"],
):
    for case in CASES:
        CraftRunPipelineOperator(
            task_id=f"create_{case}",
            pipeline_name=f"creation-{case}",
            inputs={"case": case, "n": 7},
            deferrable=True,
            retries=2,
            retry_delay=timedelta(seconds=1),
        )
