"""The deployment routes (§6): creation errors, token rotation, SDK-token triggers."""

from __future__ import annotations

import json

import pytest
from platform_kit import (
    Api,
    create_pipeline,
    trigger_endpoint,
)

from craft_local.server import EmbeddedPlatform


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"pipeline_name": "ghost", "name": "ghost-ep"}, 404),
        ({"pipeline_name": "all-types", "name": "all-types-endpoint"}, 409),
        (
            {
                "pipeline_name": "all-types",
                "name": "new-ep",
                "endpoint_url_path": "all-types-endpoint",
            },
            409,
        ),
        (
            {
                "pipeline_name": "all-types",
                "name": "bad-map",
                "inputs_mapping": [{"pipeline_input_name": "nope", "constant_value": 1}],
            },
            400,
        ),
        (
            {
                "pipeline_name": "all-types",
                "name": "bad-const",
                "inputs_mapping": [{"pipeline_input_name": "number", "constant_value": "x"}],
            },
            400,
        ),
        (
            {
                "pipeline_name": "all-types",
                "name": "two-src",
                "inputs_mapping": [
                    {"pipeline_input_name": "number", "constant_value": 1, "is_null": True}
                ],
            },
            400,
        ),
    ],
)
def test_create_deployment_errors(api: Api, body: dict, status: int) -> None:
    response = api.post("/api/v1/endpoints", json=body)
    assert response.status_code == status, response.text


def test_token_rotation(platform: EmbeddedPlatform, api: Api) -> None:
    created = api.post(
        "/api/v1/endpoints",
        json={
            "pipeline_name": "word-count",
            "name": "rotating",
            "endpoint_token": "first-token-123",
        },
    )
    assert created.status_code == 200
    files = {"document": ("d.txt", b"x")}
    assert trigger_endpoint(platform, "rotating", "first-token-123", files=files).status_code == 200
    generated = api.post("/api/v1/endpoints/rotating/generate-new-token")
    new = generated.json()["endpoint_token"]
    assert new != "first-token-123"
    assert trigger_endpoint(platform, "rotating", "first-token-123", files=files).status_code == 401
    assert trigger_endpoint(platform, "rotating", new, files=files).status_code == 200
    chosen = api.post(
        "/api/v1/endpoints/rotating/generate-new-token", data={"endpoint_token": "chosen-token-456"}
    )
    assert chosen.json() == {"endpoint_token": "chosen-token-456"}
    assert trigger_endpoint(platform, "rotating", new, files=files).status_code == 401
    assert api.get("/api/v1/deployments/rotating").json()["endpoint_token"] == "chosen-token-456"
    assert api.delete("/api/v1/deployments/rotating").json() == {
        "name": "rotating",
        "execution_rule": "endpoint",
    }
    assert (
        trigger_endpoint(platform, "rotating", "chosen-token-456", files=files).status_code == 401
    )


def test_trigger_with_sdk_token(api: Api) -> None:
    json_call = api.post("/api/v1/deployments/all-types-endpoint/executions", json={"text": "sdk"})
    assert json_call.status_code == 200
    values = {
        o["pipeline_output_name"]: o
        for o in api.outputs(json_call.json()["execution_id"])["outputs"]
    }
    assert values["text"]["value"] == "SDK"
    assert values["text"]["mapping_type"] == "endpoint"
    multipart = api.post(
        "/api/v1/deployments/all-types-endpoint/executions",
        data={"text": json.dumps("multi")},
        files={"document": ("d.txt", b"abc")},
    )
    assert multipart.status_code == 200, multipart.text
    api.outputs(multipart.json()["execution_id"])
    report = api.get(f"/api/v1/executions/{multipart.json()['execution_id']}/outputs/report")
    assert b"document: 3 characters" in report.content


def test_nested_json_input_through_a_new_deployment(api: Api) -> None:
    code = "def main(x):\n    return {'y': x}\n"
    assert (
        create_pipeline(
            api,
            "ep-typed",
            code,
            inputs=[{"name": "x", "data_type": "json"}],
            outputs=[{"name": "y", "data_type": "json"}],
        ).status_code
        == 200
    )
    created = api.post("/api/v1/endpoints", json={"pipeline_name": "ep-typed", "name": "ep-typed"})
    assert created.status_code == 200
    run = api.post("/api/v1/deployments/ep-typed/executions", json={"x": {"deep": [1, None]}})
    values = api.outputs(run.json()["execution_id"])["outputs"]
    assert values[0]["value"] == {"deep": [1, None]}
