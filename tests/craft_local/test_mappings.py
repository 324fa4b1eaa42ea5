"""Inputs and outputs of an execution from a run or an endpoint call: validation, mappings,
sizes."""

from __future__ import annotations

import pytest
from platform_kit import (
    ALL_TYPES_TOKEN,
    Api,
    create_pipeline,
    endpoint_results,
    output_values,
    trigger_endpoint,
)

from craft_local.server import EmbeddedPlatform


@pytest.mark.parametrize(
    ("inputs", "files", "expected"),
    [
        ({"text": "a", "nope": 1}, None, "Unknown input 'nope'"),
        ({}, None, "Input 'text' is required: expected a string (string)."),
        ({"text": None}, None, "Input 'text' is required: expected a string (string), got null."),
        ({"text": "a", "number": "3"}, None, "'number': expected a number"),
        ({"text": "a", "number": True}, None, "'number': expected a number"),
        ({"text": "a", "flag": 1}, None, "'flag': expected a boolean"),
        ({"text": 5}, None, "'text': expected a string"),
        ({"text": "a", "items": {"a": 1}}, None, "'items': expected a JSON array"),
        ({"text": "a", "document": "x"}, None, "'document' is a file"),
        ({}, {"text": ("t.txt", b"x")}, "'text' expects a string"),
    ],
)
def test_validation_messages(api: Api, inputs: dict, files: dict | None, expected: str) -> None:
    response = api.run("all-types", inputs, files=files)
    assert response.status_code == 400, response.text
    assert expected in response.json()["message"]


def test_non_file_inputs_over_60000_bytes_are_refused(api: Api) -> None:
    ok = api.run("all-types", {"text": "x" * 59_000})
    assert ok.status_code == 200
    too_big = api.run("all-types", {"text": "x" * 60_001})
    assert too_big.status_code == 400
    assert too_big.json()["name"] == "InputsTooLarge"


def test_input_mappings_constant_env_and_null(api: Api) -> None:
    assert (
        api.put(
            "/api/v1/environment-variables", json={"environment_variables": {"GREETING": "bonjour"}}
        ).status_code
        == 200
    )
    assert {"name": "GREETING", "value": "bonjour"} in api.get(
        "/api/v1/environment-variables"
    ).json()
    done = api.finish(
        "all-types",
        {},
        inputs_mapping=[
            {"pipeline_input_name": "text", "environment_variable_name": "GREETING"},
            {"pipeline_input_name": "number", "constant_value": 21},
            {"pipeline_input_name": "payload", "is_null": True},
        ],
        outputs_mapping=[{"pipeline_output_name": "items", "is_null": True}],
    )
    assert done["status"] == "Succeeded", done
    values = output_values(done)
    assert values["text"] == "BONJOUR"
    assert values["number"] == 42
    assert values["payload"] == {"received": None}
    assert values["items"] is None
    sources = {
        i["pipeline_input_name"]: (i["mapping_type"], i["mapping_value"]) for i in done["inputs"]
    }
    assert sources["text"] == ("environment_variable", {"environment_variable_name": "GREETING"})
    assert sources["number"] == ("constant", {"constant_value": 21})
    assert sources["payload"] == ("is_null", {"is_null": True})
    deleted = api.delete("/api/v1/environment-variables/GREETING")
    assert deleted.json() == {"name": "GREETING", "value": "bonjour"}
    missing = api.run(
        "all-types",
        {},
        inputs_mapping=[{"pipeline_input_name": "text", "environment_variable_name": "GREETING"}],
    )
    assert missing.status_code == 400
    assert "GREETING" in missing.json()["message"]


def test_datastore_output_then_input(api: Api, platform: EmbeddedPlatform) -> None:
    first = api.finish(
        "word-count",
        files={"document": ("d.txt", b"a b")},
        outputs_mapping=[
            {"pipeline_output_name": "upper", "datastore_path": "out/{execution_id}.txt"}
        ],
    )
    stored = platform.data_dir / "datastore" / "out" / f"{first['execution_id']}.txt"
    assert stored.read_bytes() == b"A B"
    second = api.finish(
        "word-count",
        inputs_mapping=[
            {
                "pipeline_input_name": "document",
                "datastore_path": f"out/{first['execution_id']}.txt",
            }
        ],
    )
    assert output_values(second)["words"] == 2
    bad = api.run(
        "word-count", inputs_mapping=[{"pipeline_input_name": "document", "datastore_path": "../x"}]
    )
    assert bad.status_code == 400


@pytest.mark.parametrize(
    "mapping",
    [
        {"pipeline_input_name": ["document"], "is_null": True},
        {"pipeline_input_name": "document", "datastore_path": 5},
        {"pipeline_input_name": "document", "environment_variable_name": ["X"]},
    ],
)
def test_mapping_values_of_the_wrong_type_are_400(api: Api, mapping: dict) -> None:
    response = api.run("word-count", inputs_mapping=[mapping])
    assert response.status_code == 400, response.text


def test_endpoint_input_name_must_be_a_string(api: Api) -> None:
    mapping = {"pipeline_input_name": "document", "endpoint_input_name": []}
    body = {"pipeline_name": "word-count", "name": "bad-mapping", "inputs_mapping": [mapping]}
    response = api.post("/api/v1/endpoints", json=body)
    assert response.status_code == 400, response.text
    assert response.json()["message"] == "endpoint_input_name of 'document' must be a string."


def test_mappings_rename_constant_and_defaults(platform: EmbeddedPlatform, api: Api) -> None:
    created = api.post(
        "/api/v1/endpoints",
        json={
            "pipeline_name": "all-types",
            "name": "renamed-endpoint",
            "endpoint_url_path": "renamed",
            "inputs_mapping": [
                {
                    "pipeline_input_name": "text",
                    "endpoint_input_name": "message",
                    "default_value": "fallback",
                },
                {"pipeline_input_name": "number", "constant_value": 50},
                {"pipeline_input_name": "document", "is_null": True},
            ],
            "outputs_mapping": [
                {"pipeline_output_name": "text", "endpoint_output_name": "shout"},
                {"pipeline_output_name": "report", "is_null": True},
            ],
        },
    )
    assert created.status_code == 200, created.text
    token = created.json()["endpoint_token"]
    assert len(token) >= 16
    execution_id = trigger_endpoint(platform, "renamed", token, json={}).json()["execution_id"]
    outputs = endpoint_results(platform, "renamed", execution_id, token).json()["outputs"]
    assert outputs["shout"] == {"value": "FALLBACK"}
    assert outputs["number"] == {"value": 100}
    assert "report" not in outputs and "text" not in outputs
    refused = trigger_endpoint(platform, "renamed", token, json={"number": 1})
    assert refused.status_code == 400
    # An error names the endpoint input the caller sent, not the pipeline input it fills.
    wrong = trigger_endpoint(platform, "renamed", token, json={"message": 3})
    assert wrong.status_code == 400
    assert wrong.json()["message"] == (
        "Invalid value for endpoint input 'message': expected a string (string), got a number."
    )


UNDECLARED_REQUIREMENT = (
    "def main(n=7, label='none'):\n    return {'n': -1 if n is None else n, 'label': label}\n"
)


def test_an_input_declared_without_is_required_is_optional(
    platform: EmbeddedPlatform, api: Api
) -> None:
    created = create_pipeline(
        api,
        "loose-inputs",
        UNDECLARED_REQUIREMENT,
        inputs=[
            {"name": "n", "data_type": "number"},
            {"name": "label", "data_type": "string", "is_required": True},
        ],
        outputs=[{"name": "n", "data_type": "number"}, {"name": "label", "data_type": "string"}],
    )
    assert created.status_code == 200, created.text
    # A run may leave it out (the function's own default applies) or give null...
    assert output_values(api.finish("loose-inputs", {"label": "a"})) == {"n": 7, "label": "a"}
    assert output_values(api.finish("loose-inputs", {"label": "b", "n": None}))["n"] == -1
    # ...but not the input declared is_required.
    missing = api.run("loose-inputs", {"n": 1})
    assert missing.status_code == 400
    assert missing.json()["message"] == "Input 'label' is required: expected a string (string)."
    # An endpoint of the pipeline inherits both.
    endpoint = api.post(
        "/api/v1/endpoints", json={"pipeline_name": "loose-inputs", "name": "loose-endpoint"}
    )
    assert endpoint.status_code == 200, endpoint.text
    mappings = {m["pipeline_input_name"]: m for m in endpoint.json()["inputs_mapping"]}
    assert mappings["n"]["is_required"] is False and mappings["label"]["is_required"] is True
    token = endpoint.json()["endpoint_token"]
    started = trigger_endpoint(platform, "loose-endpoint", token, json={"label": "c"})
    assert started.status_code == 200, started.text
    refused = trigger_endpoint(platform, "loose-endpoint", token, json={"n": 1})
    assert refused.status_code == 400
    assert refused.json()["message"] == (
        "Endpoint input 'label' is required: expected a string (string)."
    )


def test_endpoint_input_validation(platform: EmbeddedPlatform) -> None:
    unknown = trigger_endpoint(
        platform, "all-types-endpoint", ALL_TYPES_TOKEN, json={"text": "x", "zzz": 1}
    )
    assert unknown.status_code == 400
    assert unknown.json()["message"].startswith(
        "Unknown endpoint input 'zzz'; this endpoint accepts: document, flag, items,"
    )
    missing = trigger_endpoint(platform, "all-types-endpoint", ALL_TYPES_TOKEN, json={})
    assert missing.status_code == 400
    assert missing.json()["message"] == (
        "Endpoint input 'text' is required: expected a string (string)."
    )
    assert missing.json()["additional_data"] == {"input_name": "text"}
    wrong = trigger_endpoint(
        platform, "all-types-endpoint", ALL_TYPES_TOKEN, json={"text": "x", "number": "1"}
    )
    assert wrong.status_code == 400
    assert wrong.json()["message"] == (
        "Invalid value for endpoint input 'number': expected a number (number), got a string."
    )
    not_object = trigger_endpoint(platform, "all-types-endpoint", ALL_TYPES_TOKEN, json=[1])
    assert not_object.status_code == 400
