"""Run a DAG after each execution of a Craft AI deployment that Airflow did not start.

The asset ``craft-slow-nightly`` is watched by ``CraftDeploymentEventTrigger``: every finished
execution of the deployment ``slow-nightly`` (its CRON ticks, or calls from other systems)
becomes one asset event, and each event starts this DAG. The event's ``extra["payload"]``
carries the execution id, its status, and its outputs (values, or ``craft://`` locations of
data-store outputs). Failed executions are events too (``outputs`` is ``None``, ``error`` holds
the platform's message): this DAG skips them.
"""

from __future__ import annotations

from airflow.providers.common.compat.sdk import AirflowSkipException
from airflow.sdk import DAG, Asset, AssetWatcher, task

from craft_airflow.triggers.deployment import CraftDeploymentEventTrigger

nightly_executions = Asset(
    "craft-slow-nightly",
    watchers=[
        AssetWatcher(
            name="slow-nightly-executions",
            trigger=CraftDeploymentEventTrigger(
                deployment_name="slow-nightly", conn_id="craft_ai_default", poll_interval=30
            ),
        )
    ],
)

with DAG(
    dag_id="craft_deployment_events",
    schedule=[nightly_executions],
    catchup=False,
    # Driven by the platform (a scheduled execution, an asset event), not by one manual run.
    tags=["craft-ai", "example", "event-driven"],
    doc_md=__doc__,
):

    @task
    def follow_executions(triggering_asset_events=None) -> list[dict]:
        """One run may gather several events: keep the succeeded executions' outputs."""
        payloads = [e.extra["payload"] for e in triggering_asset_events[nightly_executions]]
        succeeded = [p for p in payloads if p["status"] == "Succeeded"]
        if not succeeded:
            raise AirflowSkipException(
                ", ".join(f"execution {p['execution_id']}: {p['status']}" for p in payloads)
            )
        return [{"execution_id": p["execution_id"], "outputs": p["outputs"]} for p in succeeded]

    follow_executions()
