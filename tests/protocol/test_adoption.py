"""craft_airflow.protocol.adoption: finding the execution a creation made."""

from __future__ import annotations

from craft_airflow.protocol.adoption import inputs_match, recent_candidates


def test_recent_candidates_window_and_deployment_filter():
    since = 1_800_000_000.0
    executions = [
        {"execution_id": "old", "created_at": "2027-01-15T07:59:00Z"},
        {"execution_id": "skewed", "created_at": "2027-01-15T07:59:50Z", "deployment_name": "d"},
        {"execution_id": "new", "created_at": "2027-01-15T08:00:05.123Z", "deployment_name": "d"},
        {"execution_id": "nodate"},
        {"execution_id": "other-dep", "created_at": "2027-01-15T08:00:05Z", "deployment_name": "x"},
    ]
    assert since == 1_800_000_000.0  # 2027-01-15T08:00:00Z
    assert recent_candidates(executions, since=since) == ["skewed", "new", "nodate", "other-dep"]
    assert recent_candidates(executions, since=since, deployment_name="d") == ["skewed", "new"]


def test_inputs_match():
    execution = {
        "inputs": [
            {"pipeline_input_name": "n", "value": 3},
            {"pipeline_input_name": "j", "value": {"b": [1, 2], "a": None}},
            {
                "pipeline_input_name": "renamed",
                "mapping_value": {"endpoint_input_name": "q"},
                "value": "x",
            },
            {"pipeline_input_name": "doc", "data_type": "file"},
        ]
    }
    assert inputs_match(execution, {"n": 3, "j": {"a": None, "b": [1, 2]}})
    assert not inputs_match(execution, {"n": 4})
    assert not inputs_match(execution, {"doc": "x"})  # no value shown: no proof
    assert inputs_match(execution, {"q": "x"}, by="endpoint")
    assert not inputs_match(execution, {"q": "x"}, by="pipeline")
    assert inputs_match({"inputs": []}, {})
