"""Pipeline definitions: flattened multipart fields, declared types, input and output names."""

from __future__ import annotations

import pytest
from platform_kit import (
    ECHO,
    Api,
    create_pipeline,
    make_tarball,
)


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
