"""Test-only DAG of the deployment suite: one deferred Craft task, held open by a gate file, that
the test kills as a user does (marks it failed)."""

from __future__ import annotations

from airflow.sdk import DAG

from craft_airflow.operators.pipeline import CraftRunPipelineOperator

with DAG(
    dag_id="craft_deployment_kill",
    schedule=None,
    catchup=False,
    tags=["craft-ai", "deployment-test"],
):
    CraftRunPipelineOperator(
        task_id="wait_at_gate",
        pipeline_name="gate",
        inputs={"gate": "{{ dag_run.conf['gate'] }}", "index": 0},
        deferrable=True,
        retries=0,
    )
