"""The protocol core: request building (compared with what craft-ai-sdk 0.74.7 sends), response
reading, error parsing, the decision table, and the call / wait generators driven by hand."""

from __future__ import annotations

import io
import json
from email.parser import BytesParser
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs

import httpx
import jwt
import pytest
import requests

from craft_airflow.auth import TokenCache
from craft_airflow.connection import CraftConnectionConfig
from craft_airflow.errors import (
    CraftAPIError,
    CraftAuthError,
    CraftConnectionError,
)
from craft_airflow.hooks.craft import requests_kwargs
from craft_airflow.hooks.craft_async import httpx_kwargs
from craft_airflow.protocol import (
    Action,
    AuthKind,
    CallContext,
    FailureKind,
    FileInput,
    HttpRequest,
    Response,
    Send,
    Sleep,
    TransportFailure,
    build_download_endpoint_file,
    build_endpoint_results,
    build_get_execution,
    build_get_logs,
    build_get_pipeline,
    build_run_pipeline,
    build_trigger_deployment,
    build_trigger_endpoint,
    build_wait_outputs,
    classify,
    decode_body,
    inputs_match,
    parse_error,
    perform,
    read_endpoint_results,
    read_execution_id,
    read_logs,
    recent_candidates,
    unwrap_endpoint_output,
    wait_for_endpoint_results,
    wait_for_execution,
)
from craft_airflow.protocol.calls import AmbiguousSend
from craft_airflow.protocol.http import Timeouts
from craft_airflow.statuses import ExecutionStatus, TriggerEventStatus

ENV = "https://env.example.com"
CONFIG = CraftConnectionConfig(
    environment_url=ENV,
    control_url="https://ctl.example.com",
    sdk_token="sdk-secret-token-1",
    default_endpoint_token="ep-secret-token-2",
    max_retries=3,
    max_retry_seconds=60,
    conn_id="c",
)


# -- helpers ----------------------------------------------------------------------------------


def prepare_ours(request: HttpRequest) -> requests.PreparedRequest:
    kwargs = requests_kwargs(Send(request, None, Timeouts(1, 1)))
    for key in ("allow_redirects", "timeout", "stream"):
        kwargs.pop(key)
    return requests.Request(**kwargs).prepare()


def prepare_httpx(request: HttpRequest) -> httpx.Request:
    kwargs = httpx_kwargs(Send(request, None, Timeouts(1, 1)))
    for key in ("timeout", "follow_redirects"):
        kwargs.pop(key)
    return httpx.Client().build_request(**kwargs)


def multipart(content_type: str, body: bytes) -> list[tuple[str, str | None, bytes]]:
    message = BytesParser().parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body
    )
    assert message.is_multipart()
    return sorted(
        (
            part.get_param("name", header="content-disposition"),
            part.get_filename(),
            part.get_payload(decode=True),
        )
        for part in message.get_payload()
    )


def body_of(prepared: Any) -> bytes:
    if isinstance(prepared, httpx.Request):
        return prepared.read()
    body = prepared.body or b""
    if hasattr(body, "read"):  # a streamed multipart body
        return b"".join(body)
    return body if isinstance(body, bytes) else body.encode()


def sdk_run_pipeline_request(inputs, file_inputs=(), **mappings) -> requests.PreparedRequest:
    """What craft-ai-sdk's run_pipeline posts, captured at its ``_post`` call."""
    from craft_ai_sdk.core.pipeline_executions import run_pipeline

    captured: dict[str, Any] = {}

    def _post(url, allow_redirects, **kwargs):
        # Prepared here: the SDK closes file inputs once the call returns.
        assert allow_redirects is False
        captured["prepared"] = requests.Request("POST", url, **kwargs).prepare()
        return {"execution_id": "x"}

    pipeline = {
        "parameters": {
            "inputs": [{"name": n, "data_type": "file"} for n in file_inputs]
            + [{"name": n, "data_type": "json"} for n in inputs if n not in file_inputs]
        }
    }
    sdk = SimpleNamespace(
        base_environment_api_url=f"{ENV}/api/v1",
        verbose_log=False,
        _get=lambda url: pipeline,
        _post=_post,
    )
    run_pipeline(sdk, "my-pipe", inputs=inputs, wait_for_completion=False, **mappings)
    return captured["prepared"]


def sdk_trigger_endpoint_request(monkeypatch, inputs) -> requests.PreparedRequest:
    from craft_ai_sdk.core import endpoints

    captured: dict[str, Any] = {}

    def post(url, **kwargs):
        captured.update(url=url, **kwargs)
        response = requests.Response()
        response.status_code = 200
        response._content = b'{"execution_id": "x"}'
        response.headers["Content-Type"] = "application/json"
        return response

    monkeypatch.setattr(endpoints.requests, "post", post)
    monkeypatch.setattr(endpoints, "_get_endpoint_url_path", lambda sdk, name: "my-path")
    sdk = SimpleNamespace(base_environment_url=ENV, _version="0.74.7", verbose_log=False)
    endpoints.trigger_endpoint(
        sdk,
        "my-dep",
        endpoint_token="ep-secret-token-2",
        inputs=inputs,
        wait_for_completion=False,
    )
    assert captured.pop("allow_redirects") is False
    return requests.Request("POST", captured.pop("url"), **captured).prepare()


# -- request building, compared with the SDK --------------------------------------------------


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
    via_httpx = prepare_httpx(build_run_pipeline(CONFIG, "my-pipe", inputs=inputs, **mappings))
    assert via_httpx.headers["content-type"] == "application/x-www-form-urlencoded"
    assert body_of(via_httpx) == body_of(sdk)


def _sdk_input(mapping):
    from craft_ai_sdk.io import InputSource

    return InputSource(**mapping)


def _sdk_output(mapping):
    from craft_ai_sdk.io import OutputDestination

    return OutputDestination(**mapping)


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
    ours, via_httpx = prepare_ours(request), prepare_httpx(request)
    assert ours.headers["Content-Type"].startswith("multipart/form-data")
    expected = multipart(sdk.headers["Content-Type"], body_of(sdk))
    assert expected == [("doc", "doc", b"file-bytes"), ("json_inputs", None, b'{"n": 3}')]
    assert multipart(ours.headers["Content-Type"], body_of(ours)) == expected
    assert multipart(via_httpx.headers["content-type"], body_of(via_httpx)) == expected


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
    ours, via_httpx = prepare_ours(request), prepare_httpx(request)
    assert ours.url == sdk.url == f"{ENV}/endpoints/my-path"
    assert ours.headers["Authorization"] == sdk.headers["Authorization"]
    assert request.auth == AuthKind.NONE
    if not files:
        assert ours.headers["Content-Type"] == "application/json"
        assert json.loads(body_of(ours)) == json.loads(body_of(sdk)) == params
        assert json.loads(body_of(via_httpx)) == params
    else:
        expected = multipart(sdk.headers["Content-Type"], body_of(sdk))
        assert multipart(ours.headers["Content-Type"], body_of(ours)) == expected
        assert multipart(via_httpx.headers["content-type"], body_of(via_httpx)) == expected
        if params:
            assert ("s", None, b'"x"') in expected  # JSON-dumped text parts


def test_deployment_trigger_uses_the_bearer_route():
    request = build_trigger_deployment(CONFIG, "my-dep", inputs={"n": 1})
    assert request.url == f"{ENV}/api/v1/deployments/my-dep/executions"
    assert request.auth == AuthKind.BEARER
    assert request.creates_execution and not request.idempotent
    assert request.json == {"n": 1}


def test_files_are_rewound_for_each_attempt():
    stream = io.BytesIO(b"xxhello")
    stream.read(2)
    request = build_run_pipeline(CONFIG, "p", files={"f": ("f.txt", stream)})
    for _ in range(2):
        part = multipart(*_ct_body(prepare_ours(request)))
        assert ("f", "f.txt", b"hello") in part


def _ct_body(prepared):
    return prepared.headers["Content-Type"], body_of(prepared)


def test_read_only_urls_and_flags():
    wait = build_wait_outputs(CONFIG, "ex-1")
    assert (
        prepare_ours(wait).url == f"{ENV}/api/v1/executions/ex-1/outputs?wait_for_completion=true"
    )
    assert wait.long_poll and wait.idempotent and not wait.follow_redirects
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


def test_every_request_identifies_the_client_and_bearer_is_added_by_the_transport():
    headers = build_get_execution(CONFIG, "e").all_headers("jwt-value")
    assert headers["Authorization"] == "Bearer jwt-value"
    assert headers["craft-ai-client"].startswith("craft-airflow@")


# -- reading answers ----------------------------------------------------------------------------


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


def test_parse_error_auth_statuses_and_redaction():
    error = parse_error(
        401,
        json.dumps({"message": "bad token sdk-secret-token-1 at /x?token=abc&y=1"}),
        "application/json",
        secrets=CONFIG.secrets,
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


# -- the decision table -------------------------------------------------------------------------

GET = build_get_execution(CONFIG, "e")
POLL = build_wait_outputs(CONFIG, "e")
CREATE = build_run_pipeline(CONFIG, "p")
EP_CREATE = build_trigger_endpoint(CONFIG, "p", "t")


def answer(status, body=b'{"message": "m"}', **headers):
    return Response(status, {"content-type": "application/json", **headers}, body)


@pytest.mark.parametrize(
    ("request_", "result", "expected"),
    [
        (GET, answer(200, b"{}"), Action.DONE),
        (GET, answer(307, b""), Action.DONE),
        (POLL, answer(307, b""), Action.NOT_YET),
        (POLL, answer(200, b"{}"), Action.DONE),
        (CREATE, answer(303, b'{"execution_id":"e"}'), Action.DONE),
        (GET, answer(401), Action.REFRESH),
        (CREATE, answer(401), Action.REFRESH),
        (EP_CREATE, answer(401), Action.FAIL),
        (GET, answer(403), Action.FAIL),
        (GET, answer(404), Action.FAIL),
        (GET, answer(500), Action.FAIL),
        (CREATE, answer(500), Action.FAIL),
        (GET, answer(429), Action.RETRY),
        (CREATE, answer(429), Action.RETRY),
        (CREATE, answer(503), Action.RETRY),
        (GET, answer(502), Action.RETRY),
        (GET, answer(504), Action.RETRY),
        (CREATE, answer(502), Action.AMBIGUOUS),
        (CREATE, answer(504), Action.AMBIGUOUS),
        (GET, TransportFailure(FailureKind.NOT_SENT, "refused"), Action.RETRY),
        (CREATE, TransportFailure(FailureKind.NOT_SENT, "refused"), Action.RETRY),
        (GET, TransportFailure(FailureKind.NO_ANSWER, "reset"), Action.RETRY),
        (POLL, TransportFailure(FailureKind.NO_ANSWER, "read timeout"), Action.RETRY),
        (CREATE, TransportFailure(FailureKind.NO_ANSWER, "reset"), Action.AMBIGUOUS),
        (EP_CREATE, TransportFailure(FailureKind.NO_ANSWER, "reset"), Action.AMBIGUOUS),
        (GET, TransportFailure(FailureKind.FATAL, "certificate verify failed"), Action.FAIL),
    ],
)
def test_classify(request_, result, expected):
    assert classify(request_, result).action == expected


def test_classify_second_401_fails_with_auth_error():
    decision = classify(GET, answer(401), refreshed=True)
    assert decision.action == Action.FAIL
    assert isinstance(decision.error, CraftAuthError)


def test_classify_passes_retry_after_on():
    assert classify(GET, answer(429, **{"Retry-After": "7"})).retry_after == "7"


# -- generators driven by hand ------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make_jwt(lifetime=3600):
    return jwt.encode({"iat": 0, "exp": lifetime}, "k" * 32, algorithm="HS256")


def context(config=CONFIG):
    clock = Clock()
    ctx = CallContext(
        config,
        tokens=TokenCache(clock),
        clock=clock,
        wall_clock=lambda: 1_800_000_000 + clock.now,
        rng=lambda: 0.5,
    )
    return ctx, clock


def drive(gen, responder, clock):
    """Run a protocol generator: ``responder(send)`` answers each Send; Sleep advances time."""
    sent: list[Any] = []
    value = None
    while True:
        try:
            step = gen.send(value)
        except StopIteration as stop:
            return stop.value, sent
        sent.append(step)
        if isinstance(step, Sleep):
            clock.now += step.seconds
            value = None
        else:
            value = responder(step)


def token_answer():
    return answer(200, json.dumps({"access_token": make_jwt()}).encode())


def test_perform_refreshes_first_then_sends_with_bearer():
    ctx, clock = context()
    answers = iter([token_answer(), answer(200, b'{"status": "Running"}')])
    result, sent = drive(perform(ctx, GET), lambda s: next(answers), clock)
    assert result.status == 200
    assert [s.request.url for s in sent] == [
        "https://ctl.example.com/api/v1/auth/refresh",
        GET.url,
    ]
    assert sent[0].bearer is None and sent[0].request.json == {
        "refresh_token": "sdk-secret-token-1"
    }
    assert sent[1].bearer == ctx.tokens.current()


def test_perform_401_refreshes_once_and_resends_even_a_creation():
    ctx, clock = context()
    answers = iter(
        [token_answer(), answer(401), token_answer(), answer(200, b'{"execution_id": "e9"}')]
    )
    result, sent = drive(perform(ctx, CREATE), lambda s: next(answers), clock)
    assert result.status == 200
    assert [s.request.url.rsplit("/", 1)[-1] for s in sent] == ["refresh", "run", "refresh", "run"]


def test_perform_second_401_raises_auth_error_without_secrets():
    ctx, clock = context()
    answers = iter(
        [
            token_answer(),
            answer(401),
            token_answer(),
            answer(401, b'{"message": "token sdk-secret-token-1 rejected"}'),
        ]
    )
    with pytest.raises(CraftAuthError) as err:
        drive(perform(ctx, GET), lambda s: next(answers), clock)
    assert "sdk-secret-token-1" not in str(err.value)


def test_refused_sdk_token_is_an_auth_error():
    ctx, clock = context()
    with pytest.raises(CraftAuthError, match=r"SDK token .* was refused"):
        drive(perform(ctx, GET), lambda s: answer(400, b'{"message": "invalid"}'), clock)


def test_perform_honours_retry_after_then_gives_up_with_a_count():
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    answers = iter([answer(429, **{"Retry-After": "9"}), answer(503), answer(503), answer(503)])
    with pytest.raises(CraftAPIError, match=r"gave up after 3 retries") as err:
        drive(perform(ctx, GET), lambda s: next(answers), clock)
    assert err.value.status_code == 503


def test_perform_retry_after_value_is_waited():
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    answers = iter([answer(429, **{"Retry-After": "9"}), answer(200, b"{}")])
    result, sent = drive(perform(ctx, GET), lambda s: next(answers), clock)
    assert result.status == 200
    assert [s.seconds for s in sent if isinstance(s, Sleep)] == [9.0]


def test_perform_creation_retried_only_when_not_sent():
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    answers = iter(
        [TransportFailure(FailureKind.NOT_SENT, "refused"), answer(200, b'{"execution_id": "e"}')]
    )
    result, sent = drive(perform(ctx, CREATE), lambda s: next(answers), clock)
    assert result.status == 200
    assert sum(isinstance(s, Send) for s in sent) == 2
    with pytest.raises(AmbiguousSend) as amb:
        drive(
            perform(ctx, CREATE),
            lambda s: TransportFailure(FailureKind.NO_ANSWER, "reset after send"),
            clock,
        )
    assert amb.value.started_wall == 1_800_000_000 + clock.now


def test_perform_unreachable_raises_connection_error():
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    with pytest.raises(CraftConnectionError, match="unreachable"):
        drive(perform(ctx, GET), lambda s: TransportFailure(FailureKind.NOT_SENT, "refused"), clock)


def test_wait_quick_307_sleeps_slow_307_does_not_then_reads_status():
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    script = [
        Response(307, {}, b"", elapsed=0.01),
        Response(307, {}, b"", elapsed=25.0),
        answer(200, b'{"outputs": []}'),
        answer(200, b'{"execution_id": "e", "status": "Succeeded"}'),
    ]

    def responder(step):
        if step.request.long_poll:
            assert step.timeouts.read == CONFIG.long_poll_timeout
        return script.pop(0)

    event, sent = drive(
        wait_for_execution(ctx, "e", timeout=None, poll_interval=4), responder, clock
    )
    assert event.status == TriggerEventStatus.SUCCESS
    assert event.execution_status == ExecutionStatus.SUCCEEDED
    assert [s.seconds for s in sent if isinstance(s, Sleep)] == [4]
    assert sent[-1].request.url.endswith("/executions/e")


def test_wait_failed_uses_platform_error_else_last_log_lines():
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    script = iter(
        [
            answer(500, b'{"message": "execution failed"}'),
            answer(200, b'{"status": "Failed"}'),
            answer(200, json.dumps([[{"message": f"line {i}"} for i in range(20)]]).encode()),
        ]
    )
    event, _ = drive(wait_for_execution(ctx, "e", timeout=None), lambda s: next(script), clock)
    assert event.status == TriggerEventStatus.FAILED
    assert "line 19" in event.message and "line 9" not in event.message
    script = iter(
        [
            answer(200, b'{"outputs": []}'),
            answer(200, b'{"status": "Error", "error": {"message": "ZeroDivisionError"}}'),
        ]
    )
    event, _ = drive(wait_for_execution(ctx, "e", timeout=None), lambda s: next(script), clock)
    assert event.execution_status == ExecutionStatus.ERROR
    assert "ZeroDivisionError" in event.message


def test_wait_deadline_gives_timeout_event_and_bounds_the_read_timeout():
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    reads = []

    def responder(step):
        reads.append(step.timeouts.read)
        clock.now += step.timeouts.read
        return TransportFailure(FailureKind.NO_ANSWER, "read timeout")

    event, _ = drive(wait_for_execution(ctx, "ex-7", timeout=20), responder, clock)
    assert event.status == TriggerEventStatus.TIMEOUT
    assert "ex-7" in event.message
    assert reads[0] == 20


def test_wait_skipped_and_unknown_statuses():
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    for status, expected in [
        ("Skipped", TriggerEventStatus.SKIPPED),
        ("Vanished", TriggerEventStatus.ERROR),
    ]:
        script = [answer(200, b"{}"), answer(200, json.dumps({"status": status}).encode())]
        event, _ = drive(
            wait_for_execution(ctx, "e", timeout=None), lambda s, sc=script: sc.pop(0), clock
        )
        assert event.status == expected


def test_wait_tolerates_a_few_outputs_errors_while_the_execution_runs():
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    running = answer(200, b'{"status": "Running"}')
    glitch = answer(500, b'{"message": "glitch"}')
    script = [
        glitch,
        running,
        glitch,
        running,
        answer(200, b"{}"),
        answer(200, b'{"status": "Succeeded"}'),
    ]
    event, _ = drive(wait_for_execution(ctx, "e", timeout=None), lambda s: script.pop(0), clock)
    assert event.status == TriggerEventStatus.SUCCESS
    script = [glitch, running] * (CONFIG.max_retries + 1)
    with pytest.raises(CraftAPIError, match="glitch"):
        drive(wait_for_execution(ctx, "e", timeout=None), lambda s: script.pop(0), clock)


def test_wait_404_on_the_execution_raises():
    ctx, clock = context()
    ctx.tokens.store(make_jwt(), clock.now)
    script = iter(
        [
            answer(404, b'{"message": "no such execution"}'),
            answer(404, b'{"message": "no such execution"}'),
        ]
    )
    with pytest.raises(CraftAPIError, match="no such execution"):
        drive(wait_for_execution(ctx, "e", timeout=None), lambda s: next(script), clock)


def test_endpoint_wait_outcomes():
    ctx, clock = context()
    script = iter([Response(302, {}, b"", elapsed=0.0), answer(200, b'{"outputs": {}}')])
    event, sent = drive(
        wait_for_endpoint_results(ctx, "path", "e", "tok", timeout=None, poll_interval=1),
        lambda s: next(script),
        clock,
    )
    assert event.status == TriggerEventStatus.SUCCESS
    assert all(s.bearer is None for s in sent if isinstance(s, Send))
    event, _ = drive(
        wait_for_endpoint_results(ctx, "path", "e", "tok", timeout=None),
        lambda s: answer(500, b'{"message": "Execution e ended Failed: boom"}'),
        clock,
    )
    assert event.status == TriggerEventStatus.FAILED and "boom" in event.message
    with pytest.raises(CraftAuthError):
        drive(
            wait_for_endpoint_results(ctx, "path", "e", "tok", timeout=None),
            lambda s: answer(401),
            clock,
        )


# -- adoption matching -------------------------------------------------------------------


def test_recent_candidates_window_and_deployment_filter():
    since = 1_800_000_000.0
    executions = [
        {"execution_id": "old", "created_at": "2027-01-15T07:59:00Z"},
        {"execution_id": "skewed", "created_at": "2027-01-15T07:59:50Z", "deployment_name": "d"},
        {"execution_id": "new", "created_at": "2027-01-15T08:00:05.123Z", "deployment_name": "d"},
        {"execution_id": "nodate"},
        {"execution_id": "other-dep", "created_at": "2027-01-15T08:00:05Z", "deployment_name": "x"},
    ]
    assert since == 1_800_000_000.0  # 2027-01-15T08:00:00Z
    assert recent_candidates(executions, since=since) == ["skewed", "new", "nodate", "other-dep"]
    assert recent_candidates(executions, since=since, deployment_name="d") == ["skewed", "new"]


def test_inputs_match():
    execution = {
        "inputs": [
            {"pipeline_input_name": "n", "value": 3},
            {"pipeline_input_name": "j", "value": {"b": [1, 2], "a": None}},
            {
                "pipeline_input_name": "renamed",
                "mapping_value": {"endpoint_input_name": "q"},
                "value": "x",
            },
            {"pipeline_input_name": "doc", "data_type": "file"},
        ]
    }
    assert inputs_match(execution, {"n": 3, "j": {"a": None, "b": [1, 2]}})
    assert not inputs_match(execution, {"n": 4})
    assert not inputs_match(execution, {"doc": "x"})  # no value shown: no proof
    assert inputs_match(execution, {"q": "x"}, by="endpoint")
    assert not inputs_match(execution, {"q": "x"}, by="pipeline")
    assert inputs_match({"inputs": []}, {})


# -- errors: redaction and pickling ---------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "GET http://h/endpoints/v1/p/executions/e?token=s3cr3t-value&x=1",
        "url: /file?token=s3cr3t-value",
        "Authorization: Bearer s3cr3t-value",
        "headers={'Authorization': 'EndpointToken s3cr3t-value'}",
        '{"refresh_token": "s3cr3t-value"}',
        "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzM2NyM3QtdmFsdWUifQ.s3cr3t-value in text",
    ],
)
def test_redaction_of_token_shapes(text):
    from craft_airflow.errors import CraftError, redact

    assert "s3cr3t-value" not in redact(text)
    assert "s3cr3t-value" not in str(CraftError(text))
    assert "s3cr3t-value" not in str(CraftAPIError(500, text))


def test_literal_secrets_are_redacted_too():
    from craft_airflow.errors import redact

    assert redact("token was plainsecret99", ["plainsecret99"]) == "token was ***"


def test_errors_survive_pickling():
    import pickle

    from craft_airflow.errors import (
        CraftAmbiguousCreation,
        CraftConfigError,
        CraftExecutionFailed,
        CraftWaitTimeout,
    )

    errors = [
        CraftAPIError(404, "gone", "NotFound", "r1"),
        CraftAuthError(401, "no"),
        CraftConnectionError("down"),
        CraftExecutionFailed("e1", "Failed", "boom"),
        CraftWaitTimeout("e2"),
        CraftAmbiguousCreation(["a", "b"]),
        CraftConfigError("bad"),
    ]
    for error in errors:
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error) and str(copy) == str(error)
    assert pickle.loads(pickle.dumps(errors[0])).status_code == 404
    assert pickle.loads(pickle.dumps(errors[5])).candidates == ["a", "b"]


# -- first contact: a host that never answered gets the short budget ----------------------------

FIRST_CONTACT = CraftConnectionConfig(
    environment_url="http://127.0.0.1:9",
    sdk_token="sdk-secret-token-1",
    conn_id="my_craft",
    max_retries=100,
    max_retry_seconds=120,
    connect_retry_seconds=10,
)
REFUSED = TransportFailure(FailureKind.NOT_SENT, "ConnectionRefusedError: [Errno 111]")


def test_never_answering_host_fails_within_the_first_contact_budget():
    ctx, clock = context(FIRST_CONTACT)
    start = clock.now
    with pytest.raises(CraftConnectionError) as err:
        drive(perform(ctx, build_get_pipeline(FIRST_CONTACT, "p")), lambda s: REFUSED, clock)
    text = str(err.value)
    assert clock.now - start <= 10
    assert "Connection 'my_craft'" in text
    assert "http://127.0.0.1:9/api/v1/auth/refresh" in text
    assert "connect_retry_seconds=10" in text and "sdk-secret-token-1" not in text
    # rng 0.5: delays 0.25, 0.5, 1, 2, 4 (7.75 s); the next (8 s) would pass 10 s.
    assert "unreachable after 6 attempts" in text


def test_a_host_that_answered_then_fails_gets_the_full_budget():
    ctx, clock = context(FIRST_CONTACT)
    ctx.tokens.store(make_jwt(), clock.now)
    answers = iter([answer(503)])
    start = clock.now
    with pytest.raises(CraftConnectionError) as err:
        drive(
            perform(ctx, build_get_pipeline(FIRST_CONTACT, "p")),
            lambda s: next(answers, REFUSED),
            clock,
        )
    assert 60 < clock.now - start <= 120
    assert "max_retry_seconds=120" in str(err.value)

    # Later calls of the same hook to that host: the full budget from their first attempt.
    start = clock.now
    with pytest.raises(CraftConnectionError):
        drive(perform(ctx, build_get_pipeline(FIRST_CONTACT, "q")), lambda s: REFUSED, clock)
    assert clock.now - start > 10


def test_single_attempt_context_never_retries():
    ctx, clock = context(FIRST_CONTACT)
    ctx.single_attempt = True
    with pytest.raises(CraftConnectionError, match=r"after 1 attempts .*one attempt only"):
        drive(perform(ctx, build_get_pipeline(FIRST_CONTACT, "p")), lambda s: REFUSED, clock)
    ctx.tokens.store(make_jwt(), clock.now)
    with pytest.raises(CraftAPIError, match="gave up after 0 retries"):
        drive(perform(ctx, build_get_pipeline(FIRST_CONTACT, "p")), lambda s: answer(503), clock)


def test_a_host_that_took_the_request_without_answering_gets_the_full_budget():
    ctx, clock = context(FIRST_CONTACT)
    ctx.tokens.store(make_jwt(), clock.now)
    timed_out = TransportFailure(FailureKind.NO_ANSWER, "ReadTimeout")
    start = clock.now
    with pytest.raises(CraftConnectionError, match="max_retry_seconds=120"):
        drive(perform(ctx, build_get_pipeline(FIRST_CONTACT, "p")), lambda s: timed_out, clock)
    assert clock.now - start > 10
