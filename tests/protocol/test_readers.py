"""craft_airflow.protocol.readers: decoding answers and error bodies."""

from __future__ import annotations

import json

import pytest
from protocol_kit import CONFIG

from craft_airflow.errors import (
    CraftAPIError,
    CraftAuthError,
)
from craft_airflow.protocol.readers import (
    decode_body,
    parse_error,
    read_endpoint_results,
    read_execution_id,
    read_logs,
    unwrap_endpoint_output,
)


def test_decode_body_rules():
    assert decode_body(204, b"", "") is None
    assert decode_body(200, b"OK", "text/plain") is None
    assert decode_body(200, b"\x00\x01", "application/octet-stream") == b"\x00\x01"
    assert decode_body(200, b"a,b\n", "text/csv; charset=utf-8") == b"a,b\n"
    assert decode_body(200, b'{"a": 1}', "application/json") == {"a": 1}
    with pytest.raises(CraftAPIError, match="could not decode"):
        decode_body(200, b"<html>oops</html>", "text/html")


def test_parse_error_json_body():
    error = parse_error(
        404,
        json.dumps(
            {"message": "Pipeline 'x' not found", "name": "NotFound", "request_id": "req-9"}
        ),
        "application/json",
        operation="get pipeline 'x'",
    )
    assert type(error) is CraftAPIError
    assert (error.status_code, error.name, error.request_id) == (404, "NotFound", "req-9")
    assert (
        str(error)
        == "[NotFound] get pipeline 'x' failed: Pipeline 'x' not found (request id: req-9)"
    )
    assert "NO_REQUEST_ID" not in str(
        parse_error(400, '{"message":"m","request_id":"NO_REQUEST_ID"}')
    )


@pytest.mark.parametrize(
    ("additional_data", "ends"),
    [
        # What the message already says is not repeated.
        ({"input_name": "count", "expected": "number"}, "expected a number (number)."),
        # What it does not say reads as words, never as raw JSON.
        ({"input_name": "count", "limit": 3}, "(number). (limit: 3)"),
        (
            {"execution_id": "e-1", "allowed": ["a", "b"]},
            '(execution id: e-1; allowed: ["a", "b"])',
        ),
        (["x"], '(["x"])'),
        (None, "(number)."),
    ],
)
def test_parse_error_additional_data_reads_as_words(additional_data, ends):
    body = {
        "message": "Endpoint input 'count' is required: expected a number (number).",
        "name": "MissingInput",
        "additional_data": additional_data,
    }
    error = parse_error(400, json.dumps(body), operation="trigger endpoint 'e'")
    text = str(error)
    assert text.startswith("[MissingInput] trigger endpoint 'e' failed: Endpoint input 'count'")
    assert text.endswith(ends), text
    assert "{" not in text


def test_parse_error_non_json_500_and_html_proxy_page():
    plain = parse_error(500, "Internal Server Error", "text/plain")
    assert "HTTP 500" in str(plain) and "Internal Server Error" in str(plain)
    page = (
        "<html><head><style>body{}</style></head><body><h1>502 Bad Gateway</h1>"
        + ("<p>nginx</p>" * 200)
        + "</body></html>"
    )
    error = parse_error(502, page, "text/html")
    text = str(error)
    assert error.status_code == 502
    assert "502 Bad Gateway" in text and "<h1>" not in text and "body{}" not in text
    assert "text/html" in text and "try again later" in text
    assert len(text) < 500
    assert "empty body" in str(parse_error(503, "", ""))


def test_parse_error_auth_statuses_and_redaction(log_secrets):
    log_secrets(CONFIG.secrets)
    error = parse_error(
        401,
        json.dumps({"message": "bad token sdk-secret-token-1 at /x?token=abc&y=1"}),
        "application/json",
    )
    assert isinstance(error, CraftAuthError)
    assert "sdk-secret-token-1" not in str(error) and "abc" not in str(error)
    assert isinstance(parse_error(403, "{}", ""), CraftAuthError)


def test_readers():
    assert read_execution_id({"execution_id": "e1"}) == "e1"
    assert read_execution_id(None, {"Craft-Ai-Execution-Id": "e2"}) == "e2"
    with pytest.raises(CraftAPIError):
        read_execution_id({}, {})
    nested = [[{"timestamp": "t", "message": "a"}], [{"timestamp": "t", "message": "b"}]]
    assert read_logs(nested) == [{"timestamp": "t", "message": "a"}]
    assert read_logs([]) == []
    assert read_logs([{"message": "flat"}]) == [{"message": "flat"}]
    assert read_endpoint_results({"outputs": {"a": {"value": 1}}}) == {"a": {"value": 1}}
    assert read_endpoint_results({"output": {"a": 2}}) == {"a": 2}
    assert unwrap_endpoint_output({"value": 0.9}).value == 0.9
    assert unwrap_endpoint_output({"url": "https://x/f"}).kind == "file"
    assert unwrap_endpoint_output({"url": None}).kind == "none"
    assert unwrap_endpoint_output("raw").value == "raw"


def test_json_nested_too_deep_is_an_api_error_not_a_recursion_error():
    from craft_airflow.protocol.readers import decode_body, parse_error

    deep = b"[" * 200_000 + b"]" * 200_000
    with pytest.raises(CraftAPIError, match="nested too deep"):
        decode_body(200, deep, "application/json", operation="get logs")
    assert parse_error(500, deep.decode()).status_code == 500
