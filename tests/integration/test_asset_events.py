"""Craft outputs feeding Assets through a real Airflow (``dag.test()``): the asset events the
producer example emits carry the execution id, the output name and the output's location."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath

MODES = [pytest.param(False, id="worker-wait"), pytest.param(True, id="deferrable")]


def asset_events(dag_id: str, run_id: str) -> dict[str, list[dict]]:
    """The asset events a DAG run emitted, by asset name, with their source task."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetModel.name, AssetEvent.source_task_id, AssetEvent.extra)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetEvent.source_dag_id == dag_id, AssetEvent.source_run_id == run_id)
        ).all()
    found: dict[str, list[dict]] = {}
    for name, task_id, extra in rows:
        found.setdefault(name, []).append({"task_id": task_id, "extra": dict(extra)})
    return found


@pytest.mark.parametrize("deferrable", MODES)
def test_producer_events_carry_execution_output_and_location(run_dag, deferrable, craft_platform):
    run = run_dag("craft_asset_producer", deferrable=deferrable)
    assert run.state == "success", run.task_states

    events = asset_events("craft_asset_producer", run.run_id)
    assert set(events) == {"craft_upper_copy", "craft_all_types_report"}

    (upper,) = events["craft_upper_copy"]
    assert upper == {
        "task_id": "count_words",
        "extra": {
            "execution_id": run.xcom("count_words", "execution_id"),
            "output_name": "upper",
            "uri": "craft://craft_ai_default@/examples/assets/upper.txt",
            "datastore_path": "examples/assets/upper.txt",
        },
    }
    # The output the event points at is in the data store, written by that execution.
    stored = Path(craft_platform.data_dir, "datastore", "examples", "assets", "upper.txt")
    document = Path(run.xcom("write_document")).read_text()
    assert stored.read_text() == document.upper()
    assert run.xcom("count_words")["upper"] is None  # sent to the data store, not to Airflow

    (report,) = events["craft_all_types_report"]
    report_uri = run.xcom("write_report")["report"]
    assert report == {
        "task_id": "write_report",
        "extra": {
            "execution_id": run.xcom("write_report", "execution_id"),
            "output_name": "report",
            "uri": report_uri,
        },
    }
    assert "text: report of" in ObjectStoragePath(report_uri).read_text()


def test_consumer_run_by_hand_skips_without_an_asset_event(run_dag):
    run = run_dag("craft_asset_consumer", deferrable=False)
    assert run.state == "success", run.task_states
    assert run.task_states == {
        ("read_asset_event", -1): "skipped",
        ("count_upper_copy", -1): "skipped",
        ("show", -1): "skipped",
    }
