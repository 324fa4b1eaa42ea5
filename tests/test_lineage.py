"""craft_airflow.lineage: dataset naming, what an execution's record says, and the
OpenLineage objects (the real OpenLineage classes, serialised as the listener sends them)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath
from openlineage.client.serde import Serde

from craft_airflow.lineage import (
    DatasetName,
    ExecutionIO,
    TaskLineage,
    datastore_dataset,
    execution_io,
    file_input_locations,
    location_dataset,
    mappings_io,
    operator_lineage,
    task_lineage,
)
from craft_airflow.protocol.outcomes import OutcomeStatus, WaitOutcome
from craft_airflow.protocol.statuses import ExecutionStatus

ENV = "https://my-env.example.craft.ai:8443"


def environment_of(conn_id: str) -> str | None:
    return {"craft_ai_default": ENV}.get(conn_id)


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/data/in.csv", ("file", "/data/in.csv")),
        ("file:///data/in%20x.csv", ("file", "/data/in x.csv")),
        ("file://host/data/in.csv", ("file://host", "/data/in.csv")),
        ("s3://bucket/a/b.csv", ("s3://bucket", "a/b.csv")),
        ("gs://bucket/b.csv", ("gs://bucket", "b.csv")),
        (
            "craft://craft_ai_default@/raw/x.csv",
            ("craft://my-env.example.craft.ai:8443", "raw/x.csv"),
        ),
    ],
)
def test_locations_follow_openlineage_naming(location, expected):
    assert location_dataset(location, environment_of=environment_of) == DatasetName(*expected)


def test_a_craft_path_of_an_unknown_connection_has_no_dataset():
    assert location_dataset("craft://elsewhere@/x", environment_of=environment_of) is None


def test_datastore_paths_resolve_the_execution_id_and_keep_dates():
    assert datastore_dataset(ENV, "/out/{execution_id}/{date}.txt", "p-123") == DatasetName(
        "craft://my-env.example.craft.ai:8443", "out/p-123/{date}.txt"
    )
    assert datastore_dataset(ENV, "craft://conn@/out/x.txt", None).name == "out/x.txt"


def test_execution_io_reads_the_mappings_of_an_execution_object():
    execution = {
        "inputs": [
            {"pipeline_input_name": "doc", "data_type": "file", "mapping_type": "run"},
            {
                "pipeline_input_name": "raw",
                "data_type": "file",
                "mapping_type": "endpoint",
                "mapping_value": {"endpoint_input_name": "upload"},
            },
            {
                "pipeline_input_name": "ref",
                "data_type": "file",
                "mapping_type": "datastore",
                "mapping_value": {"datastore_path": "ref/table.csv"},
            },
            {"pipeline_input_name": "n", "data_type": "number", "mapping_type": "run"},
        ],
        "outputs": [
            {
                "pipeline_output_name": "saved",
                "data_type": "file",
                "mapping_type": "datastore",
                "mapping_value": {"datastore_path": "out/{execution_id}.csv"},
            },
            {"pipeline_output_name": "report", "data_type": "file", "mapping_type": "run"},
        ],
    }
    assert execution_io(execution) == ExecutionIO(
        frozenset({"doc", "upload"}), ("ref/table.csv",), {"saved": "out/{execution_id}.csv"}
    )


def test_mappings_io_reads_the_runs_own_mappings():
    from craft_airflow import InputSource

    io = mappings_io(
        [InputSource(pipeline_input_name="a", datastore_path="in/a"), {"pipeline_input_name": "b"}],
        [{"pipeline_output_name": "o", "datastore_path": "out/o"}],
    )
    assert io == ExecutionIO(None, ("in/a",), {"o": "out/o"})


def test_file_inputs_by_record_by_task_or_by_type(tmp_path):
    sources = {
        "doc": "/data/doc.txt",
        "text": "/not/a/file",
        "path": tmp_path / "p.txt",
        "stored": ObjectStoragePath("file:///data/stored.txt"),
        "raw": b"bytes have no location",
    }
    by_record = file_input_locations(sources, frozenset({"doc", "raw"}))
    assert by_record == ["/data/doc.txt"]
    by_type = file_input_locations(sources, None, frozenset({"doc"}))
    assert by_type == ["/data/doc.txt", str(Path(tmp_path / "p.txt")), "file:///data/stored.txt"]


def lineage(
    outcome: WaitOutcome | None, outputs: dict | None, metrics: dict | None = None
) -> TaskLineage:
    return task_lineage(
        environment_url=ENV,
        pipeline_name="word-count",
        deployment_name=None,
        execution_id="wc-1",
        execution_url=f"{ENV}/executions/wc-1",
        status="Succeeded" if outputs is not None else None,
        outcome=outcome,
        io=ExecutionIO(frozenset({"document"}), ("in/x.txt",), {"saved": "out/{execution_id}"}),
        file_sources={"document": "/data/doc.txt"},
        known_files=frozenset(),
        outputs=outputs,
        output_dir="file:///home/out/wc-1",
        metrics=metrics,
        environment_of=environment_of,
    )


def test_task_lineage_inputs_and_outputs():
    result = lineage(
        WaitOutcome(OutcomeStatus.SUCCESS, "wc-1", ExecutionStatus.SUCCEEDED),
        {"upper": "file:///home/out/wc-1/upper", "words": 3, "saved": None},
    )
    store = "craft://my-env.example.craft.ai:8443"
    assert result.inputs == (DatasetName("file", "/data/doc.txt"), DatasetName(store, "in/x.txt"))
    assert result.outputs == (
        DatasetName("file", "/home/out/wc-1/upper"),
        DatasetName(store, "out/wc-1"),
    )


def test_no_outputs_collected_no_output_datasets():
    failed = WaitOutcome(OutcomeStatus.FAILED, "wc-1", ExecutionStatus.FAILED, "boom")
    assert lineage(failed, None).outputs == ()
    assert lineage(None, None).outputs == ()


def event_json(item) -> dict:
    return json.loads(Serde.to_json(item))


def test_operator_lineage_facets_of_a_success():
    result = operator_lineage(
        lineage(WaitOutcome(OutcomeStatus.SUCCESS, "wc-1", ExecutionStatus.SUCCEEDED), {})
    )
    run = event_json(result.run_facets["craftAiExecution"])
    assert {k: v for k, v in run.items() if not k.startswith("_")} == {
        "executionId": "wc-1",
        "status": "Succeeded",
        "outcome": "success",
        "executionUrl": f"{ENV}/executions/wc-1",
    }
    assert run["_schemaURL"].endswith("#/$defs/RunFacet")
    assert event_json(result.run_facets["externalQuery"])["externalQueryId"] == "wc-1"
    job = event_json(result.job_facets["craftAiJob"])
    assert (job["pipelineName"], job["environmentUrl"]) == ("word-count", ENV)
    assert "deploymentName" not in job
    assert [(d.namespace, d.name) for d in result.inputs] == [
        ("file", "/data/doc.txt"),
        ("craft://my-env.example.craft.ai:8443", "in/x.txt"),
    ]


def test_the_run_facet_carries_the_metrics_the_task_read():
    metrics = {"accuracy": 0.9, "loss": [1.0, 0.5]}
    result = operator_lineage(
        lineage(WaitOutcome(OutcomeStatus.SUCCESS, "wc-1", ExecutionStatus.SUCCEEDED), {}, metrics)
    )
    assert event_json(result.run_facets["craftAiExecution"])["metrics"] == metrics


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (OutcomeStatus.FAILED, "Execution wc-1 ended with status Failed. boom"),
        (OutcomeStatus.TIMEOUT, "Timed out"),
        (OutcomeStatus.SKIPPED, None),
    ],
)
def test_the_error_message_of_an_unfinished_or_failed_execution(status, message):
    outcome = WaitOutcome(status, "wc-1", None, message or "skipped", ("last line",))
    run = event_json(operator_lineage(lineage(outcome, None)).run_facets["craftAiExecution"])
    assert run["outcome"] == str(status)
    if message is None:
        assert "errorMessage" not in run
    else:
        assert run["errorMessage"] == f"{message}\nLast log lines:\nlast line"


def test_no_execution_no_run_facets():
    result = operator_lineage(TaskLineage(environment_url=ENV, pipeline_name="p"))
    assert result.run_facets == {}
    assert event_json(result.job_facets["craftAiJob"])["pipelineName"] == "p"
