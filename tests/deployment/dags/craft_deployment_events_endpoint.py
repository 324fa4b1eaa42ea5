"""Test-only DAG of the deployment suite: runs on each finished execution of the endpoint
deployment ``events-endpoint``, whoever called the endpoint (``test_deployment_events.py``).

The watcher looks every second (the example DAG every 30): the test measures how soon a run
starts after a call from outside Airflow.
"""

from __future__ import annotations

from airflow.sdk import DAG, Asset, AssetWatcher, task

from craft_airflow.triggers.deployment import CraftDeploymentEventTrigger

executions = Asset(
    "craft-events-endpoint",
    watchers=[
        AssetWatcher(
            name="events-endpoint-executions",
            trigger=CraftDeploymentEventTrigger(
                deployment_name="events-endpoint", conn_id="craft_ai_default", poll_interval=1
            ),
        )
    ],
)

with DAG(
    dag_id="craft_deployment_events_endpoint",
    schedule=[executions],
    catchup=False,
    tags=["craft-ai", "deployment-test"],
):

    @task
    def read_outputs(triggering_asset_events=None) -> list[dict]:
        """Each triggering execution's id, status and outputs (values on this deployment)."""
        return [
            {k: e.extra["payload"][k] for k in ("execution_id", "status", "outputs")}
            for e in triggering_asset_events[executions]
        ]

    read_outputs()
