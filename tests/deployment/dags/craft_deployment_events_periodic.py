"""Test-only DAG of the deployment suite: runs on each finished execution of the periodic
deployment ``events-every-minute`` (``test_deployment_events.py`` creates it and drives its
ticks), reading the output each execution wrote to the data store."""

from __future__ import annotations

import json

from airflow.sdk import DAG, Asset, AssetWatcher, ObjectStoragePath, task

from craft_airflow.triggers.deployment import CraftDeploymentEventTrigger

executions = Asset(
    "craft-events-every-minute",
    watchers=[
        AssetWatcher(
            name="events-every-minute-executions",
            trigger=CraftDeploymentEventTrigger(
                deployment_name="events-every-minute", conn_id="craft_ai_default", poll_interval=1
            ),
        )
    ],
)

with DAG(
    dag_id="craft_deployment_events_periodic",
    schedule=[executions],
    catchup=False,
    tags=["craft-ai", "deployment-test"],
):

    @task
    def read_outputs(triggering_asset_events=None) -> list[dict]:
        """Each triggering execution's id and the ``nonce`` it wrote (a ``craft://`` location)."""
        read = []
        for event in triggering_asset_events[executions]:
            payload = event.extra["payload"]
            location = payload["outputs"]["nonce"]
            nonce = json.loads(ObjectStoragePath(location).read_text())
            read.append({"execution_id": payload["execution_id"], "nonce": nonce})
        return read

    read_outputs()
