"""The example DAGs parse, serialise, template on run_id and use only the declared pipelines."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from airflow_compat import load_dag_bag, serialization_round_trip

from craft_local.examples import EXAMPLE_PIPELINES

EXAMPLE_DAGS = Path(__file__).resolve().parents[2] / "example_dags"
EXPECTED = {
    "craft_run_pipeline",
    "craft_trigger_endpoint",
    "craft_run_then_sense",
    "craft_chain_file_outputs",
    "craft_mapped_runs",
    "craft_failure_handling",
    "craft_asset_producer",
    "craft_asset_consumer",
    "craft_deploy_and_wait",
    "craft_deployment_events",
    "craft_train_and_promote",
}


@pytest.fixture(scope="module")
def dagbag():
    return load_dag_bag(EXAMPLE_DAGS)


def declared() -> tuple[set[str], set[str]]:
    pipelines, deployments = set(), set()
    for path in EXAMPLE_PIPELINES.glob("*/pipeline.json"):
        spec = json.loads(path.read_text())
        pipelines.add(spec["pipeline_name"])
        deployments.update(d["name"] for d in spec.get("deployments", []))
    return pipelines, deployments


def test_all_examples_parse(dagbag):
    assert dagbag.import_errors == {}
    assert set(dagbag.dags) == EXPECTED


def test_examples_are_tagged_and_manual_or_asset_scheduled(dagbag):
    """Manual (schedule=None), or scheduled on an asset an example Craft task feeds."""
    from airflow.sdk import Asset

    fed = {
        (asset.name, asset.uri)
        for dag in dagbag.dags.values()
        for task in dag.tasks
        for asset in getattr(task, "output_assets", {}).values()
    }
    for dag in dagbag.dags.values():
        assert {"craft-ai", "example"} <= set(dag.tags), dag.dag_id
        assert dag.doc_md, dag.dag_id
        kind = type(dag.timetable).__name__
        if dag.dag_id == "craft_deployment_events":
            # Scheduled on an asset a deployment's executions feed, through its watcher.
            (asset,) = dag.timetable.asset_condition.objects
            assert asset.watchers and asset.watchers[0].trigger is not None
        elif dag.dag_id == "craft_asset_consumer":
            assert kind == "AssetTriggeredTimetable"
            assets = list(dag.timetable.asset_condition.objects)
            assert assets and all(isinstance(a, Asset) for a in assets)
            assert {(a.name, a.uri) for a in assets} <= fed
        else:
            assert kind == "NullTimetable", dag.dag_id  # schedule=None


def test_output_assets_are_outlets(dagbag):
    producer = dagbag.dags["craft_asset_producer"]
    for task_id in ("count_words", "write_report"):
        task = producer.task_dict[task_id]
        assert task.output_assets and list(task.output_assets.values()) == task.outlets


def test_examples_template_on_run_id_not_ds():
    for path in EXAMPLE_DAGS.glob("*.py"):
        text = path.read_text()
        assert not re.search(r"{{\s*(ds|ds_nodash|ts|logical_date|execution_date)\b", text), path
    assert "{{ run_id }}" in (EXAMPLE_DAGS / "craft_run_pipeline.py").read_text()


def test_examples_use_declared_pipelines_and_endpoints(dagbag):
    pipelines, deployments = declared()
    used_pipelines, used_endpoints = set(), set()
    for dag in dagbag.dags.values():
        for task in dag.tasks:
            kwargs = getattr(task, "partial_kwargs", None) or vars(task)
            if kwargs.get("pipeline_name"):
                used_pipelines.add(kwargs["pipeline_name"])
            if kwargs.get("endpoint_name"):
                used_endpoints.add(kwargs["endpoint_name"])
    assert used_pipelines and used_pipelines <= pipelines
    assert used_endpoints and used_endpoints <= deployments


def test_examples_serialise(dagbag):
    for dag in dagbag.dags.values():
        restored = serialization_round_trip(dag)
        assert set(restored.task_dict) == set(dag.task_dict)
        for task_id, task in restored.task_dict.items():
            task_type = dag.task_dict[task_id].task_type
            # Every Craft task following an execution links to it (not the deployment keeper).
            if task_type.startswith("Craft") and task_type != "CraftDeploymentOperator":
                names = [link for link in getattr(task, "operator_extra_link_dict", {})]
                assert names == ["Craft AI execution"], (dag.dag_id, task_id)
