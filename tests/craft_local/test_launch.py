"""Creating an execution from a request: a refused request leaves nothing behind."""

from __future__ import annotations

from platform_kit import Api

from craft_local.server import EmbeddedPlatform


def test_a_refused_run_leaves_no_execution_folder(platform: EmbeddedPlatform, api: Api) -> None:
    executions = platform.data_dir / "executions"
    before = set(executions.iterdir()) if executions.exists() else set()
    refused = api.run("all-types", {"nope": 1}, files={"document": ("d.txt", b"saved first")})
    assert refused.status_code == 400, refused.text
    assert (set(executions.iterdir()) if executions.exists() else set()) == before


def test_an_accepted_run_is_queued_with_its_saved_file(api: Api) -> None:
    done = api.finish("word-count", files={"document": ("d.txt", b"one two")})
    assert done["status"] == "Succeeded"
    document = api.get(f"/api/v1/executions/{done['execution_id']}/inputs/document")
    assert document.content == b"one two"


def _nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = [value]
    return value


def test_an_input_that_could_not_be_read_back_is_refused_by_name(api: Api) -> None:
    for payload_text in ("[" * 300 + "]" * 300, "NaN", "Infinity"):
        form = api.post(
            "/api/v1/pipelines/all-types/run",
            data={"json_inputs": '{"text": "a", "payload": ' + payload_text + "}"},
        )
        assert form.status_code == 400, payload_text
        assert "'json_inputs'" in form.json()["message"]
        body = api.post(
            "/api/v1/pipelines/all-types/run",
            content='{"json_inputs": {"text": "a", "payload": ' + payload_text + "}}",
            headers={"Content-Type": "application/json"},
        )
        assert body.status_code == 400, payload_text
        if payload_text.startswith("["):
            assert "['json_inputs']['payload']" in body.json()["message"]


def test_the_deepest_accepted_input_is_served_back(api: Api) -> None:
    from craft_local.jsontext import MAX_JSON_DEPTH

    deepest = _nested(MAX_JSON_DEPTH - 4)  # json_inputs -> payload -> value: within the limit
    done = api.finish("all-types", {"text": "a", "payload": deepest})
    assert done["status"] == "Succeeded", done
    inputs = {i["pipeline_input_name"]: i.get("value") for i in done["inputs"]}
    assert inputs["payload"] == deepest
    outputs = api.outputs(done["execution_id"])["outputs"]
    assert {o["pipeline_output_name"]: o.get("value") for o in outputs}["payload"] == {
        "received": deepest
    }
