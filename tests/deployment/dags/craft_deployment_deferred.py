"""Test-only DAG of the deployment suite: 10 deferred Craft tasks held open by gate files.

The test gives each run the gate paths in ``conf``; mapped tasks 0-4 wait for the first gate,
5-9 for the second, so the test can open one while the triggerer is down and the other after.
"""

from __future__ import annotations

from airflow.sdk import DAG, task

from craft_airflow.operators.pipeline import CraftRunPipelineOperator

COUNT = 10

with DAG(
    dag_id="craft_deployment_deferred",
    schedule=None,
    catchup=False,
    tags=["craft-ai", "deployment-test"],
):

    @task
    def input_sets(dag_run=None) -> list[dict]:
        gates = dag_run.conf["gates"]
        return [{"gate": gates[i * len(gates) // COUNT], "index": i} for i in range(COUNT)]

    CraftRunPipelineOperator.partial(
        task_id="wait_at_gate", pipeline_name="gate", deferrable=True, retries=0
    ).expand(inputs=input_sets())
