"""CraftAIHook over real HTTP: the embedded platform, and a scripted server in front of it for
what a platform cannot produce on demand (429, proxy 502 pages, resets after processing)."""

from __future__ import annotations

import contextlib
import io
import logging
import time
import uuid
from collections.abc import Iterator
from email.parser import BytesParser

import pytest
import requests
from craft_fixtures import ENDPOINT_TOKENS, assert_first_contact_failure, set_connection
from scripted_server import ScriptedServer, proxy_then_reply, proxy_then_reset, reply, reset

from craft_airflow.connection import CraftConnectionConfig
from craft_airflow.errors import (
    CraftAmbiguousCreation,
    CraftAPIError,
    CraftAuthError,
    CraftConfigError,
    CraftConnectionError,
    CraftError,
    CraftExecutionFailed,
)
from craft_airflow.hooks.craft import (
    CHUNK_SIZE,
    CraftAIHook,
    MultipartBody,
    classify_requests_exception,
    requests_kwargs,
)
from craft_airflow.protocol.builders import build_run_pipeline
from craft_airflow.protocol.http import FailureKind, FileInput, Send, Timeouts, file_parts
from craft_airflow.protocol.outcomes import OutcomeStatus
from craft_airflow.protocol.statuses import ExecutionStatus

PROXY_502_PAGE = (
    b"<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1>"
    b"</center><hr><center>nginx</center></body></html>"
)


BAD_UTF8 = b"\xff\xfe\x80 not utf-8"


def unique() -> str:
    return uuid.uuid4().hex[:12]


# -- against the embedded platform ------------------------------------------------------------


def test_test_connection_says_what_it_checked(platform_conn, monkeypatch):
    set_connection(
        monkeypatch,
        platform_conn.url,
        platform_conn.sdk_token,
        conn_id="my_craft",
        endpoint_tokens=ENDPOINT_TOKENS,
    )
    ok, message = CraftAIHook("my_craft").test_connection()
    assert ok is True, message
    assert message.startswith("Environment ")
    assert f"reachable at {platform_conn.url}" in message
    assert f"SDK token accepted by {platform_conn.url}" in message
    assert "endpoint tokens set for all-types-endpoint, word-count-endpoint" in message
    assert platform_conn.sdk_token not in message
    assert not any(t in message for t in ENDPOINT_TOKENS.values())

    set_connection(monkeypatch, platform_conn.url, "wrong-sdk-token-55", conn_id="my_craft")
    ok, message = CraftAIHook("my_craft").test_connection()
    assert ok is False
    assert "refused" in message and "my_craft" not in message
    assert "wrong-sdk-token-55" not in message


def test_test_connection_without_sdk_token(endpoint_only_conn):
    ok, message = CraftAIHook().test_connection()
    assert ok is True and "no SDK token" in message


def test_test_connection_makes_one_attempt(proxy_conn, closed_port_url, monkeypatch):
    proxy_conn.on("GET", r"/environment-info$", reply(503, {"message": "down for a while"}))
    ok, message = CraftAIHook().test_connection()
    assert ok is False and "down for a while" in message and "gave up after 0 retries" in message
    assert proxy_conn.count("GET", r"/environment-info$") == 1

    set_connection(monkeypatch, closed_port_url, "sdk-tok-closed-1", conn_id="my_craft")
    started = time.monotonic()
    ok, message = CraftAIHook("my_craft").test_connection()
    print(f"test_connection against a closed port: {time.monotonic() - started:.2f} s")
    assert ok is False
    assert f"read environment info failed: could not reach {closed_port_url}" in message
    assert "unreachable after 1 attempts" in message and "one attempt only" in message
    assert "my_craft" not in message
    assert "sdk-tok-closed-1" not in message


def test_test_connection_from_the_rest_api_names_no_temporary_id(
    platform_conn, monkeypatch, airflow_db
):
    """``POST /api/v2/connections/test`` (the UI's Test button) tests the posted connection under
    a random temporary id; the message names no connection at all."""
    from airflow.api_fastapi.app import create_app
    from fastapi.testclient import TestClient

    monkeypatch.setenv("AIRFLOW__CORE__TEST_CONNECTION", "Enabled")
    monkeypatch.setenv("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS", "True")
    body = {
        "connection_id": "users_craft_conn",
        "conn_type": "craftai",
        "host": platform_conn.url,
        "password": platform_conn.sdk_token,
        "extra": "{}",
    }
    with TestClient(create_app()) as client:
        # All admins, yet the API wants a token on Airflow 3.1: the no-credentials one.
        token = client.get("/auth/token").json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        answer = client.post("/api/v2/connections/test", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] is True, answer.json()
        assert answer.json()["message"].startswith("Environment ")
        assert "Connection '" not in answer.json()["message"]

        closed = {**body, "host": "http://127.0.0.1:9"}
        failed = client.post("/api/v2/connections/test", json=closed).json()
    assert failed["status"] is False
    assert "Connection '" not in failed["message"]
    assert "http://127.0.0.1:9/api/v1/environment-info" in failed["message"]
    assert platform_conn.sdk_token not in failed["message"]


def test_a_loopback_environment_without_control_url_never_calls_the_public_host(
    proxy, craft_platform, monkeypatch
):
    with ScriptedServer() as public_control_host:
        monkeypatch.setattr("craft_airflow.connection.DEFAULT_CONTROL_URL", public_control_host.url)
        set_connection(monkeypatch, proxy.url, craft_platform.sdk_token)  # no control_url
        hook = CraftAIHook()
        assert hook.config.control_url == proxy.url
        assert hook.get_pipeline("slow")
        assert proxy.count("POST", r"/api/v1/auth/refresh$") == 1
        assert public_control_host.requests == []


def test_an_unreachable_platform_fails_within_the_first_contact_budget(
    closed_port_url, monkeypatch
):
    """Default settings against a closed port (connection refused): the task fails after the
    first-contact budget (connect_retry_seconds, 10 s), not max_retry_seconds (120 s)."""
    set_connection(monkeypatch, closed_port_url, "sdk-tok-refused-1", conn_id="my_craft")
    started = time.monotonic()
    with pytest.raises(CraftConnectionError) as err:
        CraftAIHook("my_craft").run_pipeline("p", inputs={"a": 1})
    print(f"sync hook against a closed port: failed after {time.monotonic() - started:.1f} s")
    assert_first_contact_failure(str(err.value), closed_port_url, "sdk-tok-refused-1")


def test_run_wait_outputs_logs_and_listing(platform_conn):
    hook = CraftAIHook()
    assert hook.get_pipeline("slow")["parameters"]["pipeline_name"] == "slow"
    marker = unique()
    execution_id = hook.run_pipeline(
        "slow", inputs={"seconds": 0.5}, inputs_mapping=None, outputs_mapping=None
    )
    event = hook.wait_for_outcome(execution_id, timeout=60, poll_interval=0.2)
    assert event.status == OutcomeStatus.SUCCESS, event
    assert event.execution_status == ExecutionStatus.SUCCEEDED
    assert hook.get_execution(execution_id)["status"] == "Succeeded"
    outputs = {o["pipeline_output_name"]: o.get("value") for o in hook.get_outputs(execution_id)}
    assert outputs == {"slept": 0.5}
    assert any("still working" in line["message"] for line in hook.get_logs(execution_id))
    listed = [e["execution_id"] for e in hook.list_pipeline_executions("slow")]
    assert execution_id in listed
    assert marker  # unique ids are used where executions must be told apart


def test_failed_execution_gives_failed_event_with_the_error(platform_conn):
    hook = CraftAIHook()
    execution_id = hook.run_pipeline("failing", inputs={"message": "kaboom-42"})
    event = hook.wait_for_outcome(execution_id, timeout=60, poll_interval=0.2)
    assert event.status == OutcomeStatus.FAILED
    assert event.execution_status in (ExecutionStatus.FAILED, ExecutionStatus.ERROR)
    assert "kaboom-42" in event.message


def test_file_input_and_streamed_file_output(platform_conn):
    hook = CraftAIHook()
    text = b"three little words " * 1000
    execution_id = hook.run_pipeline(
        "word-count", files={"document": FileInput("doc.txt", io.BytesIO(text))}
    )
    assert hook.wait_for_outcome(execution_id, timeout=60, poll_interval=0.2).is_success
    dest = io.BytesIO()
    assert hook.download_output(execution_id, "upper", dest) == len(text)
    assert dest.getvalue() == text.upper()


def test_wait_timeout_names_the_execution(platform_conn):
    hook = CraftAIHook()
    execution_id = hook.run_pipeline("slow", inputs={"seconds": 8})
    started = time.monotonic()
    event = hook.wait_for_outcome(execution_id, timeout=1, poll_interval=0.2)
    assert time.monotonic() - started < 5
    assert event.status == OutcomeStatus.TIMEOUT
    assert execution_id in event.message
    assert hook.get_execution(execution_id)["status"] in ("Pending", "Running")


def test_trigger_deployment_with_the_sdk_token(platform_conn):
    hook = CraftAIHook()
    assert hook.get_deployment("all-types-endpoint")["execution_rule"] == "endpoint"
    execution_id = hook.trigger_deployment(
        "all-types-endpoint", inputs={"text": "hi", "number": 2, "items": [1, 2]}
    )
    assert hook.wait_for_outcome(execution_id, timeout=60, poll_interval=0.2).is_success
    execution = hook.get_execution(execution_id, include_io_values=True)
    assert execution["deployment_name"] == "all-types-endpoint"


def test_endpoint_token_route_end_to_end(endpoint_only_conn):
    hook = CraftAIHook()
    text = b"one two three four"
    execution_id = hook.trigger_endpoint(
        "word-count-endpoint", files={"document": ("d.txt", io.BytesIO(text))}
    )
    event = hook.wait_for_endpoint_outcome(
        "word-count-endpoint", execution_id, timeout=60, poll_interval=0.2
    )
    assert event.status == OutcomeStatus.SUCCESS
    results = hook.get_endpoint_results(
        "word-count-endpoint", execution_id, endpoint_name="word-count-endpoint"
    )
    assert results["words"] in (4, {"value": 4})
    url = results["upper"]["url"]
    dest = io.BytesIO()
    written = hook.download_endpoint_file(url, dest, endpoint_name="word-count-endpoint")
    assert written == len(text) and dest.getvalue() == text.upper()


def test_endpoint_failure_and_bad_token(endpoint_only_conn, monkeypatch):
    hook = CraftAIHook()
    with pytest.raises(CraftConfigError, match="no endpoint token for 'unknown'"):
        hook.trigger_endpoint("unknown")
    execution_id = hook.trigger_endpoint(
        "all-types-endpoint",
        inputs={"text": "x"},
        files={"document": ("d.bin", io.BytesIO(BAD_UTF8))},
    )
    event = hook.wait_for_endpoint_outcome(
        "all-types-endpoint", execution_id, timeout=60, poll_interval=0.2
    )
    # The pipeline reads the document as text and fails on bytes that are not UTF-8.
    assert event.status == OutcomeStatus.FAILED, event
    with pytest.raises(CraftExecutionFailed):
        hook.get_endpoint_results(
            "all-types-endpoint", execution_id, endpoint_name="all-types-endpoint"
        )
    set_connection(
        monkeypatch, endpoint_only_conn.url, None, endpoint_token="bad-endpoint-token-66"
    )
    with pytest.raises(CraftAuthError) as err:
        CraftAIHook().trigger_endpoint("all-types-endpoint", inputs={"text": "x"})
    assert "bad-endpoint-token-66" not in str(err.value)


def test_missing_pipeline_is_a_clear_api_error(platform_conn):
    with pytest.raises(CraftAPIError) as err:
        CraftAIHook().get_pipeline("no-such-pipeline")
    assert err.value.status_code == 404 and "no-such-pipeline" in str(err.value)


def test_request_count_of_a_5s_run_and_wait(proxy_conn):
    hook = CraftAIHook()
    execution_id = hook.run_pipeline("slow", inputs={"seconds": 5})
    event = hook.wait_for_outcome(execution_id, timeout=60)
    assert event.is_success
    seen = [(r.method, r.path.rsplit("/", 1)[-1]) for r in proxy_conn.requests]
    print("requests for a 5 s run-and-wait:", len(seen), seen)
    assert seen[0] == ("POST", "refresh") and seen[1] == ("POST", "run")
    assert seen[-1] == ("GET", execution_id)
    # refresh, run, 1-3 long-polls (5 s hold on the platform), final status read.
    assert 4 <= len(seen) <= 6


@contextlib.contextmanager
def creation_faulted(platform, mode: str, pipeline: str) -> Iterator[dict[str, int]]:
    """The embedded platform drops the connection of every ``POST .../{pipeline}/run`` (and of
    nothing else), ``before`` or ``after`` handling it; the fault counters once done."""
    headers = {"Authorization": f"Bearer {platform.sdk_token}"}
    url = f"{platform.url}/_local/faults"
    counters: dict[str, int] = {}
    settings = {
        "rate_reset": 1,
        "reset_mode": mode,
        "match": f"^POST /api/v1/pipelines/{pipeline}/run$",
        "reset_counters": True,
    }
    assert requests.put(url, json=settings, headers=headers, timeout=10).status_code == 200
    try:
        yield counters
    finally:
        off = {"rate_reset": 0, "reset_mode": "random", "match": None}
        answer = requests.put(url, json=off, headers=headers, timeout=10)
        assert answer.status_code == 200, answer.text
        counters.update(answer.json()["counters"])


def test_a_creation_processed_but_unanswered_is_adopted_not_resent(platform_conn):
    """The platform creates the execution, then drops the connection (sent, no answer): the
    hook must not send the run again, and finds the execution by its inputs."""
    hook = CraftAIHook()
    marker = unique()
    before = {e["execution_id"] for e in hook.list_pipeline_executions("failing")}
    with creation_faulted(platform_conn, "after", "failing") as counters:
        execution_id = hook.run_pipeline("failing", inputs={"message": marker})
    assert counters == {"requests": 1, "reset_after": 1}  # one run request: never re-sent
    created = {e["execution_id"] for e in hook.list_pipeline_executions("failing")} - before
    assert created == {execution_id}
    execution = hook.get_execution(execution_id, include_io_values=True)
    assert any(i.get("value") == marker for i in execution["inputs"])


def test_a_creation_dropped_unprocessed_is_not_resent_either(platform_conn):
    """Dropped before the platform handled it: the client cannot tell this from the case above,
    so it still does not re-send; it looks for the execution, finds none, and says so."""
    hook = CraftAIHook()
    marker = unique()
    before = {e["execution_id"] for e in hook.list_pipeline_executions("failing")}
    with (
        creation_faulted(platform_conn, "before", "failing") as counters,
        pytest.raises(CraftAmbiguousCreation, match="Not re-sending") as err,
    ):
        hook.run_pipeline("failing", inputs={"message": marker})
    assert counters == {"requests": 1, "reset_before": 1}
    assert {e["execution_id"] for e in hook.list_pipeline_executions("failing")} == before
    assert set(err.value.candidates) <= before  # only earlier executions, with other inputs


# -- edge cases through the scripted server ---------------------------------------------------


def test_429_with_retry_after_is_waited_then_retried(proxy_conn):
    proxy_conn.on(
        "GET", r"/pipelines/slow$", reply(429, {"message": "slow down"}, {"Retry-After": "1"})
    )
    started = time.monotonic()
    assert CraftAIHook().get_pipeline("slow")["parameters"]["pipeline_name"] == "slow"
    assert time.monotonic() - started >= 1.0
    assert proxy_conn.count("GET", r"/pipelines/slow$") == 2


def test_get_retried_after_502_page_and_reset(proxy_conn):
    proxy_conn.on(
        "GET",
        r"/pipelines/slow$",
        reply(502, PROXY_502_PAGE, {"Content-Type": "text/html"}),
        reset(),
    )
    assert CraftAIHook().get_pipeline("slow")
    assert proxy_conn.count("GET", r"/pipelines/slow$") == 3


def test_persistent_502_gives_a_short_clean_message(proxy_conn):
    proxy_conn.on(
        "GET", r"/pipelines/slow$", *[reply(502, PROXY_502_PAGE, {"Content-Type": "text/html"})] * 4
    )
    with pytest.raises(CraftAPIError) as err:
        CraftAIHook().get_pipeline("slow")
    text = str(err.value)
    assert "502 Bad Gateway" in text and "<h1>" not in text and "gave up after 3 retries" in text


def test_creation_reset_after_processing_adopts_the_execution(proxy_conn):
    hook = CraftAIHook()
    marker = unique()
    proxy_conn.on("POST", r"/pipelines/failing/run$", proxy_then_reset())
    execution_id = hook.run_pipeline("failing", inputs={"message": marker})
    assert proxy_conn.count("POST", r"/run$") == 1  # never re-sent
    execution = hook.get_execution(execution_id, include_io_values=True)
    assert any(i.get("value") == marker for i in execution["inputs"])


def test_creation_502_from_proxy_adopts_deployment_execution(proxy_conn):
    hook = CraftAIHook()
    marker = unique()
    proxy_conn.on(
        "POST",
        r"/deployments/all-types-endpoint/executions$",
        proxy_then_reply(502, PROXY_502_PAGE, {"Content-Type": "text/html"}),
    )
    execution_id = hook.trigger_deployment("all-types-endpoint", inputs={"text": marker})
    assert proxy_conn.count("POST", r"/executions$") == 1
    execution = hook.get_execution(execution_id, include_io_values=True)
    assert execution["deployment_name"] == "all-types-endpoint"


def test_two_matching_executions_are_not_adopted(proxy_conn):
    hook = CraftAIHook()
    marker = unique()
    first = hook.run_pipeline("failing", inputs={"message": marker})
    proxy_conn.on("POST", r"/pipelines/failing/run$", proxy_then_reset())
    with pytest.raises(CraftAmbiguousCreation) as err:
        hook.run_pipeline("failing", inputs={"message": marker})
    assert first in err.value.candidates and len(err.value.candidates) == 2
    assert first in str(err.value)


def test_creation_reset_before_processing_is_not_resent(proxy_conn):
    hook = CraftAIHook()
    marker = unique()
    proxy_conn.on("POST", r"/pipelines/failing/run$", reset())
    with pytest.raises(CraftAmbiguousCreation) as err:
        hook.run_pipeline("failing", inputs={"message": marker})
    assert err.value.candidates == [] or marker not in str(err.value)
    assert proxy_conn.count("POST", r"/run$") == 1
    # It looked three times before giving up.
    assert proxy_conn.count("GET", r"/pipelines/failing/executions$") == 3


def test_creation_429_and_503_are_resent(proxy_conn):
    proxy_conn.on(
        "POST",
        r"/pipelines/failing/run$",
        reply(503, {"message": "maintenance"}),
        reply(429, {"message": "slow"}),
    )
    execution_id = CraftAIHook().run_pipeline("failing", inputs={"message": unique()})
    assert execution_id
    assert proxy_conn.count("POST", r"/run$") == 3


def test_endpoint_only_ambiguous_creation_names_the_endpoint(proxy_conn, monkeypatch):
    set_connection(monkeypatch, proxy_conn.url, None, endpoint_tokens=ENDPOINT_TOKENS)
    proxy_conn.on("POST", r"/endpoints/all-types-endpoint$", proxy_then_reset())
    with pytest.raises(CraftAmbiguousCreation, match="all-types-endpoint") as err:
        CraftAIHook().trigger_endpoint("all-types-endpoint", inputs={"text": "x"})
    assert "all-types-endpoint-local-token" not in str(err.value)


def test_401_refreshes_once_and_resends(proxy_conn):
    hook = CraftAIHook()
    assert hook.get_pipeline("slow")
    proxy_conn.on("GET", r"/pipelines/slow$", reply(401, {"message": "expired"}))
    assert hook.get_pipeline("slow")
    assert proxy_conn.count("POST", r"/auth/refresh$") == 2
    proxy_conn.on(
        "GET",
        r"/pipelines/slow$",
        reply(401, {"message": "expired"}),
        reply(401, {"message": "still expired"}),
    )
    with pytest.raises(CraftAuthError, match="still expired"):
        hook.get_pipeline("slow")


def test_unreachable_platform_fails_clearly_without_token(closed_port_url, monkeypatch):
    set_connection(
        monkeypatch,
        closed_port_url,
        "sdk-tok-unreachable",
        control_url=closed_port_url,
        max_retries=2,
        max_retry_seconds=5,
        endpoint_token="ep-tok-unreachable",
    )
    hook = CraftAIHook()
    with pytest.raises(CraftConnectionError) as err:
        hook.run_pipeline("p", inputs={"a": 1})
    assert "gave up after 2 retries" in str(err.value)
    with pytest.raises(CraftConnectionError) as err:
        hook.download_endpoint_file(f"{closed_port_url}/file", io.BytesIO(), endpoint_name="x")
    assert "ep-tok-unreachable" not in str(err.value)
    assert "token=***" in str(err.value) or "token=" not in str(err.value)


def test_refused_connection_counts_as_never_sent(closed_port_url):
    with pytest.raises(requests.RequestException) as err:
        requests.post(f"{closed_port_url}/x", data=b"y", timeout=2)
    assert classify_requests_exception(err.value) == FailureKind.NOT_SENT


def test_reset_after_sending_counts_as_no_answer():
    from scripted_server import ScriptedServer

    with ScriptedServer() as server:
        server.on("POST", "/x", reset())
        with pytest.raises(requests.RequestException) as err:
            requests.post(f"{server.url}/x", data=b"y", timeout=2)
    assert classify_requests_exception(err.value) == FailureKind.NO_ANSWER


def test_no_token_in_urllib3_debug_logs(endpoint_only_conn, caplog):
    hook = CraftAIHook()
    execution_id = hook.trigger_endpoint("all-types-endpoint", inputs={"text": "t"})
    with caplog.at_level(logging.DEBUG):
        hook.wait_for_endpoint_outcome(
            "all-types-endpoint", execution_id, timeout=60, poll_interval=0.2
        )
    assert any("/endpoints/v1/" in r.getMessage() for r in caplog.records)
    assert not any("all-types-endpoint-local-token" in r.getMessage() for r in caplog.records)


def test_download_redirect_is_followed_by_hand_without_credentials(proxy_conn):
    hook = CraftAIHook()
    proxy_conn.on("GET", r"/outputs/report$", reply(302, b"", {"Location": "/store/obj?sig=1"}))
    proxy_conn.on(
        "GET",
        r"^/store/obj$",
        reply(200, b"stored-bytes", {"Content-Type": "application/octet-stream"}),
    )
    dest = io.BytesIO()
    assert hook.download_output("any-execution", "report", dest) == len(b"stored-bytes")
    assert dest.getvalue() == b"stored-bytes"
    (followed,) = [r for r in proxy_conn.requests if r.path == "/store/obj"]
    assert followed.query == {"sig": ["1"]}
    assert "Authorization" not in followed.headers
    proxy_conn.on("GET", r"/outputs/report$", reply(304, b""))
    with pytest.raises(CraftAPIError, match="without a file"):
        hook.download_output("any-execution", "report", io.BytesIO())


# -- MultipartBody: file parts streamed, never read whole ------------------------------------


MULTIPART_CONFIG = CraftConnectionConfig(
    environment_url="https://env.example.com",
    control_url="https://ctl.example.com",
    sdk_token="sdk-secret-token-1",
    conn_id="c",
)


class ChunkOnly(io.BytesIO):
    """A file that refuses to be read whole and records the largest read."""

    largest = 0

    def read(self, size: int | None = -1) -> bytes:
        assert size is not None and 0 <= size <= CHUNK_SIZE, f"read({size})"
        self.largest = max(self.largest, size)
        return super().read(size)


def parts(content_type: str, body: bytes) -> list[tuple[str | None, str | None, bytes]]:
    message = BytesParser().parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    return [
        (
            p.get_param("name", header="content-disposition"),
            p.get_filename(),
            p.get_payload(decode=True),
        )
        for p in message.get_payload()
    ]


def test_files_are_read_a_chunk_at_a_time_and_encoded_like_requests():
    data = bytes(range(256)) * (3 * CHUNK_SIZE // 256 + 7)
    big, small = ChunkOnly(data), io.BytesIO(b"tiny")
    small.read(1)  # parts start where the stream was
    body = MultipartBody(
        {"json_inputs": '{"n": 1}'},
        file_parts({"doc": FileInput("doc é.bin", big), "other": ("o.txt", small)}),
    )
    sent = b"".join(body)
    assert len(body) == len(sent)
    assert 0 < big.largest <= CHUNK_SIZE

    expected = requests.Request(
        "POST",
        "http://x/",
        data={"json_inputs": '{"n": 1}'},
        files={"doc": ("doc é.bin", io.BytesIO(data)), "other": ("o.txt", io.BytesIO(b"iny"))},
    ).prepare()
    assert parts(body.content_type, sent) == parts(expected.headers["Content-Type"], expected.body)


def test_request_kwargs_stream_files_with_a_content_length():
    stream = io.BytesIO(b"x" * 10)
    request = build_run_pipeline(
        MULTIPART_CONFIG, "p", inputs={"n": 1}, files={"f": ("f.bin", stream)}
    )
    kwargs = requests_kwargs(Send(request, None, Timeouts(1, 1)))
    assert "files" not in kwargs
    prepared = requests.Request(
        **{k: v for k, v in kwargs.items() if k not in ("allow_redirects", "timeout", "stream")}
    ).prepare()
    assert prepared.headers["Content-Type"] == kwargs["data"].content_type
    assert prepared.headers["Content-Length"] == str(len(kwargs["data"]))
    assert "Transfer-Encoding" not in prepared.headers
    sent = parts(prepared.headers["Content-Type"], b"".join(prepared.body))
    assert ("f", "f.bin", b"x" * 10) in sent
    assert ("json_inputs", None, b'{"n": 1}') in sent


class Pipe(io.RawIOBase):
    """A non-seekable stream (like a pipe) that records the largest read."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)
        self.largest = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def, override]
        self.largest = max(self.largest, len(buffer))
        return self._data.readinto(buffer)


def test_a_large_non_seekable_input_is_spooled_to_disk_not_memory():
    from craft_airflow.protocol.http import COPY_CHUNK_BYTES, SPOOL_IN_MEMORY_BYTES

    data = bytes(range(256)) * ((SPOOL_IN_MEMORY_BYTES + 4096) // 256)
    pipe = Pipe(data)
    ((_, part),) = file_parts({"doc": ("doc.bin", pipe)})  # type: ignore[dict-item]
    assert pipe.largest <= COPY_CHUNK_BYTES
    assert part.stream._rolled  # type: ignore[attr-defined]  # on disk past the threshold
    assert part.stream.read() == data


def test_a_small_non_seekable_input_stays_in_memory_and_rewinds():
    ((_, part),) = file_parts({"doc": ("doc.bin", Pipe(b"hello"))})  # type: ignore[dict-item]
    assert not part.stream._rolled  # type: ignore[attr-defined]
    assert part.stream.read() == b"hello"


# -- storing a file output (craft_airflow.ending's StoreFile, on a worker) -----------------------


def test_store_file_writes_chunks_and_returns_the_size(tmp_path):
    from airflow.sdk import ObjectStoragePath

    from craft_airflow.hooks.craft import store_file

    dest = ObjectStoragePath(f"file://{tmp_path}/a/b/out")
    chunks = [b"one ", b"two ", b"three"]

    def download(sink) -> int:
        for chunk in chunks:
            sink.write(chunk)
        return 13

    assert store_file(dest, download) == 13
    assert (tmp_path / "a/b/out").read_bytes() == b"one two three"


def test_a_broken_download_leaves_no_partial_file(tmp_path):
    from airflow.sdk import ObjectStoragePath

    from craft_airflow.hooks.craft import store_file

    dest = ObjectStoragePath(f"file://{tmp_path}/out")

    def download(sink) -> int:
        sink.write(b"half")
        raise ConnectionError("cut")

    with pytest.raises(ConnectionError):
        store_file(dest, download)
    assert not (tmp_path / "out").exists()


def test_execution_metrics_for_a_dag_name_an_unknown_execution_or_metric(platform_conn):
    hook = CraftAIHook()
    execution_id = hook.run_pipeline("train-model", inputs={"epochs": 3})
    assert hook.wait_for_outcome(execution_id, timeout=60, poll_interval=0.2).status == (
        OutcomeStatus.SUCCESS
    )
    metrics = hook.get_execution_metrics(execution_id)
    assert set(metrics) == {"accuracy", "loss"} and len(metrics["loss"]) == 3
    assert hook.get_execution_metrics(execution_id, "accuracy") == {"accuracy": metrics["accuracy"]}
    assert hook.get_metrics(execution_id) == metrics  # what the ending reads
    with pytest.raises(CraftError) as unknown_metric:
        hook.get_execution_metrics(execution_id, ["accuracy", "f1"])
    assert str(unknown_metric.value) == (
        f"Execution {execution_id!r} recorded no metric named 'f1': expected one of the"
        " metrics it recorded ('accuracy', 'loss')."
    )
    with pytest.raises(CraftError) as unknown_execution:
        hook.get_execution_metrics("train-model-nosuch")
    assert str(unknown_execution.value).startswith(
        f"Execution 'train-model-nosuch' does not exist on {platform_conn.url}: expected the id"
    )
