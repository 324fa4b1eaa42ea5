"""Every example DAG through a real Airflow against the embedded platform, deferrable or not."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath

MODES = [pytest.param(False, id="worker-wait"), pytest.param(True, id="deferrable")]


def assert_announced(run, task_id: str, platform_url: str, map_index: int = -1) -> str:
    """The execution id XCom and the extra link point at the same execution."""
    execution_id = run.xcom(task_id, "execution_id", map_index)
    url = f"{platform_url}/executions/{execution_id}"
    assert run.xcom(task_id, "_link_CraftExecutionLink", map_index) == url
    return execution_id


def stored_file(uri: str, airflow_home: Path) -> str:
    assert uri.startswith(f"file://{airflow_home}/craft_outputs/"), uri
    return ObjectStoragePath(uri).read_text()


@pytest.mark.parametrize("deferrable", MODES)
def test_run_pipeline_outputs_flow_downstream(run_dag, deferrable, craft_platform, airflow_home):
    run = run_dag("craft_run_pipeline", deferrable=deferrable)
    assert run.state == "success", run.task_states

    execution_id = assert_announced(run, "run_all_types", craft_platform.url)
    assert execution_id.startswith("all-types-")
    outputs = run.xcom("run_all_types")
    assert outputs["text"] == f"HELLO FROM {run.run_id}".upper()
    assert outputs["number"] == 42
    assert outputs["flag"] is False
    assert outputs["payload"] == {
        "received": {"run_id": run.run_id, "nested": {"values": [1, 2, 3]}}
    }
    assert outputs["items"] == ["c", "b", "a"]
    document = run.xcom("write_document")
    report = stored_file(outputs["report"], airflow_home)
    assert f"text: hello from {run.run_id}" in report
    assert f"document: {len(Path(document).read_text())} characters" in report
    assert "/craft_run_pipeline/" in outputs["report"]
    assert outputs["report"].endswith(f"/run_all_types/{execution_id}/report")
    assert run.xcom("show_outputs")["report"] == report


@pytest.mark.parametrize("deferrable", MODES)
def test_trigger_endpoint_with_json_file_and_both(
    run_dag, deferrable, craft_platform, airflow_home
):
    run = run_dag("craft_trigger_endpoint", deferrable=deferrable)
    assert run.state == "success", run.task_states

    with_json = run.xcom("trigger_with_json")
    assert with_json["text"] == run.run_id.upper()
    assert (with_json["number"], with_json["items"]) == (10, [3, 2, 1])
    assert with_json["payload"] == {"received": {"k": "v"}}

    document = Path(run.xcom("write_document")).read_text()
    with_file = run.xcom("trigger_with_file")
    assert with_file["words"] == len(document.split())
    assert stored_file(with_file["upper"], airflow_home) == document.upper()

    both = run.xcom("trigger_with_json_and_file")
    assert (both["text"], both["flag"]) == ("JSON AND A FILE", False)
    assert f"document: {len(document)} characters" in stored_file(both["report"], airflow_home)
    for task_id in ("trigger_with_json", "trigger_with_file", "trigger_with_json_and_file"):
        assert_announced(run, task_id, craft_platform.url)


@pytest.mark.parametrize("deferrable", MODES)
def test_start_without_waiting_then_sensor(
    run_dag, deferrable, trigger_runs, craft_platform, example_dags, monkeypatch
):
    # The example sleeps 2 s; the next task can take longer than that to start (18 s was seen on
    # a loaded machine), and the sensor would then find the execution already ended and never
    # defer. Only the deferrable case asserts it deferred, so only it runs long.
    seconds = 30 if deferrable else 6
    start = example_dags["craft_run_then_sense"].task_dict["start_slow_pipeline"]
    monkeypatch.setattr(start, "inputs", {**start.inputs, "seconds": seconds})
    run = run_dag("craft_run_then_sense", deferrable=deferrable)
    assert run.state == "success", run.task_states

    execution_id = run.xcom("start_slow_pipeline")
    assert execution_id.startswith("slow-")
    assert run.xcom("start_slow_pipeline", "execution_id") == execution_id
    assert assert_announced(run, "wait_for_slow_pipeline", craft_platform.url) == execution_id
    assert run.xcom("wait_for_slow_pipeline") == {"slept": seconds}
    assert run.xcom("show_outputs") == seconds
    # The slow pipeline is still running when the sensor first looks: deferrable waits in the
    # trigger, the other mode pokes in the worker.
    assert trigger_runs == ([execution_id] if deferrable else [])


@pytest.mark.parametrize("deferrable", MODES)
def test_file_output_chains_into_the_next_file_input(run_dag, deferrable, airflow_home):
    run = run_dag("craft_chain_file_outputs", deferrable=deferrable)
    assert run.state == "success", run.task_states

    document = Path(run.xcom("write_document")).read_text()
    first = run.xcom("count_words")
    second = run.xcom("count_words_of_upper_copy")
    assert first["words"] == second["words"] == len(document.split())
    assert stored_file(first["upper"], airflow_home) == document.upper()
    assert stored_file(second["upper"], airflow_home) == document.upper()
    assert first["upper"] != second["upper"]
    assert run.xcom("count_words", "upper") == first["upper"]  # multiple_outputs=True
    assert run.xcom("count_words", "execution_id") != run.xcom(
        "count_words_of_upper_copy", "execution_id"
    )


@pytest.mark.parametrize("deferrable", MODES)
def test_mapped_runs(run_dag, deferrable, craft_platform):
    run = run_dag("craft_mapped_runs", deferrable=deferrable)
    assert run.state == "success", run.task_states

    words = ["one", "two", "three"]
    ids = set()
    for index, word in enumerate(words):
        outputs = run.xcom("run_all_types", map_index=index)
        assert (outputs["text"], outputs["number"]) == (word.upper(), 2 * (index + 1))
        assert f"/run_all_types/{index}/" in outputs["report"]
        ids.add(assert_announced(run, "run_all_types", craft_platform.url, map_index=index))
    assert len(ids) == 3
    assert run.xcom("collect") == [w.upper() for w in words]


@pytest.mark.parametrize("deferrable", MODES)
def test_failed_execution_fails_the_task_with_message_and_logs(run_dag, deferrable, capfd):
    run = run_dag("craft_failure_handling", deferrable=deferrable)
    # The failure handler is the leaf and succeeds, so the run does too.
    assert run.state == "success"
    assert run.task_states[("run_failing_pipeline", -1)] == "failed"
    execution_id = run.xcom("run_failing_pipeline", "execution_id")
    assert run.xcom("report_failure") == execution_id
    assert ("run_failing_pipeline", -1, "return_value") not in run.xcoms

    out = capfd.readouterr().out
    assert "CraftExecutionFailed" in out
    assert f"ValueError: boom from {run.run_id}" in out
    assert "Last log lines:" in out
    assert "[craft]" in out and "about to fail" in out


@pytest.mark.parametrize(
    ("deferrable", "conf", "taken", "skipped"),
    [
        pytest.param(False, {"epochs": 8}, "promote", "reject", id="worker-wait-promote"),
        pytest.param(True, {"epochs": 1}, "reject", "promote", id="deferrable-reject"),
    ],
)
def test_train_and_promote_branches_on_the_recorded_accuracy(
    run_any_dag, example_dags, deferrable, conf, taken, skipped
):
    dag = example_dags["craft_train_and_promote"]
    run = run_any_dag(dag, deferrable=deferrable, run_conf=conf)
    assert run.state == "success", run.task_states
    metrics = run.xcom("train", "metrics")
    assert set(metrics) == {"accuracy", "loss"}
    assert len(metrics["loss"]) == conf["epochs"]
    assert metrics["loss"] == sorted(metrics["loss"], reverse=True)  # training converges
    assert (metrics["accuracy"] >= 0.9) == (taken == "promote")
    assert run.task_states[(taken, -1)] == "success"
    assert run.task_states[(skipped, -1)] == "skipped"
    assert run.xcom(taken) == run.xcom("train", "execution_id")
