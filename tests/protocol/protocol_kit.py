"""Shared helpers of the protocol tests: a config, scripted answers, a fake clock, a driver
for the step generators, and what craft-ai-sdk 0.74.7 sends, for comparison."""

from __future__ import annotations

import json
from email.parser import BytesParser
from types import SimpleNamespace
from typing import Any

import jwt
import requests

from craft_airflow.connection import CraftConnectionConfig
from craft_airflow.hooks.craft import requests_kwargs
from craft_airflow.protocol.auth import TokenCache
from craft_airflow.protocol.builders import (
    build_get_execution,
    build_run_pipeline,
    build_trigger_endpoint,
    build_wait_outputs,
)
from craft_airflow.protocol.calls import CallContext
from craft_airflow.protocol.http import (
    HttpRequest,
    Response,
    Send,
    Sleep,
    Timeouts,
)

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


def prepare_ours(request: HttpRequest) -> requests.PreparedRequest:
    kwargs = requests_kwargs(Send(request, None, Timeouts(1, 1)))
    for key in ("allow_redirects", "timeout", "stream"):
        kwargs.pop(key)
    return requests.Request(**kwargs).prepare()


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


def _sdk_input(mapping):
    from craft_ai_sdk.io import InputSource

    return InputSource(**mapping)


def _sdk_output(mapping):
    from craft_ai_sdk.io import OutputDestination

    return OutputDestination(**mapping)


def _ct_body(prepared):
    return prepared.headers["Content-Type"], body_of(prepared)


GET = build_get_execution(CONFIG, "e")


POLL = build_wait_outputs(CONFIG, "e")


CREATE = build_run_pipeline(CONFIG, "p")


EP_CREATE = build_trigger_endpoint(CONFIG, "p", "t")


def answer(status, body=b'{"message": "m"}', **headers):
    return Response(status, {"content-type": "application/json", **headers}, body)


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
