"""The pipeline routes (§4, §5.1): get, create, delete, runs in each encoding."""

from __future__ import annotations

import json
from pathlib import Path

from platform_kit import (
    ECHO,
    Api,
    create_pipeline,
    make_tarball,
    output_values,
    tar_archive,
    tar_member,
)

from craft_local.server import EmbeddedPlatform


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


def test_pipeline_logs_are_answered(api: Api) -> None:
    assert api.post("/api/v1/pipelines/slow/logs", json={}).json() == []


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
    assert output_values(done)["words"] == 3
    assert api.get(f"/api/v1/executions/{first}/inputs/document").content == b"one two three"
    upper = api.get(f"/api/v1/executions/{first}/outputs/upper").content
    assert upper == b"ONE TWO THREE"
    # A file output of one pipeline feeds the file input of another.
    second = api.finish("all-types", {"text": "chained"}, files={"document": ("upper.txt", upper)})
    report = api.get(f"/api/v1/executions/{second['execution_id']}/outputs/report").content
    assert b"document: 13 characters" in report


def test_malicious_archive_over_http(limited: EmbeddedPlatform, tmp_path: Path) -> None:
    api = Api(limited.url, limited.sdk_token)
    archive = tar_archive(tar_member("src/main.py"), tar_member("../../escaped.py"))
    response = api.post(
        "/api/v1/pipelines",
        data={"pipeline_name": "evil", "function_path": "src/main.py", "function_name": "main"},
        files={"step_file": ("s.tgz", archive.getvalue())},
    )
    assert response.status_code == 400
    assert "'..'" in response.json()["message"]
    assert not list(limited.data_dir.parent.rglob("escaped.py"))
    assert api.get("/api/v1/pipelines/evil").status_code == 404


def test_code_larger_than_limit_is_refused(limited: EmbeddedPlatform) -> None:
    api = Api(limited.url, limited.sdk_token)
    response = api.post(
        "/api/v1/pipelines",
        data={"pipeline_name": "big-code", "function_path": "main.py", "function_name": "main"},
        files={"step_file": ("s.tgz", make_tarball({"main.py": "#" * 6000}))},
    )
    assert response.status_code == 400
    assert "larger than 5000" in response.json()["message"]
