"""Declared pipelines (``--pipelines``) and their endpoint deployments."""

from __future__ import annotations

from platform_kit import (
    ALL_TYPES_TOKEN,
    Api,
)


def test_declared_pipelines_are_listed(api: Api) -> None:
    names = {p["pipeline_name"] for p in api.get("/api/v1/pipelines").json()}
    assert {"all-types", "word-count", "slow", "failing"} <= names


def test_declared_deployment_object(api: Api) -> None:
    deployment = api.get("/api/v1/deployments/all-types-endpoint?wait_for_completion=true").json()
    assert deployment["execution_rule"] == "endpoint"
    assert deployment["endpoint_url_path"] == "all-types-endpoint"
    assert deployment["endpoint_token"] == ALL_TYPES_TOKEN
    assert deployment["status"] == "up"
    assert deployment["pipeline"]["name"] == "all-types"
    mapping = {m["pipeline_input_name"]: m for m in deployment["inputs_mapping"]}
    assert mapping["text"] == {
        "pipeline_input_name": "text",
        "data_type": "string",
        "endpoint_input_name": "text",
        "is_required": True,
    }
    assert mapping["number"]["default_value"] == 1
    names = {d["name"] for d in api.get("/api/v1/deployments").json()}
    assert {"all-types-endpoint", "word-count-endpoint"} <= names
