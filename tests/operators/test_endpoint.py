"""CraftTriggerEndpointOperator: route choice, JSON and file inputs, outputs by endpoint name."""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.sdk import ObjectStoragePath
from craft_fakes import FakeHook, FakeTaskInstance, make_context, use_hook

from craft_airflow.connection import CraftConnectionConfig
from craft_airflow.errors import CraftInputError
from craft_airflow.operators.endpoint import CraftTriggerEndpointOperator
from craft_airflow.protocol.outcomes import OutcomeStatus, WaitOutcome
from craft_airflow.protocol.statuses import ExecutionStatus

SUCCESS = WaitOutcome(OutcomeStatus.SUCCESS, "wc-1", ExecutionStatus.SUCCEEDED, "ok")


def config(**kwargs) -> CraftConnectionConfig:
    return CraftConnectionConfig(environment_url="https://env.example", **kwargs)


def operator(**kwargs) -> CraftTriggerEndpointOperator:
    kwargs.setdefault("task_id", "trigger")
    kwargs.setdefault("endpoint_name", "wc")
    return CraftTriggerEndpointOperator(**kwargs)


def test_rejects_an_empty_endpoint_name():
    with pytest.raises(ValueError, match="endpoint_name"):
        operator(endpoint_name="")


def test_no_token_among_template_fields():
    fields = CraftTriggerEndpointOperator.template_fields
    assert {"endpoint_name", "inputs", "files"} <= set(fields)
    assert not [f for f in fields if "token" in f]


def test_endpoint_token_route_with_json_and_file(tmp_path: Path):
    doc = tmp_path / "doc.txt"
    doc.write_text("a b c")
    op = operator(
        inputs={"n": 3, "tags": ["x"]}, files={"document": str(doc)}, wait_for_results=False
    )
    hook = use_hook(
        op,
        FakeHook(config=config(sdk_token="sdk", endpoint_tokens={"wc": "wc-token"})),
    )
    hook.deployment = {"endpoint_url_path": "wc-path", "inputs_mapping": []}
    assert op.execute(make_context()) == "wc-1"
    ((args, kwargs),) = hook.called("trigger_endpoint")
    assert args == ("wc",)
    assert kwargs["endpoint_url_path"] == "wc-path"
    assert kwargs["inputs"] == {"n": 3, "tags": ["x"]}
    assert hook.sent_files["document"][:2] == ("doc.txt", b"a b c")
    assert not hook.called("trigger_deployment")


def test_sdk_token_route_when_no_endpoint_token():
    op = operator(inputs={"document": b"raw bytes"}, wait_for_results=False)
    hook = use_hook(op, FakeHook(config=config(sdk_token="sdk")))
    op.execute(make_context())
    ((args, kwargs),) = hook.called("trigger_deployment")
    assert args == ("wc",) and kwargs["inputs"] == {}
    assert hook.sent_files["document"][:2] == ("document", b"raw bytes")


def test_declared_file_inputs_given_as_strings_are_sent_as_files(tmp_path: Path):
    doc = tmp_path / "in.txt"
    doc.write_text("hello")
    op = operator(inputs={"document": doc.as_uri(), "label": "x"}, wait_for_results=False)
    hook = use_hook(op, FakeHook(config=config(sdk_token="sdk")))
    hook.deployment = {
        "inputs_mapping": [
            {
                "pipeline_input_name": "document",
                "endpoint_input_name": "document",
                "data_type": "file",
            },
            {"pipeline_input_name": "label", "endpoint_input_name": "label", "data_type": "string"},
        ]
    }
    op.execute(make_context())
    ((_, kwargs),) = hook.called("trigger_deployment")
    assert kwargs["inputs"] == {"label": "x"}
    assert hook.sent_files["document"][:2] == ("in.txt", b"hello")


def test_same_input_in_inputs_and_files_is_an_error():
    op = operator(inputs={"document": "x"}, files={"document": b"y"})
    hook = use_hook(op, FakeHook(config=config(sdk_token="sdk")))
    with pytest.raises(CraftInputError, match="'document'"):
        op.execute(make_context())
    assert not hook.called("trigger_deployment")


def test_endpoint_token_only_follows_the_endpoint_results_route():
    op = operator(endpoint_url_path="wc-path", inputs={"n": 1})
    hook = use_hook(
        op,
        FakeHook(
            config=config(default_endpoint_token="default-token"),
            wait_event=SUCCESS,
            endpoint_results={
                "words": {"value": 3},
                "upper": {"url": "https://f/u"},
                "none": {"url": None},
            },
            files={"https://f/u": b"A B C"},
        ),
    )
    ti = FakeTaskInstance()
    result = op.execute(make_context(ti))
    assert not hook.called("get_execution")  # no status call without the SDK token
    ((args, kwargs),) = hook.called("wait_for_endpoint_outcome")  # the results route's path
    assert (args, kwargs["endpoint_token"]) == (("wc-path", "wc-1"), "default-token")
    assert result["words"] == 3 and result["none"] is None
    assert ObjectStoragePath(result["upper"]).read_bytes() == b"A B C"
    assert not hook.called("get_logs")
    assert ti.xcoms["execution_id"] == "wc-1"


def test_with_sdk_token_outputs_are_keyed_by_endpoint_output_name():
    op = operator()
    hook = use_hook(
        op,
        FakeHook(
            config=config(sdk_token="sdk"),
            outputs=[
                {
                    "pipeline_output_name": "words",
                    "data_type": "number",
                    "mapping_type": "endpoint",
                    "mapping_value": {"endpoint_output_name": "word_count"},
                    "value": 3,
                }
            ],
        ),
    )
    hook.statuses["wc-1"] = "Succeeded"
    assert op.execute(make_context()) == {"word_count": 3}


def test_unreadable_deployment_is_optional_with_an_endpoint_token():
    from craft_airflow.errors import CraftAPIError

    def refuse(name):
        raise CraftAPIError(403, "forbidden")

    op = operator(inputs={"n": 1}, wait_for_results=False)
    hook = use_hook(op, FakeHook(config=config(sdk_token="sdk", endpoint_tokens={"wc": "t"})))
    hook.get_deployment = refuse  # type: ignore[method-assign]
    assert op.execute(make_context()) == "wc-1"
    assert hook.called("trigger_endpoint")

    op = operator(inputs={"n": 1}, wait_for_results=False)
    hook = use_hook(op, FakeHook(config=config(sdk_token="sdk")))
    hook.get_deployment = refuse  # type: ignore[method-assign]
    with pytest.raises(CraftAPIError, match="forbidden"):
        op.execute(make_context())
    assert not hook.called("trigger_deployment")
