"""Data-aware scheduling in a real deployment (LocalExecutor, PostgreSQL, separate api-server,
scheduler, dag-processor and triggerer): ``craft_asset_consumer`` runs because
``craft_asset_producer``'s Craft task produced the output its asset stands for, and the asset
event that triggered it names that execution and output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conditions import wait_until
from deployment.airflow_deployment import AirflowAPI

PRODUCER, CONSUMER = "craft_asset_producer", "craft_asset_consumer"


def asset_triggered_run(api: AirflowAPI, execution_id: str) -> tuple[str, dict[str, Any]] | None:
    """The consumer's asset-triggered run whose triggering event came from ``execution_id``."""
    api.deployment.check_alive()
    for run in api.get(f"/dags/{CONSUMER}/dagRuns", limit=100)["dag_runs"]:
        if run["run_type"] != "asset_triggered":
            continue
        path = f"/dags/{CONSUMER}/dagRuns/{run['dag_run_id']}/upstreamAssetEvents"
        for event in api.get(path)["asset_events"]:
            if (event.get("extra") or {}).get("execution_id") == execution_id:
                return str(run["dag_run_id"]), event
    return None


def test_consumer_runs_because_the_craft_task_produced_the_output(local_deployment) -> None:
    _, api = local_deployment
    api.send("PATCH", f"/dags/{CONSUMER}", {"is_paused": False})
    run_id = api.trigger(PRODUCER)
    assert api.wait_run(PRODUCER, run_id, timeout=300) == "success", api.task_states(
        PRODUCER, run_id
    )
    execution_id = api.xcom(PRODUCER, run_id, "count_words", "execution_id")

    # No one triggers the consumer: the scheduler does, on the asset event of count_words.
    consumer_run_id, event = wait_until(
        lambda: asset_triggered_run(api, execution_id),
        timeout=180,
        what=f"{CONSUMER} to be triggered by the asset event of execution {execution_id}",
    )
    assert (event["source_dag_id"], event["source_run_id"], event["source_task_id"]) == (
        PRODUCER,
        run_id,
        "count_words",
    )
    assert event["name"] == "craft_upper_copy"
    assert event["extra"] == {
        "execution_id": execution_id,
        "output_name": "upper",
        "uri": "craft://craft_ai_default@/examples/assets/upper.txt",
        "datastore_path": "examples/assets/upper.txt",
    }

    assert api.wait_run(CONSUMER, consumer_run_id, timeout=300) == "success", api.task_states(
        CONSUMER, consumer_run_id
    )
    assert api.xcom(CONSUMER, consumer_run_id, "read_asset_event", "execution_id") == execution_id
    # The consumer's own Craft execution read the producer's output from the data store.
    document = Path(api.xcom(PRODUCER, run_id, "write_document")).read_text()
    assert api.xcom(CONSUMER, consumer_run_id, "show") == len(document.split())
