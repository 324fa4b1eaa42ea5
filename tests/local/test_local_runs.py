"""Runs and executions (§5): encodings, validation, mappings, outputs, logs, long-poll."""

from __future__ import annotations

import json
import time

import pytest
from platform_kit import Api, create_pipeline, wait_until

from craft_airflow.local.server import EmbeddedPlatform


def _values(execution: dict) -> dict:
    return {o["pipeline_output_name"]: o.get("value") for o in execution["outputs"]}


def test_run_form_urlencoded_applies_defaults(api: Api) -> None:
    response = api.post(
        "/api/v1/pipelines/all-types/run",
        data={"json_inputs": json.dumps({"text": "hello", "items": [1, "b"]})},
    )
    assert response.status_code == 200
    assert response.request.headers["content-type"] == "application/x-www-form-urlencoded"
    execution_id = response.json()["execution_id"]
    assert execution_id.startswith("all-types-") and len(execution_id) > len("all-types-")
    outputs = api.outputs(execution_id)
    values = {o["pipeline_output_name"]: o for o in outputs["outputs"]}
    assert values["text"]["value"] == "HELLO"
    assert values["number"]["value"] == 2  # default 1, doubled
    assert values["flag"]["value"] is True
    assert values["payload"]["value"] == {"received": {}}
    assert values["items"]["value"] == ["b", 1]
    assert values["report"]["mapping_type"] == "run" and "value" not in values["report"]
    report = api.get(f"/api/v1/executions/{execution_id}/outputs/report")
    assert report.headers["content-type"] == "application/octet-stream"
    assert b"text: hello" in report.content
    assert api.get(f"/api/v1/executions/{execution_id}/outputs/number").json() == 2


def test_run_multipart_with_file_and_chain_file_output(api: Api) -> None:
    first = api.start("word-count", files={"document": ("doc.txt", b"one two three")})
    done = api.wait_for(first)
    assert done["status"] == "Succeeded"
    assert _values(done)["words"] == 3
    assert api.get(f"/api/v1/executions/{first}/inputs/document").content == b"one two three"
    upper = api.get(f"/api/v1/executions/{first}/outputs/upper").content
    assert upper == b"ONE TWO THREE"
    # A file output of one pipeline feeds the file input of another.
    second = api.finish("all-types", {"text": "chained"}, files={"document": ("upper.txt", upper)})
    report = api.get(f"/api/v1/executions/{second['execution_id']}/outputs/report").content
    assert b"document: 13 characters" in report


@pytest.mark.parametrize(
    ("inputs", "files", "expected"),
    [
        ({"text": "a", "nope": 1}, None, "Unknown input 'nope'"),
        ({}, None, "Missing required input 'text'"),
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
    values = _values(done)
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
    assert _values(second)["words"] == 2
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


def test_long_poll_answers_307_to_itself_then_200(api: Api) -> None:
    execution_id = api.start("slow", {"seconds": 1.5})
    path = f"/api/v1/executions/{execution_id}/outputs?wait_for_completion=true"
    started = time.monotonic()
    response = api.get(path)
    assert response.status_code == 307
    assert time.monotonic() - started >= 0.4  # held for --long-poll-seconds 0.5
    assert response.headers["location"] == path
    assert response.content == b""
    outputs = api.outputs(execution_id)
    assert outputs["outputs"][0]["value"] == 1.5


def test_logs_stream_while_running_and_filters(api: Api) -> None:
    execution_id = api.start("slow", {"seconds": 2})
    logs_path = f"/api/v1/executions/{execution_id}/logs"

    def running_with_logs() -> bool:
        body = api.post(logs_path, json={}).json()
        return api.execution(execution_id)["status"] == "Running" and len(body[0]) >= 1

    wait_until(running_with_logs, 10, "logs of a running execution")
    api.wait_for(execution_id)
    logs = api.post(logs_path, json={}).json()
    assert len(logs) == 1 and len(logs[0]) >= 3
    assert all(set(line) == {"timestamp", "message"} for line in logs[0])
    assert logs[0][0]["message"].startswith("still working")
    assert len(api.post(logs_path, json={"limit": 2}).json()[0]) == 2
    assert api.post(logs_path, json={"from": int(time.time() * 1000) + 60_000}).json() == [[]]
    assert api.post(logs_path, json={"to": 0}).json() == [[]]
    assert api.post(logs_path, json={"limit": "x"}).status_code == 400


def test_failing_pipeline(api: Api) -> None:
    done = api.finish("failing", {"message": "broken on purpose"})
    assert done["status"] == "Failed"
    assert done["end_date"] is not None
    assert done["error"]["message"] == "ValueError: broken on purpose"
    messages = [
        line["message"]
        for line in api.post(f"/api/v1/executions/{done['execution_id']}/logs", json={}).json()[0]
    ]
    assert "about to fail" in messages
    assert any(m.startswith("Traceback") for m in messages)
    outputs = api.outputs(done["execution_id"])
    assert outputs["outputs"] == [] and outputs["status"] == "Failed"
    assert api.get(f"/api/v1/executions/{done['execution_id']}/outputs/never").status_code == 409


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("return {'n': 'seven'}", "output 'n' must be a number"),
        ("return {}", "did not return the declared output(s) 'n'"),
        ("return {'n': 1, 'extra': 2}", "undeclared output(s) 'extra'"),
        ("return 3", "must return a dict"),
        ("return {'n': object()}", "not JSON values"),
    ],
)
def test_output_validation(api: Api, body: str, expected: str) -> None:
    name = f"bad-out-{abs(hash(body)) % 10**6}"
    created = create_pipeline(
        api, name, f"def main():\n    {body}\n", outputs=[{"name": "n", "data_type": "number"}]
    )
    assert created.status_code == 200, created.text
    done = api.finish(name)
    assert done["status"] == "Failed"
    assert expected in done["error"]["message"]


def test_environment_of_the_child(api: Api) -> None:
    code = (
        "import os\n"
        "def main():\n"
        "    return {'id': os.environ['CRAFT_AI_EXECUTION_ID'], 'cwd': os.getcwd(),\n"
        "            'leak': [k for k in os.environ if k.startswith('CRAFT_LOCAL_')]}\n"
    )
    outputs = [
        {"name": "id", "data_type": "string"},
        {"name": "cwd", "data_type": "string"},
        {"name": "leak", "data_type": "array"},
    ]
    assert create_pipeline(api, "env-probe", code, outputs=outputs).status_code == 200
    done = api.finish("env-probe")
    values = _values(done)
    assert values["id"] == done["execution_id"]
    assert values["leak"] == []  # the SDK token never reaches pipeline code
    assert done["execution_id"] in values["cwd"]


def test_list_get_without_values_and_delete(api: Api) -> None:
    done = api.finish("all-types", {"text": "listed"})
    execution_id = done["execution_id"]
    listed = api.get("/api/v1/pipelines/all-types/executions").json()
    row = next(r for r in listed if r["execution_id"] == execution_id)
    assert set(row) == {
        "execution_id",
        "status",
        "created_at",
        "created_by",
        "end_date",
        "pipeline_name",
        "deployment_name",
    }
    bare = api.get(f"/api/v1/executions/{execution_id}?include_io_values=false").json()
    assert all("value" not in item for item in bare["inputs"] + bare["outputs"])
    assert bare["steps"][0]["status"] == "Succeeded"
    assert api.delete(f"/api/v1/executions/{execution_id}").json() == {"execution_id": execution_id}
    assert api.get(f"/api/v1/executions/{execution_id}").status_code == 404


def test_deleting_a_running_execution_stops_it(api: Api, platform: EmbeddedPlatform) -> None:
    execution_id = api.start("slow", {"seconds": 30})
    api.wait_for(execution_id, {"Running"})
    assert api.delete(f"/api/v1/executions/{execution_id}").status_code == 200
    assert api.get(f"/api/v1/executions/{execution_id}").status_code == 404
    assert not (platform.data_dir / "executions" / execution_id).exists() or wait_until(
        lambda: not (platform.data_dir / "executions" / execution_id).exists(), 5
    )
