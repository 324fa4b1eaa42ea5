"""craft-ai-sdk 0.74.7 against the embedded platform: pipelines, runs and executions."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from craft_ai_sdk import CraftAiSdk, InputSource, OutputDestination
from craft_ai_sdk.exceptions import SdkException
from craft_ai_sdk.io import Input, Output

CODE = """
import os


def summarise(n, doc, greeting="hi", options=None):
    print(f"summarising with n={n}")
    with open(doc["path"]) as f:
        text = f.read()
    with open("copy.txt", "w") as f:
        f.write(text[::-1])
    return {
        "total": n + len(text.split()),
        "shout": f"{greeting.upper()} {os.environ.get('CRAFT_AI_EXECUTION_ID', '')}",
        "copy": {"path": "copy.txt"},
        "echo": options,
    }
"""


@pytest.fixture(scope="module")
def summarise(sdk: CraftAiSdk, tmp_path_factory: pytest.TempPathFactory) -> str:
    folder = tmp_path_factory.mktemp("sdk-code")
    (folder / "src").mkdir()
    (folder / "src" / "main.py").write_text(CODE)
    (folder / "README.md").write_text("not sent: only the function file and included folders")
    pipeline = sdk.create_pipeline(
        pipeline_name="sdk-summarise",
        function_path="src/main.py",
        function_name="summarise",
        description="created by the conformance suite",
        container_config={"local_folder": str(folder)},
        inputs=[
            Input("n", "number", is_required=True),
            Input("doc", "file", description="a text file"),
            Input("greeting", "string", default_value="hi"),
            Input("options", "json", is_required=False, default_value={"a": 1}),
        ],
        outputs=[
            Output("total", "number"),
            Output("shout", "string"),
            Output("copy", "file"),
            Output("echo", "json"),
        ],
    )
    assert pipeline["creation_info"]["status"] == "ready"
    assert pipeline["creation_info"]["last_execution_id"] is None
    inputs = {i["name"]: i for i in pipeline["parameters"]["inputs"]}
    assert inputs["n"]["is_required"] is True
    assert inputs["greeting"]["default_value"] == "hi"
    assert inputs["options"]["default_value"] == {"a": 1}
    assert inputs["doc"]["description"] == "a text file"
    return "sdk-summarise"


def test_list_and_get_pipelines(sdk: CraftAiSdk, summarise: str) -> None:
    names = {p["pipeline_name"] for p in sdk.list_pipelines()}
    assert {"all-types", "word-count", summarise} <= names
    assert sdk.get_pipeline("all-types")["parameters"]["function_name"] == "all_types"


def test_run_with_json_and_file_inputs(sdk: CraftAiSdk, summarise: str, tmp_path: Path) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text("three small words")
    result = sdk.run_pipeline(summarise, inputs={"n": 2, "doc": str(doc), "options": [1, 2]})
    execution_id = result["execution_id"]
    assert execution_id.startswith(f"{summarise}-")
    assert result["outputs"]["total"] == 5
    assert result["outputs"]["shout"] == f"HI {execution_id}"
    assert result["outputs"]["copy"] == b"sdrow llams eerht"
    assert result["outputs"]["echo"] == [1, 2]
    from_bytes = sdk.run_pipeline(summarise, inputs={"n": 0, "doc": b"a b"})
    assert from_bytes["outputs"]["total"] == 2
    assert from_bytes["outputs"]["echo"] == {"a": 1}


def test_mappings_constant_env_var_and_null_output(sdk: CraftAiSdk, summarise: str) -> None:
    sdk.create_or_update_environment_variable("SDK_GREETING", "salut")
    try:
        assert {"name": "SDK_GREETING", "value": "salut"} in sdk.list_environment_variables()
        result = sdk.run_pipeline(
            summarise,
            inputs={"doc": io.BytesIO(b"x y z")},
            inputs_mapping=[
                InputSource(pipeline_input_name="n", constant_value=10),
                InputSource(
                    pipeline_input_name="greeting", environment_variable_name="SDK_GREETING"
                ),
            ],
            outputs_mapping=[OutputDestination(pipeline_output_name="copy", is_null=True)],
        )
    finally:
        sdk.delete_environment_variable("SDK_GREETING")
    assert result["outputs"]["total"] == 13
    assert result["outputs"]["shout"].startswith("SALUT ")
    assert result["outputs"]["copy"] is None
    execution = sdk.get_pipeline_execution(result["execution_id"])
    sources = {i["pipeline_input_name"]: i for i in execution["inputs"]}
    assert sources["n"]["source"] == "constant" and sources["n"]["constant_value"] == 10
    assert sources["greeting"]["source"] == "environment_variable"
    assert sources["greeting"]["environment_variable_name"] == "SDK_GREETING"
    destinations = {o["pipeline_output_name"]: o for o in execution["outputs"]}
    assert destinations["copy"]["destination"] == "is_null"


def test_execution_details_logs_outputs_and_delete(sdk: CraftAiSdk, summarise: str) -> None:
    execution_id = sdk.run_pipeline(summarise, inputs={"n": 1, "doc": b"hello world"})[
        "execution_id"
    ]
    execution = sdk.get_pipeline_execution(execution_id)
    assert execution["status"] == "Succeeded"
    assert execution["pipeline_name"] == summarise
    assert execution["end_date"] is not None
    inputs = {i["pipeline_input_name"]: i for i in execution["inputs"]}
    assert inputs["doc"]["value"] == b"hello world"
    assert inputs["n"]["value"] == 1 and inputs["n"]["source"] == "run"
    outputs = {o["pipeline_output_name"]: o for o in execution["outputs"]}
    assert outputs["copy"]["value"] == b"dlrow olleh"
    logs = sdk.get_pipeline_execution_logs(execution_id)
    assert [line["message"] for line in logs] == ["summarising with n=1"]
    output = sdk.get_pipeline_execution_output(execution_id, "copy")
    assert output["value"] == b"dlrow olleh" and output["destination"] == "run"
    assert sdk.get_pipeline_execution_output(execution_id, "total")["value"] == 3
    assert sdk.get_pipeline_execution_input(execution_id, "doc")["value"] == b"hello world"
    listed = [e["execution_id"] for e in sdk.list_pipeline_executions(summarise)]
    assert execution_id in listed
    assert sdk.get_pipeline(summarise)["creation_info"]["last_execution_id"] == execution_id
    assert sdk.delete_pipeline_execution(execution_id) == {"execution_id": execution_id}
    with pytest.raises(SdkException) as missing:
        sdk.get_pipeline_execution(execution_id)
    assert missing.value.status_code == 404


def test_invalid_input_is_an_sdk_error(sdk: CraftAiSdk, summarise: str) -> None:
    with pytest.raises(SdkException) as error:
        sdk.run_pipeline(summarise, inputs={"n": "two", "doc": b"x"})
    assert error.value.status_code == 400
    assert "'n'" in error.value.message


def test_failing_pipeline(sdk: CraftAiSdk) -> None:
    # Tolerant outputs answer (§12.4): the run returns no outputs, the execution says Failed.
    result = sdk.run_pipeline("failing", inputs={"message": "conformance failure"})
    assert result["outputs"] == {}
    execution = sdk.get_pipeline_execution(result["execution_id"])
    assert execution["status"] == "Failed"
    assert execution["error"]["message"] == "ValueError: conformance failure"
    logs = [line["message"] for line in sdk.get_pipeline_execution_logs(result["execution_id"])]
    assert "ValueError: conformance failure" in logs


def test_bad_sdk_token_gets_401(craft_platform: object) -> None:
    url = craft_platform.url  # type: ignore[attr-defined]
    bad = CraftAiSdk(
        sdk_token="not-the-token", environment_url=url, control_url=url, verbose_log=False
    )
    with pytest.raises(SdkException) as error:
        bad.list_pipelines()
    assert error.value.status_code == 401


def test_who_am_i(sdk: CraftAiSdk) -> None:
    me = sdk.who_am_i()
    assert me["id"] and me["email"]


def test_data_store_round_trip_and_mappings(sdk: CraftAiSdk, tmp_path: Path) -> None:
    sdk.upload_data_store_object(io.BytesIO(b"stored words here"), "conformance/in.txt")
    info = sdk.get_data_store_object_information("conformance/in.txt")
    assert info["path"] == "conformance/in.txt" and info["size"] == "17.00 B"  # SDK formats it
    assert "conformance/in.txt" in [o["path"] for o in sdk.list_data_store_objects("conformance")]
    result = sdk.run_pipeline(
        "word-count",
        inputs_mapping=[
            InputSource(pipeline_input_name="document", datastore_path="conformance/in.txt")
        ],
        outputs_mapping=[
            OutputDestination(
                pipeline_output_name="upper", datastore_path="conformance/{execution_id}.txt"
            )
        ],
    )
    assert result["outputs"]["words"] == 3
    target = tmp_path / "upper.txt"
    sdk.download_data_store_object(f"conformance/{result['execution_id']}.txt", str(target))
    assert target.read_bytes() == b"STORED WORDS HERE"
    assert sdk.delete_data_store_object("conformance/in.txt") == {"path": "conformance/in.txt"}
    with pytest.raises(SdkException):
        sdk.get_data_store_object_information("conformance/in.txt")


def test_sdk_incremental_log_reads_honour_from_to_and_limit(sdk: CraftAiSdk) -> None:
    # §5.7: from/to are whole milliseconds (the SDK truncates), both bounds included; limit
    # keeps the first lines. The provider's live reading pages on these.
    from datetime import datetime

    result = sdk.run_pipeline("slow", inputs={"seconds": 2})
    lines = sdk.get_pipeline_execution_logs(result["execution_id"])
    assert len(lines) >= 4
    moments = [datetime.fromisoformat(line["timestamp"]) for line in lines]
    assert moments == sorted(moments)
    second = moments[1]

    def messages(**bounds: Any) -> list[str]:
        got = sdk.get_pipeline_execution_logs(result["execution_id"], **bounds)
        return [line["message"] for line in got]

    everything = [line["message"] for line in lines]
    assert messages(from_datetime=second) == everything[1:]
    assert messages(to_datetime=second) == everything[:2]
    assert messages(from_datetime=second, to_datetime=second) == [everything[1]]
    assert messages(from_datetime=second, limit=2) == everything[1:3]
    assert messages(limit=0) == []
