"""craft_airflow.protocol.builders: one request per call, compared with what craft-ai-sdk sends."""

from __future__ import annotations

import io
import json
from urllib.parse import parse_qs

import pytest
from protocol_kit import (
    CONFIG,
    ENV,
    _sdk_input,
    _sdk_output,
    body_of,
    multipart,
    prepare_ours,
    sdk_run_pipeline_request,
    sdk_trigger_endpoint_request,
)

from craft_airflow import CLIENT_ID
from craft_airflow.protocol.builders import (
    build_download_endpoint_file,
    build_endpoint_results,
    build_get_execution,
    build_get_logs,
    build_run_pipeline,
    build_trigger_deployment,
    build_trigger_endpoint,
    build_wait_outputs,
)
from craft_airflow.protocol.http import (
    AuthKind,
    FileInput,
)


@pytest.mark.parametrize(
    "mappings",
    [
        {},
        {
            "inputs_mapping": [{"pipeline_input_name": "n", "constant_value": 3}],
            "outputs_mapping": [{"pipeline_output_name": "o", "is_null": True}],
        },
    ],
)
def test_run_without_files_is_form_urlencoded_exactly_like_the_sdk(mappings):
    inputs = {"n": 3, "s": "x é", "j": {"a": [1, None]}}
    sdk = sdk_run_pipeline_request(
        inputs,
        inputs_mapping=[_sdk_input(m) for m in mappings.get("inputs_mapping", [])] or None,
        outputs_mapping=[_sdk_output(m) for m in mappings.get("outputs_mapping", [])] or None,
    )
    ours = prepare_ours(build_run_pipeline(CONFIG, "my-pipe", inputs=inputs, **mappings))
    assert ours.url == sdk.url == f"{ENV}/api/v1/pipelines/my-pipe/run"
    assert ours.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert body_of(ours) == body_of(sdk)
    fields = parse_qs(body_of(ours).decode())
    assert json.loads(fields["json_inputs"][0]) == inputs
    assert ("inputs_mapping" in fields) == bool(mappings)


def test_run_without_inputs_still_sends_empty_json_inputs():
    ours = prepare_ours(build_run_pipeline(CONFIG, "p"))
    assert body_of(ours) == b"json_inputs=%7B%7D"
    assert body_of(ours) == body_of(sdk_run_pipeline_request({}))


def test_run_with_files_is_multipart_like_the_sdk():
    inputs = {"n": 3}
    sdk = sdk_run_pipeline_request({"n": 3, "doc": io.BytesIO(b"file-bytes")}, file_inputs=("doc",))
    request = build_run_pipeline(
        CONFIG, "my-pipe", inputs=inputs, files={"doc": FileInput("doc", io.BytesIO(b"file-bytes"))}
    )
    ours = prepare_ours(request)
    assert ours.headers["Content-Type"].startswith("multipart/form-data")
    expected = multipart(sdk.headers["Content-Type"], body_of(sdk))
    assert expected == [("doc", "doc", b"file-bytes"), ("json_inputs", None, b'{"n": 3}')]
    assert multipart(ours.headers["Content-Type"], body_of(ours)) == expected


@pytest.mark.parametrize(
    "case",
    ["params", "nothing", "files", "both"],
)
def test_endpoint_trigger_body_matches_the_sdk(monkeypatch, case):
    params = {"n": 3, "s": "x", "flag": True} if case in ("params", "both") else {}
    files = {"doc": b"pdf-bytes"} if case in ("files", "both") else {}
    sdk = sdk_trigger_endpoint_request(monkeypatch, {**params, **files})
    request = build_trigger_endpoint(
        CONFIG,
        "my-path",
        "ep-secret-token-2",
        inputs=params,
        files={k: FileInput(k, io.BytesIO(v)) for k, v in files.items()},
    )
    ours = prepare_ours(request)
    assert ours.url == sdk.url == f"{ENV}/endpoints/my-path"
    assert ours.headers["Authorization"] == sdk.headers["Authorization"]
    assert request.auth == AuthKind.NONE
    if not files:
        assert ours.headers["Content-Type"] == "application/json"
        assert json.loads(body_of(ours)) == json.loads(body_of(sdk)) == params
    else:
        expected = multipart(sdk.headers["Content-Type"], body_of(sdk))
        assert multipart(ours.headers["Content-Type"], body_of(ours)) == expected
        if params:
            assert ("s", None, b'"x"') in expected  # JSON-dumped text parts


def test_deployment_trigger_uses_the_bearer_route():
    request = build_trigger_deployment(CONFIG, "my-dep", inputs={"n": 1})
    assert request.url == f"{ENV}/api/v1/deployments/my-dep/executions"
    assert request.auth == AuthKind.BEARER
    assert request.creates_execution and not request.idempotent
    assert request.json == {"n": 1}


def test_read_only_urls_and_flags():
    wait = build_wait_outputs(CONFIG, "ex-1")
    assert (
        prepare_ours(wait).url == f"{ENV}/api/v1/executions/ex-1/outputs?wait_for_completion=true"
    )
    assert wait.long_poll and wait.idempotent
    get = build_get_execution(CONFIG, "ex-1")
    assert prepare_ours(get).url == f"{ENV}/api/v1/executions/ex-1?include_io_values=false"
    assert prepare_ours(build_get_execution(CONFIG, "ex-1", include_io_values=True)).url == (
        f"{ENV}/api/v1/executions/ex-1"
    )
    logs = prepare_ours(build_get_logs(CONFIG, "ex-1"))
    assert logs.method == "POST" and body_of(logs) == b"{}"
    results = build_endpoint_results(CONFIG, "my-path", "ex-1", "t/k=n&x")
    assert prepare_ours(results).url == (
        f"{ENV}/endpoints/v1/my-path/executions/ex-1?token=t%2Fk%3Dn%26x"
    )
    assert results.long_poll and results.auth == AuthKind.NONE
    assert "t/k=n" not in repr(results) and "t/k=n" not in results.describe()
    download = build_download_endpoint_file(CONFIG, f"{ENV}/endpoints/v1/p/executions/e/o", "tok")
    assert prepare_ours(download).url == f"{ENV}/endpoints/v1/p/executions/e/o?token=tok"
    assert download.stream


def test_endpoint_token_is_never_sent_to_another_host():
    elsewhere = build_download_endpoint_file(CONFIG, "https://files.example.com/o/report", "tok")
    assert prepare_ours(elsewhere).url == "https://files.example.com/o/report"


def test_the_transport_adds_the_bearer_and_names_the_client():
    headers = build_get_execution(CONFIG, "e").all_headers("jwt-value", "craft-airflow@9")
    assert headers["Authorization"] == "Bearer jwt-value"
    assert headers["craft-ai-client"] == "craft-airflow@9"
    assert prepare_ours(build_get_execution(CONFIG, "e")).headers["craft-ai-client"] == CLIENT_ID
