"""OpenLineage events of Craft tasks, emitted by the real OpenLineage provider through a real
transport (the file transport) during ``airflow dags test``, parsed and checked.

The listener only exists when OpenLineage is configured before Airflow is imported, so each
run is an ``airflow`` process with its own home, metadata DB and transport; the embedded
platform is the session's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from airflow_compat import AIRFLOW_VERSION, xcoms_in_sqlite

LINEAGE_DAGS = Path(__file__).resolve().parent / "dags"
DAG_ID = "craft_lineage"
NAMESPACE = "craft-lineage-test"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
MODES = [pytest.param(False, id="worker-wait"), pytest.param(True, id="deferrable")]


@dataclass
class LineageRun:
    """The events a DAG run emitted and the XComs it left."""

    events: list[dict[str, Any]]
    xcoms: dict[tuple[str, str], Any]
    output: str
    deferrable: bool

    def task_event(self, task_id: str, event_type: str) -> dict[str, Any]:
        found = [
            e
            for e in self.events
            if e["eventType"] == event_type and e["job"]["name"] == f"{DAG_ID}.{task_id}"
        ]
        assert len(found) == 1, (task_id, event_type, [e["eventType"] for e in self.events])
        return found[0]

    def xcom(self, task_id: str, key: str = "return_value") -> Any:
        return self.xcoms[(task_id, key)]


def run_with_openlineage(root: Path, connection: str, *, deferrable: bool) -> LineageRun:
    home, events = root / "home", root / "events.jsonl"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(LINEAGE_DAGS),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE=str(deferrable),
        AIRFLOW_CONN_CRAFT_AI_DEFAULT=connection,
        AIRFLOW__OPENLINEAGE__NAMESPACE=NAMESPACE,
        AIRFLOW__OPENLINEAGE__TRANSPORT=json.dumps(
            {"type": "file", "log_file_path": str(events), "append": True}
        ),
    )
    output = []
    for args in (["db", "migrate"], ["dags", "test", DAG_ID]):
        done = subprocess.run(
            [AIRFLOW, *args],
            env=env,
            cwd=root,
            capture_output=True,
            text=True,
            timeout=420,
            stdin=subprocess.DEVNULL,
        )
        output.append(done.stdout + done.stderr)
        # The DAG run fails (run_failing), so `dags test` exits non-zero; the migration must not.
        assert args[0] == "dags" or done.returncode == 0, output[-1][-3000:]
    text = "\n".join(output)
    assert events.is_file(), text[-3000:]
    parsed = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
    return LineageRun(parsed, xcoms_in_sqlite(home / "airflow.db"), text, deferrable)


@pytest.fixture(scope="module", params=MODES)
def lineage_run(request, tmp_path_factory, craft_connection) -> LineageRun:
    root = tmp_path_factory.mktemp("lineage")
    return run_with_openlineage(
        root, os.environ["AIRFLOW_CONN_CRAFT_AI_DEFAULT"], deferrable=request.param
    )


def datasets(event: dict[str, Any], kind: str) -> list[tuple[str, str]]:
    return [(d["namespace"], d["name"]) for d in event[kind]]


def file_dataset(uri_or_path: str) -> tuple[str, str]:
    return ("file", urlsplit(uri_or_path).path if "://" in uri_or_path else uri_or_path)


def craft_facets(event: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    run, job = event["run"]["facets"], event["job"]["facets"]
    return run["craftAiExecution"], job["craftAiJob"]


def test_tasks_deferred_or_not_as_asked(lineage_run):
    deferred = "Deferring until Craft AI execution" in lineage_run.output
    if not lineage_run.deferrable:
        assert not deferred
        return
    # A deferrable task defers unless its (sub-second) execution had already ended at the first
    # check, which a loaded machine makes likely: it then says so instead of waiting on the
    # worker. Either way it never waits in the worker.
    ended_early = re.search(r"Craft AI execution \S+ is (Succeeded|Failed)", lineage_run.output)
    assert deferred or ended_early, lineage_run.output[-3000:]
    if deferred:  # the listener is registered: the end (and its event) comes from a worker
        ends_on_triggerer = AIRFLOW_VERSION.release[:2] >= (3, 3)
        reason = "called only on a worker" if ends_on_triggerer else "Airflow < 3.3"
        assert reason in lineage_run.output, lineage_run.output[-3000:]


def test_events_name_the_airflow_job_and_namespace(lineage_run):
    event = lineage_run.task_event("count_to_storage", "COMPLETE")
    assert event["job"]["namespace"] == NAMESPACE
    assert event["run"]["facets"]["parent"]["job"]["name"] == DAG_ID


def test_file_input_and_stored_file_output(lineage_run, craft_platform):
    event = lineage_run.task_event("count_to_storage", "COMPLETE")
    execution_id = lineage_run.xcom("count_to_storage", "execution_id")
    run_facet, job_facet = craft_facets(event)
    assert job_facet["pipelineName"] == "word-count"
    assert job_facet["environmentUrl"] == craft_platform.url
    assert job_facet.get("deploymentName") is None
    assert run_facet["executionId"] == execution_id
    assert (run_facet["status"], run_facet["outcome"]) == ("Succeeded", "success")
    assert run_facet["executionUrl"] == f"{craft_platform.url}/executions/{execution_id}"
    assert event["run"]["facets"]["externalQuery"]["externalQueryId"] == execution_id
    assert event["run"]["facets"]["externalQuery"]["source"] == craft_platform.url
    document = lineage_run.xcom("write_document")
    upper = lineage_run.xcom("count_to_storage")["upper"]
    assert upper.startswith("file://") and upper.endswith(f"/{execution_id}/upper")
    assert datasets(event, "inputs") == [("file", document)]
    assert datasets(event, "outputs") == [file_dataset(upper)]


def test_datastore_output_then_datastore_input(lineage_run, craft_platform):
    namespace = f"craft://{urlsplit(craft_platform.url).netloc}"
    first = lineage_run.task_event("count_to_datastore", "COMPLETE")
    first_id = lineage_run.xcom("count_to_datastore", "execution_id")
    written = (namespace, f"lineage/{first_id}/upper.txt")
    assert datasets(first, "inputs") == [("file", lineage_run.xcom("write_document"))]
    assert datasets(first, "outputs") == [written]  # upper went to the data store, not Airflow

    second = lineage_run.task_event("count_from_datastore", "COMPLETE")
    assert datasets(second, "inputs") == [written]
    upper = lineage_run.xcom("count_from_datastore")["upper"]
    assert datasets(second, "outputs") == [file_dataset(upper)]


def test_endpoint_with_a_stored_file_as_input(lineage_run):
    event = lineage_run.task_event("endpoint_with_file", "COMPLETE")
    run_facet, job_facet = craft_facets(event)
    assert job_facet["deploymentName"] == "word-count-endpoint"
    assert job_facet["pipelineName"] == "word-count"
    assert run_facet["executionId"] == lineage_run.xcom("endpoint_with_file", "execution_id")
    assert run_facet["outcome"] == "success"
    sent = lineage_run.xcom("count_to_storage")["upper"]
    assert datasets(event, "inputs") == [file_dataset(sent)]
    returned = lineage_run.xcom("endpoint_with_file")["upper"]
    assert datasets(event, "outputs") == [file_dataset(returned)]


def test_the_sensor_reports_what_the_execution_wrote(lineage_run, craft_platform):
    namespace = f"craft://{urlsplit(craft_platform.url).netloc}"
    execution_id = lineage_run.xcom("start_without_waiting")
    started = lineage_run.task_event("start_without_waiting", "COMPLETE")
    run_facet, _ = craft_facets(started)
    assert run_facet["executionId"] == execution_id
    assert run_facet.get("outcome") is None  # it did not wait
    assert datasets(started, "inputs") == [("file", lineage_run.xcom("write_document"))]
    assert datasets(started, "outputs") == []  # written after it ended: the sensor reports it

    sensed = lineage_run.task_event("sense", "COMPLETE")
    run_facet, job_facet = craft_facets(sensed)
    assert run_facet["executionId"] == execution_id
    assert (run_facet["status"], run_facet["outcome"]) == ("Succeeded", "success")
    assert job_facet["pipelineName"] == "word-count"  # read from the execution
    assert datasets(sensed, "outputs") == [(namespace, "lineage/sensed.txt")]


def test_failed_execution_reports_its_error(lineage_run):
    event = lineage_run.task_event("run_failing", "FAIL")
    run_facet, job_facet = craft_facets(event)
    assert job_facet["pipelineName"] == "failing"
    assert run_facet["executionId"] == lineage_run.xcom("run_failing", "execution_id")
    assert (run_facet["status"], run_facet["outcome"]) == ("Failed", "failed")
    run_id = event["run"]["facets"]["airflow"]["dagRun"]["run_id"]
    assert f"ValueError: lineage failure of {run_id}" in run_facet["errorMessage"]
    assert "Last log lines:" in run_facet["errorMessage"]
    assert not [
        e
        for e in lineage_run.events
        if e["job"]["name"].endswith(".run_failing") and e["eventType"] == "COMPLETE"
    ]
