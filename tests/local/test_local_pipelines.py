"""Pipelines (§4, §9): declared ones, creation from flattened multipart, deletion."""

from __future__ import annotations

import pytest
from platform_kit import Api, create_pipeline, make_tarball

ECHO = (
    "def main(n, flag, label='x'):\n    return {'doubled': n * 2, 'flag': flag, 'label': label}\n"
)


def test_declared_pipelines_are_listed(api: Api) -> None:
    names = {p["pipeline_name"] for p in api.get("/api/v1/pipelines").json()}
    assert {"all-types", "word-count", "slow", "failing"} <= names


def test_get_pipeline_shape_and_wait(api: Api) -> None:
    for suffix in ("", "?wait_for_completion=true"):
        response = api.get(f"/api/v1/pipelines/all-types{suffix}")
        assert response.status_code == 200
        body = response.json()
        assert body["creation_info"]["status"] == "ready"
        inputs = {i["name"]: i for i in body["parameters"]["inputs"]}
        assert inputs["number"] == {"name": "number", "data_type": "number", "default_value": 1}
        assert {i["data_type"] for i in inputs.values()} == {
            "string",
            "number",
            "boolean",
            "json",
            "array",
            "file",
        }


def test_project_information(api: Api) -> None:
    response = api.get("/api/v1/project-information")
    assert response.status_code == 200
    assert "included_folders" in response.json()


def test_create_from_flattened_multipart_parses_types(api: Api) -> None:
    response = create_pipeline(
        api,
        "typed-echo",
        ECHO,
        inputs=[
            {"name": "n", "data_type": "number", "is_required": True},
            {"name": "flag", "data_type": "boolean", "is_required": False, "default_value": False},
            {"name": "label", "data_type": "string", "default_value": "7"},
        ],
        outputs=[
            {"name": "doubled", "data_type": "number"},
            {"name": "flag", "data_type": "boolean"},
            {"name": "label", "data_type": "string"},
        ],
    )
    assert response.status_code == 200, response.text
    inputs = api.get("/api/v1/pipelines/typed-echo").json()["parameters"]["inputs"]
    assert inputs[0]["is_required"] is True
    assert inputs[1] == {
        "name": "flag",
        "data_type": "boolean",
        "is_required": False,
        "default_value": False,
    }
    assert inputs[2]["default_value"] == "7"  # a string default stays a string
    assert api.get("/api/v1/pipelines/typed-echo/executions/latest").status_code == 204
    done = api.finish("typed-echo", {"n": 2.5})
    assert done["status"] == "Succeeded"
    outputs = {o["pipeline_output_name"]: o["value"] for o in done["outputs"]}
    assert outputs == {"doubled": 5.0, "flag": False, "label": "7"}
    latest = api.get("/api/v1/pipelines/typed-echo/executions/latest").json()
    assert latest["execution_id"] == done["execution_id"]


def test_create_conflicts_and_bad_definitions(api: Api) -> None:
    assert create_pipeline(api, "dup-pipeline", ECHO).status_code == 200
    assert create_pipeline(api, "dup-pipeline", ECHO).status_code == 409
    bad_type = create_pipeline(api, "bad-type", ECHO, inputs=[{"name": "n", "data_type": "int"}])
    assert bad_type.status_code == 400
    assert "data_type" in bad_type.json()["message"]
    assert create_pipeline(api, "Bad_Name", ECHO).status_code == 400
    no_code = api.post(
        "/api/v1/pipelines",
        data={"pipeline_name": "no-code", "function_path": "a.py", "function_name": "main"},
    )
    assert no_code.status_code == 400
    assert no_code.json()["name"] == "MissingCode"
    wrong_path = api.post(
        "/api/v1/pipelines",
        data={"pipeline_name": "wrong-path", "function_path": "b.py", "function_name": "main"},
        files={"step_file": ("s.tgz", make_tarball({"a.py": ECHO}))},
    )
    assert wrong_path.status_code == 400
    assert "b.py" in wrong_path.json()["message"]


@pytest.mark.parametrize(
    "fields",
    [
        {"inputs[100000000][name]": "n"},  # would build a list of 10**8 items
        {"inputs[0][name]": "n", "inputs[x]": "m"},
        {"description": "d", "description[0]": "e"},
    ],
)
def test_malformed_flattened_fields_are_400(api: Api, fields: dict[str, str]) -> None:
    base = {"pipeline_name": "malformed", "function_path": "a.py", "function_name": "main"}
    response = api.post(
        "/api/v1/pipelines",
        data={**base, **fields},
        files={"step_file": ("s.tgz", make_tarball({"a.py": ECHO}))},
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith("Malformed form field")


def test_delete_pipeline_with_deployments_needs_force(api: Api) -> None:
    assert create_pipeline(api, "to-delete", ECHO).status_code == 200
    created = api.post(
        "/api/v1/endpoints", json={"pipeline_name": "to-delete", "name": "to-delete-ep"}
    )
    assert created.status_code == 200, created.text
    refused = api.delete("/api/v1/pipelines/to-delete")
    assert refused.status_code == 409
    forced = api.delete("/api/v1/pipelines/to-delete?force_deployments_deletion=True")
    assert forced.status_code == 200
    assert forced.json() == {
        "pipeline": {"name": "to-delete"},
        "deployments": [{"name": "to-delete-ep", "execution_rule": "endpoint"}],
    }
    assert api.get("/api/v1/pipelines/to-delete").status_code == 404
    assert api.get("/api/v1/deployments/to-delete-ep").status_code == 404


def test_pipeline_logs_and_periodic_are_answered(api: Api) -> None:
    assert api.post("/api/v1/pipelines/slow/logs", json={}).json() == []
    periodic = api.post("/api/v1/periodic-deployment", json={"pipeline_name": "slow"})
    assert periodic.status_code == 400
    assert periodic.json()["name"] == "NotSupported"


def test_io_names_are_checked(api: Api) -> None:
    bad_input = create_pipeline(
        api, "bad-input", ECHO, inputs=[{"name": "a-b", "data_type": "string"}]
    )
    assert bad_input.status_code == 400
    assert "Python identifier" in bad_input.json()["message"]
    bad_output = create_pipeline(
        api, "bad-output", ECHO, outputs=[{"name": "../../escape", "data_type": "file"}]
    )
    assert bad_output.status_code == 400
